package ui

import (
	"sync"
	"time"
)

// updateInterval is the shortest time between two screen updates of one
// coalescer: about ten a second, which reads as live to a person and keeps
// the UI goroutine free.
const updateInterval = 100 * time.Millisecond

// coalescer hands UI updates to the UI goroutine at most every
// updateInterval. Only the latest update survives: a progress bar needs the
// newest value, not every intermediate one.
type coalescer struct {
	do func(func()) // runs a function on the UI goroutine (fyne.Do)

	mu      sync.Mutex
	latest  func()
	pending bool // a flush is scheduled
	last    time.Time
}

func newCoalescer(do func(func())) *coalescer { return &coalescer{do: do} }

// Update schedules f, replacing any update not yet shown. Safe from any
// goroutine.
func (c *coalescer) Update(f func()) {
	c.mu.Lock()
	c.latest = f
	if c.pending {
		c.mu.Unlock()
		return
	}
	c.pending = true
	wait := updateInterval - time.Since(c.last)
	c.mu.Unlock()
	if wait <= 0 {
		c.flush()
		return
	}
	time.AfterFunc(wait, c.flush)
}

func (c *coalescer) flush() {
	c.mu.Lock()
	f := c.latest
	c.latest, c.pending, c.last = nil, false, time.Now()
	c.mu.Unlock()
	if f != nil {
		c.do(f)
	}
}
