package httpclient

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// DefaultDeadFor is how long Fallback skips a proxy that refused the
// connection (Chrome's "bad proxy" time).
const DefaultDeadFor = 5 * time.Minute

// ProxyList names the ways to a request's target, best first; a nil
// entry is DIRECT. It must return at least one entry when err is nil.
type ProxyList func(*http.Request) ([]*url.URL, error)

// Fallback turns a proxy list (a PAC answer: "PROXY a; PROXY b;
// DIRECT") into a proxy choice per request with fallback:
//
//   - A proxy whose connection fails (refused, unreachable, timed out:
//     Go's "proxyconnect" errors) is remembered as dead for DeadFor;
//     dead proxies go to the end of the list, so the next request takes
//     the next way (DIRECT included). When every proxy is dead the list
//     stays in its order.
//   - Within one request, the next way is tried at once when the request
//     can be sent again: no body, or a body with GetBody (a streamed
//     upload body cannot; its retry takes the next way).
//
// Use it as
//
//	c := httpclient.New(httpclient.Options{Proxy: fb.Proxy})
//	fb.Install(c) // the fallback around the client's whole transport
type Fallback struct {
	List    ProxyList
	DeadFor time.Duration // default DefaultDeadFor

	mu   sync.Mutex
	dead map[string]time.Time // proxy URL → until
}

type chosenKey struct{}

type chosen struct{ u *url.URL }

// NewFallback returns a Fallback over list.
func NewFallback(list ProxyList) *Fallback { return &Fallback{List: list} }

// Ways is the list for req, live proxies first (dead ones after, in
// their order).
func (f *Fallback) Ways(req *http.Request) ([]*url.URL, error) {
	all, err := f.List(req)
	if err != nil {
		return nil, err
	}
	if len(all) == 0 {
		return []*url.URL{nil}, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	var live, dead []*url.URL
	for _, u := range all {
		if u != nil {
			if until, ok := f.dead[key(u)]; ok {
				if now.Before(until) {
					dead = append(dead, u)
					continue
				}
				delete(f.dead, key(u))
			}
		}
		live = append(live, u)
	}
	return append(live, dead...), nil
}

// Proxy is the transport's Proxy: the way chosen for this attempt (set
// by Wrap), else the first of Ways.
func (f *Fallback) Proxy(req *http.Request) (*url.URL, error) {
	if c, ok := req.Context().Value(chosenKey{}).(*chosen); ok {
		return c.u, nil
	}
	ways, err := f.Ways(req)
	if err != nil {
		return nil, err
	}
	return ways[0], nil
}

// Dead reports whether u is remembered as dead now.
func (f *Fallback) Dead(u *url.URL) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	until, ok := f.dead[key(u)]
	return ok && time.Now().Before(until)
}

func (f *Fallback) markDead(u *url.URL) {
	d := f.DeadFor
	if d <= 0 {
		d = DefaultDeadFor
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dead == nil {
		f.dead = map[string]time.Time{}
	}
	f.dead[key(u)] = time.Now().Add(d)
}

func key(u *url.URL) string { return u.Scheme + "://" + u.Host }

// Install wraps c's transport (from New, with Proxy: f.Proxy).
func (f *Fallback) Install(c *http.Client) { c.Transport = f.Wrap(c.Transport) }

// Wrap returns base with the per-request fallback.
func (f *Fallback) Wrap(base http.RoundTripper) http.RoundTripper {
	return &fallbackTransport{f: f, base: base}
}

type fallbackTransport struct {
	f    *Fallback
	base http.RoundTripper
}

func (t *fallbackTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ways, err := t.f.Ways(req)
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	var last error
	for i, u := range ways {
		r := req.WithContext(context.WithValue(req.Context(), chosenKey{}, &chosen{u}))
		if i > 0 && req.Body != nil && req.Body != http.NoBody {
			b, err := req.GetBody()
			if err != nil {
				return nil, last
			}
			r.Body = b
		}
		resp, err := t.base.RoundTrip(r)
		if err == nil || u == nil || !proxyUnreachable(req, u, err) {
			return resp, err
		}
		t.f.markDead(u)
		last = err
		if !replayable || req.Context().Err() != nil {
			break
		}
	}
	return nil, last
}

// Unwrap is the wrapped transport (Wrapper).
func (t *fallbackTransport) Unwrap() http.RoundTripper { return t.base }

// CloseIdleConnections passes on to the wrapped transport.
func (t *fallbackTransport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// proxyUnreachable: err says the proxy u could not be reached: net/http's
// "proxyconnect" errors, or — for an https request through an http(s)
// proxy, whose CONNECT tunnel is ours (connect.go) and whose only dial
// is the proxy's — any dial or DNS error.
func proxyUnreachable(req *http.Request, u *url.URL, err error) bool {
	if IsProxyConnect(err) {
		return true
	}
	if req.URL.Scheme != "https" || u.Scheme != "http" && u.Scheme != "https" {
		return false
	}
	var oe *net.OpError
	var de *net.DNSError
	return errors.As(err, &oe) && oe.Op == "dial" || errors.As(err, &de)
}

// IsProxyConnect reports whether err is a failure to connect to the
// proxy itself (net/http's "proxyconnect" errors), not to the target.
func IsProxyConnect(err error) bool {
	var oe *net.OpError
	for e := err; e != nil; {
		if errors.As(e, &oe) {
			if oe.Op == "proxyconnect" {
				return true
			}
			e = oe.Err
			continue
		}
		break
	}
	return false
}
