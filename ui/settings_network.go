package ui

import (
	"errors"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/transfer/httpclient"
	"github.com/bildbote/bildbote/transfer/proxy"
)

// networkFields is the settings' network part: the explicit proxy (empty:
// automatic, as the system says), checked as it is typed; the proxy in
// use for the portal and where it came from; and "Verbindung prüfen",
// which runs the core's Doctor in the background.
type networkFields struct {
	s *settingsScreen

	proxy    *keyEntry
	proxyErr *widget.Label // why the typed address cannot be used
	proxyBad bool
	// proxyNote: locked by the policy, or overridden for this session
	// (--proxy, BILDBOTE_PROXY).
	proxyNote *widget.Label
	// pac is the PAC file's address (file:// or http(s)://; empty: none),
	// checked as typed; its note says when the proxy above ranks first.
	pac     *keyEntry
	pacErr  *widget.Label
	pacBad  bool
	pacNote *widget.Label
	inUse   *widget.Label // "Verwendet: http://… (aus …)"
	problem *widget.Label // why a PAC file, WPAD or the OS settings failed
	check   *widget.Button
	box     *fyne.Container // the proxy's form item
	pacBox  *fyne.Container // the PAC file's, with the in-use line
}

func newNetworkFields(s *settingsScreen) *networkFields {
	u := s.u
	n := &networkFields{s: s}
	n.proxy = u.newEntry()
	n.proxy.SetPlaceHolder(u.t("ui.settings.proxyPlaceholder"))
	n.proxy.OnChanged = func(string) { n.validate() }
	n.proxyErr = widget.NewLabel("")
	n.proxyErr.Wrapping = fyne.TextWrapWord
	n.proxyErr.Importance = widget.DangerImportance
	n.proxyErr.Hide()
	n.proxyNote = widget.NewLabel("")
	n.proxyNote.Wrapping = fyne.TextWrapWord
	n.proxyNote.Hide()
	n.pac = u.newEntry()
	n.pac.SetPlaceHolder(u.t("ui.settings.pacPlaceholder"))
	n.pac.OnChanged = func(string) { n.validate() }
	n.pacErr = widget.NewLabel("")
	n.pacErr.Wrapping = fyne.TextWrapWord
	n.pacErr.Importance = widget.DangerImportance
	n.pacErr.Hide()
	n.pacNote = widget.NewLabel("")
	n.pacNote.Wrapping = fyne.TextWrapWord
	n.pacNote.Hide()
	n.inUse = widget.NewLabel("")
	n.inUse.Wrapping = fyne.TextWrapWord // a long address and a policy path break
	n.problem = widget.NewLabel("")
	n.problem.Wrapping = fyne.TextWrapWord
	n.problem.Importance = widget.WarningImportance
	n.problem.Hide()
	n.check = widget.NewButtonWithIcon(u.t("ui.settings.check"), theme.SearchIcon(), s.checkConnection)
	n.box = container.NewVBox(n.proxy, n.proxyErr, n.proxyNote)
	n.pacBox = container.NewVBox(n.pac, n.pacErr, n.pacNote, n.inUse, n.problem)
	return n
}

// layout is what the notes show; relayout lays the screen out again when
// it changed (a VBox and a form keep their old rows until refreshed: a
// wrapped error was drawn over the next field).
func (n *networkFields) layout() string {
	var b strings.Builder
	for _, l := range []*widget.Label{n.proxyErr, n.proxyNote, n.pacErr, n.pacNote, n.inUse, n.problem} {
		if l.Visible() {
			b.WriteString(l.Text)
		}
		b.WriteByte(0)
	}
	return b.String()
}

func (n *networkFields) relayout(before string) {
	if n.layout() == before {
		return
	}
	n.box.Refresh()
	n.pacBox.Refresh()
	if n.s.form != nil {
		n.s.form.Refresh()
	}
	if n.s.body != nil {
		n.s.body.Refresh()
	}
}

// load shows the saved proxy and PAC file; read-only what the policy
// fixes.
func (n *networkFields) load() {
	c := n.s.u.core
	st := c.Settings()
	n.proxy.SetText(st.Proxy)
	n.pac.SetText(st.ProxyPAC)
	n.proxy.Enable()
	n.pac.Enable()
	n.note("")
	if c.Locked(app.SettingProxy) {
		n.proxy.Disable()
		n.note(n.s.u.t("ui.settings.locked"))
	}
	if c.Locked(app.SettingProxyPAC) {
		n.pac.Disable()
	}
	n.validate()
	n.showInUse()
}

