package envelope

import (
	"sync"
)

// asyncWriter hands writes to a goroutine that writes them to w, so the
// stage after it (encryption and the spool file) runs in parallel with the
// stages before it (reading, tar, compression), like a shell pipeline.
// At most depth buffers are in flight: memory stays bounded.
type asyncWriter struct {
	w    interface{ Write([]byte) (int, error) }
	ch   chan []byte
	free chan []byte
	done chan struct{}
	mu   sync.Mutex
	err  error
}

func newAsyncWriter(w interface{ Write([]byte) (int, error) }, depth int) *asyncWriter {
	a := &asyncWriter{w: w, ch: make(chan []byte, depth), free: make(chan []byte, depth), done: make(chan struct{})}
	go a.run()
	return a
}

func (a *asyncWriter) run() {
	defer close(a.done)
	for b := range a.ch {
		if a.failed() == nil {
			if _, err := a.w.Write(b); err != nil {
				a.mu.Lock()
				a.err = err
				a.mu.Unlock()
			}
		}
		select {
		case a.free <- b[:0]:
		default:
		}
	}
}

func (a *asyncWriter) failed() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

// Write copies p and queues it; it reports the first error of an earlier
// write.
func (a *asyncWriter) Write(p []byte) (int, error) {
	if err := a.failed(); err != nil {
		return 0, err
	}
	var b []byte
	select {
	case b = <-a.free:
	default:
	}
	b = append(b, p...)
	a.ch <- b
	return len(p), nil
}

// Close waits until everything queued is written and returns the first
// error.
func (a *asyncWriter) Close() error {
	close(a.ch)
	<-a.done
	return a.failed()
}
