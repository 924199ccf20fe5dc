package app

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/bildbote/bildbote/dicomscan"
)

// scanThrottle is the least time between two scan progress reports.
const scanThrottle = 100 * time.Millisecond

func (c *Core) scan(ctx context.Context, paths []string, progress func(ScanProgress)) (*dicomscan.Index, error) {
	m, err := dicomscan.Open(paths...)
	if err != nil {
		return nil, err
	}
	source := m.Name
	if source == "" {
		source = strings.Join(paths, ", ")
	}
	rep := &scanReporter{core: c, source: source, fn: progress}
	ix, err := dicomscan.Scan(ctx, m, dicomscan.Options{Progress: rep})
	if err != nil {
		m.Close()
		return nil, err
	}
	rep.finish(ix)
	// The index reads its files through the medium (ZIP, ISO): keep it
	// open until the core closes or the index is released.
	abs := make([]string, len(paths))
	for i, p := range paths {
		if abs[i], err = filepath.Abs(p); err != nil {
			abs[i] = p
		}
	}
	c.mu.Lock()
	c.media[ix] = m
	c.sources[ix] = abs
	c.mu.Unlock()
	return ix, nil
}

// Release closes the medium behind an index from Scan (an open ZIP or
// ISO). The index can no longer be sent afterwards. Close releases all.
func (c *Core) Release(ix *dicomscan.Index) {
	c.mu.Lock()
	m := c.media[ix]
	delete(c.media, ix)
	delete(c.sources, ix)
	c.mu.Unlock()
	if m != nil {
		m.Close()
	}
}

// scanReporter turns the scanner's per-file calls into at most ~10
// reports a second, to the caller and as events.
type scanReporter struct {
	core   *Core
	source string
	fn     func(ScanProgress)
	mu     sync.Mutex
	last   time.Time
}

func (r *scanReporter) Update(cnt dicomscan.Counts) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if now.Sub(r.last) < scanThrottle {
		return
	}
	r.last = now
	r.emit(ScanProgress{Source: r.source, Files: cnt.Files, Bytes: cnt.Bytes})
}

func (r *scanReporter) finish(ix *dicomscan.Index) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.emit(ScanProgress{Source: r.source, Files: ix.Files, Total: ix.Files, Bytes: ix.Bytes, Done: true})
}

func (r *scanReporter) emit(p ScanProgress) {
	if r.fn != nil {
		r.fn(p)
	}
	r.core.publish(Event{Type: EventScanProgress, Scan: &p})
}
