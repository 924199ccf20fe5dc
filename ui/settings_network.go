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
	inUse     *widget.Label // "Verwendet: http://… (aus …)"
	check     *widget.Button
	box       *fyne.Container
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
	n.inUse = widget.NewLabel("")
	n.inUse.Wrapping = fyne.TextWrapWord // a long address and a policy path break
	n.check = widget.NewButtonWithIcon(u.t("ui.settings.check"), theme.SearchIcon(), s.checkConnection)
	n.box = container.NewVBox(n.proxy, n.proxyErr, n.proxyNote, n.inUse)
	return n
}

// layout is what the notes show; relayout lays the screen out again when
// it changed (a VBox and a form keep their old rows until refreshed: a
// wrapped error was drawn over the next field).
func (n *networkFields) layout() string {
	var b strings.Builder
	for _, l := range []*widget.Label{n.proxyErr, n.proxyNote, n.inUse} {
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
	if n.s.form != nil {
		n.s.form.Refresh()
	}
	if n.s.body != nil {
		n.s.body.Refresh()
	}
}

// load shows the saved proxy; read-only when the policy fixes it.
func (n *networkFields) load() {
	c := n.s.u.core
	n.proxy.SetText(c.Settings().Proxy)
	n.proxy.Enable()
	n.note("")
	if c.Locked(app.SettingProxy) {
		n.proxy.Disable()
		n.note(n.s.u.t("ui.settings.locked"))
	}
	n.validate()
	n.showInUse()
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
	if !u.core.Locked(app.SettingProxy) {
		switch info.Source {
		case app.ProxyFromFlag, app.ProxyFromEnvBildbote:
			n.note(u.t("ui.settings.proxyOverridden", info.Describe(u.lang)))
		default:
			n.note("")
		}
	}
}

// validate checks the typed proxy with httpclient.ParseProxy: the reason
// under the field, Save greyed out while it cannot be used.
func (n *networkFields) validate() {
	defer n.relayout(n.layout())
	t := strings.TrimSpace(n.proxy.Text)
	n.proxyBad = false
	msg := ""
	if t != "" && !n.proxy.Disabled() {
		if _, err := httpclient.ParseProxy(t); err != nil {
			n.proxyBad = true
			var pe *httpclient.ProxyAddrError
			if errors.As(err, &pe) {
				msg = n.s.u.t("ui.settings.proxyBad", pe.Reason())
			} else {
				msg = n.s.u.t("ui.settings.proxyBad", n.s.u.t("transfer.net.proxy.addr.syntax"))
			}
		}
	}
	n.proxyErr.SetText(msg)
	showIf(n.proxyErr, msg != "")
	if n.s.save != nil {
		if n.proxyBad {
			n.s.save.Disable()
		} else {
			n.s.save.Enable()
		}
	}
}

// value is the proxy to save ("" = automatic).
func (n *networkFields) value() string { return strings.TrimSpace(n.proxy.Text) }

// unsaved reports whether the field differs from the saved proxy.
func (n *networkFields) unsaved() bool {
	return !n.proxy.Disabled() && n.value() != n.s.u.core.Settings().Proxy
}
