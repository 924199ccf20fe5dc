package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
)

// The runner is tested with its own job kind: a counter that moves bytes
// and remembers its offset in Params, like a resumable upload.
const kindTest JobKind = "test"

type testParams struct {
	Total  int64 `json:"total"`
	Offset int64 `json:"offset"`
	// Block makes run wait for its context after reaching BlockAt.
	BlockAt int64 `json:"blockAt"`
	// FailKind: 0 none, else fail once with that i18n.Kind.
	FailKind int `json:"failKind"`
}

var testCleanups atomic.Int32

func init() {
	kinds[kindTest] = kindSpec{
		run: func(ctx context.Context, r *jobRun) error {
			var p testParams
			if err := r.Params(&p); err != nil {
				return err
			}
			r.SetTotal(p.Total)
			r.SetDone(p.Offset)
			if p.FailKind != 0 {
				k := i18n.Kind(p.FailKind)
				p.FailKind = 0
				if err := r.SaveParams(p); err != nil {
					return err
				}
				return i18n.NewError(k, "app.job-final", "x", 42).WithHint("app.job-unknown.hint")
			}
			for p.Offset < p.Total {
				if p.BlockAt > 0 && p.Offset >= p.BlockAt {
					p.BlockAt = 0
					if err := r.SaveParams(p); err != nil {
						return err
					}
					<-ctx.Done()
					return ctx.Err()
				}
				p.Offset++
				r.Add(1)
				if p.Offset%1000 == 0 {
					if err := r.SaveParams(p); err != nil {
						return err
					}
				}
			}
			r.SetReceipt(&Receipt{Upload: &UploadReceipt{ID: "u1", Size: p.Total}})
			return nil
		},
		cleanup: func(*Job) { testCleanups.Add(1) },
	}
}

func collect(sub *Subscription, until func(Event) bool, timeout time.Duration) ([]Event, error) {
	var evs []Event
	deadline := time.After(timeout)
	for {
		select {
		case ev, ok := <-sub.C():
			if !ok {
				return evs, errors.New("subscription closed")
			}
			evs = append(evs, ev)
			if until(ev) {
				return evs, nil
			}
		case <-deadline:
			return evs, fmt.Errorf("timeout after %d events", len(evs))
		}
	}
}

