package httpclient

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync/atomic"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/transfer"
)

// TLS is a client's trust and protocol choice (Options.TLS, SetTLS).
//
// Trust: with Roots nil every HTTPS connection is verified against the
// operating system's trust store — Go asks the platform verifier on
// Windows (CryptoAPI) and macOS (Security framework) and reads the
// system's CA files elsewhere. With an extra CA bundle (LoadCABundle)
// Roots is x509.SystemCertPool() plus the bundle's certificates; that
// pool is marked as the system's, so on Windows and macOS Go still asks
// the platform verifier first and only when it refuses tries the Go
// verifier with the added roots (crypto/x509 Certificate.Verify,
// Go 1.18 and later). A fresh x509.NewCertPool() would instead switch the
// platform verifier off and trust nothing but the bundle: never do that.
//
// The pinned community keys (age recipients) are not TLS and do not
// depend on any of this.
type TLS struct {
	// Roots: nil for the OS trust store alone; else from LoadCABundle.
	Roots *x509.CertPool
	// HTTP1Only: never HTTP/2 (ALPN offers http/1.1 only), for proxies
	// and filters that break HTTP/2.
	HTTP1Only bool
}

// apply sets tc on t, a transport of New's (or its clone).
func (tc TLS) apply(t *http.Transport) {
	cfg := t.TLSClientConfig
	if cfg == nil {
		cfg = &tls.Config{}
	} else {
		cfg = cfg.Clone()
	}
	cfg.RootCAs = tc.Roots
	cfg.NextProtos = nil // the transport fills in h2 and http/1.1
	if tc.HTTP1Only {
		cfg.NextProtos = []string{"http/1.1"} // say so: no h2 in ALPN
	}
	t.TLSClientConfig = cfg
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetHTTP2(!tc.HTTP1Only)
	t.Protocols = &p
	// A clone keeps the old transport's TLSNextProto: start afresh so
	// HTTP/2 can come back when the switch goes off again.
	t.TLSNextProto = nil
	t.ForceAttemptHTTP2 = !tc.HTTP1Only
	if tc.HTTP1Only {
		// A non-nil empty map keeps net/http from setting up HTTP/2 at all.
		t.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
}

// tlsSwitch is New's base transport: SetTLS replaces the *http.Transport
// under it (a clone with the new TLS), so a changed setting holds for
// the next connection without a new client.
type tlsSwitch struct {
	cur atomic.Pointer[http.Transport]
}

func newTLSSwitch(t *http.Transport, tc TLS) *tlsSwitch {
	tc.apply(t)
	s := &tlsSwitch{}
	s.cur.Store(t)
	return s
}

func (s *tlsSwitch) RoundTrip(req *http.Request) (*http.Response, error) {
	return s.cur.Load().RoundTrip(req)
}

func (s *tlsSwitch) CloseIdleConnections() { s.cur.Load().CloseIdleConnections() }

// Wrapper is implemented by a RoundTripper that a caller puts around a
// client's transport from New (c.Transport = &mine{base: c.Transport}):
// SetTLS and CurrentTLS find New's transport through Unwrap.
type Wrapper interface {
	Unwrap() http.RoundTripper
}

// own finds New's transport under rt, through Wrappers.
func own(rt http.RoundTripper) (*transport, bool) {
	for range 16 {
		switch t := rt.(type) {
		case *transport:
			return t, true
		case Wrapper:
			rt = t.Unwrap()
		default:
			return nil, false
		}
	}
	return nil, false
}

// SetTLS changes the trust and protocols of a client from New: new
// connections use tc, idle ones are closed, requests under way finish
// on their connection. It reports false (and changes nothing) for a
// client with its own Options.Transport or not from New (a Wrapper
// around New's transport is fine).
func SetTLS(c *http.Client, tc TLS) bool {
	t, ok := own(c.Transport)
	if !ok {
		return false
	}
	s, ok := t.base.(*tlsSwitch)
	if !ok {
		return false
	}
	old := s.cur.Load()
	n := old.Clone()
	tc.apply(n)
	s.cur.Store(n)
	old.CloseIdleConnections()
	return true
}

// CurrentTLS reports the TLS configuration of a client from New (the
// second result false for any other client).
func CurrentTLS(c *http.Client) (tc TLS, ok bool) {
	t, ok := own(c.Transport)
	if !ok {
		return TLS{}, false
	}
	s, ok := t.base.(*tlsSwitch)
	if !ok {
		return TLS{}, false
	}
	cur := s.cur.Load()
	if cur.TLSClientConfig != nil {
		tc.Roots = cur.TLSClientConfig.RootCAs
	}
	tc.HTTP1Only = cur.Protocols != nil && !cur.Protocols.HTTP2()
	return tc, true
}

// CABundle is an extra CA bundle as loaded: its certificates, and the
// OS trust store with them added.
type CABundle struct {
	Path  string
	Certs []*x509.Certificate
	// Pool is for TLS.Roots.
	Pool *x509.CertPool
}

// maxBundle bounds a CA bundle file (Debian's whole ca-certificates.crt
// is about 220 KB).
const maxBundle = 8 << 20

// LoadCABundle reads the CA certificates in path — PEM with one or many
// "CERTIFICATE" blocks, or a single DER certificate (a .cer exported
// from Windows) — and returns them with the OS trust store added to.
// A file that cannot be read, holds no certificate, or holds anything
// else (a private key, a block that does not parse) is a
// *CABundleError naming the file; nothing of it is used then.
func LoadCABundle(path string) (*CABundle, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, &CABundleError{Path: path, What: BundleUnreadable, Err: err}
	}
	if st.IsDir() {
		return nil, &CABundleError{Path: path, What: BundleUnreadable, Err: errors.New("is a directory")}
	}
	if st.Size() > maxBundle {
		return nil, &CABundleError{Path: path, What: BundleUnreadable, Err: fmt.Errorf("%d bytes, more than %d", st.Size(), maxBundle)}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &CABundleError{Path: path, What: BundleUnreadable, Err: err}
	}
	certs, err := parseBundle(data)
	if err != nil {
		var be *CABundleError
		if errors.As(err, &be) {
			be.Path = path
			return nil, be
		}
		return nil, &CABundleError{Path: path, What: BundleBad, Err: err}
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		// No system store at all (a bare container): the bundle alone.
		pool = x509.NewCertPool()
	}
	for _, c := range certs {
		pool.AddCert(c)
	}
	return &CABundle{Path: path, Certs: certs, Pool: pool}, nil
}

