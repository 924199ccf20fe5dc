package app

import (
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/transfer/httpclient"
)

// CABundleEnv names the environment variable with an extra CA bundle
// (like --ca-bundle); HTTP1Env, when "1" or "true", is --http1.
const (
	CABundleEnv = "BILDBOTE_CA_BUNDLE"
	HTTP1Env    = "BILDBOTE_HTTP1"
)

// Where a TLS choice came from (TLSInfo.CABundleSource, HTTP1Source).
const (
	TLSFromPolicy  = "policy"  // policy key ca_bundle / http1_only: locked
	TLSFromFlag    = "flag"    // Config.CABundle (--ca-bundle), Config.HTTP1Only (--http1)
	TLSFromEnv     = "env"     // BILDBOTE_CA_BUNDLE, BILDBOTE_HTTP1
	TLSFromSetting = "setting" // the user's settings
	TLSDefault     = "default" // nothing set: the OS trust store alone, HTTP/2 allowed
)

// TLSInfo says which trust and protocol settings every HTTPS request
// uses and where they came from. The OS trust store always counts; an
// extra CA bundle adds to it.
type TLSInfo struct {
	// CABundle is the extra bundle's path ("" = none), CABundleSource
	// where it was set (TLSFrom*).
	CABundle       string `json:"ca_bundle,omitempty"`
	CABundleSource string `json:"ca_bundle_source"`
	// CACerts describes the bundle's certificates, in file order.
	CACerts []CACert `json:"ca_certs,omitempty"`
	// HTTP1Only: HTTP/2 is off (for proxies that break it).
	HTTP1Only   bool   `json:"http1_only"`
	HTTP1Source string `json:"http1_source"`
	// Policy is the policy file's path when a value came from it.
	Policy string `json:"policy,omitempty"`
}

