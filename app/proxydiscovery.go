package app

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/transfer/httpclient"
	"github.com/bildbote/bildbote/transfer/proxy"
)

// Proxy discovery below the explicit proxy (issue 15 item 1): a PAC file
// named by the policy (proxy_pac, locked), --proxy-pac,
// BILDBOTE_PROXY_PAC or the settings — each at the rank of the explicit
// proxy of the same source, just below it — else the operating system's
// settings (WPAD, its PAC file, its manual proxies), else the
// environment.
//
// A PAC file that cannot be fetched, loaded or run, or that gives no
// usable answer, and a WPAD that finds nothing, fall back to the next
// way the OS names (its PAC file, then its manual proxy) and at last to
// a DIRECT connection, as browsers do: a clinic network that lets the
// portal through directly keeps working. The problem is reported
// (ProxyInfo.Problem, translated) so `bildbote-cli proxy` and the
// settings show it, and a broken PAC is fetched again after 30 s.

// ProxyPACEnv names the environment variable with a PAC file's address
// (like --proxy-pac).
const ProxyPACEnv = "BILDBOTE_PROXY_PAC"

// More ProxyInfo.Source values.
const (
	ProxyFromPAC     = "pac"  // a PAC file; PACFrom says who named it
	ProxyFromWPAD    = "wpad" // a PAC file found by WPAD (the OS says "detect automatically")
	ProxyFromGNOME   = proxy.SourceGNOME
	ProxyFromKDE     = proxy.SourceKDE
	ProxyFromWindows = proxy.SourceWindows
	ProxyFromWinHTTP = proxy.SourceWinHTTP
	ProxyFromMacOS   = proxy.SourceMacOS
)

// osRefresh is how often a running core reads the OS settings again
// (a laptop that changes networks, a user switching the proxy on).
const osRefresh = time.Minute

// discovery is a proxy choice that is worked out per request.
type discovery struct {
	// fromOS: the OS settings, read again after osRefresh (mu guards the
	// fields below then; a PAC named explicitly never changes).
	fromOS bool
	mu     sync.Mutex
	read   time.Time

	pac     *proxy.Loader // a PAC file (named, or the OS's)
	pacFrom string        // who named it: a ProxyFrom* source
	policy  string        // the policy's path when pacFrom is a policy
	wpad    *proxy.Loader // the OS asks for auto-detection
	os      *proxy.OSSettings
	osErr   error // OS settings that do not make sense (reported)
	fb      *httpclient.Fallback
	// trust is the core's TLS (its CA bundle) for the PAC and WPAD
	// fetches; unset: the OS trust store alone (useTrust).
	trust atomic.Pointer[func() httpclient.TLS]
}

// useTrust makes the PAC and WPAD fetches trust what the core's client
// trusts (the OS store plus the CA bundle), asked at each fetch.
func (d *discovery) useTrust(f func() httpclient.TLS) { d.trust.Store(&f) }

// pacTLS is the loaders' Loader.TLS.
func (d *discovery) pacTLS() httpclient.TLS {
	if f := d.trust.Load(); f != nil {
		return (*f)()
	}
	return httpclient.TLS{}
}

// loader is a Loader for a PAC URL with the discovery's trust.
func (d *discovery) loader(raw string) *proxy.Loader {
	l := proxy.NewLoader(raw, pacOptions)
	l.TLS = d.pacTLS
	return l
}

// way is the outcome for one target.
type way struct {
	urls    []*url.URL // nil entry: DIRECT
	source  string
	pacURL  string
	pacFrom string
	problem error
}

// pacOptions are the PAC bounds (the package defaults).
var pacOptions = proxy.Options{}

func newPACDiscovery(raw, from, policy string) *discovery {
	d := &discovery{pacFrom: from, policy: policy}
	d.pac = d.loader(raw)
	d.fb = httpclient.NewFallback(d.list)
	return d
}

// osDiscovery reads the OS settings (bounded) and keeps reading them
// every osRefresh; nil with BILDBOTE_OS_PROXY=off. With no OS settings
// the environment decides.
func osDiscovery() *discovery {
	if os.Getenv("BILDBOTE_OS_PROXY") == "off" { // tests and clinic IT: ignore the OS
		return nil
	}
	d := &discovery{fromOS: true}
	d.readOS()
	d.fb = httpclient.NewFallback(d.list)
	return d
}

