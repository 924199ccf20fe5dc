package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/bildbote/bildbote/app"
)

// quarantineView (inbox screen) lists the envelopes an import could not
// open, kept encrypted in the quarantine and gone from the portal, with
// the reason, what to do, and a button to delete each. It is hidden while
// the quarantine is empty. Reads run in the background; every change of
// the widgets goes through u.do (fyne.Do).
type quarantineView struct {
	u       *UI
	content *fyne.Container
	hint    *widget.Label
	rows    *fyne.Container
	items   []app.QuarantinedItem
}

func newQuarantineView(u *UI) *quarantineView {
	q := &quarantineView{u: u}
	title := widget.NewLabelWithStyle(u.t("ui.quarantine.title"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	q.hint = widget.NewLabel(u.t("ui.quarantine.hint"))
	q.hint.Wrapping = fyne.TextWrapWord
	q.rows = container.NewVBox()
	q.content = container.NewVBox(widget.NewSeparator(), title, q.hint, q.rows)
	q.content.Hide()
	return q
}

// reload reads the quarantine and shows it.
func (q *quarantineView) reload() {
	go func() {
		items, err := q.u.core.Quarantine()
		q.u.do(func() {
			if err != nil {
				q.u.showError(err)
				return
			}
			q.show(items)
		})
	}()
}

func (q *quarantineView) show(items []app.QuarantinedItem) {
	q.items = items
	q.rows.Objects = nil
	for _, it := range items {
		it := it
		line := widget.NewLabel(q.text(it))
		line.Wrapping = fyne.TextWrapWord
		del := widget.NewButtonWithIcon(q.u.t("ui.quarantine.delete"), theme.DeleteIcon(), func() { q.confirmDelete(it) })
		q.rows.Add(container.NewBorder(nil, nil, nil, del, line))
	}
	q.rows.Refresh()
	if len(items) == 0 {
		q.content.Hide()
	} else {
		q.content.Show()
	}
}

// text is one quarantined envelope's line: when it came, its size, the
// reason it could not be opened.
func (q *quarantineView) text(it app.QuarantinedItem) string {
	return q.u.t("ui.quarantine.item", q.u.formatTime(it.ReceivedAt), q.u.bytes(it.Size), it.ReasonText(q.u.lang))
}

func (q *quarantineView) confirmDelete(it app.QuarantinedItem) {
	dialog.ShowConfirm(q.u.t("ui.quarantine.deleteTitle"), q.u.t("ui.quarantine.deleteConfirm", q.text(it)), func(ok bool) {
		if ok {
			q.remove(it.ID)
		}
	}, q.u.win)
}

// remove deletes one envelope from the quarantine and shows the rest.
func (q *quarantineView) remove(id string) {
	go func() {
		err := q.u.core.DeleteQuarantined(id)
		q.u.do(func() {
			if err != nil {
				q.u.showError(err)
			}
		})
		q.reload()
	}()
}
