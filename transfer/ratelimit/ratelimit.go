// Package ratelimit limits bandwidth with a token bucket shared by any
// number of readers: one limit for all transfers of a program.
package ratelimit

import (
	"context"
	"io"
	"sync"
	"time"
)

// Bucket hands out bytes at Rate per second, with a burst of a tenth of a
// second's worth (at least 16 KiB), so the rate holds even over short
// spans.
type Bucket struct {
	mu     sync.Mutex
	rate   float64 // bytes per second
	burst  float64
	tokens float64
	last   time.Time
	now    func() time.Time
	sleep  func(context.Context, time.Duration) error
}

// New returns a bucket of bytesPerSecond; nil when bytesPerSecond <= 0
// (no limit: a nil *Bucket passes readers through).
func New(bytesPerSecond int64) *Bucket {
	if bytesPerSecond <= 0 {
		return nil
	}
	return newBucket(bytesPerSecond, time.Now, sleepCtx)
}

func newBucket(bytesPerSecond int64, now func() time.Time, sleep func(context.Context, time.Duration) error) *Bucket {
	rate := float64(bytesPerSecond)
	return &Bucket{rate: rate, burst: max(rate/10, 16<<10), tokens: 0, last: now(), now: now, sleep: sleep}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Take waits until n bytes may pass (n is capped at the burst; callers
// read at most MaxChunk bytes at a time).
func (b *Bucket) Take(ctx context.Context, n int) error {
	if b == nil || n <= 0 {
		return nil
	}
	need := min(float64(n), b.burst)
	for {
		b.mu.Lock()
		now := b.now()
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
		b.last = now
		if b.tokens >= need {
			b.tokens -= need
			b.mu.Unlock()
			return nil
		}
		wait := time.Duration((need - b.tokens) / b.rate * float64(time.Second))
		b.mu.Unlock()
		if err := b.sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// MaxChunk is the most a limited reader or writer passes per call: the burst.
func (b *Bucket) MaxChunk() int {
	if b == nil {
		return 1 << 30
	}
	return int(b.burst)
}

// Reader returns r limited by b (r itself when b is nil).
func (b *Bucket) Reader(ctx context.Context, r io.Reader) io.Reader {
	if b == nil {
		return r
	}
	return &reader{ctx: ctx, b: b, r: r}
}

type reader struct {
	ctx context.Context
	b   *Bucket
	r   io.Reader
}

func (l *reader) Read(p []byte) (int, error) {
	if len(p) > l.b.MaxChunk() {
		p = p[:l.b.MaxChunk()]
	}
	if err := l.b.Take(l.ctx, len(p)); err != nil {
		return 0, err
	}
	return l.r.Read(p)
}

// Writer returns w limited by b (w itself when b is nil).
func (b *Bucket) Writer(ctx context.Context, w io.Writer) io.Writer {
	if b == nil {
		return w
	}
	return &writer{ctx: ctx, b: b, w: w}
}

type writer struct {
	ctx context.Context
	b   *Bucket
	w   io.Writer
}

func (l *writer) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		n := min(len(p), l.b.MaxChunk())
		if err := l.b.Take(l.ctx, n); err != nil {
			return written, err
		}
		m, err := l.w.Write(p[:n])
		written += m
		if err != nil {
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}
