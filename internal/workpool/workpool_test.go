package workpool

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

func TestRunsEveryItemOnce(t *testing.T) {
	var mu sync.Mutex
	seen := map[int]int{}
	var workers atomic.Int32
	err := Run(context.Background(), 100, 4, func() func(int) error {
		workers.Add(1)
		return func(i int) error {
			mu.Lock()
			seen[i]++
			mu.Unlock()
			return nil
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if seen[i] != 1 {
			t.Fatalf("item %d ran %d times", i, seen[i])
		}
	}
	if w := workers.Load(); w != 4 {
		t.Errorf("%d workers made, want 4", w)
	}
}

func TestFirstErrorStops(t *testing.T) {
	boom := errors.New("boom")
	var ran atomic.Int32
	err := Run(context.Background(), 1000, 2, func() func(int) error {
		return func(i int) error {
			ran.Add(1)
			if i == 3 {
				return boom
			}
			return nil
		}
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if n := ran.Load(); n >= 1000 {
		t.Errorf("%d items ran after the error, want the feeding to stop", n)
	}
}

func TestCancelStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	err := Run(ctx, 1000, 2, func() func(int) error {
		return func(i int) error {
			if i == 5 {
				cancel()
			}
			return nil
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestNoItems(t *testing.T) {
	if err := Run(context.Background(), 0, 4, func() func(int) error {
		return func(int) error { return errors.New("must not run") }
	}); err != nil {
		t.Fatal(err)
	}
}
