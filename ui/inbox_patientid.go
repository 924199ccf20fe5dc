package ui

import (
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/bildbote/bildbote/app"
)

// The clinic's patient ID for an import from the inbox into the PACS
// (ImportRequest.PatientID): one envelope of one patient at a time, as
// the core allows; checked while typed with app.CheckPatientID.

func (s *inboxScreen) newPatientIDRow() {
	u := s.u
	s.pid = u.newEntry()
	s.pid.SetPlaceHolder(u.t("ui.redeem.patientIDPlaceholder"))
	s.pid.OnChanged = func(string) { s.refreshPatientID() }
	s.pidErr = widget.NewLabel("")
	s.pidErr.Wrapping = fyne.TextWrapWord
	s.pidErr.Importance = widget.DangerImportance
	s.pidErr.Hide()
	s.pidNote = widget.NewLabel("")
	s.pidNote.Wrapping = fyne.TextWrapWord
	s.pidNote.Importance = widget.LowImportance
	s.pidNote.Hide()
	// The reason it is greyed out beside the field, not under it (below
	// the fold of a 1024x600 window).
	s.pidBox = container.NewVBox(
		container.NewBorder(nil, nil, container.NewHBox(widget.NewLabel(u.t("ui.inbox.patientID")),
			container.NewGridWrap(fyne.NewSize(240, s.pid.MinSize().Height), s.pid)), nil, s.pidNote),
		s.pidErr,
	)
	s.pidBox.Hide()
}

// patientIDReason is why no patient ID can be given for the checked
// envelopes ("" when it can): one envelope, of one patient, into the PACS.
func (s *inboxScreen) patientIDReason() string {
	if !s.toPACS.Checked {
		return s.u.t("ui.inbox.patientIDNoPACS")
	}
	var checked []string
	for _, id := range s.order {
		if c := s.checks[id]; c != nil && c.Checked {
			checked = append(checked, id)
		}
	}
	if len(checked) != 1 {
		return s.u.t("ui.inbox.patientIDOne")
	}
	sum := s.items[checked[0]].Summary
	switch {
	case sum == nil:
		return s.u.t("ui.inbox.patientIDOne") // not readable with this key
	case sum.Patients > 1:
		return s.u.t("ui.inbox.patientIDSeveral", sum.Patients)
	}
	return ""
}

// refreshPatientID shows the field once envelopes are listed and a PACS
// is set, greyed out with the reason unless one envelope of one patient
// goes into the PACS, with what is wrong with a typed ID under it; the
// import button is greyed out while the ID cannot be used.
func (s *inboxScreen) refreshPatientID() {
	if s.pid == nil {
		return
	}
	box, errShown, note := s.pidBox.Visible(), s.pidErr.Visible(), s.pidNote.Visible()
	defer func() {
		if box != s.pidBox.Visible() || errShown != s.pidErr.Visible() || note != s.pidNote.Visible() {
			s.pidBox.Refresh()
			if s.content != nil {
				s.content.Refresh()
			}
		}
	}()
	if s.u.core.Settings().PACSStowURL == "" || len(s.order) == 0 {
		s.pidBox.Hide()
		return
	}
	s.pidBox.Show()
	if why := s.patientIDReason(); why != "" {
		if s.pid.Text != "" {
			s.pid.SetText("")
		}
		s.pid.Disable()
		s.pidErr.Hide()
		s.pidNote.SetText(why)
		s.pidNote.Show()
		showEnabled(s.importB, !s.importing)
		return
	}
	s.pid.Enable()
	s.pidNote.Hide()
	if strings.TrimSpace(s.pid.Text) != "" {
		if _, err := app.CheckPatientID(s.pid.Text); err != nil {
			msg, _ := s.u.describe(err)
			s.pidErr.SetText(msg)
			s.pidErr.Show()
			s.importB.Disable()
			return
		}
	}
	s.pidErr.Hide()
	showEnabled(s.importB, !s.importing)
}
