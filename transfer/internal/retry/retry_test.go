package retry

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
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

// A negative MaxElapsed never stops; the default stops a streak after
// DefaultMaxElapsed, with a GaveUpError that says why.
func TestBounds(t *testing.T) {
	w := New(Policy{MaxElapsed: -1}, nil, nil)
	if w.b.MaxElapsedTime != 0 {
		t.Fatal("backoff's own MaxElapsedTime must be 0")
	}
	for i := 0; i < 100; i++ {
		if d := w.b.NextBackOff(); d <= 0 || d > 45*time.Second {
			t.Fatalf("interval %d: %v", i, d)
		}
	}
	if New(Policy{}, nil, nil).p.MaxElapsed != DefaultMaxElapsed {
		t.Fatal("default bound")
	}
	ctx := context.Background()
	refused := &url.Error{Op: "Get", URL: "http://x", Err: syscall.ECONNREFUSED}
	w = New(Policy{Initial: time.Millisecond, Max: time.Millisecond, MaxElapsed: 30 * time.Millisecond}, nil, nil)
	start := time.Now()
	var err error
	for err == nil {
		err = w.Wait(ctx, refused)
	}
	var gu *transfer.GaveUpError
	if !errors.As(err, &gu) || gu.Reason != transfer.ReasonConnRef || gu.Err != refused || gu.After < 30*time.Millisecond {
		t.Fatalf("gave up with %#v", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("took %v", took)
	}
	if ue, ok := i18n.AsUserError(err); !ok || ue.Kind != i18n.KindTransient || ue.HintKey == "" {
		t.Fatalf("user error %v", err)
	}
	w.Reset()
	if err := w.Wait(ctx, refused); err != nil {
		t.Fatalf("after Reset: %v", err)
	}
	w = New(Policy{MaxAttempts: 2, Initial: time.Millisecond}, nil, nil)
	for i := 0; i < 2; i++ {
		if err := w.Wait(ctx, refused); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Wait(ctx, refused); !errors.As(err, &gu) || gu.Attempts != 3 {
		t.Fatalf("third attempt: %v", err)
	}
}

// A server asking for 2e9 s gets at most MaxBusyEach per wait and MaxBusy
// in total.
func TestBusyBound(t *testing.T) {
	var waits []time.Duration
	w := New(Policy{MaxBusy: 50 * time.Millisecond, MaxBusyEach: 20 * time.Millisecond},
		transfer.ProgressFunc(func(s transfer.Status) { waits = append(waits, s.Wait) }), nil)
	var err error
	for err == nil {
		err = w.Busy(context.Background(), 2000000000*time.Second, errors.New("busy"))
	}
	var gu *transfer.GaveUpError
	if !errors.As(err, &gu) || gu.Reason != transfer.ReasonBusy || gu.After != 50*time.Millisecond {
		t.Fatalf("gave up with %#v", err)
	}
	want := []time.Duration{20 * time.Millisecond, 20 * time.Millisecond, 10 * time.Millisecond}
	if fmt.Sprint(waits) != fmt.Sprint(want) {
		t.Fatalf("waits %v, want %v", waits, want)
	}
}

func TestPermanent(t *testing.T) {
	ctx := context.Background()
	if Permanent(ctx, &url.Error{Op: "Get", URL: "http://x", Err: syscall.ECONNRESET}) {
		t.Error("a reset is worth retrying")
	}
	if !Permanent(ctx, &url.Error{Op: "Get", URL: "https://x", Err: fmt.Errorf("tls: %w", x509.UnknownAuthorityError{})}) {
		t.Error("an untrusted certificate is permanent, also inside a *url.Error")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if !Permanent(cctx, errors.New("x")) {
		t.Error("a cancelled context is permanent")
	}
}
