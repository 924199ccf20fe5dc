// Package retry waits between attempts of the transfer clients: exponential
// backoff capped at Policy.Max, reporting "waiting for network" with the
// last error while it waits, and bounded: a streak of failures without a
// success in between ends after Policy.MaxElapsed (or MaxAttempts), and
// the waits a busy server asks for (503) end after Policy.MaxBusy in
// total, each capped at Policy.MaxBusyEach. Then Wait and Busy return a
// *transfer.GaveUpError that says how long it tried and why; the job
// stays resumable (a laptop offline for a night resumes with "jobs
// resume"), it just stops waiting.
//
// Which errors are worth a wait is transfer.Classify's business; Permanent
// is its shorthand for the loops around http.Client.Do.
package retry

import (
	"context"
	"errors"
	"time"

	"github.com/bildbote/bildbote/transfer"
	"github.com/cenkalti/backoff/v4"
)

// Defaults of Policy.
const (
	DefaultMaxElapsed  = 4 * time.Hour
	DefaultMaxBusy     = 4 * time.Hour
	DefaultMaxBusyEach = 15 * time.Minute
)

// Policy configures the waits; zero fields take the defaults.
type Policy struct {
	Initial time.Duration // first wait, default 1 s
	Max     time.Duration // longest wait, default 30 s
	// MaxElapsed ends a streak of failures (no Reset in between) after
	// this long; default DefaultMaxElapsed, negative: never.
	MaxElapsed time.Duration
	// MaxAttempts ends a streak after this many waits; 0: no count limit.
	MaxAttempts int
	// MaxBusy bounds the total of the waits a busy server asks for;
	// default DefaultMaxBusy, negative: never.
	MaxBusy time.Duration
	// MaxBusyEach caps one server-requested wait; default
	// DefaultMaxBusyEach.
	MaxBusyEach time.Duration
}

func (p Policy) withDefaults() Policy {
	if p.Initial <= 0 {
		p.Initial = time.Second
	}
	if p.Max <= 0 {
		p.Max = 30 * time.Second
	}
	if p.MaxElapsed == 0 {
		p.MaxElapsed = DefaultMaxElapsed
	}
	if p.MaxBusy == 0 {
		p.MaxBusy = DefaultMaxBusy
	}
	if p.MaxBusyEach <= 0 {
		p.MaxBusyEach = DefaultMaxBusyEach
	}
	return p
}

// Waiter waits between attempts of one transfer. It is not safe for
// concurrent use.
type Waiter struct {
	p        Policy
	b        *backoff.ExponentialBackOff
	progress transfer.Progress
	status   func() transfer.Status

	since    time.Time // first failure of the current streak; zero: none
	attempts int
	busy     time.Duration // server-requested waits so far
}

// New returns a Waiter reporting to progress; status gives the current
// progress (item, done, total) to repeat in the waiting report.
func New(p Policy, progress transfer.Progress, status func() transfer.Status) *Waiter {
	p = p.withDefaults()
	b := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(p.Initial),
		backoff.WithMaxInterval(p.Max),
		backoff.WithMaxElapsedTime(0), // the Waiter keeps its own bound
	)
	if status == nil {
		status = func() transfer.Status { return transfer.Status{} }
	}
	return &Waiter{p: p, b: b, progress: progress, status: status}
}

// Wait reports err and sleeps for the next backoff interval. It returns
// the context's error when cancelled, a *transfer.GaveUpError when the
// streak is over its bound, nil otherwise.
func (w *Waiter) Wait(ctx context.Context, err error) error {
	return w.WaitFor(ctx, w.b.NextBackOff(), err)
}

// WaitFor is Wait with a given duration.
func (w *Waiter) WaitFor(ctx context.Context, d time.Duration, err error) error {
	now := time.Now()
	if w.since.IsZero() {
		w.since = now
	}
	w.attempts++
	elapsed := now.Sub(w.since)
	if w.p.MaxElapsed > 0 && elapsed+d > w.p.MaxElapsed {
		if elapsed >= w.p.MaxElapsed {
			return w.gaveUp(elapsed, reasonOf(err), err)
		}
		d = w.p.MaxElapsed - elapsed // one last try at the bound
	}
	if w.p.MaxAttempts > 0 && w.attempts > w.p.MaxAttempts {
		return w.gaveUp(elapsed, reasonOf(err), err)
	}
	return w.wait(ctx, transfer.StateWaitingNetwork, d, err)
}

// Busy waits d (capped at MaxBusyEach) because the server asked to come
// back later, reporting StateWaitingServer; once the busy waits reach
// MaxBusy it returns a *transfer.GaveUpError instead.
func (w *Waiter) Busy(ctx context.Context, d time.Duration, err error) error {
	if w.since.IsZero() {
		w.since = time.Now()
	}
	w.attempts++
	d = min(d, w.p.MaxBusyEach)
	if w.p.MaxBusy > 0 {
		if w.busy >= w.p.MaxBusy {
			return w.gaveUp(w.busy, transfer.ReasonBusy, err)
		}
		d = min(d, w.p.MaxBusy-w.busy)
	}
	w.busy += d
	return w.wait(ctx, transfer.StateWaitingServer, d, err)
}

func (w *Waiter) gaveUp(after time.Duration, reason string, err error) error {
	return &transfer.GaveUpError{After: after, Attempts: w.attempts, Reason: reason, Err: err}
}

// reasonOf is the reason a streak ended with: the last error's, when it
// is a transient one.
func reasonOf(err error) string {
	if v := transfer.Classify(err); v.Transient() {
		return v.Reason
	}
	var sc transfer.StatusCoder
	if errors.As(err, &sc) {
		if v := transfer.ClassifyStatus(sc.HTTPStatus()); v.Transient() {
			return v.Reason
		}
	}
	return transfer.ReasonNetwork
}

func (w *Waiter) wait(ctx context.Context, state transfer.State, d time.Duration, err error) error {
	st := w.status()
	st.State = state
	st.Err = err
	st.Wait = d
	transfer.Report(w.progress, st)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Reset starts the backoff and the bounds over, after an attempt made
// progress.
func (w *Waiter) Reset() {
	w.b.Reset()
	w.since, w.attempts, w.busy = time.Time{}, 0, 0
}

// Permanent reports whether an error of http.Client.Do cannot go away by
// waiting: a cancelled context, or what transfer.Classify calls Permanent
// (an untrusted certificate, a refused redirect, ...).
func Permanent(ctx context.Context, err error) bool {
	return ctx.Err() != nil || transfer.Classify(err).Permanent()
}
