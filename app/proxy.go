package app

import (
	"errors"
	"net/http"
	"net/url"
	"os"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/transfer/httpclient"
)

// ProxyEnv names the environment variable with an explicit proxy (like
// --proxy); ProxyUserEnv and ProxyPasswordEnv carry the proxy login.
const (
	ProxyEnv         = "BILDBOTE_PROXY"
	ProxyUserEnv     = "BILDBOTE_PROXY_USER"
	ProxyPasswordEnv = "BILDBOTE_PROXY_PASSWORD"
)

// Where a proxy choice came from (ProxyInfo.Source), highest first.
const (
	ProxyFromPolicy        = "policy"         // policy key proxy: locked
	ProxyFromFlag          = "flag"           // Config.Proxy (--proxy)
	ProxyFromEnvBildbote   = "env-bildbote"   // BILDBOTE_PROXY
	ProxyFromSetting       = "setting"        // the user's settings
	ProxyFromPolicyDefault = "policy-default" // policy key proxy_default
	ProxyFromEnvironment   = "environment"    // HTTPS_PROXY, HTTP_PROXY, NO_PROXY (Go's rules)
	ProxyNone              = "none"           // nothing configured: direct
)

// ProxyInfo says which proxy a request to a target goes through and why.
// URL never carries credentials; "" means a direct connection.
type ProxyInfo struct {
	URL    string `json:"url,omitempty"`
	Source string `json:"source"`
	// Policy is the policy file's path for the policy sources.
	Policy string `json:"policy,omitempty"`
	// User is the proxy login's user name ("" = no login); the password
	// is never reported.
	User string `json:"user,omitempty"`
	// LoginFrom says where the login is from (LoginFromConfig, …Session,
	// …Keyring).
	LoginFrom string `json:"login_from,omitempty"`
	// PACURL is the PAC file in use (sources pac and wpad), PACFrom who
	// named it (a source: policy, flag, env-bildbote, setting, os-…).
	PACURL  string `json:"pac_url,omitempty"`
	PACFrom string `json:"pac_from,omitempty"`
	// Ways is the PAC's (or the OS's) list for the target in the order
	// tried: proxy URLs and "DIRECT"; a proxy that refused the
	// connection lately is at the end.
	Ways []string `json:"ways,omitempty"`
	// Problem is why a PAC file, WPAD or the OS settings could not be
	// used (translated; nil: none); the way then is the next one, at
	// last DIRECT.
	Problem error `json:"-"`
}

// Describe is the source in words, in lang.
func (p ProxyInfo) Describe(lang i18n.Lang) string {
	switch p.Source {
	case ProxyFromPolicy, ProxyFromPolicyDefault:
		return i18n.T(lang, "app.proxy.source."+p.Source, p.Policy)
	case ProxyFromPAC, ProxyFromWPAD:
		from := pacFrom{p.PACFrom, p.Policy}.Localize(lang)
		if p.PACURL == "" { // WPAD found nothing
			return i18n.T(lang, "app.proxy.source.wpad-none", from)
		}
		return i18n.T(lang, "app.proxy.source."+p.Source, p.PACURL, from)
	}
	return i18n.T(lang, "app.proxy.source."+p.Source)
}

// Localize implements i18n.Localizer: the source in words.
func (p ProxyInfo) Localize(lang i18n.Lang) string { return p.Describe(lang) }

// proxyChoice is the explicit proxy in effect (url nil: the environment's).
type proxyChoice struct {
	url    *url.URL
	source string
	policy string
	disc   *discovery // PAC, WPAD, the OS: per request (proxydiscovery.go)
}

