package ui

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/internal/i18n"
)

// start asks the portal about the typed code.
func (r *redeemScreen) start() { r.begin(r.code.Code()) }

// openLink redeems a code link (the QR payload), openImage a photo or scan
// of the code sheet: app reads the code from either.
func (r *redeemScreen) openLink(link string)  { r.begin(link) }
func (r *redeemScreen) openImage(path string) { r.begin(path) }

// begin starts a new round for code (typed, a link or a picture): the
// previous round's questions, answers and items go, and the portal is
// asked, with a cancel and a deadline (app bounds the look-up).
func (r *redeemScreen) begin(code string) {
	r.reset()
	code = strings.TrimSpace(code)
	if code == "" {
		r.showMessage(r.u.t("ui.redeem.codeEmpty"), r.u.t("ui.redeem.codeEmpty.hint"), nil)
		r.u.win.Canvas().Focus(r.code.Field(0))
		return
	}
	portal := ""
	if r.portalBox.Visible() {
		portal = strings.TrimSpace(r.portal.Text)
		if portal == "" && !isURL(code) && !isImage(code) {
			r.showMessage(r.u.t("ui.redeem.portalNeeded"), r.u.t("ui.redeem.portalNeeded.hint"), nil)
			r.u.win.Canvas().Focus(r.portal)
			return
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.round++
	round := r.round
	r.setBusy(r.u.t("ui.redeem.asking"), cancel)
	r.next.Disable()
	go func() {
		sess, err := r.u.core.RedeemStart(ctx, portal, code)
		cancel()
		r.u.do(func() {
			if round != r.round {
				return // cancelled or superseded
			}
			r.setIdle()
			if errors.Is(err, context.Canceled) {
				return
			}
			if err != nil {
				r.showProblem(err, func() { r.begin(code) })
				return
			}
			r.refreshPortal()
			r.showQuestions(sess)
		})
	}()
}

// cancel stops the look-up or the answer check in flight.
func (r *redeemScreen) cancel() {
	if r.askCancel != nil {
		r.askCancel()
	}
	r.round++
	r.setIdle()
	r.setStatus(r.u.t("ui.redeem.canceled"))
	if r.session != nil && r.questionsBox.Visible() {
		r.focusFirstAnswer()
	}
}

func (r *redeemScreen) setBusy(text string, cancel context.CancelFunc) {
	r.askCancel = cancel
	r.busyText.SetText(text)
	r.busy.Show()
	r.problemBox.Hide()
	r.body.Refresh()
}

func (r *redeemScreen) setIdle() {
	r.askCancel = nil
	r.busy.Hide()
	r.next.Enable()
	r.confirm.Enable()
	r.body.Refresh()
}

// reset ends the previous round: nothing of the previous code — answers,
// items, messages — stays on the screen.
func (r *redeemScreen) reset() {
	if r.askCancel != nil {
		r.askCancel()
	}
	r.round++
	r.setIdle()
	r.session = nil
	r.saveJob = ""
	r.savedAll = false
	r.stopWaitTicker()
	r.setStatus("")
	r.problemBox.Hide()
	r.clearAnswers()
	r.questionsBox.Hide()
	r.itemsBox.Hide()
	r.items.Objects = nil
	r.done.Hide()
	r.progress.Hide()
	r.waiting.Hide()
	r.pacsResult.Hide()
	r.intoPACS = false
	r.clearPatientID() // the previous patient's ID never carries over
	r.enableSave(true)
	r.body.Refresh()
}

// showProblem shows err as a person reads it (translated, with what to
// do), with a retry button when waiting can help (the portal did not
// answer, was busy); also remembered for tests as lastErr.
func (r *redeemScreen) showProblem(err error, retry func()) {
	if r.u.proxyLoginFor(err, retry) { // a 407: login, then the step again
		return
	}
	r.u.lastErr = err
	msg, hint := r.u.describe(err)
	if !isTransient(err) {
		retry = nil
	}
	r.showMessage(msg, hint, retry)
}

func (r *redeemScreen) showMessage(msg, hint string, retry func()) {
	r.problem.SetText(msg)
	r.problemHint.SetText(hint)
	if hint == "" {
		r.problemHint.Hide()
	} else {
		r.problemHint.Show()
	}
	r.retryFn = retry
	if retry != nil {
		r.retry.Show()
	} else {
		r.retry.Hide()
	}
	r.problemBox.Show()
	r.body.Refresh()
	if retry != nil {
		r.u.win.Canvas().Focus(r.retry)
	}
}

func isRefused(err error) bool {
	ue, ok := i18n.AsUserError(err)
	return ok && ue.Kind == i18n.KindRefused
}

func isTransient(err error) bool {
	ue, ok := i18n.AsUserError(err)
	return ok && ue.Kind == i18n.KindTransient
}

// showQuestions builds this round's form anew: one field per question, a
// date field (in the reader's format, checked as typed) for dates, a
// hidden entry for passwords, a plain entry otherwise.
func (r *redeemScreen) showQuestions(sess *app.RedeemSession) {
	r.session = sess
	r.setStatus(r.u.t("ui.redeem.code", sess.Masked))
	r.answers = map[string]func() string{}
	r.dateFields = map[string]*keyEntry{}
	r.answerFields = nil
	form := widget.NewForm()
	for _, q := range sess.Questions {
		label := r.questionLabel(q)
		var e *keyEntry
		switch {
		case q.AsksDate():
			e = r.u.newEntry()
			e.SetPlaceHolder(r.u.t("ui.redeem.datePlaceholder"))
			e.Validator = r.validateDate
			r.dateFields[q.ID] = e
		case q.AsksSecret():
			e = r.u.newPasswordEntry()
		default:
			e = r.u.newEntry()
		}
		e.OnSubmitted = func(string) { r.answer() }
		get := e
		r.answers[q.ID] = func() string { return get.Text }
		r.answerFields = append(r.answerFields, e)
		item := widget.NewFormItem(label, container.NewGridWrap(fyne.NewSize(320, e.MinSize().Height), e))
		if q.AsksDate() {
			item.HintText = r.u.t("ui.redeem.dateHint")
		}
		form.AppendItem(item)
	}
	r.questions = form
	r.questionsSlot.Objects = []fyne.CanvasObject{form}
	r.questionsSlot.Refresh()
	r.questionsBox.Show()
	r.body.Refresh()
	r.focusFirstAnswer()
}

// questionLabel is what the field asks. The well-known questions use the
// app's own words in the reader's language ("Ihr Geburtsdatum"); others
// the portal's text in the reader's language when it sent one.
func (r *redeemScreen) questionLabel(q app.Question) string {
	switch q.Type {
	case "PAT_BIRTH_DATE", "STUDY_DATE":
		return r.u.t("ui.redeem.question." + q.Type)
	}
	if t, ok := q.Texts[string(r.u.lang)]; ok && t != "" {
		return t
	}
	if q.Text != "" {
		return q.Text
	}
	return r.u.t("ui.redeem.question." + q.Type)
}

// validateDate accepts the dates app understands (DD.MM.YYYY, YYYY-MM-DD,
// YYYYMMDD); its message is translated and names what was typed.
func (r *redeemScreen) validateDate(s string) error {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	if _, ok := app.NormalizeDate(s); ok {
		return nil
	}
	return errors.New(r.u.t("ui.redeem.dateInvalid", s))
}

func (r *redeemScreen) focusFirstAnswer() {
	if len(r.answerFields) > 0 {
		r.u.win.Canvas().Focus(r.answerFields[0])
	}
}

// clearAnswers empties the answer fields (a date of birth must not stay
// on a shared PC's screen).
func (r *redeemScreen) clearAnswers() {
	for _, e := range r.answerFields {
		e.SetText("")
	}
}

// answer sends the answers and lists the items. A date that is not one
// is said here, with the value, before anything is sent.
func (r *redeemScreen) answer() {
	sess := r.session
	if sess == nil || r.busy.Visible() {
		return
	}
	answers := map[string]string{}
	for id, get := range r.answers {
		a := strings.TrimSpace(get())
		if a == "" {
			r.showMessage(r.u.t("ui.redeem.answerEmpty"), r.u.t("ui.redeem.answerEmpty.hint"), nil)
			r.focusFirstAnswer()
			return
		}
		if e := r.dateFields[id]; e != nil {
			if err := r.validateDate(a); err != nil {
				r.showMessage(err.Error(), r.u.t("ui.redeem.dateHint"), nil)
				r.u.win.Canvas().Focus(e)
				return
			}
		}
		answers[id] = a
	}
	r.sendAnswers(sess, answers)
}

func (r *redeemScreen) sendAnswers(sess *app.RedeemSession, answers map[string]string) {
	ctx, cancel := context.WithCancel(context.Background())
	r.round++
	round := r.round
	r.confirm.Disable()
	r.setBusy(r.u.t("ui.redeem.checking"), cancel)
	go func() {
		items, err := sess.Answer(ctx, answers)
		cancel()
		r.u.do(func() {
			if round != r.round {
				return
			}
			r.setIdle()
			if errors.Is(err, context.Canceled) {
				return
			}
			r.clearAnswers()
			if err != nil {
				r.showProblem(err, func() { r.sendAnswers(sess, answers) })
				switch {
				case isRefused(err):
					r.questionsBox.Hide() // an expired code: answering again cannot help
					r.body.Refresh()
				case !isTransient(err):
					r.focusFirstAnswer()
				}
				return
			}
			r.showItems(sess, items)
		})
	}()
}

func (r *redeemScreen) showItems(sess *app.RedeemSession, items []app.Item) {
	u := r.u
	r.questionsBox.Hide()
	r.problemBox.Hide()
	r.refreshPortal() // remembered now: no longer asked
	r.u.settings.portalChanged()
	r.answerFields = nil // the form goes with its round
	r.expiryKnown = !sess.Expires.IsZero()
	r.expiryEntry.SetText("")
	r.showExpiry(sess.Expires)
	r.items.Objects = nil
	r.itemChecks = map[string]*widget.Check{}
	r.docs = map[string]bool{}
	for _, it := range items {
		r.docs[it.ID] = it.MIMEType != "application/zip"
		c := widget.NewCheck(describeItem(u, it), nil)
		c.SetChecked(true)
		r.itemChecks[it.ID] = c
		r.items.Add(c)
	}
	r.items.Refresh()
	if r.target.Text == "" {
		r.target.SetText(u.core.Settings().LibraryDir)
	}
	r.itemOrder = r.itemOrder[:0]
	for _, it := range items {
		r.itemOrder = append(r.itemOrder, it.ID)
	}
	r.patients = countPatients(items)
	r.clearPatientID()
	r.refreshPACS()
	r.itemsBox.Show()
	r.body.Refresh()
	r.u.win.Canvas().Focus(r.saveAll) // Space saves everything
}

func describeItem(u *UI, it app.Item) string {
	parts := []string{it.Description}
	if it.Date != "" {
		parts = append(parts, u.dicomDate(it.Date))
	}
	if len(it.Modalities) > 0 {
		parts = append(parts, strings.Join(it.Modalities, ", "))
	}
	if it.FileCount > 0 {
		parts = append(parts, u.t("ui.redeem.files", it.FileCount))
	}
	if it.Size > 0 {
		parts = append(parts, u.bytes(it.Size))
	}
	return strings.Join(parts, " · ")
}

// showExpiry says until when the code works. When the portal told it, it
// is read-only text; when not, the "valid until" field asks for the date
// from the code sheet (optional, for the reminder). The line warns only
// while something is unsaved and the end is near (7 days or less); once
// everything is saved it says so.
func (r *redeemScreen) showExpiry(t time.Time) {
	if r.expiryKnown {
		r.expiryAsk.Hide()
	} else {
		r.expiryAsk.Show()
	}
	if t.IsZero() {
		r.expiry.Hide()
		r.body.Refresh()
		return
	}
	days := int(math.Ceil(time.Until(t).Hours() / 24))
	date := i18n.FormatDate(r.u.lang, t)
	switch {
	case r.savedAll:
		r.expiry.SetText(r.u.t("ui.redeem.expiresSaved", date))
		r.expiry.Importance = widget.SuccessImportance
	case days <= 7:
		r.expiry.SetText(r.u.t("ui.redeem.expiresSoon", date, days))
		r.expiry.Importance = widget.WarningImportance
	default:
		r.expiry.SetText(r.u.t("ui.redeem.expires", date, days))
		r.expiry.Importance = widget.MediumImportance
	}
	r.expiry.Show()
	r.expiry.Refresh()
	r.body.Refresh()
}

// expiryTyped records the date typed from the code sheet (only asked when
// the portal did not tell it).
func (r *redeemScreen) expiryTyped() {
	sess := r.session
	s := strings.TrimSpace(r.expiryEntry.Text)
	if sess == nil || r.expiryKnown || s == "" {
		return
	}
	da, ok := app.NormalizeDate(s)
	if !ok {
		return
	}
	d, err := time.ParseInLocation("20060102", da, time.Local)
	if err != nil {
		return
	}
	// The code is valid through the whole day printed on the sheet.
	t := time.Date(d.Year(), d.Month(), d.Day(), 23, 59, 59, 0, time.Local)
	if t.Before(time.Now().Add(-24*time.Hour)) || !sess.Expires.IsZero() && sess.Expires.Equal(t) {
		return
	}
	r.showExpiry(t)
	go func() {
		if err := sess.SetExpiry(t); err != nil {
			r.u.do(func() { r.showProblem(err, nil) })
		}
	}()
}

// save starts the save job for all items or the checked ones.
func (r *redeemScreen) save(all bool) {
	sess := r.session
	if sess == nil {
		return
	}
	ids := r.checkedItems(all)
	if len(ids) == 0 {
		r.showMessage(r.u.t("ui.redeem.nothingChecked"), r.u.t("ui.redeem.nothingChecked.hint"), nil)
		return
	}
	r.startSave(ids, r.target.Text, app.SaveOptions{})
}

// startSave starts the save job for ids: into dir, and into the PACS
// targets of opt (StartSaveWith, as `bildbote-cli redeem --pacs`).
func (r *redeemScreen) startSave(ids []string, dir string, opt app.SaveOptions) {
	sess := r.session
	r.saving = ids
	r.intoPACS = len(opt.PACS) > 0
	r.enableSave(false)
	r.problemBox.Hide()
	r.pacsResult.Hide()
	r.done.Hide()
	r.progress.SetValue(0)
	r.progress.Show()
	go func() {
		var job *app.Job
		var err error
		if len(opt.PACS) > 0 {
			job, err = r.u.core.StartSaveWith(sess, ids, dir, opt)
		} else {
			job, err = r.u.core.StartSave(sess, ids, dir)
		}
		r.u.do(func() {
			if err != nil {
				r.enableSave(true)
				r.progress.Hide()
				r.showProblem(err, nil)
				return
			}
			r.saveJob = job.ID
			r.jobChanged(job)
		})
	}()
}

// jobChanged follows this screen's save job: progress, a wait for the
// network with "try now", then the folder.
func (r *redeemScreen) jobChanged(j *app.Job) {
	if j.ID != r.saveJob || r.saveJob == "" {
		return
	}
	if j.BytesTotal > 0 {
		r.progress.SetValue(float64(j.BytesDone) / float64(j.BytesTotal))
	}
	r.showWaiting(j)
	switch j.State {
	case app.StateDone:
		r.progress.SetValue(1)
		if r.intoPACS {
			r.pacsDone(j)
			return
		}
		r.folderRow.Show()
		r.savedDir = r.target.Text
		if j.Receipt != nil && len(j.Receipt.Saved) > 0 {
			// One study: its folder; several: the folder that holds them.
			r.savedDir = j.Receipt.Saved[0].Dir
			if len(j.Receipt.Saved) > 1 {
				r.savedDir = filepath.Dir(r.savedDir)
			}
		}
		r.savedAll = r.savedAll || len(r.saving) == len(r.itemOrder)
		if r.session != nil {
			r.showExpiry(r.session.Expires)
		}
		r.setStatus(r.u.t("ui.redeem.saved", r.savedDir))
		r.done.Show()
		r.body.Refresh()
		r.content.(*container.Scroll).ScrollToBottom() // the folder buttons
		r.enableSave(true)
	case app.StateFailed, app.StateCanceled:
		r.enableSave(true)
		r.progress.Hide()
		if j.Error != nil {
			hint := j.Error.Hint(r.u.lang)
			if r.intoPACS && j.Error.Key == "app.pacs-failed" {
				hint = r.u.t("ui.redeem.pacsFailed.hint") // not the inbox's "the envelope stays"
			}
			r.showMessage(j.Error.Message(r.u.lang), hint, nil)
		}
		if r.intoPACS && j.Receipt != nil {
			r.showPACSResult(j.Receipt.PACSRefused, true)
			r.body.Refresh()
			r.content.(*container.Scroll).ScrollToBottom() // what each PACS said
		}
	}
}

// pacsDone shows what the PACS said once the import is done, and where
// the copy went when one was kept (with its folder buttons); without a
// copy only "another code" follows.
func (r *redeemScreen) pacsDone(j *app.Job) {
	var insts []app.PACSInstance
	n := 0
	if j.Receipt != nil {
		for _, s := range j.Receipt.Saved {
			insts = append(insts, s.PACS...)
			if !r.docs[s.ItemID] { // a report saved with the copy is no study
				n++
			}
		}
	}
	// With a copy its folder opens as after "Speichern"; without, nothing
	// is in a folder.
	r.savedDir = pacsCopyDir(j)
	// A report left out is not saved anywhere: the code is not done with.
	r.savedAll = r.savedAll || len(r.saving) == len(r.itemOrder) && r.pacsSkipped == 0
	if r.session != nil {
		r.showExpiry(r.session.Expires)
	}
	status := r.u.n("ui.redeem.pacsDone", n, n)
	if id := sentPatientID(insts); id != "" {
		status += " " + r.u.t("ui.redeem.pacsWithPatientID", id)
	}
	if r.pacsSkipped > 0 {
		status += "\n" + r.u.n("ui.redeem.pacsSkipped", r.pacsSkipped, r.pacsSkipped)
	}
	if r.savedDir != "" {
		status += "\n" + r.u.t("ui.redeem.pacsCopy", r.savedDir)
	}
	r.setStatus(status)
	r.showPACSResult(insts, false)
	showIf(r.folderRow, r.savedDir != "")
	r.done.Show()
	r.body.Refresh()
	r.content.(*container.Scroll).ScrollToBottom()
	r.enableSave(true)
}

// anotherCode clears everything for the next code (and the next person).
func (r *redeemScreen) anotherCode() {
	r.reset()
	r.code.SetCode("")
	r.savedDir = ""
	r.content.(*container.Scroll).ScrollToTop() // the title and the intro again
	r.u.win.Canvas().Focus(r.code.Field(0))
}

// openFolder shows the saved studies in the file manager.
func (r *redeemScreen) openFolder() { r.u.openPath(r.savedDir) }

// openViewer opens the saved file-set with the system's DICOM viewer (the
// default handler of DICOMDIR), or the folder when there is none.
func (r *redeemScreen) openViewer() {
	p := filepath.Join(r.savedDir, "DICOMDIR")
	if _, err := os.Stat(p); err != nil {
		p = r.savedDir
	}
	r.u.openPath(p)
}

// copyPath puts the saved folder's path on the clipboard.
func (r *redeemScreen) copyPath() {
	if r.savedDir == "" {
		return
	}
	r.u.app.Clipboard().SetContent(r.savedDir)
	r.setStatus(r.u.t("ui.redeem.pathCopied", r.savedDir))
}

// focusStart puts the focus where a person starts: the portal field
// when it is asked and empty, else the first empty code field.
func (r *redeemScreen) focusStart() {
	c := r.u.win.Canvas()
	if r.busy.Visible() || r.questionsBox.Visible() || r.itemsBox.Visible() {
		return // a round is under way: leave the focus where it is
	}
	if r.portalBox.Visible() && strings.TrimSpace(r.portal.Text) == "" {
		c.Focus(r.portal)
		return
	}
	for i := 0; i < codeGroups; i++ {
		if f := r.code.Field(i); len([]rune(f.Text)) < codeGroupLen || i == codeGroups-1 {
			c.Focus(f)
			return
		}
	}
}

// remind shows an expiry reminder on the screen.
func (r *redeemScreen) remind(text string) {
	if r.reminder.Text != "" && strings.Contains(r.reminder.Text, text) {
		return
	}
	if r.reminder.Text != "" {
		text = r.reminder.Text + "\n" + text
	}
	r.reminder.SetText(text)
	r.reminder.Show()
	r.body.Refresh()
}

// setStatus shows the line under the code fields; an empty line takes no
// room (it left a gap above the messages).
func (r *redeemScreen) setStatus(s string) {
	r.status.SetText(s)
	if s == "" {
		r.status.Hide()
	} else {
		r.status.Show()
	}
}
