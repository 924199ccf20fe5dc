package ui

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/bildbote/bildbote/app"
)

// deidForm is the Send view's "Send de-identified" part (issue 19): the
// switch, the profile's options, the pseudonym, a preview of what changes
// in one file. What de-identifying means is the core's (app/deid.go);
// this only reads the choices and shows the core's answers.
type deidForm struct {
	s          *sendScreen
	check      *widget.Check
	policyNote *widget.Label
	options    *fyne.Container
	pseudonym  *keyEntry
	dates      *widget.Select
	keepChars  *widget.Check
	keepDevice *widget.Check
	clean      *widget.Check
	keepUIDs   *widget.Check
	preview    *widget.Button
	// forced: the policy requires it for the chosen inbox.
	forced bool
	// dateCodes maps the date choices shown to app.Dates*.
	dateCodes map[string]string
}

func newDeidForm(s *sendScreen) *deidForm {
	u := s.u
	f := &deidForm{s: s}
	f.check = widget.NewCheck(u.t("ui.deid.check"), func(bool) { f.changed() })
	f.policyNote = widget.NewLabel("")
	f.policyNote.Wrapping = fyne.TextWrapWord
	f.policyNote.Importance = widget.LowImportance
	f.policyNote.Hide()
	f.pseudonym = u.newEntry()
	f.pseudonym.SetPlaceHolder(u.t("ui.deid.pseudonymPlaceholder"))
	remove, keep, shift := u.t("ui.deid.datesRemove"), u.t("ui.deid.datesKeep"), u.t("ui.deid.datesShift")
	f.dateCodes = map[string]string{remove: app.DatesRemove, keep: app.DatesKeep, shift: app.DatesShift}
	f.dates = widget.NewSelect([]string{remove, keep, shift}, func(string) {})
	f.dates.SetSelected(remove)
	f.keepChars = widget.NewCheck(u.t("ui.deid.keepChars"), nil)
	f.keepDevice = widget.NewCheck(u.t("ui.deid.keepDevice"), nil)
	f.clean = widget.NewCheck(u.t("ui.deid.clean"), nil)
	f.keepUIDs = widget.NewCheck(u.t("ui.deid.keepUIDs"), nil)
	f.preview = widget.NewButtonWithIcon(u.t("ui.deid.preview"), theme.VisibilityIcon(), f.showPreview)
	form := widget.NewForm(
		widget.NewFormItem(u.t("ui.deid.pseudonym"), f.pseudonym),
		widget.NewFormItem(u.t("ui.deid.dates"), f.dates),
	)
	f.options = container.NewVBox(form,
		f.keepChars, f.keepDevice, f.clean, f.keepUIDs,
		container.NewHBox(f.preview))
	f.options.Hide()
	return f
}

// content is what the form shows.
func (f *deidForm) content() fyne.CanvasObject {
	return container.NewVBox(heading(f.s.u.t("ui.deid.heading")), f.check, f.policyNote, f.options)
}

func (f *deidForm) changed() {
	s := f.s
	showIf(f.options, f.check.Checked)
	// The patient note would name the patient: it does not go with a
	// de-identified send (the core drops it too).
	for _, e := range []*keyEntry{s.patientName, s.patientBorn} {
		if f.check.Checked {
			e.Disable()
		} else {
			e.Enable()
		}
	}
	if f.check.Checked && strings.TrimSpace(f.pseudonym.Text) == "" {
		f.pseudonym.SetText(app.NewPseudonym())
	}
	if s.formBody != nil {
		s.relayoutForm()
	}
}

// follow sets the switch for the chosen inbox: checked and locked when the
// policy requires de-identification for it.
func (f *deidForm) follow(cm *app.Community) {
	forced := cm != nil && f.s.u.core.Settings().DeidentifyRequired(cm.Code)
	if forced {
		f.policyNote.SetText(f.s.u.t("ui.deid.forced", cm.Code)) // another forced inbox: its code
	}
	if forced == f.forced {
		return
	}
	f.forced = forced
	if forced {
		f.check.SetChecked(true)
		f.check.Disable()
		f.policyNote.Show()
	} else {
		f.check.Enable()
		f.policyNote.Hide()
	}
	f.changed()
}

// request is the send's Deidentify, nil when off.
func (f *deidForm) request(acceptBurnedIn bool) *app.Deidentify {
	if !f.check.Checked {
		return nil
	}
	return &app.Deidentify{
		Pseudonym: strings.TrimSpace(f.pseudonym.Text), Dates: f.dateCodes[f.dates.Selected],
		KeepPatientCharacteristics: f.keepChars.Checked, KeepDeviceIdentity: f.keepDevice.Checked,
		CleanDescriptors: f.clean.Checked, KeepUIDs: f.keepUIDs.Checked, AcceptBurnedIn: acceptBurnedIn,
	}
}