// resolveProxy applies the order policy (locked) > --proxy >
// BILDBOTE_PROXY > setting > policy default > the OS > environment, a
// PAC address just below the proxy of the same source (proxy_pac,
// --proxy-pac, BILDBOTE_PROXY_PAC, the setting). Values are checked
// with httpclient.ParseProxy (no credentials in an address) and
// proxy.CheckPACURL.
func resolveProxy(cfg Config, st *settingsStore) (proxyChoice, error) {
	pol := st.policy
	type cand struct {
		raw, source string
		pac         bool
	}
	var cands []cand
	if pol.layer.Proxy != nil {
		cands = append(cands, cand{raw: *pol.layer.Proxy, source: ProxyFromPolicy})
	}
	if pol.layer.ProxyPAC != nil {
		cands = append(cands, cand{*pol.layer.ProxyPAC, ProxyFromPolicy, true})
	}
	cands = append(cands, cand{raw: cfg.Proxy, source: ProxyFromFlag}, cand{cfg.ProxyPAC, ProxyFromFlag, true},
		cand{raw: os.Getenv(ProxyEnv), source: ProxyFromEnvBildbote}, cand{os.Getenv(ProxyPACEnv), ProxyFromEnvBildbote, true})
	if st.user.Proxy != nil {
		cands = append(cands, cand{raw: *st.user.Proxy, source: ProxyFromSetting})
	}
	if st.user.ProxyPAC != nil {
		cands = append(cands, cand{*st.user.ProxyPAC, ProxyFromSetting, true})
	}
	if pol.layer.ProxyDefault != nil {
		cands = append(cands, cand{raw: *pol.layer.ProxyDefault, source: ProxyFromPolicyDefault})
	}
	for _, c := range cands {
		if c.raw == "" {
			continue
		}
		policy := ""
		if c.source == ProxyFromPolicy || c.source == ProxyFromPolicyDefault {
			policy = pol.Path
		}
		if c.pac {
			return pacChoice(c.raw, c.source, policy)
		}
		u, err := httpclient.ParseProxy(c.raw)
		ch := proxyChoice{url: u, source: c.source, policy: policy}
		if err != nil {
			info := ProxyInfo{Source: c.source, Policy: ch.policy}
			return ch, proxyBad(info, err)
		}
		return ch, nil
	}
	if d := osDiscovery(); d != nil {
		src := ProxyFromEnvironment
		if d.os != nil {
			src = d.os.Source
		}
		return proxyChoice{source: src, disc: d}, nil
	}
	return proxyChoice{source: ProxyFromEnvironment}, nil
}

// proxyFunc is the client's Proxy: the current choice, with the login.
func (c *Core) proxyFunc(req *http.Request) (*url.URL, error) {
	ch := c.proxy.Load()
	var u *url.URL
	if ch != nil && ch.url != nil {
		u = ch.url
	} else if ch != nil && ch.disc != nil {
		var err error
		if u, err = ch.disc.fb.Proxy(req); err != nil || u == nil {
			return u, err
		}
	} else {
		var err error
		if u, err = http.ProxyFromEnvironment(req); err != nil || u == nil {
			return u, err
		}
	}
	if l := c.proxyLoginNow(); l.User != "" { // proxylogin.go
		v := *u
		v.User = url.UserPassword(l.User, l.Password)
		u = &v
	}
	return u, nil
}

// Proxy reports the proxy a request to target (a portal URL; "" = the
// portal in the settings) goes through, where that came from, and the
// login's user name, never a password.
func (c *Core) Proxy(target string) ProxyInfo {
	if target == "" {
		target = c.Settings().PortalURL
	}
	ch := c.proxy.Load()
	info := ProxyInfo{Source: ch.source, Policy: ch.policy}
	req := &http.Request{Method: http.MethodGet, Header: http.Header{}}
	if u, err := url.Parse(target); err == nil && u.Host != "" {
		req.URL = u
	} else {
		req.URL = &url.URL{Scheme: "https", Host: "portal.invalid"}
	}
	if ch.disc != nil {
		ch.disc.describe(&info, req.URL) // PAC, WPAD, the OS (proxydiscovery.go)
	}
	u, err := c.proxyFunc(req)
	if err != nil || u == nil {
		// The environment's proxy may skip this target (NO_PROXY, and Go
		// never proxies loopback): "none" only when none is set at all.
		if info.Source == ProxyFromEnvironment && !envProxySet() {
			info.Source = ProxyNone
		}
		return info
	}
	info.URL = httpclient.Redact(u)
	info.User, info.LoginFrom = c.ProxyLoginUser()
	return info
}

// setProxy recomputes the proxy after the settings changed (c.mu held).
func (c *Core) setProxy() error {
	ch, err := resolveProxy(c.cfg, c.settings)
	if err != nil {
		return err
	}
	if ch.disc != nil {
		ch.disc.useTrust(c.currentTLS) // proxydiscovery.go
	}
	c.proxy.Store(&ch)
	u := c.settings.effective().ProxyUser
	c.login.settingsUser.Store(&u) // proxylogin.go
	return nil
}

func envProxySet() bool {
	for _, k := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"} {
		if os.Getenv(k) != "" {
			return true
		}
	}
	return false
}

// proxyBad is the error for a refused proxy address from source: the
// address (without credentials) and why, in the reader's language.
func proxyBad(source ProxyInfo, err error) error {
	addr, why := "?", any(err.Error())
	var pe *httpclient.ProxyAddrError
	if errors.As(err, &pe) {
		addr, why = pe.Addr, pe.Reason()
	}
	return i18n.NewError(i18n.KindInput, "app.proxy.bad", addr, source, why).
		WithHint("app.proxy.bad.hint").Wrap(err)
}
