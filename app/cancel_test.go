package app

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/bildbote/bildbote/internal/i18n"
)

// kindCancelProbe counts its cleanups; it never runs (its jobs are put
// into the store paused).
const kindCancelProbe JobKind = "test-cancel-probe"

var cancelCleanups atomic.Int32

func init() {
	kinds[kindCancelProbe] = kindSpec{
		run:     func(ctx context.Context, r *jobRun) error { return nil },
		cleanup: func(*Job) { cancelCleanups.Add(1) },
	}
}

// Cancel of a job that is not running marks it cancelled and cleans up
// once; a job forgotten while Cancel is at work (the store then has no
// job to change) is no panic: Cancel used to read j.Kind of the nil job
// setState returns then.
func TestCancelForgottenMeanwhile(t *testing.T) {
	c := openCore(t, Config{})
	put := func() string {
		j := &Job{ID: newJobID(), Kind: kindCancelProbe, State: StatePaused}
		if err := c.jobs.put(j); err != nil {
			t.Fatal(err)
		}
		return j.ID
	}
	cancelCleanups.Store(0)
	id := put()
	if err := c.Cancel(id); err != nil {
		t.Fatal(err)
	}
	if j, err := c.Job(id); err != nil || j.State != StateCanceled || cancelCleanups.Load() != 1 {
		t.Fatalf("cancelled paused job: %+v %v, %d cleanups", j, err, cancelCleanups.Load())
	}

	for i := 0; i < 400; i++ {
		id := put()
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Add(2)
		go func() { defer wg.Done(); <-start; c.Forget(id) }()
		go func() {
			defer wg.Done()
			<-start
			if err := c.Cancel(id); err != nil && !isUnknownJob(err) {
				t.Errorf("cancel: %v", err)
			}
		}()
		close(start)
		wg.Wait()
	}
}

func isUnknownJob(err error) bool {
	ue, ok := i18n.AsUserError(err)
	return ok && ue.Key == "app.job-unknown"
}
