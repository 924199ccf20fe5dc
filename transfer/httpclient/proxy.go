package httpclient

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/transfer"
)

// ProxyFunc is how a client picks its proxy per request (nil URL: no
// proxy), the type of http.Transport.Proxy.
type ProxyFunc func(*http.Request) (*url.URL, error)

// FixedProxy sends every request through u, loopback included (Go's
// http.ProxyFromEnvironment never proxies localhost or 127.0.0.1, so an
// explicitly configured proxy needs its own function). u's user info, if
// any, is sent as Basic Proxy-Authorization by net/http.
func FixedProxy(u *url.URL) ProxyFunc {
	return func(*http.Request) (*url.URL, error) { return u, nil }
}

// ParseProxy checks an explicitly configured proxy address: http:// (or
// https://) with a host; a bare "host:port" means http://host:port.
// Credentials in it are refused: they would end up in settings files,
// policy files, the process list or logs (use a proxy user and a
// password file instead). The error is a *ProxyAddrError.
func ParseProxy(raw string) (*url.URL, error) {
	s := strings.TrimSpace(raw)
	if s != "" && !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, &ProxyAddrError{Addr: redactRaw(raw), Why: "syntax"}
	}
	if u.User != nil {
		return nil, &ProxyAddrError{Addr: Redact(u), Why: "credentials"}
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, &ProxyAddrError{Addr: Redact(u), Why: "path"}
	}
	u.Path = ""
	return u, nil
}

// ProxyAddrError: a proxy address ParseProxy refuses. Addr is without
// credentials; Why is "syntax", "credentials" or "path", and
// Reason the translated phrase for it.
type ProxyAddrError struct {
	Addr, Why string
}

func (e *ProxyAddrError) Error() string {
	switch e.Why {
	case "credentials":
		return fmt.Sprintf("proxy %s carries a user name or password in the address: give the user separately and the password from a file", e.Addr)
	case "path":
		return fmt.Sprintf("proxy %s must be only scheme, host and port", e.Addr)
	}
	return fmt.Sprintf("proxy %q is not an http:// address with a host and port", e.Addr)
}

// Reason is why, as a catalog phrase (for a message's %s).
func (e *ProxyAddrError) Reason() i18n.Phrase {
	return i18n.Phrase("transfer.net.proxy.addr." + e.Why)
}

// redactRaw drops what looks like user info from an address that does
// not parse (the error message must not echo a password).
func redactRaw(raw string) string {
	if i := strings.LastIndex(raw, "@"); i >= 0 {
		if j := strings.Index(raw, "://"); j >= 0 && j < i {
			return raw[:j+3] + "…@" + raw[i+1:]
		}
		return "…@" + raw[i+1:]
	}
	return raw
}

// ProxyAuthError: the proxy answered 407 Proxy Authentication Required.
// Proxy is its address without credentials; WithCredentials says whether
// a login was sent (then it was wrong).
type ProxyAuthError struct {
	Proxy           string
	WithCredentials bool
	// Unsupported, when set, lists the schemes the proxy offered of which
	// none could be answered with the login at hand (e.g. Negotiate
	// without a krb5.conf): a login is there, the proxy wants another kind.
	Unsupported string
}

func (e *ProxyAuthError) Error() string {
	if e.Unsupported != "" {
		return fmt.Sprintf("proxy %s asks for a login of a kind Bildbote cannot give here (%s)", e.Proxy, e.Unsupported)
	}
	if e.WithCredentials {
		return fmt.Sprintf("proxy %s refused the proxy login (407 Proxy Authentication Required)", e.Proxy)
	}
	return fmt.Sprintf("proxy %s requires a login (407 Proxy Authentication Required)", e.Proxy)
}

// Classification implements transfer.Classifier: Permanent (retrying
// with the same login will not help).
func (e *ProxyAuthError) Classification() transfer.Verdict {
	return transfer.Verdict{Class: transfer.Permanent, Reason: transfer.ReasonRefused}
}

// Unwrap is the translated message with what to do.
func (e *ProxyAuthError) Unwrap() error {
	if e.Unsupported != "" {
		return i18n.NewError(i18n.KindInput, "transfer.net.proxy.auth-unsupported", e.Proxy, e.Unsupported).WithHint("transfer.net.proxy.auth-unsupported.hint")
	}
	if e.WithCredentials {
		return i18n.NewError(i18n.KindInput, "transfer.net.proxy.auth-wrong", e.Proxy).WithHint("transfer.net.proxy.auth.hint")
	}
	return i18n.NewError(i18n.KindInput, "transfer.net.proxy.auth-needed", e.Proxy).WithHint("transfer.net.proxy.auth.hint")
}

// IsProxyAuth reports whether err is a proxy's 407.
func IsProxyAuth(err error) bool {
	var pe *ProxyAuthError
	return errors.As(err, &pe)
}

// proxyAuthFailure maps a 407 — an answer for plain http through the
// proxy, or Go's error for a refused CONNECT — to a *ProxyAuthError.
// resp's body is closed when it is one.
func proxyAuthFailure(proxy ProxyFunc, req *http.Request, resp *http.Response, err error) error {
	is407 := resp != nil && resp.StatusCode == http.StatusProxyAuthRequired ||
		err != nil && strings.Contains(err.Error(), "Proxy Authentication Required")
	if !is407 || proxy == nil {
		return nil
	}
	p, perr := proxy(req)
	if perr != nil || p == nil {
		return nil
	}
	if resp != nil {
		resp.Body.Close()
	}
	return &ProxyAuthError{Proxy: Redact(p), WithCredentials: p.User != nil}
}
