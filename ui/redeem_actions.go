package ui

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/bildbote/bildbote/app"
)

// start asks the portal about the typed code.
func (r *redeemScreen) start() { r.begin(r.code.Code()) }

// openLink redeems a code link (the QR payload), openImage a photo or scan
// of the code sheet: app reads the code from either.
func (r *redeemScreen) openLink(link string)  { r.begin(link) }
func (r *redeemScreen) openImage(path string) { r.begin(path) }

func (r *redeemScreen) begin(code string) {
	if strings.TrimSpace(code) == "" {
		return
	}
	r.reset()
	r.status.SetText(r.u.t("ui.redeem.asking"))
	r.next.Disable()
	go func() {
		sess, err := r.u.core.RedeemStart(context.Background(), "", code)
		r.u.do(func() {
			r.next.Enable()
			if err != nil {
				r.status.SetText("")
				r.u.showError(err)
				return
			}
			r.showQuestions(sess)
		})
	}()
}

func (r *redeemScreen) reset() {
	r.session = nil
	r.saveJob = ""
	r.questionsBox.Hide()
	r.itemsBox.Hide()
	r.done.Hide()
	r.progress.Hide()
	r.body.Refresh()
}

// showQuestions builds one field per question: a date picker for dates,
// a hidden entry for passwords, a plain entry otherwise.
func (r *redeemScreen) showQuestions(sess *app.RedeemSession) {
	r.session = sess
	r.status.SetText(r.u.t("ui.redeem.code", sess.Masked))
	r.questions.Items = nil
	r.answers = map[string]func() string{}
	for _, q := range sess.Questions {
		label := q.Text
		if t, ok := q.Texts[string(r.u.lang)]; ok && t != "" {
			label = t
		}
		if label == "" {
			label = r.u.t("ui.redeem.question." + q.Type)
		}
		var field fyne.CanvasObject
		switch {
		case q.Format == "DATE":
			d := widget.NewDateEntry()
			d.SetPlaceHolder(r.u.t("ui.redeem.datePlaceholder"))
			d.OnSubmitted = func(string) { r.answer() }
			field = d
			r.answers[q.ID] = func() string {
				if d.Date == nil {
					return d.Text // app normalises what it can
				}
				return d.Date.Format("20060102")
			}
		case q.Type == "PASSWORD":
			e := widget.NewPasswordEntry()
			e.OnSubmitted = func(string) { r.answer() }
			field = e
			r.answers[q.ID] = func() string { return e.Text }
		default:
			e := widget.NewEntry()
			e.OnSubmitted = func(string) { r.answer() }
			field = e
			r.answers[q.ID] = func() string { return e.Text }
		}
		r.questions.Append(label, field)
	}
	r.questions.Refresh()
	r.questionsBox.Show()
	r.body.Refresh()
	if len(r.questions.Items) > 0 {
		if f, ok := r.questions.Items[0].Widget.(fyne.Focusable); ok {
			r.u.win.Canvas().Focus(f)
		}
	}
}

// answer sends the answers and lists the items.
func (r *redeemScreen) answer() {
	sess := r.session
	if sess == nil {
		return
	}
	answers := map[string]string{}
	for id, get := range r.answers {
		answers[id] = strings.TrimSpace(get())
	}
	r.confirm.Disable()
	go func() {
		items, err := sess.Answer(context.Background(), answers)
		r.u.do(func() {
			r.confirm.Enable()
			if err != nil {
				r.u.showError(err)
				return
			}
			r.showItems(sess, items)
		})
	}()
}

