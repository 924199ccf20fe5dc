package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/bildbote/bildbote/app"
)

// settingsScreen edits the user's settings; values the clinic's policy
// fixes are shown read-only with a note.
type settingsScreen struct {
	u       *UI
	content fyne.CanvasObject

	portal    *widget.Entry
	library   *widget.Entry
	pacs      *widget.Entry
	pacsTest  *widget.Button
	bandwidth *widget.Entry
	language  *widget.Select
	clinic    *widget.Check
	save      *widget.Button
	status    *widget.Label
	policy    *widget.Label

	identity    *widget.Label
	fingerprint *widget.Label
	createID    *widget.Button
	exportKey   *widget.Button
	form        *widget.Form
	key         *app.KeyInfo
}

func newSettingsScreen(u *UI) *settingsScreen {
	s := &settingsScreen{u: u}
	s.portal = widget.NewEntry()
	s.library = widget.NewEntry()
	s.pacs = widget.NewEntry()
	s.pacs.SetPlaceHolder(u.t("ui.settings.pacsPlaceholder"))
	s.pacsTest = widget.NewButtonWithIcon(u.t("ui.settings.pacsTest"), theme.MediaPlayIcon(), s.testPACS)
	s.bandwidth = widget.NewEntry()
	s.bandwidth.SetPlaceHolder(u.t("ui.settings.unlimited"))
	s.language = widget.NewSelect([]string{u.t("ui.settings.langAuto"), "Deutsch", "English"}, nil)
	s.clinic = widget.NewCheck(u.t("ui.settings.clinicMode"), nil)
	s.save = widget.NewButtonWithIcon(u.t("ui.settings.save"), theme.DocumentSaveIcon(), s.store)
	s.save.Importance = widget.HighImportance
	s.status = widget.NewLabel("")
	s.status.Wrapping = fyne.TextWrapWord
	s.policy = widget.NewLabel("")
	s.policy.Wrapping = fyne.TextWrapWord
	s.policy.Importance = widget.WarningImportance
	s.policy.Hide()

	s.form = widget.NewForm(
		widget.NewFormItem(u.t("ui.settings.portal"), s.portal),
		widget.NewFormItem(u.t("ui.settings.library"), s.library),
		widget.NewFormItem(u.t("ui.settings.pacs"), container.NewBorder(nil, nil, nil, s.pacsTest, s.pacs)),
		widget.NewFormItem(u.t("ui.settings.bandwidth"), s.bandwidth),
		widget.NewFormItem(u.t("ui.settings.language"), s.language),
		widget.NewFormItem("", s.clinic),
	)

	s.identity = widget.NewLabel(u.t("ui.settings.noIdentity"))
	s.identity.Wrapping = fyne.TextWrapWord
	s.fingerprint = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	s.createID = widget.NewButtonWithIcon(u.t("ui.settings.createIdentity"), theme.ContentAddIcon(), s.createIdentity)
	s.exportKey = widget.NewButtonWithIcon(u.t("ui.settings.exportKey"), theme.DocumentSaveIcon(), s.exportPublicKey)
	s.exportKey.Hide()
	s.fingerprint.Hide()

	body := container.NewVBox(
		heading(u.t("ui.settings.title")), s.policy, s.form,
		container.NewHBox(s.save), s.status,
		widget.NewSeparator(),
		heading(u.t("ui.settings.clinic")), s.identity, s.fingerprint,
		container.NewHBox(s.createID, s.exportKey),
	)
	s.content = container.NewVScroll(container.NewPadded(body))
	s.load()
	s.readKey()
	return s
}