// readOS (re)reads the OS settings; a loader whose URL stays is kept
// (with its script and cache). d.mu held, or d not shared yet.
func (d *discovery) readOS() {
	s, err := proxy.ReadOS(context.Background())
	d.read, d.os, d.osErr = time.Now(), s, err
	if s == nil || !s.AutoDetect {
		d.wpad = nil
	} else if d.wpad == nil {
		d.wpad = &proxy.Loader{WPAD: &proxy.WPAD{}, Options: pacOptions, TLS: d.pacTLS}
	}
	if s == nil || s.PACURL == "" {
		d.pac, d.pacFrom = nil, ""
		return
	}
	if err := proxy.CheckPACURL(s.PACURL); err != nil {
		d.pac, d.pacFrom, d.osErr = nil, "", err
		return
	}
	if d.pac == nil || d.pac.URL != s.PACURL {
		d.pac = d.loader(s.PACURL)
	}
	d.pacFrom = s.Source
}

// now is the discovery's current state (the OS's read again when due).
func (d *discovery) now() (pac *proxy.Loader, pacFrom string, wpad *proxy.Loader, s *proxy.OSSettings, osErr error) {
	if d.fromOS {
		d.mu.Lock()
		defer d.mu.Unlock()
		if time.Since(d.read) >= osRefresh {
			d.readOS()
		}
	}
	return d.pac, d.pacFrom, d.wpad, d.os, d.osErr
}

// list is the Fallback's list: the ways to req's target.
func (d *discovery) list(req *http.Request) ([]*url.URL, error) {
	w := d.resolve(req.URL)
	return w.urls, nil
}

// resolve works out the ways to u: WPAD, the PAC file, the OS's manual
// proxy, DIRECT after a failed PAC, else the environment.
func (d *discovery) resolve(u *url.URL) way {
	ctx := context.Background() // the loaders bound themselves
	pacL, pacFromS, wpadL, osS, osErr := d.now()
	var problem error
	try := func(l *proxy.Loader, source, from string) (way, bool) {
		pac, err := l.Get(ctx)
		if err != nil {
			problem = err
			return way{}, false
		}
		entries, err := pac.FindProxy(u)
		if err != nil {
			problem = err
			return way{}, false
		}
		w := way{source: source, pacURL: l.Found(), pacFrom: from}
		for _, e := range entries {
			w.urls = append(w.urls, e.URL())
		}
		return w, true
	}
	osSource := ""
	if osS != nil {
		osSource = osS.Source
	}
	if wpadL != nil {
		if w, ok := try(wpadL, ProxyFromWPAD, osSource); ok {
			return w
		}
	}
	if pacL != nil {
		if w, ok := try(pacL, ProxyFromPAC, pacFromS); ok {
			w.problem = problem // a WPAD that found nothing
			return w
		}
	}
	if osS != nil && osS.Manual() {
		return way{urls: []*url.URL{osS.ManualProxy(u)}, source: osS.Source, problem: problem}
	}
	if pacL != nil || wpadL != nil {
		w := way{urls: []*url.URL{nil}, source: ProxyFromPAC, pacFrom: pacFromS, problem: problem}
		if pacL != nil {
			w.pacURL = redact(pacL.URL)
		} else {
			w.source, w.pacFrom = ProxyFromWPAD, osSource
		}
		return w
	}
	w := way{source: ProxyFromEnvironment, problem: osErr}
	if p, err := http.ProxyFromEnvironment(&http.Request{URL: u, Header: http.Header{}}); err == nil {
		w.urls = []*url.URL{p}
	} else {
		w.urls = []*url.URL{nil}
	}
	return w
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return httpclient.Redact(u)
}

// describe fills info for a target from the discovery.
func (d *discovery) describe(info *ProxyInfo, u *url.URL) {
	w := d.resolve(u)
	info.Source, info.PACURL, info.PACFrom = w.source, w.pacURL, w.pacFrom
	if w.pacFrom == ProxyFromPolicy || w.pacFrom == ProxyFromPolicyDefault {
		info.Policy = d.policy
	}
	if w.problem != nil {
		info.Problem = proxyProblem(w.problem)
	}
	ways, _ := d.fb.Ways(&http.Request{URL: u, Header: http.Header{}})
	if w.source == ProxyFromEnvironment {
		return
	}
	for _, p := range ways {
		if p == nil {
			info.Ways = append(info.Ways, "DIRECT")
		} else {
			info.Ways = append(info.Ways, httpclient.Redact(p))
		}
	}
}

// discoveryTransport wraps the client's transport with the current
// discovery's fallback (the next proxy of a PAC list when one refuses).
type discoveryTransport struct {
	c    *Core
	base http.RoundTripper
}

