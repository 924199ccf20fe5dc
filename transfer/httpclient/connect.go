package httpclient

import (
	"bufio"
	"context"
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

// The CONNECT tunnel for https requests through an http(s) proxy is our
// own, not net/http's: net/http cannot answer a 407 to its CONNECT, and
// NTLM/Negotiate need the handshake on the tunnel's own connection.
// install makes the transport's Proxy answer nil for such requests
// (they look direct to net/http, which still does TLS, HTTP/2 and
// pooling) and its DialContext open the tunnel: the request's context
// carries which proxy and target (tunnelKey), set by transport.RoundTrip.

// connectTimeout bounds the CONNECT exchange (all its 407 legs).
const connectTimeout = 30 * time.Second

type tunnelKey struct{}

type tunnelTarget struct {
	proxy *url.URL // with the login's user info
	addr  string   // host:port of the target
}

// install sets t's Proxy and DialContext for proxy (see above).
func (a *proxyAuth) install(t *http.Transport, proxy ProxyFunc) {
	dial := t.DialContext
	if dial == nil {
		dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	a.dial = dial
	a.tlsConfig = func() *tls.Config { return t.TLSClientConfig }
	t.Proxy = func(req *http.Request) (*url.URL, error) {
		p, err := proxy(req)
		if err != nil || p == nil {
			return p, err
		}
		if tunnels(req, p) {
			return nil, nil // dialTunnel does it
		}
		if p.User != nil && (p.Scheme == "http" || p.Scheme == "https") {
			v := *p
			v.User = nil // our authTransport answers, not net/http's Basic
			return &v, nil
		}
		return p, nil
	}
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if tt, ok := ctx.Value(tunnelKey{}).(*tunnelTarget); ok && tt.addr == addr {
			return a.dialTunnel(ctx, tt.proxy, addr)
		}
		return dial(ctx, network, addr)
	}
}

// tunnels: an https request through an http or https proxy.
func tunnels(req *http.Request, p *url.URL) bool {
	return req.URL.Scheme == "https" && (p.Scheme == "http" || p.Scheme == "https")
}

// canonicalAddr is host:port of u (default port by scheme), as net/http
// dials it.
func canonicalAddr(u *url.URL) string {
	return net.JoinHostPort(u.Hostname(), port(u))
}

// dialTunnel connects to proxy p and opens a CONNECT tunnel to addr,
// answering the proxy's 407s on the same connection (a new one only when
// the proxy closes it between connection-independent legs).
func (a *proxyAuth) dialTunnel(ctx context.Context, p *url.URL, addr string) (net.Conn, error) {
	st := a.state(p)
	h := newHandshake(st, p, http.MethodConnect, addr)
	defer h.close()
	hdr, err := h.first(true)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	var conn net.Conn
	var br *bufio.Reader
	fail := func(err error) (net.Conn, error) {
		if conn != nil {
			conn.Close()
		}
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		if conn == nil {
			if conn, err = a.dialProxy(ctx, p); err != nil {
				return nil, err
			}
			br = bufio.NewReader(conn)
		}
		resp, err := connectOnce(ctx, conn, br, addr, hdr)
		if err != nil {
			return fail(fmt.Errorf("proxy %s: CONNECT %s: %w", Redact(p), addr, err))
		}
		if resp.StatusCode == http.StatusOK {
			if br.Buffered() > 0 {
				return &bufferedConn{Conn: conn, r: br}, nil
			}
			return conn, nil
		}
		drained := drain(resp)
		if resp.StatusCode != http.StatusProxyAuthRequired {
			return fail(&ProxyConnectError{Proxy: Redact(p), Target: addr, Status: resp.StatusCode, Text: resp.Status})
		}
		if attempt >= 5 {
			return fail(&ProxyAuthError{Proxy: Redact(p), WithCredentials: h.sent != ""})
		}
		next, aerr := h.answer(resp)
		if aerr != nil {
			return fail(aerr)
		}
		if resp.Close || !drained {
			if h.conn != nil && h.sent != "" && connBound(h.sent) && h.midway() {
				// the proxy closed the connection its handshake was bound to
				return fail(&ProxyAuthError{Proxy: Redact(p), WithCredentials: h.creds.explicit})
			}
			conn.Close()
			conn = nil
		}
		hdr = next
	}
}

// midway: a connection-bound handshake past its first leg.
func (h *handshake) midway() bool {
	switch c := h.conn.(type) {
	case *ntlmAuth:
		return c.leg > 1
	case *krbAuth:
		return c.leg > 1 // one token: it may go on a new connection
	}
	return true
}

// dialProxy opens the connection to p (TLS for an https:// proxy).
func (a *proxyAuth) dialProxy(ctx context.Context, p *url.URL) (net.Conn, error) {
	conn, err := a.dial(ctx, "tcp", canonicalAddr(p))
	if err != nil {
		return nil, err
	}
	if p.Scheme != "https" {
		return conn, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if base := a.tlsConfig(); base != nil {
		cfg = base.Clone()
		cfg.NextProtos = nil
	}
	cfg.ServerName = p.Hostname()
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, &transfer.TLSError{Host: p.Host, Err: err}
	}
	return tc, nil
}

// connectOnce writes one CONNECT and reads its answer's header.
func connectOnce(ctx context.Context, conn net.Conn, br *bufio.Reader, addr, auth string) (*http.Response, error) {
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
		defer conn.SetDeadline(time.Time{})
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	var b strings.Builder
	fmt.Fprintf(&b, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n", addr, addr)
	if auth != "" {
		fmt.Fprintf(&b, "Proxy-Authorization: %s\r\n", auth)
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		return nil, ctxErr(ctx, err)
	}
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		return nil, ctxErr(ctx, err)
	}
	return resp, nil
}

func ctxErr(ctx context.Context, err error) error {
	if ce := ctx.Err(); ce != nil {
		return fmt.Errorf("%w (%w)", ce, err)
	}
	return err
}

// drain reads what is left of a refusal's body (at most 1 MiB) so the
// connection can carry the next leg; false when it could not.
func drain(resp *http.Response) bool {
	if resp.Body == nil || resp.Body == http.NoBody {
		return true
	}
	n, err := io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return err == nil && n < 1<<20
}

// bufferedConn is a tunnel whose first bytes were read with the answer.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// ProxyConnectError: the proxy refused to open a tunnel (CONNECT) to
// Target with a status other than 407.
type ProxyConnectError struct {
	Proxy, Target string
	Status        int
	Text          string // the status line, e.g. "403 Forbidden"
}

func (e *ProxyConnectError) Error() string {
	return fmt.Sprintf("proxy %s refused the connection to %s: %s", e.Proxy, e.Target, e.Text)
}

// Classification implements transfer.Classifier: the proxy's 5xx (target
// unreachable, overloaded) may pass later; its 4xx (forbidden by the
// proxy's rules) will not.
func (e *ProxyConnectError) Classification() transfer.Verdict {
	if e.Status >= 500 {
		return transfer.Verdict{Class: transfer.Transient, Reason: transfer.ReasonServer}
	}
	return transfer.Verdict{Class: transfer.Permanent, Reason: transfer.ReasonRefused}
}

// Unwrap is the translated message with what to do.
func (e *ProxyConnectError) Unwrap() error {
	if e.Status >= 500 {
		return i18n.NewError(i18n.KindTransient, "transfer.net.proxy.connect-failed", e.Proxy, e.Target, e.Text).WithHint("transfer.net.proxy.connect-failed.hint")
	}
	return i18n.NewError(i18n.KindRefused, "transfer.net.proxy.connect-refused", e.Proxy, e.Target, e.Text).WithHint("transfer.net.proxy.connect-refused.hint")
}

// ProxyChallengeError: the proxy asked for a (fresh) login in answer to a
// request whose body cannot be sent a second time (a tus PATCH streams
// from the file). The login is known now: sending the request again,
// with a new body, passes. Transient.
type ProxyChallengeError struct {
	Proxy string
}

func (e *ProxyChallengeError) Error() string {
	return fmt.Sprintf("proxy %s asked for its login again before the request could pass; it is sent again", e.Proxy)
}

// Classification implements transfer.Classifier: Transient.
func (e *ProxyChallengeError) Classification() transfer.Verdict {
	return transfer.Verdict{Class: transfer.Transient, Reason: transfer.ReasonNetwork}
}

// Unwrap is the translated message.
func (e *ProxyChallengeError) Unwrap() error {
	return i18n.NewError(i18n.KindTransient, "transfer.net.proxy.auth-again", e.Proxy)
}

// sendOnce routes req: an https request through an http(s) proxy carries
// its tunnel target in the context (DialContext opens it), a plain http
// one gets its login answered by roundTripProxied.
func (t *transport) sendOnce(req *http.Request) (*http.Response, error) {
	if !t.installed {
		return t.base.RoundTrip(req)
	}
	p, err := t.proxy(req)
	if req.URL.Scheme == "https" && err == nil {
		t.routeChanged(canonicalAddr(req.URL), p)
	}
	switch {
	case err != nil || p == nil:
		return t.base.RoundTrip(req)
	case tunnels(req, p):
		tt := &tunnelTarget{proxy: p, addr: canonicalAddr(req.URL)}
		return t.base.RoundTrip(req.WithContext(context.WithValue(req.Context(), tunnelKey{}, tt)))
	case req.URL.Scheme == "http" && (p.Scheme == "http" || p.Scheme == "https"):
		return t.roundTripProxied(req, p)
	}
	return t.base.RoundTrip(req)
}

// routeChanged closes the idle connections when an https target's route
// (direct, or which proxy) is not the one its pooled connections took:
// net/http pools a tunnel under the target's address alone, so after a
// proxy change (settings, PAC) an idle tunnel or direct connection would
// otherwise carry on the old route.
func (t *transport) routeChanged(addr string, p *url.URL) {
	route := "direct"
	if p != nil {
		route = strings.ToLower(p.Scheme + "://" + p.Host)
	}
	a := t.auth
	a.mu.Lock()
	if a.routes == nil {
		a.routes = map[string]string{}
	}
	old, known := a.routes[addr]
	a.routes[addr] = route
	a.mu.Unlock()
	if known && old != route {
		if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
			c.CloseIdleConnections()
		}
	}
}