// CACert is one certificate of the extra CA bundle.
type CACert struct {
	Subject   string    `json:"subject"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	SHA256    string    `json:"sha256"` // colon-separated upper-case hex
}

// tlsChoice is the TLS in effect: for the client, and as reported.
type tlsChoice struct {
	tls  httpclient.TLS
	info TLSInfo
}

// resolveTLS applies the order policy (locked) > Config (--ca-bundle,
// --http1) > environment > setting for the CA bundle and for HTTP/1.1
// only, and loads the bundle — unless prev already holds that file from
// the same source (a save of another setting does not read it again).
// A bundle that cannot be used is a translated error naming the file
// and where it was set.
func resolveTLS(cfg Config, st *settingsStore, prev *tlsChoice) (tlsChoice, error) {
	pol := st.policy
	var ch tlsChoice
	ch.info.CABundleSource, ch.info.HTTP1Source = TLSDefault, TLSDefault
	switch {
	case pol.layer.CABundle != nil:
		ch.info.CABundle, ch.info.CABundleSource, ch.info.Policy = *pol.layer.CABundle, TLSFromPolicy, pol.Path
	case cfg.CABundle != "":
		ch.info.CABundle, ch.info.CABundleSource = cfg.CABundle, TLSFromFlag
	case os.Getenv(CABundleEnv) != "":
		ch.info.CABundle, ch.info.CABundleSource = os.Getenv(CABundleEnv), TLSFromEnv
	case st.user.CABundle != nil:
		ch.info.CABundle, ch.info.CABundleSource = *st.user.CABundle, TLSFromSetting
	}
	if ch.info.CABundle == "" {
		ch.info.CABundleSource = TLSDefault
	}
	env, _ := strconv.ParseBool(os.Getenv(HTTP1Env))
	switch {
	case pol.layer.HTTP1Only != nil:
		ch.info.HTTP1Only, ch.info.HTTP1Source, ch.info.Policy = *pol.layer.HTTP1Only, TLSFromPolicy, pol.Path
	case cfg.HTTP1Only:
		ch.info.HTTP1Only, ch.info.HTTP1Source = true, TLSFromFlag
	case env:
		ch.info.HTTP1Only, ch.info.HTTP1Source = true, TLSFromEnv
	case st.user.HTTP1Only != nil:
		ch.info.HTTP1Only, ch.info.HTTP1Source = *st.user.HTTP1Only, TLSFromSetting
	}
	ch.tls.HTTP1Only = ch.info.HTTP1Only
	if ch.info.CABundle == "" {
		return ch, nil
	}
	if abs, err := filepath.Abs(ch.info.CABundle); err == nil {
		ch.info.CABundle = abs
	}
	if prev != nil && prev.tls.Roots != nil && prev.info.CABundle == ch.info.CABundle && prev.info.CABundleSource == ch.info.CABundleSource {
		ch.tls.Roots, ch.info.CACerts = prev.tls.Roots, prev.info.CACerts
		return ch, nil
	}
	b, err := httpclient.LoadCABundle(ch.info.CABundle)
	if err != nil {
		return ch, bundleBad(ch.info, err)
	}
	ch.tls.Roots = b.Pool
	for _, c := range b.Certs {
		ch.info.CACerts = append(ch.info.CACerts, CACert{Subject: c.Subject.String(), NotBefore: c.NotBefore, NotAfter: c.NotAfter, SHA256: httpclient.Fingerprint(c.Raw)})
	}
	return ch, nil
}

// bundleBad says where the unusable bundle was set, with the bundle's
// own message and hint.
func bundleBad(info TLSInfo, err error) error {
	hint := "transfer.tls.bundle.hint"
	if ue, ok := i18n.AsUserError(err); ok && ue.HintKey != "" {
		hint = ue.HintKey
	}
	return i18n.NewError(i18n.KindInput, "app.tls.bundle.bad", errText{err}, tlsSource{info.CABundleSource, info.Policy, false}).
		WithHint(hint).Wrap(err)
}

// errText renders a user error's message in the reader's language.
type errText struct{ err error }

func (e errText) Localize(lang i18n.Lang) string {
	msg, _ := i18n.Localize(lang, e.err)
	return msg
}

// tlsSource is a TLSFrom* in words, for the bundle or (http1) the
// HTTP/1.1 switch.
type tlsSource struct {
	source, policy string
	http1          bool
}

func (s tlsSource) Localize(lang i18n.Lang) string {
	switch s.source {
	case TLSFromPolicy:
		return i18n.T(lang, "app.tls.source.policy", s.policy)
	case TLSFromFlag:
		if s.http1 {
			return i18n.T(lang, "app.tls.source.flag.http1")
		}
		return i18n.T(lang, "app.tls.source.flag.bundle")
	case TLSFromEnv:
		if s.http1 {
			return i18n.T(lang, "app.tls.source.env.http1")
		}
		return i18n.T(lang, "app.tls.source.env.bundle")
	case TLSFromSetting:
		return i18n.T(lang, "app.tls.source.setting")
	}
	return i18n.T(lang, "app.tls.source.default")
}

// DescribeBundle says in lang where the CA bundle came from (the policy
// with its path, --ca-bundle, …); DescribeHTTP1 the same for the switch.
func (t TLSInfo) DescribeBundle(lang i18n.Lang) string {
	return tlsSource{t.CABundleSource, t.Policy, false}.Localize(lang)
}

// DescribeHTTP1: see DescribeBundle.
func (t TLSInfo) DescribeHTTP1(lang i18n.Lang) string {
	return tlsSource{t.HTTP1Source, t.Policy, true}.Localize(lang)
}

// TLS reports the extra CA bundle and the HTTP/1.1 switch in effect and
// where they came from.
func (c *Core) TLS() TLSInfo {
	ch := c.tlsNow.Load()
	if ch == nil {
		return TLSInfo{CABundleSource: TLSDefault, HTTP1Source: TLSDefault}
	}
	return ch.info
}

// currentTLS is the TLS the core's client uses now (the PAC and WPAD
// fetches take it too: proxydiscovery.go).
func (c *Core) currentTLS() httpclient.TLS {
	if ch := c.tlsNow.Load(); ch != nil {
		return ch.tls
	}
	return httpclient.TLS{}
}

// setTLS recomputes the TLS choice after the settings changed (c.mu
// held) and applies it to the core's client (a Config.HTTPClient keeps
// its own), through any layer around it (tlsBase).
func (c *Core) setTLS() error {
	prev := c.tlsNow.Load()
	ch, err := resolveTLS(c.cfg, c.settings, prev)
	if err != nil {
		return err
	}
	c.tlsNow.Store(&ch)
	if prev != nil && prev.tls == ch.tls {
		return nil // unchanged: keep the connections
	}
	if c.tlsBase != nil {
		httpclient.SetTLS(&http.Client{Transport: c.tlsBase}, ch.tls)
	}
	return nil
}

// checkCABundle is the settings' check of a new ca_bundle value.
func checkCABundle(path string) error {
	if !filepath.IsAbs(path) {
		return i18n.NewError(i18n.KindInput, "app.tls.bundle.relative", path).WithHint("transfer.tls.bundle.hint")
	}
	if _, err := httpclient.LoadCABundle(path); err != nil {
		return bundleBad(TLSInfo{CABundleSource: TLSFromSetting}, err)
	}
	return nil
}
