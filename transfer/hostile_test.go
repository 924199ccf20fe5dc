package transfer_test

// The client's one error classification, held against hostile and broken
// servers on real loopback HTTP: every class of trouble on each of the
// four clients (tus, inbox, DLX, STOW-RS), each ending in bounded time
// with an error that is classified and says what to do.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/testkit/hostile"
	"github.com/bildbote/bildbote/transfer"
	"github.com/bildbote/bildbote/transfer/dlx"
	"github.com/bildbote/bildbote/transfer/httpclient"
	"github.com/bildbote/bildbote/transfer/inbox"
	"github.com/bildbote/bildbote/transfer/internal/retry"
	"github.com/bildbote/bildbote/transfer/stow"
	"github.com/bildbote/bildbote/transfer/tus"
)

// The limits configured for the test (the defaults are in the report of
// TestHostileServers and the packages' docs).
var (
	// Windows of 250 ms keep a loaded machine (-race, 2 cores shared)
	// from looking like a stalled server; the drip sends 50 B/s, far
	// below 1 KiB per window.
	testRetry = retry.Policy{Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond,
		MaxElapsed: 750 * time.Millisecond, MaxBusy: 300 * time.Millisecond, MaxBusyEach: 100 * time.Millisecond}
	testLimits = dlx.DownloadLimits{MaxBytes: 8 << 20, StallWindow: 250 * time.Millisecond, MinBytes: 1 << 10,
		StallBudget: 750 * time.Millisecond, MaxShort: 3}
	stallWindow = 250 * time.Millisecond
)

const itemSize = 1 << 20

// phase says where a client meets the hostile handler: its first request
// (creation, the answers, an acknowledgement, the STOW POST) or the
// transfer of bytes (a PATCH, a download, the STOW answer).
type phase int

const (
	request phase = iota
	body
)

// target is one client: a good server with the hostile handler at the
// operation under test, and the operation.
type target struct {
	name  string
	serve func(h http.Handler, at phase) http.Handler
	run   func(ctx context.Context, t *testing.T, base string, hc *http.Client, at phase) error
}

var targets = []target{
	{
		name: "tus",
		serve: func(h http.Handler, at phase) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case r.Method == http.MethodPost && at == request:
					h.ServeHTTP(w, r)
				case r.Method == http.MethodPost:
					w.Header().Set("Location", "/files/up1")
					w.WriteHeader(http.StatusCreated)
				case r.Method == http.MethodHead:
					w.Header().Set("Upload-Offset", "0")
					w.Header().Set("Upload-Length", fmt.Sprint(itemSize))
				case r.Method == http.MethodPatch && at == body:
					h.ServeHTTP(w, r)
				default:
					w.Header().Set("Upload-Offset", fmt.Sprint(itemSize))
					w.WriteHeader(http.StatusNoContent)
				}
			})
		},
		run: func(ctx context.Context, t *testing.T, base string, hc *http.Client, at phase) error {
			c := &tus.Client{HTTP: hc, Retry: testRetry, StallTimeout: stallWindow, MinBytes: 1 << 10}
			data := make([]byte, itemSize)
			_, err := c.Upload(ctx, tus.Job{Endpoint: base + "/files/", Metadata: map[string]string{"password": "inbox-pw"},
				File: bytes.NewReader(data), Size: int64(len(data))})
			return err
		},
	},
	{
		name: "inbox",
		serve: func(h http.Handler, at phase) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if (r.Method == http.MethodDelete) == (at == request) {
					h.ServeHTTP(w, r)
					return
				}
				w.WriteHeader(http.StatusNoContent)
			})
		},
		run: func(ctx context.Context, t *testing.T, base string, hc *http.Client, at phase) error {
			c := &inbox.Client{Portal: base, APIKey: "clinic-key", HTTP: hc, Retry: testRetry, Limits: testLimits}
			if at == request {
				return c.Ack(ctx, "bM1X", "item1")
			}
			_, err := c.Download(ctx, "bM1X", inbox.Item{ID: "item1", Size: itemSize}, filepath.Join(t.TempDir(), "e.age"))
			return err
		},
	},
	{
		name: "dlx",
		serve: func(h http.Handler, at phase) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				isTFA := strings.Contains(r.URL.Path, "/tokentfa/")
				if isTFA == (at == request) {
					h.ServeHTTP(w, r)
					return
				}
				w.Header().Set("Content-Type", "application/jwt")
				w.Write([]byte("a.b.c"))
			})
		},
		run: func(ctx context.Context, t *testing.T, base string, hc *http.Client, at phase) error {
			c := &dlx.Client{Base: base + "/dlx/v1", HTTP: hc, Retry: testRetry, Limits: testLimits}
			s, err := c.Authorize(ctx, "ABCD-EFGH-JKMN", []dlx.Answer{{QuestionID: "dob", Answer: "19580214"}})
			if err != nil {
				return err
			}
			_, err = s.DownloadAll(ctx, filepath.Join(t.TempDir(), "all.zip"))
			return err
		},
	},
	{
		name:  "stow",
		serve: func(h http.Handler, at phase) http.Handler { return h },
		run: func(ctx context.Context, t *testing.T, base string, hc *http.Client, at phase) error {
			f := filepath.Join(t.TempDir(), "i.dcm")
			os.WriteFile(f, make([]byte, itemSize), 0o600)
			c := &stow.Client{Base: base + "/dicom-web", HTTP: hc, Retry: testRetry, StallTimeout: stallWindow, MinBytes: 1 << 10}
			_, err := c.Store(ctx, []stow.Instance{{Path: f, Size: itemSize, SOPInstanceUID: "1.2.3"}})
			return err
		},
	},
}

