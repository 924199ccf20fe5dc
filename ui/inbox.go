package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// inboxScreen (clinic mode): the envelopes waiting in the clinic's inbox,
// who sent them for which patient, and their import to a folder and/or
// the PACS with a result per study.
type inboxScreen struct {
	u       *UI
	content fyne.CanvasObject

	refresh  *widget.Button
	list     *fyne.Container
	toFolder *widget.Check
	toPACS   *widget.Check
	importB  *widget.Button
	status   *widget.Label
	results  *widget.Label
	checks   []*widget.Check
}

func newInboxScreen(u *UI) *inboxScreen {
	s := &inboxScreen{u: u}
	s.refresh = widget.NewButtonWithIcon(u.t("ui.inbox.refresh"), theme.ViewRefreshIcon(), s.load)
	s.list = container.NewVBox()
	s.toFolder = widget.NewCheck(u.t("ui.inbox.toFolder"), nil)
	s.toFolder.SetChecked(true)
	s.toPACS = widget.NewCheck(u.t("ui.inbox.toPACS"), nil)
	s.importB = widget.NewButtonWithIcon(u.t("ui.inbox.import"), theme.DownloadIcon(), s.importSelected)
	s.importB.Importance = widget.HighImportance
	s.status = widget.NewLabel("")
	s.status.Wrapping = fyne.TextWrapWord
	s.results = widget.NewLabel("")
	s.results.Wrapping = fyne.TextWrapWord
	top := container.NewBorder(nil, nil, heading(u.t("ui.inbox.title")), s.refresh)
	bottom := container.NewVBox(widget.NewSeparator(), container.NewHBox(s.toFolder, s.toPACS, s.importB), s.status, s.results)
	s.content = container.NewPadded(container.NewBorder(top, bottom, nil, nil, container.NewVScroll(s.list)))
	return s
}