func (t *discoveryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if ch := t.c.proxy.Load(); ch != nil && ch.disc != nil {
		return ch.disc.fb.Wrap(t.base).RoundTrip(req)
	}
	return t.base.RoundTrip(req)
}

// Unwrap is the wrapped transport (httpclient.Wrapper: SetTLS finds
// the client's own transport through it).
func (t *discoveryTransport) Unwrap() http.RoundTripper { return t.base }

// CloseIdleConnections passes on to the wrapped transport.
func (t *discoveryTransport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// installDiscovery puts the fallback around the core's own client.
func (c *Core) installDiscovery() {
	c.client.Transport = &discoveryTransport{c: c, base: c.client.Transport}
}

// pacChoice is the choice for a PAC address from source (checked).
func pacChoice(raw, source, policy string) (proxyChoice, error) {
	if err := proxy.CheckPACURL(raw); err != nil {
		return proxyChoice{source: source, policy: policy}, i18n.NewError(i18n.KindInput, "app.proxy.pac.bad-url", redact(raw), pacFrom{source, policy}).
			WithHint("app.proxy.pac.bad-url.hint").Wrap(err)
	}
	return proxyChoice{source: ProxyFromPAC, policy: policy, disc: newPACDiscovery(raw, source, policy)}, nil
}

// pacFrom says who named a PAC file, in words (a message argument):
// --proxy-pac and BILDBOTE_PROXY_PAC for the flag and environment
// sources, else the source's own description.
type pacFrom struct{ source, policy string }

// Localize implements i18n.Localizer.
func (p pacFrom) Localize(lang i18n.Lang) string {
	switch p.source {
	case ProxyFromFlag, ProxyFromEnvBildbote:
		return i18n.T(lang, "app.proxy.pacfrom."+p.source)
	}
	return ProxyInfo{Source: p.source, Policy: p.policy}.Describe(lang)
}

// proxyProblem is a discovery failure as a translated error.
func proxyProblem(err error) error {
	var pe *proxy.PACError
	var ne *proxy.NoWPADError
	switch {
	case errors.As(err, &pe):
		var ue *i18n.UserError
		switch pe.Op {
		case "status":
			ue = i18n.NewError(i18n.KindTransient, "app.proxy.pac.status", pe.Source, pe.Status)
		case "size":
			ue = i18n.NewError(i18n.KindRefused, "app.proxy.pac.size", pe.Source, i18n.Bytes(pe.Limit))
		case "call", "timeout", "result":
			ue = i18n.NewError(i18n.KindRefused, "app.proxy.pac."+pe.Op, pe.Source, pe.Host)
		case "memory":
			ue = i18n.NewError(i18n.KindRefused, "app.proxy.pac.memory", pe.Source, i18n.Bytes(pe.Limit), pe.Host)
		case "fetch":
			if ce, ok := httpclient.IsCertError(pe.Err); ok {
				// the PAC server's certificate (the fetch is DIRECT: no proxy's)
				return i18n.NewError(i18n.KindRefused, "app.proxy.pac.cert", pe.Source, ce.Host, pacCertWhy(ce.Reason),
					ce.Subject, ce.Issuer, ce.ShortFingerprint()).WithHint("app.proxy.pac.cert.hint").Wrap(err)
			}
			ue = i18n.NewError(i18n.KindTransient, "app.proxy.pac.fetch", pe.Source)
		default: // compile, load, missing
			ue = i18n.NewError(i18n.KindRefused, "app.proxy.pac.broken", pe.Source)
		}
		return ue.WithHint("app.proxy.pac.hint").Wrap(err)
	case errors.As(err, &ne):
		return i18n.NewError(i18n.KindTransient, "app.proxy.wpad.none").WithHint("app.proxy.wpad.hint").Wrap(err)
	}
	return i18n.NewError(i18n.KindRefused, "app.proxy.os.bad").WithHint("app.proxy.os.bad.hint").Wrap(err)
}

// pacCertWhy is why the PAC server's certificate was refused, in words.
func pacCertWhy(reason string) i18n.Phrase {
	switch reason {
	case httpclient.CertUnknownAuthority:
		return "app.proxy.pac.cert.unknown-authority"
	case httpclient.CertExpired:
		return "app.proxy.pac.cert.expired"
	case httpclient.CertNotYetValid:
		return "app.proxy.pac.cert.not-yet-valid"
	case httpclient.CertHostname:
		return "app.proxy.pac.cert.hostname"
	}
	return "app.proxy.pac.cert.other"
}
