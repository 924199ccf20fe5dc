package app

import (
	"context"
	"errors"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/transfer"
)

// The job API the front ends use: list, look at, pause, cancel, retry,
// resume, forget and wait for jobs, and how to read a job's error. The
// scheduler that runs them is runner.go.

// IsTransient reports whether err is worth retrying later by the runner:
// transfer.Classify, the client's one classification, calls it Transient
// (timeouts, resets, refused connections, DNS, 5xx, busy). An untrusted
// certificate, a refused redirect, a 4xx, a protocol violation — and a
// *transfer.GaveUpError, the clients' bounded waits having run out — are
// not: the job fails with a message that says what to do, and stays
// resumable (Resume, "jobs resume").
func IsTransient(err error) bool { return transfer.Classify(err).Transient() }

// IsGaveUp reports whether err is a *transfer.GaveUpError: a client
// stopped waiting for the network or a busy server. Try again later.
func IsGaveUp(err error) bool {
	var gu *transfer.GaveUpError
	return errors.As(err, &gu)
}

// Jobs lists every stored job, oldest first, with live counters.
func (c *Core) Jobs() ([]*Job, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	jobs, err := c.jobs.list()
	for _, j := range jobs {
		c.overlayLocked(j)
	}
	return jobs, err
}

// Job returns one job with live counters.
func (c *Core) Job(id string) (*Job, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	j, err := c.jobs.get(id)
	if err == nil {
		c.overlayLocked(j)
	}
	return j, err
}

// overlayLocked puts a running job's counters, which are persisted only
// every few seconds, into its snapshot. c.mu must be held.
func (c *Core) overlayLocked(j *Job) {
	if r := c.running[j.ID]; r != nil {
		j.BytesDone, j.BytesTotal = r.bytesDone.Load(), r.bytesTotal.Load()
		j.ItemsDone, j.ItemsTotal = int(r.itemsDone.Load()), int(r.itemsTotal.Load())
		j.Phase = r.currentPhase()
	}
}

// Unfinished lists jobs that are not done, failed or cancelled.
func (c *Core) Unfinished() ([]*Job, error) {
	all, err := c.Jobs()
	if err != nil {
		return nil, err
	}
	var out []*Job
	for _, j := range all {
		if !j.State.Final() {
			out = append(out, j)
		}
	}
	return out, nil
}

// Pause stops a running job; Resume continues it later.
func (c *Core) Pause(id string) error { return c.stopRun(id, errPaused) }

// Cancel stops a job for good and removes what it left behind. A paused
// or interrupted job is cancelled too.
func (c *Core) Cancel(id string) error {
	c.mu.Lock()
	r := c.running[id]
	c.mu.Unlock()
	if r != nil {
		r.cancel(errCanceled)
		<-r.done
		return nil
	}
	j, err := c.Job(id)
	if err != nil {
		return err
	}
	if j.State.Final() {
		return nil
	}
	j = c.setState(id, StateCanceled, nil)
	if j == nil {
		return nil // forgotten meanwhile: nothing left to cancel or clean up
	}
	if spec, ok := kinds[j.Kind]; ok && spec.cleanup != nil {
		spec.cleanup(j)
	}
	return nil
}

func (c *Core) stopRun(id string, cause error) error {
	c.mu.Lock()
	r := c.running[id]
	c.mu.Unlock()
	if r == nil {
		if _, err := c.Job(id); err != nil {
			return err
		}
		return nil
	}
	r.cancel(cause)
	<-r.done
	return nil
}

// RetryNow ends a job's wait for the network at once: a job waiting
// between two attempts (StateWaiting) starts its next attempt, a running
// job whose client waits to try again (Job.RetryAt set) starts its
// resumable run over. A paused, interrupted or failed job is resumed.
// Done and cancelled jobs cannot.
func (c *Core) RetryNow(id string) error {
	c.mu.Lock()
	r := c.running[id]
	c.mu.Unlock()
	if r == nil {
		return c.Resume(id)
	}
	r.attemptMu.Lock()
	attempt := r.attempt
	r.attemptMu.Unlock()
	if attempt != nil {
		if !r.currentRetryAt().IsZero() {
			attempt(errRetryNow)
		}
		return nil
	}
	select {
	case r.wake <- struct{}{}:
	default:
	}
	return nil
}

// Resume starts a paused, interrupted or waiting job again. A failed job
// can be resumed too (retry). Done and cancelled jobs cannot.
func (c *Core) Resume(id string) error {
	j, err := c.Job(id)
	if err != nil {
		return err
	}
	if j.State == StateDone || j.State == StateCanceled {
		return i18n.NewError(i18n.KindInput, "app.job-final", id, string(j.State))
	}
	return c.launch(j)
}

// ResumeInterrupted resumes every job a crash, reboot or Close left
// unfinished, and returns their IDs.
func (c *Core) ResumeInterrupted() ([]string, error) {
	jobs, err := c.Unfinished()
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, j := range jobs {
		if j.Interrupted {
			if err := c.launch(j); err != nil {
				return ids, err
			}
			ids = append(ids, j.ID)
		}
	}
	return ids, nil
}

// Forget deletes a finished job from the store.
func (c *Core) Forget(id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, busy := c.running[id]; busy {
		return i18n.NewError(i18n.KindInput, "app.job-busy", id)
	}
	return c.jobs.delete(id)
}

// Wait blocks until the job stops running (done, failed, cancelled or
// paused) or ctx ends, and returns its final snapshot.
func (c *Core) Wait(ctx context.Context, id string) (*Job, error) {
	c.mu.Lock()
	r := c.running[id]
	c.mu.Unlock()
	if r != nil {
		select {
		case <-r.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return c.Job(id)
}
