// Package httpclient makes the one *http.Client every part of the client
// uses (portal, DLX, inbox, tus, STOW-RS, PACS checks), so that its
// policies hold everywhere and grow in one place.
//
// Guarantees of a client from New:
//
//   - Redirects: at most MaxRedirects (default 5); never from https to
//     http; never to a scheme other than http or https; never a request
//     body or credentials (Authorization, Proxy-Authorization, Cookie,
//     tus Upload-Metadata — it carries the inbox password — and any
//     header whose name says Secret, Password, Token or Api-Key) to
//     another origin (scheme, host and port; the same host moving from
//     http to https counts as its own origin). A request other than GET
//     or HEAD that carries a body or credentials is refused there; a GET
//     or HEAD follows without its credentials (a CDN, a QR short link).
//     A refused redirect is a *RedirectError naming where it was sent
//     (without its query or a DLX token); transfer.Classify calls it
//     Permanent. (The *url.Error around it carries Go's own URL: callers
//     that put tokens into paths redact that, see transfer/dlx.)
//   - TLS: the operating system's trust store, plus an optional extra
//     CA bundle (Options.TLS, LoadCABundle), HTTP/2 unless
//     TLS.HTTP1Only. A certificate that fails verification comes back
//     as a *CertError (which certificate and issuer were seen, for
//     which host, whether TLS inspection may be in the way), another
//     failed handshake as a *transfer.TLSError naming the host; both
//     Permanent with a hint, never a transient network error.
//   - Timeouts on connecting (30 s), the TLS handshake (30 s) and the
//     wait for an answer's headers once the request is sent
//     (ResponseHeaderTimeout, default 5 min). There is no overall
//     Timeout: bodies of any size stream, and the transfer clients bound
//     stalls themselves.
//   - Proxy: Options.Proxy when set (FixedProxy: every host, loopback
//     included), else Go's HTTPS_PROXY/HTTP_PROXY/NO_PROXY. The proxy
//     URL's user info is the login, answered as Basic, Digest or NTLM
//     (Negotiate and NTLM with the Windows login through SSPI when there
//     is no user) for plain http requests and for the CONNECT tunnel of
//     https requests, which is our own (connect.go, proxyauth.go). A
//     proxy's 407 that cannot be answered comes back as a
//     *ProxyAuthError (translated, with a hint), never as an answer of
//     the server; its address is redacted.
package httpclient

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/transfer"
)

// DefaultMaxRedirects is Options.MaxRedirects when 0.
const DefaultMaxRedirects = 5

// Options configure New; zero fields take the defaults.
type Options struct {
	MaxRedirects          int           // default 5
	ResponseHeaderTimeout time.Duration // default 5 min
	// Transport replaces the default transport (tests: a TLS server's
	// client transport with its root CA). It is wrapped, not copied.
	Transport http.RoundTripper
	// Proxy picks the proxy per request; nil: http.ProxyFromEnvironment.
	// With Transport an *http.Transport, New sets that transport's Proxy
	// and DialContext for it (the proxy login, the CONNECT tunnel);
	// another RoundTripper must use the same function itself.
	Proxy ProxyFunc
	// TLS: the trust store (nil Roots: the OS's) and HTTP/1.1 only; see
	// TLS and SetTLS. Ignored with Transport.
	TLS TLS
}

// New returns a client with the policies above.
func New(o Options) *http.Client {
	if o.MaxRedirects <= 0 {
		o.MaxRedirects = DefaultMaxRedirects
	}
	if o.ResponseHeaderTimeout <= 0 {
		o.ResponseHeaderTimeout = 5 * time.Minute
	}
	base := o.Transport
	proxy := ProxyFunc(http.ProxyFromEnvironment)
	if o.Proxy != nil {
		proxy = o.Proxy
	}
	auth := newProxyAuth()
	installed := false
	if ht, ok := base.(*http.Transport); ok && o.Proxy != nil {
		auth.install(ht, proxy) // the caller's transport gets the proxy login
		installed = true
	}
	if base == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.Proxy = proxy
		t.DialContext = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
		t.TLSHandshakeTimeout = 30 * time.Second
		t.ResponseHeaderTimeout = o.ResponseHeaderTimeout
		auth.install(t, proxy)
		installed = true
		sw := newTLSSwitch(t, o.TLS)
		auth.tlsConfig = func() *tls.Config { return sw.cur.Load().TLSClientConfig }
		base = sw
	}
	return &http.Client{
		Transport:     &transport{base: base, proxy: proxy, auth: auth, installed: installed},
		CheckRedirect: checkRedirect(o.MaxRedirects),
	}
}

// transport maps TLS failures to *CertError or *transfer.TLSError and a proxy's 407 to
// *ProxyAuthError.
type transport struct {
	base  http.RoundTripper
	proxy ProxyFunc
	// auth answers proxy logins (proxyauth.go); installed: on base
	// (connect.go), else base's own proxy handling is left as it is.
	auth      *proxyAuth
	installed bool
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.send(req) // through the proxy with its login: connect.go
	if pe := proxyAuthFailure(t.proxy, req, resp, err); pe != nil {
		return nil, pe
	}
	if err != nil && transfer.IsTLS(err) {
		return nil, tlsFailure(req.URL.Host, err) // *CertError or *transfer.TLSError
	}
	return resp, err
}

