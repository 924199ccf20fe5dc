package ui

import (
	"time"

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

	portal   *keyEntry
	library  *keyEntry
	pacs     *keyEntry
	pacsTest *widget.Button
	// pacsTimeout bounds each step of the Test button's C-ECHO (or its
	// QIDO search); tests shorten it.
	pacsTimeout time.Duration
	bandwidth   *keyEntry
	// network: the proxy field, the proxy in use, "Verbindung prüfen"
	// (settings_network.go, doctor.go); doctor is the last check's
	// dialog, bounded by doctorTimeout and doctorStepTimeout (tests
	// shorten them).
	network           *networkFields
	doctor            *doctorView
	doctorTimeout     time.Duration
	doctorStepTimeout time.Duration
	language          *widget.Select
	clinic            *widget.Check
	save              *widget.Button
	status            *widget.Label
	policy            *widget.Label

	identity    *widget.Label
	fingerprint *widget.Label
	createID    *widget.Button
	exportKey   *widget.Button
	form        *widget.Form
	body        *fyne.Container // the screen's rows, laid out again when a note comes or goes
	// hints are the notes under the form's fields (locked by the policy,
	// set at start), one per form item: wrapped labels, as Fyne's own
	// HintText is drawn on one line whatever its length (a long portal
	// address ran past a 1024 px window).
	hints []*widget.Label
	keys  *widget.Label // the keyboard shortcuts
	// keyChecked: the key status read as the screen opened is shown.
	keyChecked bool
	key        *app.KeyInfo
}

func newSettingsScreen(u *UI) *settingsScreen {
	s := &settingsScreen{u: u, pacsTimeout: 10 * time.Second,
		doctorTimeout: app.DefaultDoctorTimeout, doctorStepTimeout: app.DefaultDoctorStepTimeout}
	s.portal = u.newEntry()
	s.library = u.newEntry()
	s.pacs = u.newEntry()
	s.pacs.SetPlaceHolder(u.t("ui.settings.pacsPlaceholder"))
	s.pacsTest = widget.NewButtonWithIcon(u.t("ui.settings.pacsTest"), theme.MediaPlayIcon(), s.testPACS)
	s.bandwidth = u.newEntry()
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
	s.network = newNetworkFields(s)

	var items []*widget.FormItem
	for _, it := range []struct {
		label string
		field fyne.CanvasObject
	}{
		{u.t("ui.settings.portal"), s.portal},
		{u.t("ui.settings.library"), s.library},
		{u.t("ui.settings.pacs"), container.NewBorder(nil, nil, nil, s.pacsTest, s.pacs)},
		{u.t("ui.settings.bandwidth"), s.bandwidth},
		{u.t("ui.settings.language"), s.language},
		{"", s.clinic},
	} {
		hint := widget.NewLabel("")
		hint.Wrapping = fyne.TextWrapWord // a long address breaks too
		hint.Hide()
		s.hints = append(s.hints, hint)
		items = append(items, widget.NewFormItem(it.label, container.NewVBox(it.field, hint)))
	}
	// The proxy and the PAC file go under the portal; their notes are
	// their own (s.hints
	// keeps one per item above, by index).
	proxy := widget.NewFormItem(u.t("ui.settings.proxy"), s.network.box)
	pac := widget.NewFormItem(u.t("ui.settings.pac"), s.network.pacBox)
	items = append(items[:1], append([]*widget.FormItem{proxy, pac}, items[1:]...)...)
	s.form = widget.NewForm(items...)

	s.identity = widget.NewLabel(u.t("ui.settings.noIdentity"))
	s.identity.Wrapping = fyne.TextWrapWord
	s.fingerprint = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	s.createID = widget.NewButtonWithIcon(u.t("ui.settings.createIdentity"), theme.ContentAddIcon(), s.createIdentity)
	s.exportKey = widget.NewButtonWithIcon(u.t("ui.settings.exportKey"), theme.DocumentSaveIcon(), s.exportPublicKey)
	s.exportKey.Hide()
	s.fingerprint.Hide()
	// The main tabs take no focus (Fyne's AppTabs): the keys that switch
	// them are listed here.
	s.keys = widget.NewLabel(u.t("ui.settings.keysList"))
	s.keys.Wrapping = fyne.TextWrapWord

	s.body = container.NewVBox(
		heading(u.t("ui.settings.title")), s.policy, s.form,
		container.NewHBox(s.save, s.network.check), s.status,
		widget.NewSeparator(),
		heading(u.t("ui.settings.clinic")), s.identity, s.fingerprint,
		container.NewHBox(s.createID, s.exportKey),
		widget.NewSeparator(),
		heading(u.t("ui.settings.keys")), s.keys,
	)
	s.content = container.NewVScroll(container.NewPadded(s.body))
	s.load()
	s.readKey()
	return s
}