func TestJobRunsToDoneWithThrottledProgress(t *testing.T) {
	c := openCore(t, Config{})
	sub := c.Subscribe()
	defer sub.Close()
	start := time.Now()
	j, err := c.addJob(kindTest, "t", testParams{Total: 300_000})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := collect(sub, func(ev Event) bool { return ev.Type == EventJobFinished }, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	var progress int
	var types []EventType
	var lastSeq uint64
	for _, ev := range evs {
		if ev.Seq <= lastSeq {
			t.Errorf("events out of order: %d after %d", ev.Seq, lastSeq)
		}
		lastSeq = ev.Seq
		if ev.Type == EventJobProgress {
			progress++
		} else {
			types = append(types, ev.Type)
		}
	}
	if types[0] != EventJobAdded {
		t.Errorf("first event %s", types[0])
	}
	// One ticker at 10 Hz, plus the final flush.
	if max := int(elapsed/(100*time.Millisecond)) + 2; progress > max {
		t.Errorf("%d progress events in %v (max %d)", progress, elapsed, max)
	}
	done, err := c.Wait(context.Background(), j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if done.State != StateDone || done.BytesDone != 300_000 || done.Receipt == nil || done.Receipt.Upload.ID != "u1" {
		t.Errorf("final job %+v", done)
	}
}

func TestJobPauseResumeCancel(t *testing.T) {
	c := openCore(t, Config{})
	j, err := c.addJob(kindTest, "t", testParams{Total: 5000, BlockAt: 2500})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, c, j.ID, func(j *Job) bool { return j.State == StateRunning })
	if err := c.Pause(j.ID); err != nil {
		t.Fatal(err)
	}
	got, _ := c.Job(j.ID)
	if got.State != StatePaused || got.Interrupted {
		t.Fatalf("after Pause: %s interrupted=%v", got.State, got.Interrupted)
	}
	var p testParams
	if err := jsonUnmarshal(got.params, &p); err != nil || p.Offset != 2500 {
		t.Fatalf("params after pause: %+v %v", p, err)
	}
	if err := c.Resume(j.ID); err != nil {
		t.Fatal(err)
	}
	got, _ = c.Wait(context.Background(), j.ID)
	if got.State != StateDone || got.BytesDone != 5000 {
		t.Fatalf("after Resume: %+v", got)
	}
	if err := c.Resume(j.ID); err == nil {
		t.Error("resuming a done job must fail")
	}

	before := testCleanups.Load()
	j2, _ := c.addJob(kindTest, "t2", testParams{Total: 5000, BlockAt: 10})
	waitFor(t, c, j2.ID, func(j *Job) bool { return j.State == StateRunning })
	if err := c.Cancel(j2.ID); err != nil {
		t.Fatal(err)
	}
	got, _ = c.Job(j2.ID)
	if got.State != StateCanceled || testCleanups.Load() != before+1 {
		t.Errorf("after Cancel: %s, cleanups %d", got.State, testCleanups.Load()-before)
	}
	if _, err := c.Job("nope"); err == nil {
		t.Error("unknown job found")
	}
}

func TestJobSurvivesRestart(t *testing.T) {
	state := t.TempDir()
	policy := writePolicy(t, "")
	c, err := Open(Config{StateDir: state, PolicyPath: policy})
	if err != nil {
		t.Fatal(err)
	}
	j, _ := c.addJob(kindTest, "t", testParams{Total: 4000, BlockAt: 3100})
	waitFor(t, c, j.ID, func(j *Job) bool { return j.BytesDone >= 3100 })
	// A crash leaves the job "running" in the store: simulate by writing
	// that state, then close without the runner's say.
	c.Close()
	got := reopenJob(t, state, policy, j.ID, func(j *Job) { j.State = StateRunning; j.Interrupted = false })
	if got.State != StatePaused || !got.Interrupted {
		t.Fatalf("after restart: %s interrupted=%v", got.State, got.Interrupted)
	}
	c2, err := Open(Config{StateDir: state, PolicyPath: policy})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	un, _ := c2.Unfinished()
	if len(un) != 1 || un[0].ID != j.ID {
		t.Fatalf("unfinished = %v", un)
	}
	ids, err := c2.ResumeInterrupted()
	if err != nil || len(ids) != 1 {
		t.Fatalf("ResumeInterrupted = %v, %v", ids, err)
	}
	got, _ = c2.Wait(context.Background(), j.ID)
	// The run resumed from the persisted offset 3100, not from 0.
	if got.State != StateDone || got.BytesDone != 4000 {
		t.Fatalf("resumed job: %+v", got)
	}
}

func TestJobErrors(t *testing.T) {
	state := t.TempDir()
	policy := writePolicy(t, "")
	c, err := Open(Config{StateDir: state, PolicyPath: policy})
	if err != nil {
		t.Fatal(err)
	}
	sub := c.Subscribe()
	// A transient error waits, then retries and finishes.
	if _, err := c.addJob(kindTest, "t", testParams{Total: 10, FailKind: int(i18n.KindTransient)}); err != nil {
		t.Fatal(err)
	}
	evs, err := collect(sub, func(ev Event) bool { return ev.Type == EventJobFinished }, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	sawWaiting := false
	for _, ev := range evs {
		if ev.Type == EventJobState && ev.Job.State == StateWaiting {
			sawWaiting = ev.Job.Error != nil && ev.Job.Error.Key == "app.job-final"
		}
	}
	if !sawWaiting {
		t.Error("no waiting-for-network state with its error")
	}
	sub.Close()
	// A refusal fails at once, and the error keeps key, args and hint
	// across a restart.
	j, _ := c.addJob(kindTest, "t", testParams{Total: 10, FailKind: int(i18n.KindRefused)})
	got, _ := c.Wait(context.Background(), j.ID)
	if got.State != StateFailed {
		t.Fatalf("state %s", got.State)
	}
	c.Close()
	got = reopenJob(t, state, policy, j.ID, nil)
	e := got.Error
	if e == nil || e.Kind != i18n.KindRefused || e.HintKey != "app.job-unknown.hint" {
		t.Fatalf("stored error %+v", e)
	}
	if msg := e.Message(i18n.EN); msg != "The transfer x has already ended (%!s(int64=42))." {
		// %s of an int shows the argument survived as a number.
		t.Errorf("message %q", msg)
	}
	if ue := e.UserError(); ue.Kind != i18n.KindRefused {
		t.Error("UserError lost the kind")
	}
}

func TestNotificationsForExpiringCodes(t *testing.T) {
	c := openCore(t, Config{})
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	c.putCode(&RedeemedCode{ID: "a", Masked: "XXXX-XXXX-1234", RedeemedAt: now, Expires: now.Add(3 * 24 * time.Hour)})
	c.putCode(&RedeemedCode{ID: "b", Masked: "XXXX-XXXX-5678", RedeemedAt: now, Expires: now.Add(30 * 24 * time.Hour)})
	c.putCode(&RedeemedCode{ID: "c", Masked: "XXXX-XXXX-9999", RedeemedAt: now})
	sub := c.Subscribe()
	defer sub.Close()
	notes, err := c.Notifications(now)
	if err != nil || len(notes) != 1 || notes[0].ID != "code-expiring-a" {
		t.Fatalf("notes = %+v, %v", notes, err)
	}
	ev := <-sub.C()
	if ev.Type != EventNotification || ev.Note.Args[2] != int64(3) {
		t.Errorf("event %+v", ev)
	}
	// Dates in the reader's format: ISO in English, 26.11.2026 in German.
	if msg := ev.Note.Text(i18n.EN); msg != "The access code XXXX-XXXX-1234 expires on 2026-11-26 (in 3 days). Save the studies before then." {
		t.Errorf("message %q", msg)
	}
	if msg := ev.Note.Text(i18n.DE); msg != "Der Zugangscode XXXX-XXXX-1234 läuft am 26.11.2026 ab (in 3 Tagen). Speichern Sie die Studien vorher." {
		t.Errorf("German message %q", msg)
	}
}

func waitFor(t *testing.T, c *Core, id string, cond func(*Job) bool) {
	t.Helper()
	sub := c.Subscribe()
	defer sub.Close()
	if j, _ := c.Job(id); j != nil && cond(j) {
		return
	}
	_, err := collect(sub, func(ev Event) bool { return ev.Job != nil && ev.Job.ID == id && cond(ev.Job) }, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
}

func reopenJob(t *testing.T, state, policy, id string, tamper func(*Job)) *Job {
	t.Helper()
	if tamper != nil {
		c, err := Open(Config{StateDir: state, PolicyPath: policy})
		if err != nil {
			t.Fatal(err)
		}
		j, _ := c.Job(id)
		tamper(j)
		c.jobs.put(j)
		c.Close()
	}
	c, err := Open(Config{StateDir: state, PolicyPath: policy})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	j, err := c.Job(id)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// TestJobErrorKeepsSizes: a size in a job's error (i18n.Bytes) reads in
// the reader's language, also after the job store read it back.
func TestJobErrorKeepsSizes(t *testing.T) {
	je := jobErrorFrom(i18n.NewError(i18n.KindRefused, "transfer.tus.too_large_limit", i18n.Bytes(1_500_000), i18n.Bytes(1_000_000)))
	data, err := json.Marshal(je)
	if err != nil {
		t.Fatal(err)
	}
	var back JobError
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	for _, e := range []*JobError{je, &back} {
		if got := e.Message(i18n.DE); got != "Die Sendung (1,5 MB) ist größer als die 1,0 MB, die dieses Postfach annimmt." {
			t.Errorf("DE: %q (stored as %s)", got, data)
		}
		if got := e.UserError().Message(i18n.EN); got != "The shipment (1.5 MB) is larger than the 1.0 MB this inbox accepts." {
			t.Errorf("EN: %q", got)
		}
	}
}
