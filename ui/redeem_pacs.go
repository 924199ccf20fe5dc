package ui

import (
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/transfer"
)

// Redeem into the PACS (clinic mode): the checked studies go into the PACS
// set in Settings with the core's StartSaveWith, the entry `bildbote-cli
// redeem --pacs` uses, without a copy on this computer; what each PACS
// said is shown under the buttons.

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
	r.refreshPACS()
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
		return
	}
	r.toPACS.Show()
	target := r.pacsTarget()
	switch {
	case target == "":
		r.toPACS.Disable()
		r.pacsNote.SetText(r.u.t("ui.redeem.noPACS"))
	default:
		if t, err := app.ParsePACSTarget(target); err == nil {
			target = t.String() // an http password stays hidden
		}
		r.pacsNote.SetText(r.u.t("ui.redeem.pacsGoesTo", target))
		if r.saveAll.Disabled() {
			r.toPACS.Disable() // a save is running
		} else {
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
	r.pacsSkipped = 0
	for _, id := range ids {
		if r.docs[id] {
			r.pacsSkipped++ // left out by the core: no DICOM, and no copy wanted
		}
	}
	r.startSave(ids, "", app.SaveOptions{PACS: []string{target}, NoCopy: true})
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
