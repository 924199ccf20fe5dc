package ui

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"github.com/zalando/go-keyring"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/testkit/squid"
)

// closedAddr is 127.0.0.1:PORT where nobody listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// runCheck taps "Verbindung prüfen" and waits for the dialog's outcome.
func (h *harness) runCheck() *doctorView {
	h.t.Helper()
	s := h.u.settings
	test.Tap(s.network.check)
	h.drain()
	v := s.doctor
	if v == nil || v.modal == nil || v.modal.closed {
		h.t.Fatal("no check dialog")
	}
	if !s.network.check.Disabled() && !v.done {
		h.t.Error("the check button is not greyed out while the check runs")
	}
	h.waitShown("the check's outcome", func() bool { return v.done })
	return v
}

// The proxy field: a bad address says why under the field and Save is
// refused; a real squid saved there shows as "in use", and Verbindung
// prüfen through it passes every step (squid's log has the doctor's
// requests); a closed proxy port fails the proxy step with what to do;
// Escape closes the dialog.
func TestSettingsProxyAndCheck(t *testing.T) {
	keyring.MockInit() // a fresh, empty keyring: no proxy login another test saved
	sq := squid.Start(t, squid.Options{})
	p := startDemoPortal(t)
	closed := closedAddr(t)
	for _, lang := range i18n.Langs {
		h := newFlowHarness(t, lang, p)
		s := h.u.settings
		n := s.network
		h.u.selectTab(len(h.u.tabs.Items) - 1)
		h.mustShow(i18n.T(lang, "ui.settings.proxy"), i18n.T(lang, "ui.settings.check"))
		if n.proxy.PlaceHolder != i18n.T(lang, "ui.settings.proxyPlaceholder") || n.proxy.Disabled() {
			t.Errorf("%s: proxy field placeholder %q, disabled %v", lang, n.proxy.PlaceHolder, n.proxy.Disabled())
		}
		h.mustShow(i18n.T(lang, "ui.settings.proxyDirect", app.ProxyInfo{Source: app.ProxyNone}.Describe(lang)))

		// Typed wrong: the reason under the field, Save greyed out and
		// refused, nothing saved.
		for _, bad := range []struct{ addr, why string }{
			{"http://anna:geheim@proxy.local:3128", "transfer.net.proxy.addr.credentials"},
			{"http://proxy.local/proxy.pac", "transfer.net.proxy.addr.path"},
			{"ftp://proxy.local:21", "transfer.net.proxy.addr.syntax"},
		} {
			n.proxy.SetText(bad.addr)
			want := i18n.T(lang, "ui.settings.proxyBad", i18n.T(lang, bad.why))
			if !n.proxyErr.Visible() || n.proxyErr.Text != want || !s.save.Disabled() {
				t.Errorf("%s %s: error %q (shown %v), save disabled %v; want %q", lang, bad.addr, n.proxyErr.Text, n.proxyErr.Visible(), s.save.Disabled(), want)
			}
			if strings.Contains(n.proxyErr.Text, "geheim") {
				t.Errorf("%s: the error echoes the password: %q", lang, n.proxyErr.Text)
			}
			s.store() // a shortcut or a stale tap: refused all the same
			if s.status.Text != want {
				t.Errorf("%s: store with a bad proxy: status %q", lang, s.status.Text)
			}
			if got := h.core.Settings().Proxy; got != "" {
				t.Fatalf("%s: a bad proxy was saved: %q", lang, got)
			}
		}
		// Unsaved: the check asks to save first.
		n.proxy.SetText(sq.URL)
		if n.proxyErr.Visible() || s.save.Disabled() {
			t.Errorf("%s: a good address still refused: %q", lang, n.proxyErr.Text)
		}
		test.Tap(n.check)
		if s.status.Text != i18n.T(lang, "ui.settings.checkSaveFirst") || s.doctor != nil {
			t.Errorf("%s: unsaved proxy: status %q", lang, s.status.Text)
		}
		test.Tap(s.save)
		if h.u.lastErr != nil {
			t.Fatalf("%s: saving the proxy: %v", lang, h.u.lastErr)
		}
		h.drain()
		s, n = h.u.settings, h.u.settings.network // a language switch rebuilds the screen
		inUse := i18n.T(lang, "ui.settings.proxyInUse", sq.URL, app.ProxyInfo{Source: app.ProxyFromSetting}.Describe(lang))
		if n.inUse.Text != inUse {
			t.Errorf("%s: in use %q, want %q", lang, n.inUse.Text, inUse)
		}
		if got := h.core.Proxy("").URL; got != sq.URL {
			t.Errorf("%s: core proxy %q", lang, got)
		}

		// Through squid: every step passes.
		s.doctorTimeout, s.doctorStepTimeout = 30*time.Second, 10*time.Second
		v := h.runCheck()
		h.mustShow(i18n.T(lang, "ui.doctor.passed"), i18n.T(lang, "ui.doctor.step.reach"),
			i18n.T(lang, "app.doctor.proxy.ok", sq.URL, app.ProxyInfo{Source: app.ProxyFromSetting}.Describe(lang)))
		if len(v.steps) != len(app.DoctorSteps) {
			t.Errorf("%s: %d steps shown", lang, len(v.steps))
		}
		for _, st := range v.steps {
			if st.Status == app.DoctorFail || st.Status == app.DoctorWarn {
				t.Errorf("%s: step %s %s: %s", lang, st.Name, st.Status, st.Found.Text(lang))
			}
		}
		sq.WaitLog(t, 10*time.Second, "TCP_MISS/200", "GET "+p.url+"/healthz")
		sq.WaitLog(t, 10*time.Second, "TCP_MISS/200", "GET "+p.url+"/dlx/v1/api_info")
		h.shot(t, "settings_check_ok_"+string(lang))
		h.press(fyne.KeyEscape)
		if !v.modal.closed {
			t.Errorf("%s: Escape did not close the check", lang)
		}

		// A closed proxy port: the proxy step fails, with what to do.
		n.proxy.SetText("http://" + closed)
		test.Tap(s.save)
		h.drain()
		s, n = h.u.settings, h.u.settings.network
		s.doctorTimeout, s.doctorStepTimeout = 30*time.Second, 10*time.Second
		v = h.runCheck()
		desc := app.ProxyInfo{Source: app.ProxyFromSetting}.Describe(lang)
		h.mustShow(i18n.T(lang, "ui.doctor.failed", i18n.T(lang, "ui.doctor.step.proxy")),
			i18n.T(lang, "app.doctor.proxy.closed", "http://"+closed, desc, i18n.T(lang, "app.doctor.why.refused")),
			i18n.T(lang, "ui.doctor.todo", i18n.T(lang, "app.doctor.proxy.fix.setting")),
			i18n.T(lang, "app.doctor.skipped.proxy"))
		h.checkLanguage(lang, "the check's failure", closed)
		h.press(fyne.KeyReturn)
		if !v.modal.closed {
			t.Errorf("%s: Enter did not close the check", lang)
		}
		// Emptied: automatic again.
		n.proxy.SetText("")
		test.Tap(s.save)
		h.drain()
		if got := h.core.Settings().Proxy; got != "" {
			t.Errorf("%s: emptied proxy saved as %q", lang, got)
		}
	}
}

