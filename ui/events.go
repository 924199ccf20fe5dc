package ui

import (
	"sync"
	"time"

	"github.com/bildbote/bildbote/app"
)

// longTransfer is how long a job must have run for its end to earn a
// desktop notification: short ones finish while the user watches.
const longTransfer = 30 * time.Second

// Start shows the jobs of earlier sessions, resumes those a previous
// process left unfinished, reminds of redeemed codes about to expire and
// follows the core's event stream until the core closes. Call once, after
// New.
func (u *UI) Start() {
	sub := u.core.Subscribe()
	go u.follow(sub)
	go u.watchVolumes(u.stop)
	go func() {
		jobs, err := u.core.Jobs()
		if err == nil {
			u.do(func() {
				for _, j := range jobs {
					u.transfers.show(j)
				}
			})
		}
		_, _ = u.core.ResumeInterrupted()
		// Reminders arrive as EventNotification on the subscription.
		_, _ = u.core.Notifications(time.Now())
	}()
}

// follow turns core events into screen updates. Progress goes through a
// coalescer per job (at most ~10 updates a second each); state changes go
// straight to the UI goroutine so none is lost.
func (u *UI) follow(sub *app.Subscription) {
	var mu sync.Mutex
	progress := map[string]*coalescer{}
	scan := newCoalescer(u.do)
	seen := map[string]bool{} // notifications already shown
	for ev := range sub.C() {
		switch ev.Type {
		case app.EventJobProgress:
			mu.Lock()
			c := progress[ev.Job.ID]
			if c == nil {
				c = newCoalescer(u.do)
				progress[ev.Job.ID] = c
			}
			mu.Unlock()
			j, seq := ev.Job, ev.Seq
			c.Update(func() { u.jobChanged(seq, j) })
		case app.EventJobAdded, app.EventJobState, app.EventJobFailed, app.EventJobFinished:
			j, typ, seq := ev.Job, ev.Type, ev.Seq
			u.do(func() {
				u.jobChanged(seq, j)
				if typ == app.EventJobFinished || typ == app.EventJobFailed {
					u.jobEnded(j)
				}
			})
		case app.EventScanProgress:
			p := *ev.Scan
			scan.Update(func() { u.send.scanProgress(p) })
		case app.EventNotification:
			if !seen[ev.Note.ID] {
				seen[ev.Note.ID] = true
				u.showNotification(*ev.Note)
			}
		}
	}
}

// jobChanged shows a job snapshot on every screen that follows it. A
// snapshot older than one already shown is dropped: coalesced progress
// may arrive after the state change that followed it.
func (u *UI) jobChanged(seq uint64, j *app.Job) {
	if seq <= u.jobSeq[j.ID] {
		return
	}
	u.jobSeq[j.ID] = seq
	u.transfers.show(j)
	u.redeem.jobChanged(j)
	u.inbox.jobChanged(j)
	u.send.jobChanged(j)
}

// jobEnded tells the desktop when a long transfer ends.
func (u *UI) jobEnded(j *app.Job) {
	if j.Updated.Sub(j.Created) < longTransfer {
		return
	}
	if j.State == app.StateDone {
		u.notify(u.t("ui.note.done"), j.LocalTitle(u.lang))
	} else {
		msg := j.LocalTitle(u.lang)
		if j.Error != nil {
			msg = j.Error.Message(u.lang)
		}
		u.notify(u.t("ui.note.failed"), msg)
	}
}

func (u *UI) showNotification(n app.Notification) {
	u.notify(u.t("ui.title"), n.Text(u.lang))
	u.do(func() { u.redeem.remind(n.Text(u.lang)) }) // also in the window: not every desktop shows notifications
}
