//go:build windows

package httpclient

import (
	"fmt"
	"strings"

	"github.com/alexbrainman/sspi"
	"github.com/alexbrainman/sspi/negotiate"
	"github.com/alexbrainman/sspi/ntlm"
)

// sspiAvailable: on Windows, NTLM and Negotiate (Kerberos, falling back
// to NTLM) answer with the user's own login through SSPI when no
// explicit proxy user is configured.
func sspiAvailable(scheme string) bool {
	return scheme == schemeNTLM || scheme == schemeNegotiate
}

// newSSPI starts an SSPI client context for scheme with the logged-in
// user's credentials, or with c's when explicit (DOMAIN\user or
// user@domain); host is the proxy's name (Kerberos asks for a ticket to
// HTTP/host).
func newSSPI(scheme, host string, c credentials) (connAuth, error) {
	switch scheme {
	case schemeNegotiate:
		var cred *sspi.Credentials
		var err error
		if c.explicit {
			domain, user := splitDomain(c.user)
			cred, err = negotiate.AcquireUserCredentials(domain, user, c.password)
		} else {
			cred, err = negotiate.AcquireCurrentUserCredentials()
		}
		if err != nil {
			return nil, fmt.Errorf("acquire the Windows login: %w", err)
		}
		return &sspiNegotiate{cred: cred, target: "HTTP/" + host}, nil
	case schemeNTLM:
		cred, err := ntlm.AcquireCurrentUserCredentials()
		if err != nil {
			return nil, fmt.Errorf("acquire the Windows login: %w", err)
		}
		return &sspiNTLM{cred: cred}, nil
	}
	return nil, fmt.Errorf("scheme %s has no Windows login", scheme)
}

type sspiNegotiate struct {
	cred   *sspi.Credentials
	target string
	ctx    *negotiate.ClientContext
	done   bool
}

func (s *sspiNegotiate) Step(in []byte) ([]byte, error) {
	if s.ctx == nil {
		ctx, out, err := negotiate.NewClientContext(s.cred, s.target)
		if err != nil {
			return nil, err
		}
		s.ctx = ctx
		return out, nil
	}
	if s.done {
		return nil, nil
	}
	done, out, err := s.ctx.Update(in)
	if err != nil {
		return nil, err
	}
	s.done = done
	if len(out) == 0 {
		return nil, nil // nothing more to say: the proxy refused
	}
	return out, nil
}

// splitDomain splits DOMAIN\user and user@domain.
func splitDomain(u string) (domain, user string) {
	if d, name, ok := strings.Cut(u, `\`); ok {
		return d, name
	}
	if i := strings.LastIndex(u, "@"); i > 0 {
		return u[i+1:], u[:i]
	}
	return "", u
}

func (s *sspiNegotiate) Close() {
	if s.ctx != nil {
		s.ctx.Release()
	}
	s.cred.Release()
}

type sspiNTLM struct {
	cred *sspi.Credentials
	ctx  *ntlm.ClientContext
	leg  int
}

func (s *sspiNTLM) Step(in []byte) ([]byte, error) {
	s.leg++
	switch s.leg {
	case 1:
		ctx, out, err := ntlm.NewClientContext(s.cred)
		if err != nil {
			return nil, err
		}
		s.ctx = ctx
		return out, nil
	case 2:
		return s.ctx.Update(in)
	}
	return nil, nil
}

func (s *sspiNTLM) Close() {
	if s.ctx != nil {
		s.ctx.Release()
	}
	s.cred.Release()
}