// A proxy the policy fixes is read-only, says so, and shows as in use
// from the policy; saving other settings keeps it.
func TestSettingsProxyLockedByPolicy(t *testing.T) {
	keyring.MockInit() // a fresh, empty keyring: no proxy login another test saved
	policy := filepath.Join(t.TempDir(), "policy.toml")
	if err := os.WriteFile(policy, []byte("proxy = \"http://proxy.klinik.example:3128\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, lang := range i18n.Langs {
		state := t.TempDir()
		h := newHarnessWith(t, lang, app.Config{StateDir: state, PolicyPath: policy, PortalURL: "https://portal.example", LibraryDir: "/library"})
		s := h.u.settings
		n := s.network
		h.u.selectTab(len(h.u.tabs.Items) - 1)
		if !n.proxy.Disabled() || n.proxy.Text != "http://proxy.klinik.example:3128" {
			t.Errorf("%s: locked proxy: disabled %v, text %q", lang, n.proxy.Disabled(), n.proxy.Text)
		}
		if !n.proxyNote.Visible() || n.proxyNote.Text != i18n.T(lang, "ui.settings.locked") || !s.policy.Visible() {
			t.Errorf("%s: no note that the policy fixes the proxy: %q", lang, n.proxyNote.Text)
		}
		desc := app.ProxyInfo{Source: app.ProxyFromPolicy, Policy: policy}.Describe(lang)
		h.mustShow(i18n.T(lang, "ui.settings.proxyInUse", "http://proxy.klinik.example:3128", desc))
		// A login for this session: named with its user, never its password.
		if err := h.core.SetProxyLogin("anna", "geheim", false); err != nil {
			t.Fatal(err)
		}
		n.showInUse()
		want := i18n.T(lang, "ui.settings.proxyInUse", "http://proxy.klinik.example:3128", desc) + " · " + i18n.T(lang, "ui.settings.proxyLogin.session", "anna")
		if n.inUse.Text != want || strings.Contains(n.inUse.Text, "geheim") {
			t.Errorf("%s: in use with a login %q, want %q", lang, n.inUse.Text, want)
		}
		test.Type(n.proxy, "x") // a disabled entry takes no typing
		if n.proxy.Text != "http://proxy.klinik.example:3128" {
			t.Errorf("%s: typed into the locked proxy: %q", lang, n.proxy.Text)
		}
		s.bandwidth.SetText("500")
		test.Tap(s.save)
		if h.u.lastErr != nil {
			t.Fatalf("%s: saving beside a locked proxy: %v", lang, h.u.lastErr)
		}
		data, err := os.ReadFile(filepath.Join(state, "settings.json"))
		if err != nil || strings.Contains(string(data), "proxy.klinik") || !strings.Contains(string(data), "500") {
			t.Errorf("%s: settings.json = %s, %v; want the bandwidth, not the policy's proxy", lang, data, err)
		}
		h.shot(t, "settings_proxy_locked_"+string(lang))
	}
}

// The PAC file field: a wrong address refused under the field; a real
// PAC file (file://) naming a closed port, then squid, saved: the in-use
// line names it, the check warns about the dead proxy and reaches the
// portal through squid; a PAC file that cannot be read shows its problem;
// a PAC file the policy fixes is read-only.
func TestSettingsPACFile(t *testing.T) {
	keyring.MockInit() // a fresh, empty keyring: no proxy login another test saved
	sq := squid.Start(t, squid.Options{})
	p := startDemoPortal(t)
	closed := closedAddr(t)
	pac := filepath.Join(t.TempDir(), "proxy.pac")
	script := `function FindProxyForURL(url, host) {
	if (host == "127.0.0.1") return "PROXY ` + closed + `; PROXY ` + strings.TrimPrefix(sq.URL, "http://") + `; DIRECT";
	return "DIRECT";
}`
	if err := os.WriteFile(pac, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, lang := range i18n.Langs {
		h := newFlowHarness(t, lang, p)
		s := h.u.settings
		n := s.network
		h.u.selectTab(len(h.u.tabs.Items) - 1)
		h.mustShow(i18n.T(lang, "ui.settings.pac"))
		if n.pac.PlaceHolder != i18n.T(lang, "ui.settings.pacPlaceholder") {
			t.Errorf("%s: PAC placeholder %q", lang, n.pac.PlaceHolder)
		}
		for _, bad := range []string{"ftp://wpad.local/wpad.dat", "http://anna:geheim@wpad.local/wpad.dat", "file://relative.pac"} {
			n.pac.SetText(bad)
			if !n.pacErr.Visible() || n.pacErr.Text != i18n.T(lang, "ui.settings.pacBad") || !s.save.Disabled() {
				t.Errorf("%s %s: error %q, save disabled %v", lang, bad, n.pacErr.Text, s.save.Disabled())
			}
			s.store()
			if s.status.Text != i18n.T(lang, "ui.settings.pacBad") || h.core.Settings().ProxyPAC != "" {
				t.Errorf("%s %s: saved anyway (status %q)", lang, bad, s.status.Text)
			}
		}
		// With a proxy typed too, the PAC file ranks below it.
		n.proxy.SetText(sq.URL)
		n.pac.SetText("file://" + pac)
		if n.pacErr.Visible() || s.save.Disabled() || n.pacNote.Text != i18n.T(lang, "ui.settings.pacBelowProxy") {
			t.Errorf("%s: good PAC: error %q, note %q", lang, n.pacErr.Text, n.pacNote.Text)
		}
		n.proxy.SetText("")
		if n.pacNote.Visible() {
			t.Errorf("%s: the note stays without a proxy: %q", lang, n.pacNote.Text)
		}
		test.Tap(s.save)
		h.drain()
		if h.u.lastErr != nil || h.core.Settings().ProxyPAC != "file://"+pac {
			t.Fatalf("%s: saving the PAC: %v, saved %q", lang, h.u.lastErr, h.core.Settings().ProxyPAC)
		}
		info := h.core.Proxy("")
		if info.Source != app.ProxyFromPAC {
			t.Fatalf("%s: source %q after saving the PAC", lang, info.Source)
		}
		h.mustShow(i18n.T(lang, "ui.settings.proxyInUse", info.URL, info.Describe(lang)))
		s.doctorTimeout, s.doctorStepTimeout = 30*time.Second, 10*time.Second
		h.runCheck()
		h.mustShow(i18n.T(lang, "ui.doctor.warned"),
			i18n.T(lang, "app.doctor.proxy.fallback", "http://"+closed, sq.URL))
		for _, st := range s.doctor.steps {
			if st.Status == app.DoctorFail {
				t.Errorf("%s: step %s failed: %s", lang, st.Name, st.Found.Text(lang))
			}
		}
		h.press(fyne.KeyEscape)
		// A PAC file that cannot be read: its problem under the in-use line.
		n.pac.SetText("file://" + filepath.Join(t.TempDir(), "missing.pac"))
		test.Tap(s.save)
		h.drain()
		info = h.core.Proxy("")
		if info.Problem == nil {
			t.Fatalf("%s: a missing PAC file reports no problem", lang)
		}
		msg, _ := i18n.Localize(lang, info.Problem)
		if !n.problem.Visible() || !strings.Contains(n.problem.Text, msg) {
			t.Errorf("%s: problem %q (shown %v), want %q", lang, n.problem.Text, n.problem.Visible(), msg)
		}
		n.pac.SetText("")
		test.Tap(s.save)
		h.drain()
		if n.problem.Visible() || h.core.Settings().ProxyPAC != "" {
			t.Errorf("%s: emptied PAC: problem %q, saved %q", lang, n.problem.Text, h.core.Settings().ProxyPAC)
		}
	}
	policy := filepath.Join(t.TempDir(), "policy.toml")
	if err := os.WriteFile(policy, []byte("proxy_pac = \"file://"+pac+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := newHarnessWith(t, i18n.DE, app.Config{StateDir: t.TempDir(), PolicyPath: policy, PortalURL: p.url, LibraryDir: "/library"})
	n := h.u.settings.network
	if !n.pac.Disabled() || n.pac.Text != "file://"+pac || n.pacNote.Text != i18n.T(i18n.DE, "ui.settings.locked") || !h.u.settings.policy.Visible() {
		t.Errorf("policy PAC: disabled %v, text %q, note %q", n.pac.Disabled(), n.pac.Text, n.pacNote.Text)
	}
	if n.proxy.Disabled() {
		t.Error("the proxy field is locked by a policy that sets only proxy_pac")
	}
}

// Verbindung prüfen through a proxy that wants a login: the check fails
// the proxy step and the proxy login dialog asks (as for any 407); with
// the login given the check runs again and passes, squid logging the
// user with the doctor's requests.
func TestSettingsCheckAsksProxyLogin(t *testing.T) {
	keyring.MockInit() // a fresh, empty keyring: no proxy login another test saved
	sq := squid.Start(t, squid.Options{Users: map[string]string{"anna": "geheim"}})
	p := startDemoPortal(t)
	h := newFlowHarness(t, i18n.DE, p)
	s := h.u.settings
	h.u.selectTab(len(h.u.tabs.Items) - 1)
	s.network.proxy.SetText(sq.URL)
	test.Tap(s.save)
	h.drain()
	s.doctorTimeout, s.doctorStepTimeout = 30*time.Second, 10*time.Second
	first := h.runCheck()
	asks := i18n.T(i18n.DE, "ui.proxylogin.asks", sq.URL)
	h.waitShown("the proxy login", func() bool { return h.showsAnywhere(asks) })
	h.mustShow(i18n.T(i18n.DE, "ui.doctor.failed", i18n.T(i18n.DE, "ui.doctor.step.proxy")))
	h.typeKeys("anna")
	h.press(fyne.KeyReturn) // on to the password
	h.typeKeys("geheim")
	h.press(fyne.KeyReturn) // logs in, checks again
	if !first.modal.closed {
		t.Error("the first check's dialog is still open")
	}
	second := s.doctor
	if second == first {
		t.Fatal("the check did not run again after the login")
	}
	h.waitShown("the second check", func() bool { return second.done })
	h.mustShow(i18n.T(i18n.DE, "ui.doctor.passed"))
	sq.WaitLog(t, 10*time.Second, "TCP_MISS/200", "GET "+p.url+"/healthz", " anna ")
	h.press(fyne.KeyEscape)
	if n := len(h.canvas().Overlays().List()); n != 0 {
		t.Errorf("%d dialogs still open", n)
	}
}

// Without a portal the check says so at its first step, with what to do;
// the running line names no empty address.
func TestSettingsCheckWithoutPortal(t *testing.T) {
	for _, lang := range i18n.Langs {
		h := newHarness(t, lang)
		s := h.u.settings
		h.u.selectTab(len(h.u.tabs.Items) - 1)
		test.Tap(s.network.check)
		if s.doctor == nil || s.doctor.summary.Text != i18n.T(lang, "ui.doctor.runningNoPortal") && !s.doctor.done {
			t.Fatalf("%s: running line %v", lang, s.doctor)
		}
		h.waitShown("the check's outcome", func() bool { return s.doctor.done })
		h.mustShow(i18n.T(lang, "ui.doctor.failed", i18n.T(lang, "ui.doctor.step.portal")),
			i18n.T(lang, "app.portal-missing"), i18n.T(lang, "ui.doctor.todo", i18n.T(lang, "app.portal-missing.hint")))
		h.checkLanguage(lang, "the check without a portal")
		h.press(fyne.KeyEscape)
	}
}
