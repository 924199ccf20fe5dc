package fetch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/testkit/hostile"
	"github.com/bildbote/bildbote/transfer"
	"github.com/bildbote/bildbote/transfer/internal/retry"
)

var fastRetry = retry.Policy{Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond}

func download(t *testing.T, h http.Handler, lim Limits) (string, time.Duration, error) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	dst := filepath.Join(t.TempDir(), "item.zip")
	start := time.Now()
	_, err := ToFile(context.Background(), dst, Options{Item: "item", Retry: fastRetry, Limits: lim,
		Send:    get(srv.URL + "/download/1"),
		Refused: func(resp *http.Response) error { return fmt.Errorf("status %d", resp.StatusCode) }})
	took := time.Since(start)
	for _, p := range []string{dst, dst + ".part"} {
		if _, serr := os.Stat(p); err != nil && !os.IsNotExist(serr) {
			t.Errorf("%s left behind after %v", p, err)
		}
	}
	return dst, took, err
}

func wantProtocol(t *testing.T, err error, what string) {
	t.Helper()
	var pe *transfer.ProtocolError
	if !errors.As(err, &pe) || pe.What != what {
		t.Fatalf("want protocol error %q, got %v", what, err)
	}
	if v := transfer.Classify(err); v.Class != transfer.Permanent {
		t.Fatalf("classified %v", v)
	}
	if ue, ok := i18n.AsUserError(err); !ok || ue.HintKey == "" || ue.Kind != i18n.KindRefused {
		t.Fatalf("user error %v", err)
	}
}

// An endless chunked body ends at MaxBytes, with memory bounded.
func TestEndlessBodyStopsAtCap(t *testing.T) {
	var c hostile.Counter
	runtime.GC()
	before := hostile.RSS()
	_, took, err := download(t, hostile.Endless(&c), Limits{MaxBytes: 64 << 20})
	wantProtocol(t, err, "too-large")
	after := hostile.PeakRSS()
	t.Logf("endless body: refused after %v, server sent %d MiB, peak RSS %d MiB (before %d MiB)", took, c.Bytes.Load()>>20, after>>20, before>>20)
	if c.Requests.Load() != 1 {
		t.Fatalf("%d requests: a too-large body must not be retried", c.Requests.Load())
	}
}

// A Content-Length above the cap is refused before a byte is written.
func TestAnnouncedTooLarge(t *testing.T) {
	var c hostile.Counter
	_, _, err := download(t, hostile.Short(&c, 1<<30, 10), Limits{MaxBytes: 1 << 20})
	wantProtocol(t, err, "too-large")
}

// A server that always ends short of its Content-Length is broken, not
// the network: after MaxShort attempts it is refused.
func TestWrongContentLength(t *testing.T) {
	var c hostile.Counter
	_, took, err := download(t, hostile.Short(&c, 1<<20, 100<<10), Limits{MaxShort: 3})
	wantProtocol(t, err, "short")
	t.Logf("wrong Content-Length: refused after %d attempts, %v", c.Requests.Load(), took)
	if c.Requests.Load() != 3 {
		t.Fatalf("%d attempts, want 3", c.Requests.Load())
	}
}

// A drip of one byte every 20 ms is cut after each StallWindow and the
// download gives up after StallBudget.
func TestDripGivesUp(t *testing.T) {
	var c hostile.Counter
	_, took, err := download(t, hostile.Drip(&c, 1<<20, 20*time.Millisecond),
		Limits{StallWindow: 100 * time.Millisecond, MinBytes: 1 << 10, StallBudget: 300 * time.Millisecond})
	var gu *transfer.GaveUpError
	if !errors.As(err, &gu) || gu.Reason != transfer.ReasonStalled {
		t.Fatalf("want gave up (stalled), got %v", err)
	}
	if ue, ok := i18n.AsUserError(err); !ok || ue.Kind != i18n.KindTransient || ue.Key != "transfer.net.gave_up.stalled" {
		t.Fatalf("user error %v", err)
	}
	t.Logf("drip: gave up after %v (budget 300 ms, window 100 ms), %d attempts, %d bytes", took, c.Requests.Load(), c.Bytes.Load())
	if took > 5*time.Second {
		t.Fatalf("took %v", took)
	}
}

// MaxDuration bounds a download that keeps moving just enough.
func TestOverallBound(t *testing.T) {
	var c hostile.Counter
	_, took, err := download(t, hostile.Drip(&c, 1<<20, time.Millisecond),
		Limits{StallWindow: 50 * time.Millisecond, MinBytes: 1, MaxDuration: 300 * time.Millisecond})
	var gu *transfer.GaveUpError
	if !errors.As(err, &gu) {
		t.Fatalf("want gave up, got %v", err)
	}
	t.Logf("overall bound 300 ms: gave up after %v", took)
}