func parseBundle(data []byte) ([]*x509.Certificate, error) {
	if !bytes.Contains(data, []byte("-----BEGIN")) {
		certs, err := x509.ParseCertificates(data)
		if err != nil || len(certs) == 0 {
			return nil, &CABundleError{What: BundleEmpty, Err: errors.New("no PEM block and no DER certificate")}
		}
		return certs, nil
	}
	var certs []*x509.Certificate
	rest := data
	for n := 1; ; n++ {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, &CABundleError{What: BundleNotCert, Block: n, Err: fmt.Errorf("PEM block %d is %q, not CERTIFICATE", n, b.Type)}
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, &CABundleError{What: BundleBad, Block: n, Err: fmt.Errorf("PEM block %d: %w", n, err)}
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, &CABundleError{What: BundleEmpty, Err: errors.New("no PEM block decodes")}
	}
	return certs, nil
}

// CABundleError.What values.
const (
	BundleUnreadable = "unreadable" // missing, a directory, too large, no permission
	BundleEmpty      = "empty"      // no certificate in it
	BundleNotCert    = "not-cert"   // a block other than CERTIFICATE (a private key?)
	BundleBad        = "bad"        // a certificate that does not parse
)

// CABundleError: the extra CA bundle cannot be used. Its message names
// the file and, for a bad block, which one.
type CABundleError struct {
	Path  string
	What  string // Bundle*
	Block int    // 1-based PEM block for not-cert and bad; 0 otherwise
	Err   error
}

func (e *CABundleError) Error() string {
	return fmt.Sprintf("CA bundle %s: %s: %v", e.Path, e.What, e.Err)
}

// Classification implements transfer.Classifier: Permanent "local".
func (e *CABundleError) Classification() transfer.Verdict {
	return transfer.Verdict{Class: transfer.Permanent, Reason: transfer.ReasonLocal}
}

// Unwrap is the translated message with the hint, wrapping the cause.
func (e *CABundleError) Unwrap() error {
	var ue *i18n.UserError
	switch e.What {
	case BundleEmpty:
		ue = i18n.NewError(i18n.KindInput, "transfer.tls.bundle.empty", e.Path)
	case BundleNotCert:
		ue = i18n.NewError(i18n.KindInput, "transfer.tls.bundle.not-cert", e.Path, e.Block)
	case BundleBad:
		ue = i18n.NewError(i18n.KindInput, "transfer.tls.bundle.bad", e.Path, e.Block)
	default:
		ue = i18n.NewError(i18n.KindInput, "transfer.tls.bundle.unreadable", e.Path)
	}
	return ue.WithHint("transfer.tls.bundle.hint").Wrap(e.Err)
}
