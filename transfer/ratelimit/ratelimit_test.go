package ratelimit

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"
)

// fakeClock advances only when the bucket sleeps, so the test measures
// the bucket's arithmetic, not the machine's speed.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }
func (c *fakeClock) sleep(_ context.Context, d time.Duration) error {
	c.t = c.t.Add(d)
	return nil
}

func TestBucketRate(t *testing.T) {
	clk := &fakeClock{t: time.Unix(0, 0)}
	b := newBucket(100<<10, clk.now, clk.sleep) // 100 KiB/s
	data := bytes.Repeat([]byte("x"), 1<<20)
	n, err := io.Copy(io.Discard, b.Reader(context.Background(), bytes.NewReader(data)))
	if err != nil || n != 1<<20 {
		t.Fatal(n, err)
	}
	took := clk.t.Sub(time.Unix(0, 0))
	// 1 MiB at 100 KiB/s is 10.24 s; the bucket starts empty.
	if took < 10*time.Second || took > 10500*time.Millisecond {
		t.Fatalf("1 MiB at 100 KiB/s took %v of fake time", took)
	}
	var out bytes.Buffer
	clk.t = clk.t.Add(time.Hour) // idle time only refills the burst
	start := clk.t
	if _, err := b.Writer(context.Background(), &out).Write(data[:200<<10]); err != nil || out.Len() != 200<<10 {
		t.Fatal(err)
	}
	if took := clk.t.Sub(start); took < 1800*time.Millisecond || took > 2100*time.Millisecond {
		t.Fatalf("200 KiB after idling took %v", took)
	}
}

func TestNilBucketPassesThrough(t *testing.T) {
	var b *Bucket = New(0)
	r := bytes.NewReader([]byte("abc"))
	if b.Reader(context.Background(), r) != io.Reader(r) {
		t.Fatal("nil bucket wrapped the reader")
	}
}

func TestCancelled(t *testing.T) {
	b := New(1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.Reader(ctx, bytes.NewReader(make([]byte, 100<<10))).Read(make([]byte, 100<<10)); err != context.Canceled {
		t.Fatalf("cancelled read: %v", err)
	}
}
