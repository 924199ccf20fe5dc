package dlx

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/testkit/hostile"
	"github.com/bildbote/bildbote/transfer"
	"github.com/bildbote/bildbote/transfer/internal/retry"
)

// TestSmallAnswersAreBounded: the questions, the JWT, api_info and the
// list are small answers, and a portal dripping them (1 byte every 20
// ms, far below MinBytes per window) or ending them short no longer
// holds a redeem until the user gives up: a drip ends within the stall
// window (here 200 ms; 2 min by default, 5 min in all) with a translated
// "gave up", a cut answer is a transient error in words (it showed
// "Unerwarteter Fehler: dlx: read token: unexpected EOF").
func TestSmallAnswersAreBounded(t *testing.T) {
	lim := DownloadLimits{StallWindow: 200 * time.Millisecond, MinBytes: 1 << 10}
	fast := retry.Policy{Initial: time.Millisecond, Max: 5 * time.Millisecond, MaxElapsed: 300 * time.Millisecond}
	var c hostile.Counter
	for _, tc := range []struct {
		name   string
		h      http.Handler
		reason string
	}{
		{"drip", hostile.Drip(&c, 1<<20, 20*time.Millisecond), transfer.ReasonStalled},
		{"short", hostile.Short(&c, 1000, 10), ""},
	} {
		ts := httptest.NewServer(tc.h)
		cl := &Client{Base: ts.URL + "/dlx/v1", Retry: fast, Limits: lim}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		for op, run := range map[string]func() error{
			"questions": func() error { _, err := cl.Questions(ctx, "ABCD-EFGH-JKMN"); return err },
			"tokentfa": func() error {
				_, err := cl.Authorize(ctx, "ABCD-EFGH-JKMN", []Answer{{QuestionID: "dob", Answer: "19580214"}})
				return err
			},
			"api_info": func() error { _, err := cl.APIInfo(ctx); return err },
			"list": func() error {
				_, err := (&Session{c: cl, token: "ABCD-EFGH-JKMN", jwt: "a.b.c"}).List(ctx)
				return err
			},
		} {
			start := time.Now()
			err := run()
			took := time.Since(start)
			if ctx.Err() != nil || took > 5*time.Second {
				t.Fatalf("%s %s: still reading after %v: %v", tc.name, op, took, err)
			}
			var gu *transfer.GaveUpError
			if tc.reason != "" && (!asGaveUp(err, &gu) || gu.Reason != tc.reason) {
				t.Fatalf("%s %s: %v, want a give-up (%s)", tc.name, op, err, tc.reason)
			}
			// A cut answer: transient (a job tries again), in words.
			if v := transfer.Classify(err); tc.reason == "" && (!v.Transient() || v.Reason != transfer.ReasonReset) {
				t.Fatalf("%s %s: classified %v/%s: %v", tc.name, op, v.Class, v.Reason, err)
			}
			msg, hint := i18n.Localize(i18n.DE, err)
			if hint == "" || strings.Contains(msg, "Unerwartet") || strings.Contains(msg, "EOF") {
				t.Fatalf("%s %s: %q — %q", tc.name, op, msg, hint)
			}
			t.Logf("%s %s: %v — %s", tc.name, op, took.Round(time.Millisecond), msg)
		}
		cancel()
		ts.Close()
	}
}

func asGaveUp(err error, gu **transfer.GaveUpError) bool {
	for err != nil {
		if g, ok := err.(*transfer.GaveUpError); ok {
			*gu = g
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

// TestBusyBodyDripIsCut: a 503 whose body never ends (a space every 20
// ms) is read for at most the stall window, and the busy waits end at
// their bound as for any 503.
func TestBusyBodyDripIsCut(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"timeOutInSeconds": `))
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
	defer ts.Close()
	cl := &Client{Base: ts.URL + "/dlx/v1", Limits: DownloadLimits{StallWindow: 200 * time.Millisecond},
		Retry: retry.Policy{Initial: time.Millisecond, MaxBusy: 300 * time.Millisecond, MaxBusyEach: 100 * time.Millisecond}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	_, err := cl.Questions(ctx, "ABCD-EFGH-JKMN")
	took := time.Since(start)
	var gu *transfer.GaveUpError
	if ctx.Err() != nil || !asGaveUp(err, &gu) || gu.Reason != transfer.ReasonBusy || took > 5*time.Second {
		t.Fatalf("after %v: %v", took, err)
	}
	t.Logf("dripping 503 bodies: gave up after %v", took.Round(time.Millisecond))
}

// TestBusyWaitRetryAfter: a 503 without the DLX body waits what its
// Retry-After says, in seconds or as an HTTP date; the body's
// timeOutInSeconds ranks first; nothing usable is the default wait.
func TestBusyWaitRetryAfter(t *testing.T) {
	at := time.Now().Add(40 * time.Second).UTC().Format(http.TimeFormat)
	for _, tc := range []struct {
		header, body string
		min, max     time.Duration
	}{
		{"7", "", 7 * time.Second, 7 * time.Second},
		{at, "", 38 * time.Second, 40 * time.Second},
		{"7", `{"timeOutInSeconds": 3}`, 3 * time.Second, 3 * time.Second},
		{"soon", "", DefaultBusyWait, DefaultBusyWait},
		{"0", "", DefaultBusyWait, DefaultBusyWait},
	} {
		resp := &http.Response{StatusCode: 503, Header: http.Header{"Retry-After": {tc.header}},
			Body: io.NopCloser(strings.NewReader(tc.body))}
		if got := busyWait(resp, time.Second); got < tc.min || got > tc.max {
			t.Errorf("Retry-After %q, body %q: %v, want [%v, %v]", tc.header, tc.body, got, tc.min, tc.max)
		}
	}
}
