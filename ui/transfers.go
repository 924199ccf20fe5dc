package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"
)

// transfersScreen lists every job, running or done: progress, bytes,
// speed, ETA, state, pause/resume/cancel, the receipt of a finished send
// and errors in plain language with what to do next.
type transfersScreen struct {
	u       *UI
	content fyne.CanvasObject

	list  *fyne.Container
	empty *widget.Label
	rows  map[string]*jobRow
	order []string
}

func newTransfersScreen(u *UI) *transfersScreen {
	s := &transfersScreen{u: u, rows: map[string]*jobRow{}}
	s.empty = widget.NewLabel(u.t("ui.transfers.empty"))
	s.empty.Importance = widget.LowImportance
	s.list = container.NewVBox(s.empty)
	s.content = container.NewPadded(container.NewBorder(heading(u.t("ui.transfers.title")), nil, nil, nil, container.NewVScroll(s.list)))
	return s
}