// showPreview asks the core what de-identifying the first chosen file
// changes and shows it, burned-in warnings first.
func (f *deidForm) showPreview() {
	s, u := f.s, f.s.u
	if s.index == nil {
		return
	}
	d := f.request(false)
	if d == nil {
		return
	}
	studies := s.tree.SelectedStudies()
	ix := s.index
	f.preview.Disable()
	go func() {
		pv, err := u.core.PreviewDeidentify(ix, studies, "", *d)
		u.do(func() {
			f.preview.Enable()
			if err != nil {
				u.showError(err)
				return
			}
			u.showModal(u.t("ui.deid.previewTitle"), f.previewBody(pv), "", u.t("ui.ok"), nil, nil)
		})
	}()
}

func (f *deidForm) previewBody(pv *app.DeidPreview) fyne.CanvasObject {
	u := f.s.u
	head := widget.NewLabel(u.n("ui.deid.previewHead", len(pv.Changes), pv.Path, len(pv.Changes)))
	head.Wrapping = fyne.TextWrapWord
	box := container.NewVBox(head)
	for _, code := range pv.BurnedIn {
		w := widget.NewLabel(u.t("ui.deid.previewBurnedIn", app.ReasonWord(u.lang, code)))
		w.Wrapping = fyne.TextWrapWord
		w.Importance = widget.WarningImportance
		box.Add(w)
	}
	// The patient's own attributes first: what a sender looks for.
	changes := slices.Clone(pv.Changes)
	sort.SliceStable(changes, func(i, j int) bool {
		return strings.HasPrefix(changes[i].Tag, "(0010,") && !strings.HasPrefix(changes[j].Tag, "(0010,")
	})
	lines := make([]string, len(changes))
	for i, c := range changes {
		name := c.Tag
		if c.Keyword != "" {
			name += " " + c.Keyword
		}
		lines[i] = fmt.Sprintf("%s: %s → %s", name, orDash(c.Old), orDash(c.New))
	}
	list := widget.NewList(func() int { return len(lines) },
		func() fyne.CanvasObject {
			l := widget.NewLabel("")
			l.Truncation = fyne.TextTruncateEllipsis
			return l
		},
		func(i widget.ListItemID, o fyne.CanvasObject) { o.(*widget.Label).SetText(lines[i]) })
	rows := float32(min(max(len(lines), 1), 8))
	return container.NewBorder(box, nil, nil, nil,
		container.New(minSizeLayout{w: 520, h: rows * (list.MinSize().Height + theme.Padding())}, list))
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// minSizeLayout gives its objects at least w×h.
type minSizeLayout struct{ w, h float32 }

func (l minSizeLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		o.Resize(size)
		o.Move(fyne.NewPos(0, 0))
	}
}

func (l minSizeLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	s := fyne.NewSize(l.w, l.h)
	for _, o := range objs {
		s = s.Max(fyne.NewSize(0, o.MinSize().Height))
	}
	return s
}

// beforeConfirm runs the burned-in check of a de-identified send and asks
// the user when some images may show the patient in their pixels; then
// next(acceptBurnedIn) shows the usual confirmation.
func (f *deidForm) beforeConfirm(next func(acceptBurnedIn bool)) {
	s, u := f.s, f.s.u
	d := f.request(false)
	if d == nil {
		next(false)
		return
	}
	if err := app.CheckPseudonym(d.Pseudonym); err != nil {
		u.showError(err)
		return
	}
	ix, studies := s.index, s.tree.SelectedStudies()
	s.status.SetText(u.t("ui.deid.checking"))
	go func() {
		b, err := u.core.CheckBurnedIn(context.Background(), ix, studies, *d)
		u.do(func() {
			s.status.SetText("")
			if err != nil {
				u.showError(err)
				return
			}
			if b == nil {
				next(false)
				return
			}
			u.confirm(u.t("ui.deid.burnedInTitle"),
				u.t("ui.deid.burnedInQuestion", b.Files, b.Series, b.Local(u.lang)),
				u.t("ui.deid.burnedInSend"), u.t("ui.send.back"), func() { next(true) })
		})
	}()
}

// deidNote is a transfer's note on a de-identified send ("" for others).
func (u *UI) deidNote(j *app.Job) string {
	if j.Detail == nil || j.Detail.Send == nil || j.Detail.Send.Pseudonym == "" {
		return ""
	}
	return u.t("ui.deid.as", j.Detail.Send.Pseudonym)
}

// confirmNotes adds to the summary what a de-identified send leaves at
// home: the medium's documents (PDF reports cannot be de-identified).
func (f *deidForm) confirmNotes(body *fyne.Container) {
	if ix := f.s.index; ix != nil && len(ix.Documents) > 0 {
		n := len(ix.Documents)
		l := widget.NewLabel(f.s.u.n("ui.deid.documentsStay", n, n))
		l.Wrapping = fyne.TextWrapWord
		body.Add(l)
	}
}
