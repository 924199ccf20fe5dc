package app

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/transfer"
	"github.com/bildbote/bildbote/transfer/httpclient"
)

// Doctor checks the way to a portal step by step — the address, the
// proxy, DNS, TLS, the portal's answers and the clock — and says for each
// what it found and what to do (bildbote-cli doctor, the GUI's
// "Verbindung prüfen"). Every request goes through the core's own HTTP
// client, so the proxy, its login and the TLS settings in effect apply.

// DoctorStatus is a step's outcome.
type DoctorStatus string

// The outcomes, best first.
const (
	DoctorOK      DoctorStatus = "ok"
	DoctorWarn    DoctorStatus = "warn"
	DoctorFail    DoctorStatus = "fail"
	DoctorSkipped DoctorStatus = "skipped"
)

// The steps, in the order Doctor runs and reports them.
const (
	DoctorStepPortal = "portal" // the address parses; https outside loopback
	DoctorStepProxy  = "proxy"  // which proxy, from where; it accepts a connection and a login
	DoctorStepDNS    = "dns"    // the portal's host name resolves
	DoctorStepTLS    = "tls"    // the certificate chain seen through the client
	DoctorStepReach  = "reach"  // GET /healthz and the DLX api_info
	DoctorStepClock  = "clock"  // the portal's Date against the local clock
)

// DoctorSteps lists the step names in order.
var DoctorSteps = []string{DoctorStepPortal, DoctorStepProxy, DoctorStepDNS, DoctorStepTLS, DoctorStepReach, DoctorStepClock}

// Bounds of Doctor (DoctorOptions' zero values).
const (
	DefaultDoctorTimeout     = 45 * time.Second // the whole check
	DefaultDoctorStepTimeout = 10 * time.Second // one request, a DNS look-up, a TCP connect
	// Clock skew: a warning above DoctorSkewWarn, a failure above
	// DoctorSkewFail (access codes and certificates depend on the time).
	DoctorSkewWarn = 2 * time.Minute
	DoctorSkewFail = 10 * time.Minute
	// doctorExpirySoon: a certificate ending within this is a warning.
	doctorExpirySoon = 14 * 24 * time.Hour
)

// DoctorText is a catalog key with its arguments, rendered in the
// reader's language by Text (arguments may be i18n.Localizer).
type DoctorText struct {
	Key  string
	Args []any
}

// Text renders t in lang.
func (t DoctorText) Text(lang i18n.Lang) string { return i18n.T(lang, t.Key, t.Args...) }

// DoctorCert is one certificate of the chain the portal (or something in
// between) presented.
type DoctorCert struct {
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	// SHA256 is the fingerprint of the DER certificate (hex); Short its
	// first 8 bytes as AB:CD:… for people.
	SHA256 string `json:"sha256"`
	Short  string `json:"sha256_short"`
}

// DoctorHTTP is one request the check made.
type DoctorHTTP struct {
	Method string `json:"method"`
	URL    string `json:"url"`
	Status int    `json:"status,omitempty"`
	Proto  string `json:"proto,omitempty"` // "HTTP/1.1", "HTTP/2.0"
	Millis int64  `json:"ms"`
	Error  string `json:"error,omitempty"` // English, for logs
}

// DoctorStep is one step's result. Found says what was found, Details
// add facts (one line each: the certificates, the requests), Hints what
// to do; all three are rendered in the reader's language.
type DoctorStep struct {
	Name    string       `json:"name"`
	Status  DoctorStatus `json:"status"`
	Found   DoctorText   `json:"-"`
	Details []DoctorText `json:"-"`
	Hints   []DoctorText `json:"-"`
	// Kind says, for a failed step, what sort of problem it is (the CLI's
	// exit code): KindInput (an address or login to fix), KindRefused (a
	// certificate, the policy), KindTransient (the network, the server).
	Kind i18n.Kind `json:"-"`
	// Err is a failed step's cause, for a face that acts on it (a proxy's
	// 407: the GUI asks for the login); its text is in Found already.
	Err    error `json:"-"`
	Millis int64 `json:"ms"`

	Proxy       *ProxyInfo   `json:"proxy,omitempty"`
	Addresses   []string     `json:"addresses,omitempty"`
	Chain       []DoctorCert `json:"chain,omitempty"`
	TLSVersion  string       `json:"tls_version,omitempty"`
	Requests    []DoctorHTTP `json:"requests,omitempty"`
	SkewSeconds *float64     `json:"skew_seconds,omitempty"`
}

