//go:build windows

package httpclient

import (
	"errors"
	"fmt"

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
// user's credentials; host is the proxy's name (Kerberos asks for a
// ticket to HTTP/host).
func newSSPI(scheme, host string) (connAuth, error) {
	switch scheme {
	case schemeNegotiate:
		cred, err := negotiate.AcquireCurrentUserCredentials()
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
		return nil, errors.New("negotiate: the proxy asked for more after the login completed")
	}
	return out, nil
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
