package ui

import (
	"fmt"
	"path/filepath"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/transfer"
)

// Redeem into the PACS (clinic mode): the checked studies go into the PACS
// set in Settings with the core's StartSaveWith, the entry `bildbote-cli
// redeem --pacs` uses: without a copy on this computer, or with one in
// the folder when "Auch eine Kopie auf diesem Computer speichern" is
// checked (redeem --pacs … --out DIR); what each PACS said is shown
// under the buttons.

// maxPACSReasons is how many different reasons are listed per PACS.
const maxPACSReasons = 5

func (r *redeemScreen) newPACSRow() {
	u := r.u
	r.toPACS = widget.NewButtonWithIcon(u.t("ui.redeem.toPACS"), theme.UploadIcon(), r.importPACS)
	r.pacsNote = widget.NewLabel("")
	r.pacsNote.Wrapping = fyne.TextWrapWord
	r.pacsNote.Importance = widget.LowImportance
	r.pacsResult = widget.NewLabel("")
	r.pacsResult.Wrapping = fyne.TextWrapWord
	r.pacsResult.Hide()
	r.pid = r.u.newEntry()
	r.pid.SetPlaceHolder(u.t("ui.redeem.patientIDPlaceholder"))
	r.pid.OnChanged = func(string) { r.refreshPACS() }
	r.pid.OnSubmitted = func(string) {
		if !r.toPACS.Disabled() {
			r.importPACS()
		}
	}
	r.pidErr = widget.NewLabel("")
	r.pidErr.Wrapping = fyne.TextWrapWord
	r.pidErr.Importance = widget.DangerImportance
	r.pidErr.Hide()
	r.pidNote = widget.NewLabel("")
	r.pidNote.Importance = widget.LowImportance
	r.pidNote.Wrapping = fyne.TextWrapWord
	r.pidNote.Hide()
	r.keepCopy = widget.NewCheck(u.t("ui.redeem.keepCopy"), func(bool) { r.refreshPACS() })
	// The reason it is greyed out beside the field, not under it (below
	// the fold of a 1024x600 window).
	// It holds the copy check too: both belong to the import into the
	// PACS and show with it.
	r.pidBox = container.NewVBox(
		r.keepCopy,
		container.NewBorder(nil, nil, container.NewHBox(widget.NewLabel(u.t("ui.redeem.patientID")),
			container.NewGridWrap(fyne.NewSize(240, r.pid.MinSize().Height), r.pid)), nil, r.pidNote),
		r.pidErr,
	)
	r.refreshPACS()
}

// clearPatientID empties the patient ID field: each code (each patient)
// starts without one.
func (r *redeemScreen) clearPatientID() {
	if r.pid != nil {
		r.pid.SetText("")
	}
}

// patientID is the typed patient ID checked by the core ("" when none
// was typed or the field is not in use), or the error to show.
func (r *redeemScreen) patientID() (string, error) {
	if !r.pidBox.Visible() || r.pid.Disabled() || strings.TrimSpace(r.pid.Text) == "" {
		return "", nil
	}
	return app.CheckPatientID(r.pid.Text)
}

// relayoutPatientID lays the screen out again when the field, its error
// or its note came or went (a VBox keeps its old rows until refreshed:
// the error was drawn over the field).
func (r *redeemScreen) relayoutPatientID(box, err, note bool) {
	if box == r.pidBox.Visible() && err == r.pidErr.Visible() && note == r.pidNote.Visible() {
		return
	}
	r.pidBox.Refresh()
	if r.body != nil {
		r.body.Refresh()
	}
}

// countPatients counts the distinct patients among a code's studies
// (documents name no patient of their own), as the core does before it
// refuses a patient ID for several.
func countPatients(items []app.Item) int {
	seen := map[string]bool{}
	for _, it := range items {
		if it.MIMEType == "application/zip" && it.PatientName != "" {
			seen[it.PatientName+"\x00"+it.BirthDate] = true
		}
	}
	return len(seen)
}

// sentPatientID is the patient ID the PACS results name ("" when the
// instances kept theirs).
func sentPatientID(insts []app.PACSInstance) string {
	for _, pi := range insts {
		if pi.PatientID != "" {
			return pi.PatientID
		}
	}
	return ""
}

// refreshPatientID shows the patient ID field with the PACS button: greyed
// out with the reason when the code holds several patients, and what is
// wrong with a typed ID under it. It reports whether the import may start.
func (r *redeemScreen) refreshPatientID(shown bool) bool {
	defer r.relayoutPatientID(r.pidBox.Visible(), r.pidErr.Visible(), r.pidNote.Visible())
	if !shown {
		r.pidBox.Hide()
		return true
	}
	r.pidBox.Show()
	if r.patients > 1 {
		if r.pid.Text != "" {
			r.pid.SetText("")
		}
		r.pid.Disable()
		r.pidNote.SetText(r.u.t("ui.redeem.patientIDSeveral", r.patients))
		r.pidNote.Show()
		r.pidErr.Hide()
		return true
	}
	r.pid.Enable()
	r.pidNote.Hide()
	if _, err := r.patientID(); err != nil {
		msg, _ := r.u.describe(err)
		r.pidErr.SetText(msg)
		r.pidErr.Show()
		return false
	}
	r.pidErr.Hide()
	return true
}

// pacsTarget is the PACS set in Settings ("" when none).
func (r *redeemScreen) pacsTarget() string {
	return strings.TrimSpace(r.u.core.Settings().PACSStowURL)
}

