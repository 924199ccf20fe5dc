package ui

import (
	"sync"
	"testing"
)

// A burst of updates ends with the last one applied, and far fewer than
// the burst reach the UI goroutine.
func TestCoalescerKeepsLatest(t *testing.T) {
	var mu sync.Mutex
	var runs, last int
	done := make(chan struct{}, 100)
	c := newCoalescer(func(f func()) { f(); done <- struct{}{} })
	for i := 1; i <= 1000; i++ {
		c.Update(func() { mu.Lock(); runs++; last = i; mu.Unlock() })
	}
	for {
		<-done
		mu.Lock()
		l, r := last, runs
		mu.Unlock()
		if l == 1000 {
			if r > 10 {
				t.Errorf("%d updates reached the UI for one burst", r)
			}
			return
		}
	}
}