func (r *redeemScreen) showItems(sess *app.RedeemSession, items []app.Item) {
	u := r.u
	r.questionsBox.Hide()
	r.prefillExpiry(sess.Expires)
	r.showExpiry(sess.Expires)
	r.items.Objects = nil
	r.itemChecks = map[string]*widget.Check{}
	for _, it := range items {
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

// showExpiry shows the code's expiry prominently when known; the "Valid
// until" field stays visible either way, so the date can be typed from the
// code sheet or corrected. DLX does not carry the expiry (only our own
// portal tells it), and app reminds the user a week before it runs out.
func (r *redeemScreen) showExpiry(t time.Time) {
	r.expiryAsk.Show()
	if t.IsZero() {
		r.expiry.Hide()
		return
	}
	days := int(time.Until(t).Hours() / 24)
	r.expiry.SetText(r.u.t("ui.redeem.expires", app.FormatDate(r.u.lang, t), days))
	r.expiry.Show()
	r.body.Refresh()
}

// prefillExpiry puts the expiry the portal told (or nothing) into the
// "Valid until" field without treating it as a date the user entered:
// that would replace the portal's exact time with the end of the day.
func (r *redeemScreen) prefillExpiry(t time.Time) {
	onChanged := r.expiryDate.OnChanged
	r.expiryDate.OnChanged = nil
	defer func() { r.expiryDate.OnChanged = onChanged }()
	if t.IsZero() {
		r.expiryDate.SetDate(nil)
		return
	}
	day := t.Local()
	r.expiryDate.SetDate(&day)
}

func (r *redeemScreen) expiryChanged(d *time.Time) {
	sess := r.session
	if d == nil || sess == nil {
		return
	}
	// The code is valid through the whole day printed on the sheet.
	t := time.Date(d.Year(), d.Month(), d.Day(), 23, 59, 59, 0, time.Local)
	r.showExpiry(t)
	go func() {
		if err := sess.SetExpiry(t); err != nil {
			r.u.do(func() { r.u.showError(err) })
		}
	}()
}

// save starts the save job for all items or the checked ones.
func (r *redeemScreen) save(all bool) {
	sess := r.session
	if sess == nil {
		return
	}
	var ids []string
	for _, id := range r.itemOrder {
		if all || r.itemChecks[id].Checked {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return
	}
	dir := r.target.Text
	r.saveAll.Disable()
	r.saveSelection.Disable()
	r.progress.SetValue(0)
	r.progress.Show()
	go func() {
		job, err := r.u.core.StartSave(sess, ids, dir)
		r.u.do(func() {
			if err != nil {
				r.saveAll.Enable()
				r.saveSelection.Enable()
				r.progress.Hide()
				r.u.showError(err)
				return
			}
			r.saveJob = job.ID
			r.jobChanged(job)
		})
	}()
}

// jobChanged follows this screen's save job: progress, then the folder.
func (r *redeemScreen) jobChanged(j *app.Job) {
	if j.ID != r.saveJob || r.saveJob == "" {
		return
	}
	if j.BytesTotal > 0 {
		r.progress.SetValue(float64(j.BytesDone) / float64(j.BytesTotal))
	}
	switch j.State {
	case app.StateDone:
		r.progress.SetValue(1)
		r.savedDir = r.target.Text
		if j.Receipt != nil && len(j.Receipt.Saved) > 0 {
			// One study: its folder; several: the folder that holds them.
			r.savedDir = j.Receipt.Saved[0].Dir
			if len(j.Receipt.Saved) > 1 {
				r.savedDir = filepath.Dir(r.savedDir)
			}
		}
		r.status.SetText(r.u.t("ui.redeem.saved", r.savedDir))
		r.done.Show()
		r.body.Refresh()
		r.content.(*container.Scroll).ScrollToBottom() // the folder buttons
		r.saveAll.Enable()
		r.saveSelection.Enable()
	case app.StateFailed, app.StateCanceled:
		r.saveAll.Enable()
		r.saveSelection.Enable()
		if j.Error != nil {
			r.status.SetText(j.Error.Message(r.u.lang) + "\n" + j.Error.Hint(r.u.lang))
		}
	}
}

// openFolder shows the saved studies in the file manager.
func (r *redeemScreen) openFolder() { r.openPath(r.savedDir) }

// openViewer opens the saved file-set with the system's DICOM viewer (the
// default handler of DICOMDIR), or the folder when there is none.
func (r *redeemScreen) openViewer() {
	p := filepath.Join(r.savedDir, "DICOMDIR")
	if _, err := os.Stat(p); err != nil {
		p = r.savedDir
	}
	r.openPath(p)
}

func (r *redeemScreen) openPath(p string) {
	if p == "" {
		return
	}
	u := &url.URL{Scheme: "file", Path: filepath.ToSlash(p)}
	if err := r.u.app.OpenURL(u); err != nil {
		r.u.showError(fmt.Errorf("open %s: %w", p, err))
	}
}
