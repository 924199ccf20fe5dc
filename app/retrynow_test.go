package app

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
)

// kindFlaky fails its first attempt with a transient error (the runner
// then waits between attempts), and on its second attempt waits "inside
// the client" (SetWait) until its context ends; the third attempt works.
const kindFlaky JobKind = "test-flaky"

var flakyAttempts atomic.Int32

func init() {
	kinds[kindFlaky] = kindSpec{run: func(ctx context.Context, r *jobRun) error {
		r.SetTotal(10)
		switch flakyAttempts.Add(1) {
		case 1:
			return i18n.NewError(i18n.KindTransient, "app.job-final", "x", 1)
		case 2:
			r.SetPhase("waiting-network")
			r.SetWait(time.Hour)
			<-ctx.Done()
			return ctx.Err()
		}
		r.SetDone(10)
		return nil
	}}
}

// RetryNow ends both kinds of wait at once: the runner's wait between
// attempts (StateWaiting with RetryAt), and a client's own wait inside a
// running attempt (Phase waiting-network with RetryAt).
func TestRetryNow(t *testing.T) {
	flakyAttempts.Store(0)
	c := openCore(t, Config{RetryInitial: time.Hour})
	j, err := c.addJob(kindFlaky, "t", struct{}{})
	if err != nil {
		t.Fatal(err)
	}
	var waiting *Job
	waitFor(t, c, j.ID, func(j *Job) bool { waiting = j; return j.State == StateWaiting })
	if d := time.Until(waiting.RetryAt); d < 50*time.Second || d > time.Minute {
		t.Errorf("waiting job's RetryAt is %v from now, want about 1 min (the cap)", d)
	}
	if err := c.RetryNow(j.ID); err != nil {
		t.Fatal(err)
	}
	var inner *Job
	waitFor(t, c, j.ID, func(j *Job) bool {
		inner = j
		return j.State == StateRunning && !j.RetryAt.IsZero()
	})
	if inner.Phase != "waiting-network" || inner.Speed != 0 || inner.ETA != 0 {
		t.Errorf("a client waiting for the network shows phase %q, speed %v, ETA %v", inner.Phase, inner.Speed, inner.ETA)
	}
	if err := c.RetryNow(j.ID); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	waitFor(t, c, j.ID, func(j *Job) bool { return j.State.Final() })
	done, err := c.Wait(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if done.State != StateDone || !done.RetryAt.IsZero() || flakyAttempts.Load() != 3 {
		t.Errorf("after two retries now: state %s, RetryAt %v, %d attempts", done.State, done.RetryAt, flakyAttempts.Load())
	}
	// A finished job cannot be retried.
	if err := c.RetryNow(j.ID); err == nil {
		t.Error("RetryNow of a done job: no error")
	}
}
