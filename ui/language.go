package ui

import (
	"strings"
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
)

// A language chosen in Settings applies at once: the window's screens are
// built anew in it from the core's state (the transfers, the settings,
// the remembered fields), and what the user typed on Send, Redeem and
// the inbox is carried over, the scanned medium with its ticks included
// (a scan still running starts again on the new screen). Only a code
// being redeemed (questions, studies, a save) cannot be carried over: the
// user is asked first, switch now (Redeem starts again with the code
// still typed; saves go on in the core) or at the next start.

// redeemUnderWay reports whether the redeem screen is in a round a
// rebuild would lose.
func (u *UI) redeemUnderWay() bool {
	r := u.redeem
	return r.session != nil || r.busy.Visible() || r.questionsBox.Visible() || r.itemsBox.Visible()
}

// changeLanguage applies lang, asking first when a redeem round would be
// lost; "later" leaves it to the next start (the setting is saved).
func (u *UI) changeLanguage(lang i18n.Lang) {
	if lang == u.lang {
		return
	}
	if !u.redeemUnderWay() {
		u.applyLanguage(lang)
		return
	}
	// Asked in both languages: the one the user reads now and the one
	// they chose.
	q := u.t("ui.language.busy") + "\n\n" + i18n.T(lang, "ui.language.busy")
	m := u.confirm(u.t("ui.language.title"), q, u.t("ui.language.now"), u.t("ui.language.later"),
		func() { u.applyLanguage(lang) })
	m.onDismiss = func() { u.settings.status.SetText(u.t("ui.settings.saved") + " " + u.t("ui.settings.restart")) }
}

// applyLanguage rebuilds the window's screens in lang and carries over
// what the user typed and chose.
func (u *UI) applyLanguage(lang i18n.Lang) {
	oldSend, oldRedeem, oldInbox, oldTransfers := u.send, u.redeem, u.inbox, u.transfers
	for _, m := range append([]*modal(nil), u.modals...) {
		m.dismiss() // they act on the old screens
	}
	u.modals = nil
	scanning := oldSend.stopScan != nil
	if scanning {
		oldSend.stopScan() // its result would land on the old screen
	}
	if oldRedeem.askCancel != nil {
		oldRedeem.askCancel()
	}
	oldRedeem.stopWaitTicker()
	tab := u.tabs.SelectedIndex()
	u.lang = lang
	u.win.SetTitle(u.t("ui.title"))
	u.build()
	u.showInboxTab(u.core.Settings().ClinicMode)

	// Send: the typed fields, the scanned medium with its ticks, the
	// clinic looked up, the send under way.
	s := u.send
	// First the medium: showing it (or scanning it) clears the patient
	// fields and the message.
	if scanning {
		s.scan(oldSend.paths)
	} else if ix := oldSend.index; ix != nil {
		s.paths = oldSend.paths
		s.sourcePath.SetText(u.t("ui.send.source", strings.Join(s.paths, ", ")))
		s.showIndex(ix)
		s.tree.excluded = oldSend.tree.excluded
		s.tree.tree.Refresh()
	}
	for _, f := range [][2]*keyEntry{
		{oldSend.inboxCode, s.inboxCode}, {oldSend.search, s.search}, {oldSend.senderName, s.senderName},
		{oldSend.senderMail, s.senderMail}, {oldSend.referrer, s.referrer}, {oldSend.patientName, s.patientName},
		{oldSend.patientBorn, s.patientBorn}, {oldSend.message, s.message}, {oldSend.password, s.password},
	} {
		f[1].SetText(f[0].Text)
	}
	if !scanning {
		s.autoName, s.autoBorn = oldSend.autoName, oldSend.autoBorn
	}
	if c := oldSend.community; c != nil && c.Code == s.inboxCode.Text {
		s.showCommunity(c, nil)
	}
	s.sendJob = oldSend.sendJob
	s.updateSendable()

	// Redeem: the address and the code typed (a round under way starts
	// again from them).
	r := u.redeem
	r.portal.SetText(oldRedeem.portal.Text)
	r.code.SetCode(oldRedeem.code.Code())
	go func() {
		notes, err := u.core.Notifications(time.Now())
		if err != nil {
			return
		}
		u.do(func() {
			for _, n := range notes {
				u.redeem.remind(n.Text(u.lang))
			}
		})
	}()

	// The clinic inbox: its code and key (listed again when opened).
	u.inbox.code.SetText(oldInbox.code.Text)
	u.inbox.apiKey.SetText(oldInbox.apiKey.Text)
	u.inbox.importJob = oldInbox.importJob
	u.inbox.importing = oldInbox.importing // the patient ID field does not re-enable the button mid-import

	// Transfers: every job as last shown, in the same order.
	objs := oldTransfers.list.Objects
	for i := len(objs) - 1; i >= 0; i-- {
		for _, row := range oldTransfers.rows {
			if row.box == objs[i] && row.last != nil {
				u.transfers.show(row.last)
			}
		}
	}
	oldTransfers.tickDone.Store(true)

	u.selectTab(min(tab, len(u.tabs.Items)-1))
	if u.tabs.Selected().Content == u.settings.content {
		u.win.Canvas().Focus(u.settings.language)
		u.settings.status.SetText(u.t("ui.settings.saved") + " " + u.t("ui.settings.languageNow"))
	}
}
