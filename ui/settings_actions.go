package ui

import (
	"context"
	"strconv"
	"strings"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/internal/i18n"
)

// load shows the effective settings; those the policy locks are read-only
// and say so.
func (s *settingsScreen) load() {
	c := s.u.core
	st := c.Settings()
	s.portal.SetText(st.PortalURL)
	s.library.SetText(st.LibraryDir)
	s.pacs.SetText(st.PACSStowURL)
	s.bandwidth.SetText("")
	if st.BandwidthLimitKbps > 0 {
		s.bandwidth.SetText(strconv.Itoa(st.BandwidthLimitKbps))
	}
	switch st.Language {
	case string(i18n.DE):
		s.language.SetSelectedIndex(1)
	case string(i18n.EN):
		s.language.SetSelectedIndex(2)
	default:
		s.language.SetSelectedIndex(0)
	}
	s.clinic.SetChecked(st.ClinicMode)
	s.network.load()
	s.setHint(2, s.u.t("ui.settings.pacsHint")) // both notations, with examples
	locked := 0
	for i, name := range []string{app.SettingPortalURL, app.SettingLibraryDir, app.SettingPACSStowURL, app.SettingBandwidthLimitKbps} {
		e := []*keyEntry{s.portal, s.library, s.pacs, s.bandwidth}[i]
		if c.Locked(name) {
			e.Disable()
			s.setHint(i, s.u.t("ui.settings.locked"))
			locked++
		}
	}
	for i, name := range []string{app.SettingPortalURL, app.SettingLibraryDir} {
		if c.Overridden(name) {
			e := []*keyEntry{s.portal, s.library}[i]
			e.Disable()
			s.setHint(i, s.u.t("ui.settings.overridden."+name, e.Text))
		}
	}
	if c.Locked(app.SettingClinicMode) {
		s.clinic.Disable()
		s.setHint(5, s.u.t("ui.settings.locked"))
		locked++
	}
	if s.network.locked() {
		locked++
	}
	if locked > 0 {
		s.policy.SetText(s.u.t("ui.settings.policy", c.Policy().Path))
		s.policy.Show()
	}
	s.form.Refresh()
}

// setHint shows text under the i-th field of the form.
func (s *settingsScreen) setHint(i int, text string) {
	s.hints[i].SetText(text)
	showIf(s.hints[i], text != "")
}

// store saves what the user changed; locked values are never sent back
// changed (their fields are read-only), and app refuses if they were.
func (s *settingsScreen) store() {
	if s.network.validate(); s.network.bad() {
		s.status.SetText(s.network.badText()) // refused: nothing saved
		return
	}
	kbps := 0
	if t := strings.TrimSpace(s.bandwidth.Text); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 {
			s.status.SetText(s.u.t("ui.settings.badBandwidth"))
			return
		}
		kbps = n
	}
	lang := []string{"", string(i18n.DE), string(i18n.EN)}[max(0, s.language.SelectedIndex())]
	portal, library, pacs := strings.TrimSpace(s.portal.Text), strings.TrimSpace(s.library.Text), strings.TrimSpace(s.pacs.Text)
	clinic := s.clinic.Checked
	proxy, pac := s.network.value(), s.network.pacValue()
	if s.network.proxy.Disabled() {
		proxy = s.u.core.Settings().Proxy // the policy's, unchanged
	}
	if s.network.pac.Disabled() {
		pac = s.u.core.Settings().ProxyPAC
	}
	err := s.u.core.UpdateSettings(func(st *app.Settings) {
		st.PortalURL, st.LibraryDir, st.PACSStowURL = portal, library, pacs
		st.Proxy, st.ProxyPAC = proxy, pac
		st.BandwidthLimitKbps = kbps
		st.Language = lang
		st.ClinicMode = clinic
	})
	if err != nil {
		s.u.showError(err)
		return
	}
	s.u.showInboxTab(clinic)
	s.u.redeem.refreshPortal()  // the new address counts at once
	s.u.redeem.refreshPACS()    // so do the PACS and clinic mode
	s.u.inbox.settingsChanged() // so do the PACS and the folder
	s.network.showInUse()       // and the proxy
	s.status.SetText(s.u.t("ui.settings.saved"))
	want := s.u.startLang // "as the system": the start's language, as New chooses
	if want == "" {
		want = i18n.Detect()
	}
	if l, ok := i18n.Parse(lang); ok {
		want = l
	}
	s.u.changeLanguage(want) // at once, unless a redeem round would be lost
}

// testPACS checks the PACS in the field (saved or not) with the core's
// TestPACSTarget, as `bildbote-cli pacs test`: a C-ECHO for dicom://, a
// QIDO-RS search for http(s)://; the answer shows under the form.
func (s *settingsScreen) testPACS() {
	target := strings.TrimSpace(s.pacs.Text)
	if target == "" {
		s.status.SetText(s.u.t("ui.settings.pacsEmpty"))
		return
	}
	s.pacsTest.Disable()
	s.status.SetText(s.u.t("ui.settings.pacsTesting"))
	timeout := s.pacsTimeout
	go func() {
		// Each step is bounded by timeout; the whole test by a few.
		ctx, cancel := context.WithTimeout(context.Background(), 4*timeout)
		defer cancel()
		err := s.u.core.TestPACSTarget(ctx, target, timeout)
		s.u.do(func() {
			s.pacsTest.Enable()
			if err == nil {
				ok := "ui.settings.pacsOK"
				if t, perr := app.ParsePACSTarget(target); perr == nil && t.DIMSE != nil {
					ok = "ui.settings.pacsEchoOK"
				}
				s.status.SetText(s.u.t(ok))
				return
			}
			msg, hint := i18n.Localize(s.u.lang, err)
			if hint != "" {
				msg += "\n" + hint
			}
			s.status.SetText(msg)
		})
	}()
}

// readKey shows whether a clinic key is installed as the screen opens,
// without asking for a passphrase: a key in the keyring (or loaded) with
// its fingerprint, a passphrase-protected key file by its path.
func (s *settingsScreen) readKey() {
	go func() {
		st := s.u.core.ClinicKeyStatus()
		s.u.do(func() {
			s.keyChecked = true
			switch {
			case st.Info != nil:
				s.showKey(st.Info)
			case st.Installed:
				s.identity.SetText(s.u.t("ui.settings.keyLocked", st.Path))
				s.createID.SetText(s.u.t("ui.settings.showKey"))
			}
		})
	}()
}

// portalChanged shows a portal address the core set meanwhile (remembered
// after a redeem) unless the field holds the user's own edit.
func (s *settingsScreen) portalChanged() {
	if s.portal.Text == "" {
		s.portal.SetText(s.u.core.Settings().PortalURL)
	}
}