// closeIdle closes the idle connections of the one-connection transports.
func (a *proxyAuth) closeIdle() {
	a.mu.Lock()
	states := make([]*proxyState, 0, len(a.states))
	for _, st := range a.states {
		states = append(states, st)
	}
	a.mu.Unlock()
	for _, st := range states {
		st.mu.Lock()
		s := st.single
		st.mu.Unlock()
		if c, ok := s.(interface{ CloseIdleConnections() }); ok {
			c.CloseIdleConnections()
		}
	}
}

// roundTripProxied sends a plain http request through proxy p,
// answering its 407s (see proxyauth.go). A body is sent again only when
// the request can make a new one (GetBody).
func (t *transport) roundTripProxied(req *http.Request, p *url.URL) (*http.Response, error) {
	st := t.auth.state(p)
	h := newHandshake(st, p, req.Method, req.URL.String())
	defer h.close()
	base := t.base
	st.mu.Lock()
	bound := connBound(st.scheme)
	st.mu.Unlock()
	if bound {
		// one connection, one request at a time: the login sticks to it
		st.serial.Lock()
		defer st.serial.Unlock()
		base = t.single(st)
	}
	hdr, err := h.first(false)
	if err != nil {
		return nil, err
	}
	body := req.Body
	for attempt := 0; ; attempt++ {
		r := req
		if hdr != "" || attempt > 0 {
			r = req.Clone(req.Context())
			r.Body = body
			if hdr != "" {
				r.Header.Set("Proxy-Authorization", hdr)
			}
		}
		resp, err := base.RoundTrip(r)
		if err != nil || resp.StatusCode != http.StatusProxyAuthRequired {
			return resp, err
		}
		if attempt >= 5 {
			drain(resp)
			return nil, &ProxyAuthError{Proxy: Redact(p), WithCredentials: h.sent != ""}
		}
		next, aerr := h.answer(resp)
		if aerr != nil {
			drain(resp)
			return nil, aerr
		}
		if connBound(h.sent) && !bound {
			// the proxy wants NTLM/Negotiate: from now on over one connection
			drain(resp)
			bound = true
			st.serial.Lock()
			defer st.serial.Unlock()
			base = t.single(st) // the first leg (next) starts on it
		} else {
			drain(resp)
		}
		if req.Body != nil && req.Body != http.NoBody {
			if req.GetBody == nil {
				return nil, &ProxyChallengeError{Proxy: Redact(p)}
			}
			if body, err = req.GetBody(); err != nil {
				return nil, fmt.Errorf("proxy login: body again: %w", err)
			}
		}
		hdr = next
	}
}

