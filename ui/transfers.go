package ui

import (
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/bildbote/bildbote/app"
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
	// ticking: a countdown ticker runs while some row waits for the
	// network ("next try in 19 s, 18 s, …").
	ticking  bool
	tickDone atomic.Bool
}

func newTransfersScreen(u *UI) *transfersScreen {
	s := &transfersScreen{u: u, rows: map[string]*jobRow{}}
	s.empty = widget.NewLabel(u.t("ui.transfers.empty"))
	s.empty.Importance = widget.LowImportance
	s.list = container.NewVBox(s.empty)
	s.content = container.NewPadded(container.NewBorder(heading(u.t("ui.transfers.title")), nil, nil, nil, container.NewVScroll(s.list)))
	return s
}

// show adds or updates the row of j; the newest job is on top.
func (s *transfersScreen) show(j *app.Job) {
	r := s.rows[j.ID]
	if r == nil {
		r = newJobRow(s.u, j.ID)
		s.rows[j.ID] = r
		s.empty.Hide()
		s.list.Objects = append([]fyne.CanvasObject{r.box}, s.list.Objects...)
		s.list.Refresh()
	}
	r.update(j)
	if offline(j) && !s.ticking {
		s.ticking = true
		go s.countdown()
	}
}

// countdown refreshes the "next try in …" lines once a second while any
// row waits for the network.
func (s *transfersScreen) countdown() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for range t.C {
		s.u.do(func() {
			any := false
			for _, r := range s.rows {
				if r.last != nil && offline(r.last) {
					any = true
					r.offline.SetText(offlineText(s.u, r.last))
				}
			}
			if !any {
				s.ticking = false
				s.tickDone.Store(true)
			}
		})
		if s.tickDone.CompareAndSwap(true, false) {
			return
		}
	}
}

// drop removes the row of a forgotten job.
func (s *transfersScreen) drop(id string) {
	r := s.rows[id]
	if r == nil {
		return
	}
	delete(s.rows, id)
	s.list.Remove(r.box)
	if len(s.rows) == 0 {
		s.empty.Show()
	}
}

// jobRow is one job in the list.
type jobRow struct {
	u       *UI
	id      string
	box     *fyne.Container
	title   *widget.Label
	state   *widget.Label
	bar     *widget.ProgressBar
	detail  *widget.Label
	problem *widget.Label
	pause   *widget.Button
	resume  *widget.Button
	retry   *widget.Button // "try now" while waiting for the network
	offline *widget.Label
	name    string // the job's title, for the cancel question
	last    *app.Job
	cancel  *widget.Button
	forget  *widget.Button
}

func newJobRow(u *UI, id string) *jobRow {
	r := &jobRow{u: u, id: id}
	r.title = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	r.state = widget.NewLabel("")
	r.bar = widget.NewProgressBar()
	r.detail = widget.NewLabel("")
	r.detail.Wrapping = fyne.TextWrapWord
	r.problem = widget.NewLabel("")
	r.problem.Wrapping = fyne.TextWrapWord
	r.problem.Importance = widget.DangerImportance
	r.problem.Hide()
	r.pause = widget.NewButtonWithIcon(u.t("ui.transfers.pause"), theme.MediaPauseIcon(), func() { r.act(u.core.Pause) })
	r.resume = widget.NewButtonWithIcon(u.t("ui.transfers.resume"), theme.MediaPlayIcon(), func() { r.act(u.core.Resume) })
	r.retry = widget.NewButtonWithIcon(u.t("ui.transfers.retryNow"), theme.ViewRefreshIcon(), func() { r.act(u.core.RetryNow) })
	r.retry.Importance = widget.HighImportance
	r.retry.Hide()
	r.offline = widget.NewLabel("")
	r.offline.Importance = widget.WarningImportance
	r.offline.Wrapping = fyne.TextWrapWord
	r.offline.Hide()
	r.cancel = widget.NewButtonWithIcon(u.t("ui.cancel"), theme.CancelIcon(), r.askCancel)
	r.forget = widget.NewButtonWithIcon(u.t("ui.transfers.forget"), theme.DeleteIcon(), r.remove)
	buttons := container.NewHBox(r.retry, r.pause, r.resume, r.cancel, r.forget)
	r.title.Truncation = fyne.TextTruncateEllipsis
	head := container.NewBorder(nil, nil, nil, container.NewHBox(r.state, buttons), r.title)
	r.box = container.NewVBox(head, r.bar, r.detail, r.offline, r.problem, widget.NewSeparator())
	return r
}

// askCancel asks before cancelling: what was transferred is discarded.
func (r *jobRow) askCancel() {
	u := r.u
	u.confirm(u.t("ui.transfers.cancelTitle"), u.t("ui.transfers.cancelQuestion", r.name),
		u.t("ui.transfers.cancelYes"), u.t("ui.transfers.cancelNo"), func() { r.act(u.core.Cancel) })
}

// act runs a job command off the UI goroutine; its effect arrives as an
// event.
func (r *jobRow) act(cmd func(string) error) {
	go func() {
		if err := cmd(r.id); err != nil {
			r.u.do(func() { r.u.showError(err) })
		}
	}()
}

