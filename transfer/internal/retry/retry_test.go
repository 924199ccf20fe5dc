package retry

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/bildbote/bildbote/transfer"
)

func TestWaitReportsAndStopsOnCancel(t *testing.T) {
	var got []transfer.Status
	w := New(Policy{Initial: time.Millisecond, Max: 2 * time.Millisecond}, transfer.ProgressFunc(func(s transfer.Status) { got = append(got, s) }),
		func() transfer.Status { return transfer.Status{Item: "x", Done: 5, Total: 10} })
	cause := errors.New("connection refused")
	for i := 0; i < 5; i++ {
		if err := w.Wait(context.Background(), cause); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range got {
		if s.State != transfer.StateWaitingNetwork || s.Err != cause || s.Item != "x" || s.Done != 5 || s.Wait <= 0 || s.Wait > 3*time.Millisecond {
			t.Fatalf("report %+v", s)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.Busy(ctx, time.Hour, cause); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: %v", err)
	}
	if got[len(got)-1].State != transfer.StateWaitingServer {
		t.Fatalf("busy state %v", got[len(got)-1].State)
	}
}

// The backoff never stops by itself (its default gives up after 15 min).
func TestNeverGivesUp(t *testing.T) {
	w := New(Policy{}, nil, nil)
	if w.b.MaxElapsedTime != 0 {
		t.Fatal("MaxElapsedTime must be 0")
	}
	for i := 0; i < 100; i++ {
		if d := w.b.NextBackOff(); d <= 0 || d > 45*time.Second {
			t.Fatalf("interval %d: %v", i, d)
		}
	}
}

func TestPermanent(t *testing.T) {
	ctx := context.Background()
	if Permanent(ctx, errors.New("connection reset")) {
		t.Error("a reset is worth retrying")
	}
	if !Permanent(ctx, fmt.Errorf("tls: %w", x509.UnknownAuthorityError{})) {
		t.Error("an untrusted certificate is permanent")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if !Permanent(cctx, errors.New("x")) {
		t.Error("a cancelled context is permanent")
	}
}
