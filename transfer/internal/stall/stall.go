// Package stall cuts a request whose bytes move too slowly: a Watch
// cancels a context with a cause when fewer than MinBytes were counted in
// a window (a server reading or sending one byte every few seconds).
package stall

import (
	"context"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bildbote/bildbote/transfer"
)

// Error is the cause a Watch cancels with; transfer.Classify calls it
// Transient "stalled" (worth another try, within the retry bound).
type Error struct{ What string }

func (e *Error) Error() string { return e.What + " stalled" }

// Classification implements transfer.Classifier.
func (e *Error) Classification() transfer.Verdict {
	return transfer.Verdict{Class: transfer.Transient, Reason: transfer.ReasonStalled}
}

// Watch checks a transfer's progress once per window.
type Watch struct {
	moved   atomic.Int64
	mu      sync.Mutex
	timer   *time.Timer
	last    int64
	stopped bool
}

// Start cancels with cause when a window passes with fewer than min
// bytes counted.
func Start(window time.Duration, min int64, cancel context.CancelCauseFunc, cause error) *Watch {
	w := &Watch{}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.timer = time.AfterFunc(window, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.stopped {
			return
		}
		now := w.moved.Load()
		if now-w.last < min {
			cancel(cause)
			return
		}
		w.last = now
		w.timer.Reset(window)
	})
	return w
}

// Add counts n bytes.
func (w *Watch) Add(n int) { w.moved.Add(int64(n)) }

// Stop ends the watch.
func (w *Watch) Stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	w.timer.Stop()
}

// Reader counts what is read from r; at EOF, done is called (nil: none).
func (w *Watch) Reader(r io.Reader, done func()) io.Reader {
	return &reader{r: r, w: w, done: done}
}

type reader struct {
	r    io.Reader
	w    *Watch
	done func()
	once sync.Once
}

func (r *reader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.w.Add(n)
	if err == io.EOF && r.done != nil {
		r.once.Do(r.done)
	}
	return n, err
}