func (r *jobRow) update(j *app.Job) {
	u := r.u
	r.last = j
	r.name = j.LocalTitle(u.lang) + u.deidNote(j)
	r.title.SetText(u.t("ui.kind."+string(j.Kind)) + " · " + r.name)
	state := u.t("ui.state." + string(j.State))
	if j.Interrupted && j.State == app.StatePaused {
		state = u.t("ui.state.interrupted")
	}
	r.state.SetText(state)
	if j.BytesTotal > 0 {
		r.bar.SetValue(float64(j.BytesDone) / float64(j.BytesTotal))
	} else if j.State == app.StateDone {
		r.bar.SetValue(1)
	}
	r.detail.SetText(r.describe(j))
	waiting := offline(j)
	if waiting {
		r.offline.SetText(offlineText(u, j))
		r.state.SetText(u.t("ui.state.waiting-for-network"))
	}
	showIf(r.offline, waiting)
	showIf(r.retry, waiting)
	u.proxyLoginForJob(j) // failed on a proxy's 407: ask, then resume
	if j.Error != nil && j.State == app.StateFailed {
		msg := j.Error.Message(u.lang)
		if h := j.Error.Hint(u.lang); h != "" {
			msg += "\n" + h
		}
		r.problem.SetText(msg)
		r.problem.Show()
	} else {
		r.problem.Hide()
	}
	running := j.State == app.StateRunning || j.State == app.StateQueued || j.State == app.StateWaiting
	showIf(r.pause, running)
	showIf(r.resume, j.State == app.StatePaused || j.State == app.StateFailed)
	showIf(r.cancel, !j.State.Final())
	showIf(r.forget, j.State.Final())
	if j.State == app.StateFailed {
		r.resume.SetText(u.t("ui.transfers.retry"))
	} else {
		r.resume.SetText(u.t("ui.transfers.resume"))
	}
}

// remove forgets a finished job and takes its row away.
func (r *jobRow) remove() {
	if err := r.u.core.Forget(r.id); err != nil {
		r.u.showError(err)
		return
	}
	r.u.transfers.drop(r.id)
}

// describe is the line under the bar: bytes, speed and ETA while running,
// the receipt when done.
func (r *jobRow) describe(j *app.Job) string {
	u := r.u
	parts := []string{u.t("ui.transfers.bytes", u.bytes(j.BytesDone), u.bytes(j.BytesTotal))}
	if j.State == app.StateRunning && j.Speed > 0 && !offline(j) {
		parts = append(parts, u.bytes(int64(j.Speed))+"/s")
		if eta := formatDuration(j.ETA); eta != "" {
			parts = append(parts, u.t("ui.transfers.eta", eta))
		}
	}
	if j.Receipt != nil {
		parts = append(parts, r.receipt(j.Receipt)...)
	}
	return strings.Join(parts, " · ")
}

func (r *jobRow) receipt(rc *app.Receipt) []string {
	u := r.u
	var out []string
	if up := rc.Upload; up != nil {
		name := up.CommunityName
		if name == "" {
			name = up.Community
		}
		out = append(out, u.t("ui.transfers.receipt", name, u.formatTime(up.ReceivedAt), up.ID, up.SHA256[:min(16, len(up.SHA256))]))
	}
	if len(rc.Saved) > 0 {
		out = append(out, u.t("ui.transfers.saved", len(rc.Saved), rc.Saved[0].Dir))
	}
	if len(rc.Imported) > 0 {
		files, stored, failed, dups := 0, 0, 0, 0
		var dirs []string // every patient's folder, not only the first
		for _, im := range rc.Imported {
			files += im.Files
			if im.AlreadyImported {
				dups++
			}
			stored += im.Stored
			failed += im.Failed
			if im.Dir != "" && !slices.Contains(dirs, filepath.Dir(im.Dir)) {
				dirs = append(dirs, filepath.Dir(im.Dir))
			}
		}
		out = append(out, u.t("ui.transfers.importedStudies", u.n("ui.send.confirmStudies", len(rc.Imported), len(rc.Imported)), u.n("ui.send.files", files, files)))
		if dups > 0 {
			out = append(out, u.t("ui.transfers.alreadyImported", dups))
		}
		if len(dirs) > 0 {
			out = append(out, u.t("ui.inbox.resultDir", strings.Join(dirs, ", ")))
		}
		if stored > 0 || failed > 0 {
			out = append(out, u.t("ui.inbox.resultPACS", stored, failed))
		}
	}
	return out
}

func showIf(o fyne.CanvasObject, show bool) {
	if show {
		o.Show()
	} else {
		o.Hide()
	}
}

// offline reports whether j waits for the network: between attempts, or
// running while its client waits to try again.
func offline(j *app.Job) bool {
	return j.State == app.StateWaiting || (j.State == app.StateRunning && (!j.RetryAt.IsZero() || j.Phase == "waiting-network"))
}

// offlineText is "Connection lost – next try in 20 s" (no frozen speed).
func offlineText(u *UI, j *app.Job) string {
	if d := time.Until(j.RetryAt).Round(time.Second); d >= time.Second {
		return u.t("ui.transfers.offline", formatDuration(d))
	}
	return u.t("ui.transfers.offlineSoon")
}