// CloseIdleConnections passes on to the wrapped transport.
func (t *transport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
	t.auth.closeIdle() // the one-connection transports of NTLM proxies
}

// RedirectError: a redirect the policy refuses.
type RedirectError struct {
	What string // "too-many", "downgrade", "cross-origin", "scheme"
	From string // the request's URL, without query
	To   string // where the server sent it, without query
	Max  int    // for "too-many"
}

func (e *RedirectError) Error() string {
	switch e.What {
	case "too-many":
		return fmt.Sprintf("more than %d redirects (last from %s to %s)", e.Max, e.From, e.To)
	case "downgrade":
		return fmt.Sprintf("refused redirect from https to http: %s to %s", e.From, e.To)
	case "cross-origin":
		return fmt.Sprintf("refused redirect of a request with a body or credentials to another origin: %s to %s", e.From, e.To)
	}
	return fmt.Sprintf("refused redirect to %s", e.To)
}

// Classification implements transfer.Classifier: Permanent "redirect".
func (e *RedirectError) Classification() transfer.Verdict {
	return transfer.Verdict{Class: transfer.Permanent, Reason: transfer.ReasonRedirect}
}

// Unwrap is the translated message with the hint.
func (e *RedirectError) Unwrap() error {
	ue := i18n.NewError(i18n.KindRefused, "transfer.net.redirect."+e.What, e.To)
	if e.What == "too-many" {
		ue = i18n.NewError(i18n.KindRefused, "transfer.net.redirect.too-many", e.Max, e.To)
	}
	return ue.WithHint("transfer.net.redirect.hint")
}

// IsRedirect reports whether err is a refused redirect.
func IsRedirect(err error) bool {
	var re *RedirectError
	return errors.As(err, &re)
}

func checkRedirect(max int) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		prev, first := via[len(via)-1], via[0]
		e := &RedirectError{From: Redact(prev.URL), To: Redact(req.URL), Max: max}
		if len(via) > max {
			e.What = "too-many"
			return e
		}
		if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
			e.What = "scheme"
			return e
		}
		for _, v := range via {
			if v.URL.Scheme == "https" && req.URL.Scheme == "http" {
				e.What = "downgrade"
				return e
			}
		}
		if !SameOrUpgrade(first.URL, req.URL) {
			body := (req.Body != nil && req.Body != http.NoBody) || req.ContentLength > 0
			if body || sensitiveMethod(first.Method) && (hasSecrets(req.Header) || hasSecrets(first.Header)) {
				e.What = "cross-origin"
				return e
			}
			for k := range req.Header {
				if secretHeader(k) {
					req.Header.Del(k)
				}
			}
		}
		return nil
	}
}

// sensitiveMethod: a request whose redirect may act on the user's behalf.
func sensitiveMethod(m string) bool { return m != http.MethodGet && m != http.MethodHead }

func hasSecrets(h http.Header) bool {
	for k := range h {
		if secretHeader(k) {
			return true
		}
	}
	return false
}

// secretHeader reports whether a header carries credentials.
func secretHeader(name string) bool {
	n := http.CanonicalHeaderKey(name)
	switch n {
	case "Authorization", "Proxy-Authorization", "Cookie", "Upload-Metadata":
		return true
	}
	l := strings.ToLower(n)
	for _, s := range []string{"secret", "password", "token", "api-key", "apikey"} {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

// SameOrUpgrade: b is a's origin, or the same host moved from http to
// https (a portal typed as http:// that redirects to its https address).
func SameOrUpgrade(a, b *url.URL) bool {
	if SameOrigin(a, b) {
		return true
	}
	return strings.EqualFold(a.Scheme, "http") && strings.EqualFold(b.Scheme, "https") && strings.EqualFold(a.Hostname(), b.Hostname())
}

// SameOrigin compares scheme, host and port (default ports made explicit).
func SameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}

func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return "443"
	case "http":
		return "80"
	}
	return ""
}

// Redact drops a URL's query, fragment and user info (tokens ride there)
// and, for DLX token paths, the token itself.
func Redact(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	c.RawQuery, c.Fragment, c.User, c.RawFragment = "", "", nil, ""
	s := c.String()
	for _, seg := range []string{"/token/", "/tokentfa/"} {
		if i := strings.Index(s, seg); i >= 0 {
			s = s[:i+len(seg)] + "…"
		}
	}
	return s
}

var defaultClient = New(Options{})

// Default is a shared client from New(Options{}), for the transfer
// clients' zero values (instead of http.DefaultClient, which follows any
// redirect).
func Default() *http.Client { return defaultClient }

// ReadBody reads at most max bytes of resp's body, for at most d (the
// body is closed then): an error answer's body from a hostile server can
// drip for days. What arrived until then is returned.
func ReadBody(resp *http.Response, max int64, d time.Duration) []byte {
	cut := time.AfterFunc(d, func() { resp.Body.Close() })
	defer cut.Stop()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, max))
	return data
}