// DoctorReport is the whole check.
type DoctorReport struct {
	Portal  string       `json:"portal"`
	Started time.Time    `json:"started"`
	Millis  int64        `json:"ms"`
	Steps   []DoctorStep `json:"steps"`
}

// Failed is the first failed step, nil when none failed.
func (r DoctorReport) Failed() *DoctorStep {
	for i := range r.Steps {
		if r.Steps[i].Status == DoctorFail {
			return &r.Steps[i]
		}
	}
	return nil
}

// Step is the step named name (nil if it is not in the report).
func (r DoctorReport) Step(name string) *DoctorStep {
	for i := range r.Steps {
		if r.Steps[i].Name == name {
			return &r.Steps[i]
		}
	}
	return nil
}

// DoctorOptions bound the check and report its progress.
type DoctorOptions struct {
	Timeout     time.Duration // the whole check; 0: DefaultDoctorTimeout
	StepTimeout time.Duration // each request, look-up, connect; 0: DefaultDoctorStepTimeout
	// Progress, when set, gets each step as it ends, in order, on the
	// goroutine that runs Doctor.
	Progress func(DoctorStep)
}

// Doctor checks the connection to portal ("" = the configured portal).
// It always returns, within o.Timeout (plus a moment for the step that
// runs when it passes): a step that did not get its turn is skipped.
func (c *Core) Doctor(ctx context.Context, portal string, o DoctorOptions) DoctorReport {
	if o.Timeout <= 0 {
		o.Timeout = DefaultDoctorTimeout
	}
	if o.StepTimeout <= 0 {
		o.StepTimeout = DefaultDoctorStepTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	d := &doctor{c: c, ctx: ctx, o: o, rep: DoctorReport{Portal: strings.TrimSpace(portal), Started: time.Now()}}
	d.run()
	d.rep.Millis = time.Since(d.rep.Started).Milliseconds()
	return d.rep
}

type doctor struct {
	c   *Core
	ctx context.Context
	o   DoctorOptions
	rep DoctorReport

	root  *url.URL
	proxy ProxyInfo
	// proxyDown: the proxy accepts no connection (the portal is then
	// not asked: its failure would only repeat the proxy's).
	proxyDown bool
	// health is GET /healthz, made once (by the proxy step through a
	// proxy, else by the TLS step) and read by the later steps.
	health *doctorFetch
}

// doctorFetch is one request's outcome.
type doctorFetch struct {
	rec    DoctorHTTP
	tls    *tls.ConnectionState
	date   time.Time // the answer's Date header (zero: none)
	midway time.Time // local time halfway through the request
	body   []byte
	err    error
}

func (d *doctor) run() {
	steps := []struct {
		name string
		run  func(*DoctorStep)
	}{
		{DoctorStepPortal, d.portalStep},
		{DoctorStepProxy, d.proxyStep},
		{DoctorStepDNS, d.dnsStep},
		{DoctorStepTLS, d.tlsStep},
		{DoctorStepReach, d.reachStep},
		{DoctorStepClock, d.clockStep},
	}
	for _, s := range steps {
		st := DoctorStep{Name: s.name}
		start := time.Now()
		switch {
		case errors.Is(d.ctx.Err(), context.Canceled):
			skip(&st, "app.doctor.skipped.cancelled")
		case d.ctx.Err() != nil:
			// not checked is not passed: the check is incomplete
			st.fail(i18n.KindTransient, "app.doctor.skipped.deadline")
		case d.root == nil && s.name != DoctorStepPortal:
			skip(&st, "app.doctor.skipped.portal")
		default:
			s.run(&st)
		}
		st.Millis = time.Since(start).Milliseconds()
		d.rep.Steps = append(d.rep.Steps, st)
		if d.o.Progress != nil {
			d.o.Progress(st)
		}
	}
}

func skip(st *DoctorStep, key string, args ...any) {
	st.Status, st.Found = DoctorSkipped, DoctorText{key, args}
}

func (st *DoctorStep) set(status DoctorStatus, key string, args ...any) {
	st.Status, st.Found = status, DoctorText{key, args}
}

func (st *DoctorStep) fail(kind i18n.Kind, key string, args ...any) {
	st.set(DoctorFail, key, args...)
	st.Kind = kind
}

func (st *DoctorStep) hint(key string, args ...any) {
	st.Hints = append(st.Hints, DoctorText{key, args})
}

func (st *DoctorStep) detail(key string, args ...any) {
	st.Details = append(st.Details, DoctorText{key, args})
}

// errMessage and errHint render an error for a message's %s: a user
// error's translated message (or hint), else the English text.
type errMessage struct{ err error }

func (e errMessage) Localize(lang i18n.Lang) string {
	if ue, ok := i18n.AsUserError(e.err); ok {
		return ue.Message(lang)
	}
	return e.err.Error()
}

type errHint struct{ err error }

func (e errHint) Localize(lang i18n.Lang) string {
	if ue, ok := i18n.AsUserError(e.err); ok {
		return ue.Hint(lang)
	}
	return ""
}

// userErrorStep fails st with err's own translated message and hint.
func userErrorStep(st *DoctorStep, err error) {
	st.Err = err
	kind := i18n.KindTransient
	if ue, ok := i18n.AsUserError(err); ok {
		kind = ue.Kind
		st.fail(kind, "app.doctor.text", errMessage{err})
		if ue.HintKey != "" {
			st.hint("app.doctor.text", errHint{err})
		}
		return
	}
	st.fail(kind, "app.doctor.text", errMessage{err})
}

// portalStep: the address parses (portalRoot's rules, the policy's
// allowed portals too); plain http only on loopback.
func (d *doctor) portalStep(st *DoctorStep) {
	root, err := d.c.portalRoot(d.rep.Portal)
	if err != nil {
		userErrorStep(st, err)
		return
	}
	u, err := url.Parse(root)
	if err != nil { // portalRoot parsed it already
		userErrorStep(st, err)
		return
	}
	d.root, d.rep.Portal = u, root
	if u.Scheme == "http" && !loopbackHost(u.Hostname()) {
		st.set(DoctorWarn, "app.doctor.portal.http", root)
		st.hint("app.doctor.portal.http.hint")
		return
	}
	st.set(DoctorOK, "app.doctor.portal.ok", root)
}

func loopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// proxyStep: which proxy and why; with one, a bounded TCP connect and
// (through the client) whether it wants a login.
func (d *doctor) proxyStep(st *DoctorStep) {
	info := d.c.Proxy(d.rep.Portal)
	d.proxy = info
	st.Proxy = &info
	if info.URL == "" {
		st.set(DoctorOK, "app.doctor.proxy.direct", info)
		if info.Problem != nil { // a PAC file or WPAD that failed: DIRECT
			st.Details = append(st.Details, st.Found)
			st.set(DoctorWarn, "app.doctor.text", errMessage{info.Problem})
			st.hint("app.doctor.text", errHint{info.Problem})
		}
		return
	}
	// The ways in the order the client tries them (a PAC's or the OS's
	// list; else the one proxy): the first that accepts a connection is
	// the one in use.
	ways := info.Ways
	if len(ways) == 0 {
		ways = []string{info.URL}
	}
	if len(ways) > 1 {
		st.detail("app.doctor.proxy.ways", strings.Join(ways, "; "))
	}
	var dead []string
	var lastErr error
	using := ""
	for _, w := range ways {
		if strings.EqualFold(w, "DIRECT") {
			using = w
			break
		}
		addr, err := proxyAddr(w)
		if err != nil {
			st.fail(i18n.KindInput, "app.doctor.proxy.bad", w, info)
			return
		}
		dctx, cancel := context.WithTimeout(d.ctx, d.o.StepTimeout)
		start := time.Now()
		conn, err := (&net.Dialer{}).DialContext(dctx, "tcp", addr)
		cancel()
		if err != nil {
			lastErr = err
			dead = append(dead, w)
			st.detail("app.doctor.proxy.way-dead", w, netReason(err))
			continue
		}
		conn.Close()
		st.detail("app.doctor.proxy.connect", addr, ms(time.Since(start)))
		using = w
		break
	}
	if using == "" { // no way works
		d.proxyDown = true
		st.Err = lastErr
		st.fail(i18n.KindTransient, "app.doctor.proxy.closed", dead[0], info, netReason(lastErr))
		d.proxyFixHints(st, info)
		return
	}
	defer func() {
		if len(dead) > 0 && st.Status == DoctorOK {
			// the client goes on to the next way, but each try costs time
			st.Details = append(st.Details, st.Found)
			st.set(DoctorWarn, "app.doctor.proxy.fallback", dead[0], using)
			d.proxyFixHints(st, info)
		}
		if info.Problem != nil && st.Status == DoctorOK {
			st.Details = append(st.Details, st.Found)
			st.set(DoctorWarn, "app.doctor.text", errMessage{info.Problem})
			st.hint("app.doctor.text", errHint{info.Problem})
		}
	}()
	if strings.EqualFold(using, "DIRECT") {
		st.set(DoctorOK, "app.doctor.proxy.direct", info)
		return
	}
	h := d.healthz()
	if httpclient.IsProxyAuth(h.err) {
		userErrorStep(st, h.err)
		st.Kind = i18n.KindInput
		return
	}
	if info.User != "" {
		st.set(DoctorOK, "app.doctor.proxy.ok.login", using, info, info.User)
	} else {
		st.set(DoctorOK, "app.doctor.proxy.ok", using, info)
	}
}

// proxyFixHints: what to do about a proxy that accepts no connection,
// by where it is configured.
func (d *doctor) proxyFixHints(st *DoctorStep, info ProxyInfo) {
	st.hint("app.doctor.proxy.closed.hint")
	switch fix := "app.doctor.proxy.fix." + info.Source; {
	case info.Source == ProxyFromPolicy || info.Source == ProxyFromPolicyDefault:
		st.hint(fix, info.Policy)
	case i18n.Has(i18n.EN, fix):
		st.hint(fix)
	default: // PAC, WPAD, the OS, a source added later
		st.hint("app.doctor.proxy.fix.other", info)
	}
}

// proxyAddr is host:port of a proxy URL (the scheme's port if none).
func proxyAddr(raw string) (string, error) {
	pu, err := url.Parse(raw)
	if err != nil || pu.Host == "" {
		return "", fmt.Errorf("proxy %q: no host", raw)
	}
	if pu.Port() != "" {
		return pu.Host, nil
	}
	port := "80"
	if pu.Scheme == "https" {
		port = "443"
	}
	return net.JoinHostPort(pu.Hostname(), port), nil
}

// dnsStep resolves the portal's host here. Through a proxy the proxy
// resolves it: a local failure is then only a warning.
func (d *doctor) dnsStep(st *DoctorStep) {
	host := d.root.Hostname()
	if net.ParseIP(host) != nil {
		skip(st, "app.doctor.dns.ip", host)
		return
	}
	lctx, cancel := context.WithTimeout(d.ctx, d.o.StepTimeout)
	defer cancel()
	start := time.Now()
	addrs, err := net.DefaultResolver.LookupHost(lctx, host)
	took := ms(time.Since(start))
	switch {
	case err == nil:
		st.Addresses = addrs
		st.set(DoctorOK, "app.doctor.dns.ok", host, strings.Join(addrs, ", "), took)
		if d.proxy.URL != "" {
			st.detail("app.doctor.dns.proxy-resolves")
		}
	case d.proxy.URL != "":
		st.set(DoctorWarn, "app.doctor.dns.proxy", host, d.proxy.URL)
	case lctx.Err() != nil:
		st.fail(i18n.KindTransient, "app.doctor.dns.timeout", host, took)
		st.hint("app.doctor.dns.fail.hint")
	default:
		st.fail(i18n.KindTransient, "app.doctor.dns.fail", host)
		st.hint("app.doctor.dns.fail.hint")
	}
}

// tlsStep shows the chain the client saw (through the proxy, with the
// trust in effect), or on failure the certificate it refused.
func (d *doctor) tlsStep(st *DoctorStep) {
	if d.root.Scheme != "https" {
		skip(st, "app.doctor.tls.http")
		return
	}
	if d.proxyDown {
		skip(st, "app.doctor.skipped.proxy")
		return
	}
	h := d.healthz()
	if h.err != nil {
		chain := certsOf(h.err)
		if chain == nil && !transfer.IsTLS(h.err) {
			skip(st, "app.doctor.tls.noconn")
			return
		}
		st.Chain = describeChain(chain)
		host := d.root.Hostname()
		if ce, ok := httpclient.IsCertError(h.err); ok {
			// transfer's own account: which certificate, why, what IT does
			userErrorStep(st, ce)
			st.Kind = i18n.KindRefused
			for i, ct := range st.Chain {
				st.detail("app.doctor.tls.cert", i+1, ct.Subject, ct.Issuer, date(ct.NotBefore), date(ct.NotAfter), ct.Short)
			}
			return
		}
		st.Err = h.err
		if len(st.Chain) > 0 {
			leaf := st.Chain[0]
			st.fail(i18n.KindRefused, "app.doctor.tls.untrusted", host, leaf.Subject, leaf.Issuer)
		} else {
			st.fail(i18n.KindRefused, "app.doctor.tls.failed", host)
		}
		for i, ct := range st.Chain {
			st.detail("app.doctor.tls.cert", i+1, ct.Subject, ct.Issuer, date(ct.NotBefore), date(ct.NotAfter), ct.Short)
		}
		st.detail("app.doctor.text", errMessage{h.err})
		st.hint("app.doctor.tls.inspection.hint")
		st.hint("app.doctor.tls.untrusted.hint")
		return
	}
	if h.tls == nil {
		skip(st, "app.doctor.tls.noconn")
		return
	}
	st.Chain = describeChain(h.tls.PeerCertificates)
	st.TLSVersion = tls.VersionName(h.tls.Version)
	if len(st.Chain) == 0 {
		st.set(DoctorOK, "app.doctor.tls.ok-nocert", st.TLSVersion)
		return
	}
	leaf := st.Chain[0]
	st.set(DoctorOK, "app.doctor.tls.ok", st.TLSVersion, leaf.Subject, leaf.Issuer, date(leaf.NotAfter))
	if left := time.Until(leaf.NotAfter); left < doctorExpirySoon {
		st.Details = append(st.Details, st.Found) // what works, under the warning
		st.set(DoctorWarn, "app.doctor.tls.expires", leaf.Subject, date(leaf.NotAfter))
		st.hint("app.doctor.tls.expires.hint")
	}
	for i, ct := range st.Chain {
		st.detail("app.doctor.tls.cert", i+1, ct.Subject, ct.Issuer, date(ct.NotBefore), date(ct.NotAfter), ct.Short)
	}
}

// reachStep: GET /healthz (a Bildbote portal's) and GET /dlx/v1/api_info
// (any DLX portal's), without secrets.
func (d *doctor) reachStep(st *DoctorStep) {
	if d.proxyDown {
		skip(st, "app.doctor.skipped.proxy")
		return
	}
	h := d.healthz()
	st.Requests = append(st.Requests, h.rec)
	if h.err != nil {
		d.fetchFailed(st, h)
		return
	}
	st.detail("app.doctor.reach.request", "/healthz", h.rec.Status, h.rec.Proto, h.rec.Millis)
	if d.viaProxyFailure(st, h) {
		return
	}
	info := d.fetch("/dlx/v1/api_info")
	st.Requests = append(st.Requests, info.rec)
	if info.err != nil {
		d.fetchFailed(st, info)
		return
	}
	st.detail("app.doctor.reach.request", "/dlx/v1/api_info", info.rec.Status, info.rec.Proto, info.rec.Millis)
	if d.viaProxyFailure(st, info) {
		return
	}
	var api struct {
		DLXVersion string `json:"dlxVersion"`
		Vendor     string `json:"vendorInformation"`
		Base       string `json:"apiBasePath"`
	}
	if info.rec.Status != http.StatusOK || json.Unmarshal(info.body, &api) != nil || api.Base == "" {
		st.fail(i18n.KindRefused, "app.doctor.reach.not-dlx", d.rep.Portal, info.rec.Status)
		st.hint("app.doctor.reach.not-dlx.hint")
		return
	}
	if h.rec.Status != http.StatusOK {
		// another vendor's DLX portal: no /healthz, and that is fine
		st.set(DoctorOK, "app.doctor.reach.ok-dlx", api.DLXVersion, h.rec.Status, info.rec.Proto)
		return
	}
	st.set(DoctorOK, "app.doctor.reach.ok", api.DLXVersion, info.rec.Proto, h.rec.Millis+info.rec.Millis)
}

// viaProxyFailure: a 502/503/504 through a proxy is the proxy saying it
// could not reach the portal.
func (d *doctor) viaProxyFailure(st *DoctorStep, f *doctorFetch) bool {
	switch f.rec.Status {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
	default:
		return false
	}
	if d.proxy.URL != "" {
		st.fail(i18n.KindTransient, "app.doctor.reach.proxy-gateway", d.proxy.URL, d.rep.Portal, f.rec.Status)
		st.hint("app.doctor.reach.down.hint")
	} else {
		st.fail(i18n.KindTransient, "app.doctor.reach.status", d.rep.Portal, f.rec.Status)
		st.hint("app.doctor.reach.status.hint")
	}
	return true
}

func (d *doctor) fetchFailed(st *DoctorStep, f *doctorFetch) {
	var ue *i18n.UserError
	switch {
	case httpclient.IsProxyAuth(f.err):
		skip(st, "app.doctor.skipped.proxy-login")
	case certsOf(f.err) != nil || transfer.IsTLS(f.err):
		skip(st, "app.doctor.skipped.tls")
	case errors.As(f.err, &ue):
		userErrorStep(st, f.err)
	default:
		st.Err = f.err
		st.fail(i18n.KindTransient, "app.doctor.reach.down", d.rep.Portal, netReason(f.err))
		st.hint("app.doctor.reach.down.hint")
	}
}

// clockStep compares the portal's Date header with this computer's
// clock (halfway through the request; Date has whole seconds).
func (d *doctor) clockStep(st *DoctorStep) {
	if d.proxyDown {
		skip(st, "app.doctor.skipped.proxy")
		return
	}
	h := d.healthz()
	if h.err != nil || h.date.IsZero() {
		skip(st, "app.doctor.clock.none")
		return
	}
	// Date has whole seconds: compare with the local time cut the same way.
	skew := h.date.Sub(h.midway.Truncate(time.Second))
	secs := skew.Seconds()
	st.SkewSeconds = &secs
	abs := skew
	if abs < 0 {
		abs = -abs
	}
	key := "app.doctor.clock.ahead" // this computer is ahead of the portal
	if skew > 0 {
		key = "app.doctor.clock.behind"
	}
	shown := transfer.FormatWait(abs)
	switch {
	case abs > DoctorSkewFail:
		st.fail(i18n.KindInput, key, shown)
		st.hint("app.doctor.clock.hint")
	case abs > DoctorSkewWarn:
		st.set(DoctorWarn, key, shown)
		st.hint("app.doctor.clock.hint")
	default:
		st.set(DoctorOK, "app.doctor.clock.ok", int64(abs/time.Second))
	}
}

func (d *doctor) healthz() *doctorFetch {
	if d.health == nil {
		d.health = d.fetch("/healthz")
	}
	return d.health
}

// fetch GETs path on the portal through the core's client, bounded by
// the step timeout (the body too: at most 64 KiB).
func (d *doctor) fetch(path string) *doctorFetch {
	target := strings.TrimRight(d.rep.Portal, "/") + path
	f := &doctorFetch{rec: DoctorHTTP{Method: http.MethodGet, URL: target}}
	rctx, cancel := context.WithTimeout(d.ctx, d.o.StepTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, target, nil)
	if err != nil {
		f.err = err
		f.rec.Error = err.Error()
		return f
	}
	req.Header.Set("Accept", "application/json")
	start := time.Now()
	resp, err := d.c.client.Do(req)
	took := time.Since(start)
	f.rec.Millis = took.Milliseconds()
	if err != nil {
		f.err = err
		f.rec.Error = err.Error()
		return f
	}
	f.midway = start.Add(took / 2)
	f.body = httpclient.ReadBody(resp, 64<<10, d.o.StepTimeout)
	resp.Body.Close()
	f.rec.Status, f.rec.Proto, f.tls = resp.StatusCode, resp.Proto, resp.TLS
	if t, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
		f.date = t
	}
	return f
}