// single is the transport for plain http through a proxy with a
// connection-bound login: a clone of the base with one connection per
// proxy, so each leg of the handshake and every later request use it.
func (t *transport) single(st *proxyState) http.RoundTripper {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.single == nil {
		ht, ok := t.base.(*http.Transport)
		if sw, isSwitch := t.base.(*tlsSwitch); isSwitch {
			ht, ok = sw.cur.Load(), true
		}
		if !ok {
			return t.base
		}
		c := ht.Clone()
		c.MaxConnsPerHost = 1
		c.MaxIdleConnsPerHost = 1
		st.single = c
	}
	return st.single
}

// PromptFunc asks for a proxy login when the proxy refused the current
// one (refused) or asked for one the client does not have; user is the
// current user name ("" = none). ok false: no login (the 407 stands).
// After ok the client's ProxyFunc must answer with the new login (the
// caller stores it, e.g. app.Core.SetProxyLogin); the request is then
// sent again, once per prompt, at most three times.
type PromptFunc func(ctx context.Context, proxy, user string, refused bool) (ok bool)

// SetProxyPrompt makes a client from New ask f on a 407 it cannot
// answer (the CLI on a terminal); false for any other client.
func SetProxyPrompt(c *http.Client, f PromptFunc) bool {
	t, ok := c.Transport.(*transport)
	if !ok {
		return false
	}
	t.auth.mu.Lock()
	t.auth.prompt = f
	t.auth.mu.Unlock()
	return true
}

// send is sendOnce, asking the prompt (SetProxyPrompt) after a
// *ProxyAuthError.
func (t *transport) send(req *http.Request) (*http.Response, error) {
	resp, err := t.sendOnce(req)
	t.auth.mu.Lock()
	prompt := t.auth.prompt
	t.auth.mu.Unlock()
	for i := 0; i < 3 && prompt != nil; i++ {
		var pe *ProxyAuthError
		if !errors.As(err, &pe) || pe.Unsupported != "" {
			break // another password would not help with another kind of login
		}
		user := ""
		if p, perr := t.proxy(req); perr == nil && p != nil && p.User != nil {
			user = p.User.Username()
		}
		if !prompt(req.Context(), pe.Proxy, user, pe.WithCredentials) {
			break
		}
		if req.Body != nil && req.Body != http.NoBody {
			if req.GetBody == nil {
				return nil, &ProxyChallengeError{Proxy: pe.Proxy} // the caller sends it again
			}
			body, berr := req.GetBody()
			if berr != nil {
				return nil, fmt.Errorf("proxy login: body again: %w", berr)
			}
			req = req.Clone(req.Context())
			req.Body = body
		}
		resp, err = t.sendOnce(req)
	}
	return resp, err
}
