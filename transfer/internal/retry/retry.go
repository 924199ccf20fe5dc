// Package retry waits between attempts of the transfer clients: exponential
// backoff capped at MaxInterval that never gives up on its own (backoff's
// default stops after 15 minutes; a laptop may be offline for a night),
// reporting "waiting for network" with the last error while it waits.
package retry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"time"

	"github.com/bildbote/bildbote/transfer"
	"github.com/cenkalti/backoff/v4"
)

// Policy configures the waits; zero fields take the defaults.
type Policy struct {
	Initial time.Duration // first wait, default 1 s
	Max     time.Duration // longest wait, default 30 s
}

// Waiter waits between attempts of one transfer.
type Waiter struct {
	b        *backoff.ExponentialBackOff
	progress transfer.Progress
	status   func() transfer.Status
}

// New returns a Waiter reporting to progress; status gives the current
// progress (item, done, total) to repeat in the waiting report.
func New(p Policy, progress transfer.Progress, status func() transfer.Status) *Waiter {
	if p.Initial <= 0 {
		p.Initial = time.Second
	}
	if p.Max <= 0 {
		p.Max = 30 * time.Second
	}
	b := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(p.Initial),
		backoff.WithMaxInterval(p.Max),
		backoff.WithMaxElapsedTime(0), // never stop: only the context ends a transfer
	)
	if status == nil {
		status = func() transfer.Status { return transfer.Status{} }
	}
	return &Waiter{b: b, progress: progress, status: status}
}

// Wait reports err and sleeps for the next backoff interval. It returns
// the context's error when cancelled, nil otherwise.
func (w *Waiter) Wait(ctx context.Context, err error) error {
	return w.WaitFor(ctx, w.b.NextBackOff(), err)
}

// WaitFor is Wait with a given duration.
func (w *Waiter) WaitFor(ctx context.Context, d time.Duration, err error) error {
	return w.wait(ctx, transfer.StateWaitingNetwork, d, err)
}

// Busy waits d because the server asked to come back later, reporting
// StateWaitingServer.
func (w *Waiter) Busy(ctx context.Context, d time.Duration, err error) error {
	return w.wait(ctx, transfer.StateWaitingServer, d, err)
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

// Reset starts the backoff over, after an attempt made progress.
func (w *Waiter) Reset() { w.b.Reset() }

// Permanent reports whether an error of http.Client.Do cannot go away by
// waiting: a cancelled context, or a certificate the system does not trust.
// Everything else (refused, reset, timeouts, DNS) is worth retrying.
func Permanent(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return true
	}
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var host x509.HostnameError
	var verify *tls.CertificateVerificationError
	return errors.As(err, &unknown) || errors.As(err, &invalid) || errors.As(err, &host) || errors.As(err, &verify)
}