// locked reports whether the policy fixes the proxy or the PAC file.
func (n *networkFields) locked() bool {
	c := n.s.u.core
	return c.Locked(app.SettingProxy) || c.Locked(app.SettingProxyPAC)
}

func (n *networkFields) note(text string) {
	n.proxyNote.SetText(text)
	showIf(n.proxyNote, text != "")
}

// showInUse tells which proxy the core uses for the portal and why; a
// proxy given at the start (--proxy, BILDBOTE_PROXY) above the setting
// is named so.
func (n *networkFields) showInUse() {
	defer n.relayout(n.layout())
	u := n.s.u
	info := u.core.Proxy(strings.TrimSpace(n.s.portal.Text))
	if info.URL == "" {
		n.inUse.SetText(u.t("ui.settings.proxyDirect", info.Describe(u.lang)))
	} else {
		text := u.t("ui.settings.proxyInUse", info.URL, info.Describe(u.lang))
		if info.User != "" {
			key := "ui.settings.proxyLogin." + info.LoginFrom
			if !i18n.Has(u.lang, key) {
				key = "ui.settings.proxyLogin"
			}
			text += " · " + u.t(key, info.User) // never the password
		}
		n.inUse.SetText(text)
	}
	problem := ""
	if info.Problem != nil {
		msg, hint := i18n.Localize(u.lang, info.Problem)
		problem = strings.TrimSpace(msg + " " + hint)
	}
	n.problem.SetText(problem)
	showIf(n.problem, problem != "")
	if !u.core.Locked(app.SettingProxy) {
		switch info.Source {
		case app.ProxyFromFlag, app.ProxyFromEnvBildbote:
			n.note(u.t("ui.settings.proxyOverridden", info.Describe(u.lang)))
		default:
			n.note("")
		}
	}
	n.pacNotes()
}

// pacNotes: the policy fixes the PAC file; or a proxy above (typed, or
// the policy's) ranks before it.
func (n *networkFields) pacNotes() {
	u := n.s.u
	text := ""
	switch {
	case u.core.Locked(app.SettingProxyPAC):
		text = u.t("ui.settings.locked")
	case n.value() != "" && n.pacValue() != "":
		text = u.t("ui.settings.pacBelowProxy")
	}
	n.pacNote.SetText(text)
	showIf(n.pacNote, text != "")
}

// validate checks the typed proxy with httpclient.ParseProxy and the PAC
// address with proxy.CheckPACURL: the reason under the field, Save
// greyed out while one cannot be used.
func (n *networkFields) validate() {
	defer n.relayout(n.layout())
	u := n.s.u
	msg := ""
	n.proxyBad = false
	if t := n.value(); t != "" && !n.proxy.Disabled() {
		if _, err := httpclient.ParseProxy(t); err != nil {
			n.proxyBad = true
			var pe *httpclient.ProxyAddrError
			if errors.As(err, &pe) {
				msg = u.t("ui.settings.proxyBad", pe.Reason())
			} else {
				msg = u.t("ui.settings.proxyBad", u.t("transfer.net.proxy.addr.syntax"))
			}
		}
	}
	n.proxyErr.SetText(msg)
	showIf(n.proxyErr, msg != "")
	msg = ""
	n.pacBad = false
	if t := n.pacValue(); t != "" && !n.pac.Disabled() {
		if err := proxy.CheckPACURL(t); err != nil {
			n.pacBad = true
			msg = u.t("ui.settings.pacBad")
		}
	}
	n.pacErr.SetText(msg)
	showIf(n.pacErr, msg != "")
	n.pacNotes()
	if n.s.save != nil {
		if n.bad() {
			n.s.save.Disable()
		} else {
			n.s.save.Enable()
		}
	}
}

// bad reports whether a typed address cannot be used (Save refused).
func (n *networkFields) bad() bool { return n.proxyBad || n.pacBad }

// badText is what Save says then.
func (n *networkFields) badText() string {
	if n.proxyBad {
		return n.proxyErr.Text
	}
	return n.pacErr.Text
}

// pacValue is the PAC address to save ("" = none).
func (n *networkFields) pacValue() string { return strings.TrimSpace(n.pac.Text) }

// value is the proxy to save ("" = automatic).
func (n *networkFields) value() string { return strings.TrimSpace(n.proxy.Text) }

// unsaved reports whether a field differs from the saved value.
func (n *networkFields) unsaved() bool {
	st := n.s.u.core.Settings()
	return !n.proxy.Disabled() && n.value() != st.Proxy || !n.pac.Disabled() && n.pacValue() != st.ProxyPAC
}
