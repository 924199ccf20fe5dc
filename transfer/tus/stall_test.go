package tus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/bildbote/bildbote/internal/testkit/hostile"
	"github.com/bildbote/bildbote/transfer"
	"github.com/bildbote/bildbote/transfer/internal/retry"
)

// A portal that reads PATCH bodies one byte at a time, and never confirms
// progress, ends the upload after StallBudget even when the retry policy
// itself would wait forever.
func TestDripEndsAfterStallBudget(t *testing.T) {
	const size = 1 << 20
	var c hostile.Counter
	slow := hostile.SlowReader(&c, 20*time.Millisecond, 50)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodPost:
			w.Header().Set("Location", "/files/up1")
			w.WriteHeader(http.StatusCreated)
		case http.MethodHead:
			w.Header().Set("Upload-Offset", "0")
			w.Header().Set("Upload-Length", fmt.Sprint(size))
		default:
			slow(w, r)
		}
	}))
	defer srv.Close()
	cl := &Client{StallTimeout: 100 * time.Millisecond, MinBytes: 1 << 10, StallBudget: 400 * time.Millisecond,
		Retry: retry.Policy{Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond, MaxElapsed: -1}}
	start := time.Now()
	_, err := cl.Upload(context.Background(), Job{Endpoint: srv.URL + "/files/", File: bytes.NewReader(make([]byte, size)), Size: size})
	took := time.Since(start)
	var gu *transfer.GaveUpError
	if !errors.As(err, &gu) || gu.Reason != transfer.ReasonStalled {
		t.Fatalf("want gave up (stalled), got %v", err)
	}
	t.Logf("tus drip: gave up after %v (stall budget 400 ms, window 100 ms), %d PATCH attempts", took.Round(time.Millisecond), c.Requests.Load())
	if took > 10*time.Second {
		t.Fatalf("took %v", took)
	}
}
