package app_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/bildbote/bildbote/app"
)

// TestSendBehindBodyLimit: the real portal behind a filter that answers
// PATCH bodies over 1 MiB with a bare 413 (as nginx's
// client_max_body_size does; transfer/tus tests against nginx itself).
// The send completes, the core remembers 1 MiB for the portal in the
// state dir's chunks.json, and a second send to that portal by a new
// core on the same state dir gets no 413.
func TestSendBehindBodyLimit(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex
	refused, largest := 0, int64(0)
	wrapHandler[dir] = func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPatch {
				mu.Lock()
				if r.ContentLength > 1<<20 {
					refused++
					mu.Unlock()
					w.Header().Set("Content-Type", "text/html")
					w.Header().Set("Connection", "close")
					w.WriteHeader(http.StatusRequestEntityTooLarge)
					w.Write([]byte("<html><body><h1>413 Request Entity Too Large</h1></body></html>"))
					return
				}
				largest = max(largest, r.ContentLength)
				mu.Unlock()
			}
			h.ServeHTTP(w, r)
		})
	}
	defer delete(wrapHandler, dir)
	p := startPortal(t, dir)
	newClinic(t, p, "bM1X")
	cdDir, _ := bigCD(t)
	state := t.TempDir()
	for round := 1; round <= 2; round++ {
		practice := openCore(t, app.Config{StateDir: state, RetryInitial: fastRetry})
		job, err := send(t, practice, p.url, "bM1X", cdDir, round == 1)
		if err != nil {
			t.Fatal(err)
		}
		if j := wait(t, practice, job); j.State != app.StateDone {
			t.Fatalf("send %d: %s %+v", round, j.State, j.Error)
		}
		practice.Close()
		mu.Lock()
		n, big := refused, largest
		refused, largest = 0, 0
		mu.Unlock()
		t.Logf("send %d: %d 413s, largest PATCH %d", round, n, big)
		if (round == 1 && n == 0) || (round == 2 && n != 0) || big != 1<<20 {
			t.Fatalf("send %d: %d 413s, largest PATCH body %d", round, n, big)
		}
		b, err := os.ReadFile(filepath.Join(state, "chunks.json"))
		if err != nil || !strings.Contains(string(b), p.url) || !strings.Contains(string(b), "1048576") {
			t.Fatalf("chunks.json: %q (%v)", b, err)
		}
	}
}
