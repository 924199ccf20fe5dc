package inbox

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/bildbote/bildbote/transfer"
	"github.com/bildbote/bildbote/transfer/internal/fetch"
	"github.com/bildbote/bildbote/transfer/internal/retry"
)

// A listing that drips one (valid JSON) byte every 20 ms is cut after one stall window
// and, retried by the caller, classified as a transient stall — not read
// for hours.
func TestDrippingListingIsCut(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"items": [`))
		for {
			if _, err := w.Write([]byte(" ")); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}))
	defer srv.Close()
	cl := &Client{Portal: srv.URL, APIKey: "k", Retry: retry.Policy{Initial: time.Millisecond},
		Limits: fetch.Limits{StallWindow: 100 * time.Millisecond, MinBytes: 1 << 10}}
	start := time.Now()
	_, err := cl.List(context.Background(), "bM1X")
	took := time.Since(start)
	var se interface{ Classification() transfer.Verdict }
	if !errors.As(err, &se) || transfer.Classify(err).Reason != transfer.ReasonStalled {
		t.Fatalf("want a stall, got %v", err)
	}
	t.Logf("dripping listing cut after %v (window 100 ms)", took.Round(time.Millisecond))
	if took > 5*time.Second {
		t.Fatalf("took %v", took)
	}
}