// want is the expected outcome: a permanent reason, or a give-up with one
// of the reasons.
type want struct {
	reason string   // Classify's reason of the returned error
	gaveUp []string // for ReasonGaveUp: the acceptable GaveUpError reasons
}

var (
	permanent = func(r string) want { return want{reason: r} }
	gaveUp    = func(r ...string) want { return want{reason: transfer.ReasonGaveUp, gaveUp: r} }
)

// kase is one kind of trouble.
type kase struct {
	name string
	at   map[string]phase // where each client meets it; absent: not applicable
	// setup starts the servers and returns the base URL, the client to
	// use and a check run after the operation.
	setup  func(t *testing.T, tg target, at phase) (base string, hc *http.Client, check func(t *testing.T))
	expect map[string]want
}

func all(p phase) map[string]phase {
	return map[string]phase{"tus": p, "inbox": p, "dlx": p, "stow": p}
}

// plain serves h at the operation under test, over http.
func plain(h http.Handler) func(t *testing.T, tg target, at phase) (string, *http.Client, func(*testing.T)) {
	return func(t *testing.T, tg target, at phase) (string, *http.Client, func(*testing.T)) {
		srv := httptest.NewServer(loops(h, tg.serve(h, at)))
		t.Cleanup(srv.Close)
		return srv.URL, httpclient.New(httpclient.Options{}), func(*testing.T) {}
	}
}

