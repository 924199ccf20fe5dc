package tus

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/bildbote/bildbote/internal/wire"
	"github.com/bildbote/bildbote/portal"
	"github.com/bildbote/bildbote/transfer"
	"github.com/bildbote/bildbote/transfer/internal/retry"
)

// TestRetryAfterHonoured: the real portal behind a handler that answers
// the first requests of one method with 429 or 503 and a Retry-After
// (seconds or an HTTP date), then passes. The client waits what the
// server asked — measured between the refusal and the next request —
// capped by the policy's MaxBusyEach, reports the wait as "waiting for
// the server" with Status.Wait, and finishes; a server that never stops
// asking ends within MaxBusy with a GaveUpError (busy).
func TestRetryAfterHonoured(t *testing.T) {
	for _, tc := range []struct {
		name     string
		method   string
		status   int
		value    func() string
		times    int // refusals; -1: always
		policy   retry.Policy
		min, max time.Duration // the measured wait after the first refusal
		report   time.Duration // Status.Wait reported (0: not checked)
		gaveUp   bool
	}{
		{name: "503 Retry-After 2 on PATCH", method: http.MethodPatch, status: 503, value: func() string { return "2" }, times: 1,
			policy: retry.Policy{MaxBusyEach: 10 * time.Second}, min: 2 * time.Second, max: 10 * time.Second, report: 2 * time.Second},
		{name: "429 Retry-After 1 on creation", method: http.MethodPost, status: 429, value: func() string { return "1" }, times: 1,
			policy: retry.Policy{MaxBusyEach: 10 * time.Second}, min: time.Second, max: 10 * time.Second, report: time.Second},
		{name: "503 with an HTTP date on HEAD", method: http.MethodHead, status: 503, times: 1,
			value:  func() string { return time.Now().Add(3 * time.Second).UTC().Format(http.TimeFormat) },
			policy: retry.Policy{MaxBusyEach: 10 * time.Second}, min: 2 * time.Second, max: 10 * time.Second},
		{name: "a huge Retry-After is capped", method: http.MethodPatch, status: 503, value: func() string { return "999999999999" }, times: 1,
			policy: retry.Policy{MaxBusyEach: time.Second}, min: time.Second, max: 3 * time.Second, report: time.Second},
		{name: "the busy budget ends it", method: http.MethodPatch, status: 503, value: func() string { return "100" }, times: -1,
			policy: retry.Policy{MaxBusyEach: time.Second, MaxBusy: 1500 * time.Millisecond}, min: time.Second, max: 3 * time.Second,
			report: time.Second, gaveUp: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := portal.New(portal.Config{DataDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			h := srv.Handler()
			var mu sync.Mutex
			refused := 0
			var refusedAt, nextAt time.Time
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				if refused == 1 && nextAt.IsZero() {
					nextAt = time.Now()
				}
				if r.Method == tc.method && (tc.times < 0 || refused < tc.times) {
					refused++
					if refused == 1 {
						refusedAt = time.Now()
					}
					mu.Unlock()
					w.Header().Set("Retry-After", tc.value())
					w.WriteHeader(tc.status)
					return
				}
				mu.Unlock()
				h.ServeHTTP(w, r)
			}))
			t.Cleanup(func() { ts.Close(); srv.Close() })
			addInbox(t, srv)
			f, data := randomFile(t, 300<<10)
			var reports []transfer.Status
			c := &Client{Retry: tc.policy, ChunkSize: 128 << 10, Progress: transfer.ProgressFunc(func(s transfer.Status) {
				if s.State == transfer.StateWaitingServer {
					mu.Lock()
					reports = append(reports, s)
					mu.Unlock()
				}
			})}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			start := time.Now()
			_, err = c.Upload(ctx, Job{Endpoint: ts.URL + wire.UploadsPath, File: f, Size: int64(len(data)),
				Metadata: map[string]string{"community": "bM1X", "sha256": sha(data)}})
			took := time.Since(start)
			mu.Lock()
			defer mu.Unlock()
			var gu *transfer.GaveUpError
			switch {
			case tc.gaveUp && (!errors.As(err, &gu) || gu.Reason != transfer.ReasonBusy):
				t.Fatalf("want a busy GaveUpError: %v", err)
			case tc.gaveUp && took > tc.policy.MaxBusy+2*time.Second:
				t.Fatalf("gave up after %v, budget %v", took, tc.policy.MaxBusy)
			case !tc.gaveUp && err != nil:
				t.Fatal(err)
			}
			wait := nextAt.Sub(refusedAt)
			if refused == 0 || nextAt.IsZero() || wait < tc.min || wait >= tc.max {
				t.Fatalf("%d refusals, waited %v after the first, want [%v, %v)", refused, wait, tc.min, tc.max)
			}
			if len(reports) == 0 || (tc.report > 0 && reports[0].Wait != tc.report) || reports[0].Err == nil {
				t.Fatalf("reports %+v", reports)
			}
			t.Logf("%d refusals, waited %v (reported %v), took %v: %v", refused, wait.Round(time.Millisecond), reports[0].Wait, took.Round(time.Millisecond), err)
		})
	}
}
