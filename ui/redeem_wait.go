package ui

import (
	"math"
	"strings"
	"time"

	"github.com/bildbote/bildbote/app"
)

// showWaiting shows a save job that waits for the network: "connection
// lost – next try in 20 s" with "try now", counting down once a second;
// frozen speed and ETA are not shown.
func (r *redeemScreen) showWaiting(j *app.Job) {
	waiting := !j.State.Final() && !j.RetryAt.IsZero() &&
		(j.State == app.StateWaiting || strings.HasPrefix(j.Phase, "waiting"))
	if !waiting {
		r.stopWaitTicker()
		r.waiting.Hide()
		return
	}
	at := j.RetryAt
	r.waitWhy = ""
	if r.intoPACS && j.Error != nil {
		// Not the portal's line but the PACS: say why (nobody listens…).
		r.waitWhy = j.Error.Message(r.u.lang)
	}
	r.waitText.SetText(r.waitMessage(at))
	r.waiting.Show()
	r.retryNow.Enable()
	r.body.Refresh()
	r.stopWaitTicker()
	stop := make(chan struct{})
	r.waitStop = stop
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				r.u.do(func() {
					if r.waitStop == stop {
						r.waitText.SetText(r.waitMessage(at))
					}
				})
			}
		}
	}()
}

func (r *redeemScreen) waitMessage(at time.Time) string {
	secs := int(math.Ceil(time.Until(at).Seconds()))
	switch {
	case secs <= 0:
		return r.u.t("ui.redeem.waitingNow")
	case r.waitWhy != "":
		return r.u.t("ui.redeem.pacsWaiting", r.waitWhy, formatDuration(time.Duration(secs)*time.Second))
	}
	return r.u.t("ui.redeem.waiting", formatDuration(time.Duration(secs)*time.Second))
}

func (r *redeemScreen) stopWaitTicker() {
	if r.waitStop != nil {
		close(r.waitStop)
		r.waitStop = nil
	}
}

// tryNow ends the wait of this screen's save job.
func (r *redeemScreen) tryNow() {
	id := r.saveJob
	if id == "" {
		return
	}
	r.retryNow.Disable()
	r.waitText.SetText(r.u.t("ui.redeem.waitingNow"))
	go func() {
		if err := r.u.core.RetryNow(id); err != nil {
			r.u.do(func() { r.retryNow.Enable(); r.showProblem(err, nil) })
		}
	}()
}