func kases() []kase {
	var c hostile.Counter
	return []kase{
		{
			name: "untrusted TLS certificate", at: all(request),
			setup: func(t *testing.T, tg target, at phase) (string, *http.Client, func(*testing.T)) {
				srv := httptest.NewUnstartedServer(tg.serve(hostile.Status(&c, 204, ""), at))
				srv.Config.ErrorLog = quietLog()
				srv.StartTLS()
				t.Cleanup(srv.Close)
				return srv.URL, httpclient.New(httpclient.Options{}), func(*testing.T) {}
			},
			expect: map[string]want{"tus": permanent(transfer.ReasonTLS), "inbox": permanent(transfer.ReasonTLS),
				"dlx": permanent(transfer.ReasonTLS), "stow": permanent(transfer.ReasonTLS)},
		},
		{
			name: "redirect loop", at: all(request),
			setup:  plain(hostile.Loop(&c)),
			expect: allWant(permanent(transfer.ReasonRedirect)),
		},
		{
			name: "cross-host 307 with body or credentials", at: all(request),
			setup: func(t *testing.T, tg target, at phase) (string, *http.Client, func(*testing.T)) {
				var elsewhere hostile.Counter
				other := httptest.NewServer(hostile.Status(&elsewhere, 200, "{}"))
				t.Cleanup(other.Close)
				srv := httptest.NewServer(tg.serve(hostile.RedirectTo(&c, http.StatusTemporaryRedirect, hostile.Other(other.URL)), at))
				t.Cleanup(srv.Close)
				return srv.URL, httpclient.New(httpclient.Options{}), func(t *testing.T) {
					if n := elsewhere.Requests.Load(); n != 0 {
						t.Errorf("%d requests reached the other host", n)
					}
				}
			},
			expect: map[string]want{"tus": permanent(transfer.ReasonRedirect), "inbox": permanent(transfer.ReasonRedirect),
				"dlx": permanent(transfer.ReasonRedirect),
				// Go does not follow a 307 with a streamed body at all:
				// the 307 itself is the unexpected answer.
				"stow": permanent(transfer.ReasonProtocol)},
		},
		{
			name: "https to http redirect", at: all(request),
			setup: func(t *testing.T, tg target, at phase) (string, *http.Client, func(*testing.T)) {
				var down hostile.Counter
				insecure := httptest.NewServer(hostile.Status(&down, 200, "{}"))
				t.Cleanup(insecure.Close)
				srv := httptest.NewTLSServer(tg.serve(hostile.RedirectTo(&c, http.StatusFound, insecure.URL), at))
				t.Cleanup(srv.Close)
				return srv.URL, httpclient.New(httpclient.Options{Transport: srv.Client().Transport}), func(t *testing.T) {
					if n := down.Requests.Load(); n != 0 {
						t.Errorf("followed to http %d times", n)
					}
				}
			},
			expect: allWant(permanent(transfer.ReasonRedirect)),
		},
		{
			name: "wrong Content-Length", at: map[string]phase{"inbox": body, "dlx": body, "stow": body},
			setup: plain(hostile.Short(&c, itemSize, 100<<10)),
			expect: map[string]want{"inbox": permanent(transfer.ReasonProtocol), "dlx": permanent(transfer.ReasonProtocol),
				// STOW's answer is small JSON: a short one is a cut
				// connection to it, retried within the bound.
				"stow": gaveUp(transfer.ReasonReset, transfer.ReasonNetwork)},
		},
		{
			name: "slow drip", at: all(body),
			setup: func(t *testing.T, tg target, at phase) (string, *http.Client, func(*testing.T)) {
				h := hostile.Drip(&c, itemSize, 20*time.Millisecond)
				if tg.name == "tus" {
					h = hostile.SlowReader(&c, 20*time.Millisecond, 50)
				}
				return plain(h)(t, tg, at)
			},
			expect: map[string]want{"tus": gaveUp(transfer.ReasonStalled), "inbox": gaveUp(transfer.ReasonStalled), "dlx": gaveUp(transfer.ReasonStalled),
				// The drip answers STOW-RS before reading its request: under
				// load the transport may see the cut connection first.
				"stow": gaveUp(transfer.ReasonStalled, transfer.ReasonReset, transfer.ReasonNetwork)},
		},
		{
			name: "503 with timeOutInSeconds 2000000000", at: map[string]phase{"tus": request, "inbox": request, "dlx": body, "stow": request},
			setup:  plain(hostile.Busy(&c, 2000000000)),
			expect: allWant(gaveUp(transfer.ReasonBusy)),
		},
		{
			name: "endless chunked body", at: map[string]phase{"inbox": body, "dlx": body, "stow": body},
			setup:  plain(hostile.Endless(&c)),
			expect: map[string]want{"inbox": permanent(transfer.ReasonProtocol), "dlx": permanent(transfer.ReasonProtocol), "stow": permanent(transfer.ReasonProtocol)},
		},
		{
			name: "reset connection", at: all(request),
			setup:  plain(hostile.Reset(&c)),
			expect: allWant(gaveUp(transfer.ReasonReset, transfer.ReasonNetwork)),
		},
		{
			// A refusal the client has no better name for; its message
			// must not carry the server's text.
			// (STOW-RS: a 400 refuses the instances, reported per
			// instance, not as an error of the request.)
			name: "400 with a hostile message", at: map[string]phase{"tus": request, "inbox": request, "dlx": request},
			setup:  plain(hostile.Status(&c, http.StatusBadRequest, hostileBody)),
			expect: allWant(permanent(transfer.ReasonRefused)),
		},
		{
			// A 500 may be an outage or a bug that stays: tus waits
			// within its bound; the others try a few times, then say so.
			name: "500 again and again", at: all(request),
			setup: func(t *testing.T, tg target, at phase) (string, *http.Client, func(*testing.T)) {
				var mine hostile.Counter
				base, hc, _ := plain(hostile.Status(&mine, http.StatusInternalServerError, hostileBody))(t, tg, at)
				return base, hc, func(t *testing.T) {
					if n := mine.Requests.Load(); n < 3 {
						t.Errorf("%d requests: a 500 was not tried again", n)
					}
				}
			},
			expect: map[string]want{"tus": gaveUp(transfer.ReasonServer), "inbox": permanent(transfer.ReasonRefused),
				"dlx": permanent(transfer.ReasonRefused), "stow": permanent(transfer.ReasonRefused)},
		},
		{
			// An error answer whose body never ends: read for at most a
			// stall window, then the refusal counts.
			name: "400 with a dripping body", at: all(request),
			setup: plain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c.Requests.Add(1)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				w.Write([]byte(`{"error":"x","message":"`))
				for {
					if _, err := w.Write([]byte("E")); err != nil {
						return
					}
					w.(http.Flusher).Flush()
					select {
					case <-r.Context().Done():
						return
					case <-time.After(20 * time.Millisecond):
					}
				}
			})),
			expect: map[string]want{"tus": permanent(transfer.ReasonRefused), "inbox": permanent(transfer.ReasonRefused),
				"dlx": permanent(transfer.ReasonRefused), "stow": gaveUp(transfer.ReasonStalled, transfer.ReasonReset, transfer.ReasonNetwork)},
		},
		{
			// A server that takes the request and never answers: the
			// header timeout (here 200 ms; 5 min by default) is a
			// timeout, retried within the bound.
			name: "no answer at all", at: all(request),
			setup: func(t *testing.T, tg target, at phase) (string, *http.Client, func(*testing.T)) {
				done := make(chan struct{})
				hang := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					c.Requests.Add(1)
					select {
					case <-r.Context().Done():
					case <-done:
					}
				})
				srv := httptest.NewServer(tg.serve(hang, at))
				t.Cleanup(srv.Close)
				t.Cleanup(func() { close(done) }) // before Close, which waits for the handlers
				return srv.URL, httpclient.New(httpclient.Options{ResponseHeaderTimeout: 200 * time.Millisecond}), func(*testing.T) {}
			},
			expect: allWant(gaveUp(transfer.ReasonTimeout, transfer.ReasonStalled)),
		},
		{
			name: "unreadable answer", at: map[string]phase{"tus": request, "stow": request},
			setup:  plain(hostile.Status(&c, http.StatusOK, hostileBody)),
			expect: allWant(permanent(transfer.ReasonProtocol)),
		},
	}
}