// refreshPACS shows "In das PACS übernehmen" in clinic mode: usable when a
// PACS is set and nothing is being saved, else greyed out with where to
// set one. Settings call it after saving, so a new address counts at once.
func (r *redeemScreen) refreshPACS() {
	if !r.u.core.Settings().ClinicMode {
		r.toPACS.Hide()
		r.pacsNote.Hide()
		r.refreshPatientID(false)
		return
	}
	r.toPACS.Show()
	target := r.pacsTarget()
	switch {
	case target == "":
		r.toPACS.Disable()
		r.pacsNote.SetText(r.u.t("ui.redeem.noPACS"))
		r.refreshPatientID(false)
	default:
		if t, err := app.ParsePACSTarget(target); err == nil {
			target = t.String() // an http password stays hidden
		}
		if r.keepCopy.Checked {
			r.pacsNote.SetText(r.u.t("ui.redeem.pacsGoesToCopy", target))
		} else {
			r.pacsNote.SetText(r.u.t("ui.redeem.pacsGoesTo", target))
		}
		valid := r.refreshPatientID(true)
		switch {
		case r.saveAll.Disabled():
			r.toPACS.Disable() // a save is running
		case !valid:
			r.toPACS.Disable() // the patient ID cannot be used
		default:
			r.toPACS.Enable()
		}
	}
	r.pacsNote.Show()
}

// enableSave enables or disables the buttons that start a save.
func (r *redeemScreen) enableSave(on bool) {
	for _, b := range []*widget.Button{r.saveAll, r.saveSelection} {
		if on {
			b.Enable()
		} else {
			b.Disable()
		}
	}
	r.refreshPACS()
}

// importPACS imports the checked studies into the PACS.
func (r *redeemScreen) importPACS() {
	target := r.pacsTarget()
	if r.session == nil || target == "" {
		return
	}
	ids := r.checkedItems(false)
	if len(ids) == 0 {
		r.showMessage(r.u.t("ui.redeem.nothingChecked"), r.u.t("ui.redeem.nothingChecked.hint"), nil)
		return
	}
	keep := r.keepCopy.Checked
	r.pacsSkipped = 0
	for _, id := range ids {
		if r.docs[id] && !keep {
			r.pacsSkipped++ // left out by the core: no DICOM, and no copy wanted
		}
	}
	pid, err := r.patientID()
	if err != nil {
		return // shown under the field; the button is greyed out
	}
	dir := ""
	if keep {
		dir = r.target.Text // the copy goes where "Speichern" would put it
	}
	r.startSave(ids, dir, app.SaveOptions{PACS: []string{target}, NoCopy: !keep, PatientID: pid})
}

// pacsCopyDir is where a finished import into the PACS kept its copy:
// the study's folder, or the folder holding several ("" without a copy).
func pacsCopyDir(j *app.Job) string {
	if j.Receipt == nil {
		return ""
	}
	var dirs []string
	for _, s := range j.Receipt.Saved {
		if s.Dir != "" {
			dirs = append(dirs, s.Dir)
		}
	}
	switch len(dirs) {
	case 0:
		return ""
	case 1:
		return dirs[0]
	}
	return filepath.Dir(dirs[0])
}

// checkedItems are all items, or the checked ones, in the list's order.
func (r *redeemScreen) checkedItems(all bool) []string {
	var ids []string
	for _, id := range r.itemOrder {
		if all || r.itemChecks[id].Checked {
			ids = append(ids, id)
		}
	}
	return ids
}

// showPACSResult shows, per PACS, how many instances it stored and
// refused (done: every instance of the job), or how many it did not
// store (failed: insts are only those), and why, grouped by reason.
func (r *redeemScreen) showPACSResult(insts []app.PACSInstance, failed bool) {
	text := pacsSummary(r.u, insts, failed)
	r.pacsResult.SetText(text)
	showIf(r.pacsResult, text != "")
}

func pacsSummary(u *UI, insts []app.PACSInstance, failed bool) string {
	var order []string
	per := map[string][]app.PACSInstance{}
	for _, pi := range insts {
		if _, ok := per[pi.Target]; !ok {
			order = append(order, pi.Target)
		}
		per[pi.Target] = append(per[pi.Target], pi)
	}
	var lines []string
	for _, target := range order {
		stored, refused, warned := 0, 0, 0
		var reasons []string
		count := map[string]int{}
		for _, pi := range per[target] {
			switch {
			case pi.Status == app.PACSWarning:
				stored++
				warned++
			case pi.Confirmed():
				stored++
				continue
			default:
				refused++
			}
			why := pacsReason(u, pi)
			if count[why] == 0 {
				reasons = append(reasons, why)
			}
			count[why]++
		}
		switch {
		case failed:
			lines = append(lines, u.t("ui.redeem.pacsNotStored", target, refused))
		case warned > 0:
			lines = append(lines, u.t("ui.redeem.pacsStoredWarned", target, stored, refused, warned))
		default:
			lines = append(lines, u.t("ui.redeem.pacsStored", target, stored, refused))
		}
		for i, why := range reasons {
			if i == maxPACSReasons {
				lines = append(lines, "   "+u.t("ui.redeem.pacsMoreReasons", len(reasons)-i))
				break
			}
			lines = append(lines, fmt.Sprintf("   %d × %s", count[why], why))
		}
	}
	return strings.Join(lines, "\n")
}

// pacsReason is what a PACS said about one instance it did not simply
// store: the outcome, its status code, the PACS's comment (cleaned: it
// is the server's text) and why, in the reader's language.
func pacsReason(u *UI, pi app.PACSInstance) string {
	s := u.t("ui.redeem.pacs." + pi.Status)
	if pi.Code != "" {
		s += " [" + pi.Code + "]"
	}
	if c := transfer.CleanText(pi.Comment, 200); strings.TrimSpace(c) != "" {
		s += " " + i18n.Quote(c)
	}
	if pi.Status != app.PACSWarning && pi.Reason != nil {
		s += " – " + pi.Reason.Message(u.lang)
	}
	return s
}