// certsOf finds the certificates a TLS failure saw, leaf first.
func certsOf(err error) []*x509.Certificate {
	if ce, ok := httpclient.IsCertError(err); ok && len(ce.Chain) > 0 {
		return ce.Chain
	}
	var verify *tls.CertificateVerificationError
	if errors.As(err, &verify) && len(verify.UnverifiedCertificates) > 0 {
		return verify.UnverifiedCertificates
	}
	var unknown x509.UnknownAuthorityError
	if errors.As(err, &unknown) && unknown.Cert != nil {
		return []*x509.Certificate{unknown.Cert}
	}
	var host x509.HostnameError
	if errors.As(err, &host) && host.Certificate != nil {
		return []*x509.Certificate{host.Certificate}
	}
	var invalid x509.CertificateInvalidError
	if errors.As(err, &invalid) && invalid.Cert != nil {
		return []*x509.Certificate{invalid.Cert}
	}
	return nil
}

func describeChain(certs []*x509.Certificate) []DoctorCert {
	var out []DoctorCert
	for _, c := range certs {
		sum := sha256.Sum256(c.Raw)
		var short []string
		for _, b := range sum[:8] {
			short = append(short, strings.ToUpper(hex.EncodeToString([]byte{b})))
		}
		out = append(out, DoctorCert{
			Subject: certName(c.Subject.CommonName, c.Subject.String()), Issuer: certName(c.Issuer.CommonName, c.Issuer.String()),
			NotBefore: c.NotBefore, NotAfter: c.NotAfter,
			SHA256: hex.EncodeToString(sum[:]), Short: strings.Join(short, ":"),
		})
	}
	return out
}

func certName(cn, full string) string {
	if cn != "" {
		return cn
	}
	return full
}

// netReason is why a connection failed, as a phrase.
func netReason(err error) i18n.Phrase {
	switch transfer.Classify(err).Reason {
	case transfer.ReasonConnRef:
		return "app.doctor.why.refused"
	case transfer.ReasonTimeout:
		return "app.doctor.why.timeout"
	case transfer.ReasonDNS:
		return "app.doctor.why.dns"
	case transfer.ReasonReset:
		return "app.doctor.why.reset"
	}
	return "app.doctor.why.network"
}

// ms is a duration in whole milliseconds, for a message's %d.
func ms(d time.Duration) int64 { return d.Milliseconds() }

// date is a day for a message's %s: 04.12.2026 in German, 2026-12-04 in
// English.
type date time.Time

func (d date) Localize(lang i18n.Lang) string {
	if lang == i18n.DE {
		return time.Time(d).UTC().Format("02.01.2006")
	}
	return time.Time(d).UTC().Format("2006-01-02")
}