// hostileBody is an answer whose text must never reach the reader: a
// JSON error message, control characters, no valid answer.
const hostileBody = `{"error":"EVIL","message":"EVIL \u001b[2J call +49 000 now"}` + "\x1b[2J EVIL"

// loops sends the redirect loop's own paths to h.
func loops(h, rest http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/loop/") {
			h.ServeHTTP(w, r)
			return
		}
		rest.ServeHTTP(w, r)
	})
}

func allWant(w want) map[string]want {
	return map[string]want{"tus": w, "inbox": w, "dlx": w, "stow": w}
}

func TestHostileServers(t *testing.T) {
	var mu sync.Mutex
	var figures []string
	for _, k := range kases() {
		for _, tg := range targets {
			at, ok := k.at[tg.name]
			if !ok {
				continue
			}
			t.Run(k.name+"/"+tg.name, func(t *testing.T) {
				base, hc, check := k.setup(t, tg, at)
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				start := time.Now()
				err := tg.run(ctx, t, base, hc, at)
				took := time.Since(start)
				check(t)
				if err == nil {
					t.Fatal("accepted")
				}
				if ctx.Err() != nil {
					t.Fatalf("did not give up by itself within 20 s: %v", err)
				}
				v := transfer.Classify(err)
				w := k.expect[tg.name]
				if v.Class != transfer.Permanent || v.Reason != w.reason {
					t.Fatalf("classified %v/%s, want permanent/%s: %v", v.Class, v.Reason, w.reason, err)
				}
				if w.reason == transfer.ReasonGaveUp {
					var gu *transfer.GaveUpError
					errors.As(err, &gu)
					found := false
					for _, r := range w.gaveUp {
						found = found || gu.Reason == r
					}
					if !found {
						t.Fatalf("gave up for %q, want one of %v: %v", gu.Reason, w.gaveUp, err)
					}
				}
				ue, ok := i18n.AsUserError(err)
				if !ok || ue.HintKey == "" || !i18n.Has(i18n.DE, ue.Key) || !i18n.Has(i18n.DE, ue.HintKey) {
					t.Fatalf("no translated message with a hint: %v", err)
				}
				// The reader sees our words in both languages: no server
				// text, no Go error text, no broken verbs.
				for _, lang := range []i18n.Lang{i18n.DE, i18n.EN} {
					msg, hint := i18n.Localize(lang, err)
					for _, bad := range []string{"EVIL", "\x1b", "%!", "invalid character", "unexpected EOF", "dial tcp", "read tcp", "x509:", "tls:",
						"tus create", "tus head", "tus patch", "portal ack", "portal request", "dlx tokentfa", "dlx request", "STOW-RS:"} {
						if strings.Contains(msg, bad) || strings.Contains(hint, bad) {
							t.Fatalf("%s message holds %q: %s — %s", lang, bad, msg, hint)
						}
					}
				}
				msg, hint := i18n.Localize(i18n.EN, err)
				mu.Lock()
				figures = append(figures, fmt.Sprintf("%-42s %-6s %-10s %8s  %s — %s", k.name, tg.name, v.Reason, took.Round(time.Millisecond), msg, firstSentence(hint)))
				mu.Unlock()
			})
		}
	}
	sort.Strings(figures)
	t.Logf("limits: retry bound %v, busy %v (each %v), stall window %v / %d B, stall budget %v, cap %d MiB\n%s",
		testRetry.MaxElapsed, testRetry.MaxBusy, testRetry.MaxBusyEach, stallWindow, testLimits.MinBytes, testLimits.StallBudget, testLimits.MaxBytes>>20,
		strings.Join(figures, "\n"))
}

func firstSentence(s string) string {
	if i := strings.Index(s, ". "); i > 0 {
		return s[:i+1]
	}
	return s
}
