package admin

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bildbote/bildbote/portal"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1024": 1024, "512KiB": 512 << 10, "64MiB": 64 << 20, "2GiB": 2 << 30, "2G": 2 << 30,
		"1TiB": 1 << 40, "3MB": 3 << 20, "-1": -1, "0": 0, "10b": 10} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "GiB", "1.5GiB", "-2", "12XB", "9999999TiB"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) accepted", bad)
		}
	}
}

// TestServeLimitFlags: serve's limit flags reach the running portal (here
// --inbox-quota: a declared length over it gets 507 with the limit named).
func TestServeLimitFlags(t *testing.T) {
	e := &env{stdout: io.Discard, stderr: io.Discard, lang: "en"}
	f := e.newFlags("serve")
	var cfg portal.Config
	limitFlags(f, &cfg.Limits)
	if _, err := f.parse([]string{"--inbox-quota", "1KiB", "--client-uploads", "-1", "--body-timeout", "2m", "--min-body-rate", "512", "--password-failures", "3"}); err != nil {
		t.Fatal(err)
	}
	l := cfg.Limits
	if l.InboxPendingBytes != 1024 || l.AddrActiveUploads != -1 || l.BodyTimeout != 2*time.Minute || l.MinBodyRate != 512 || l.PasswordAddrFailures != 3 {
		t.Fatalf("limits %+v", l)
	}
	data := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	urls := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- e.serveUntil(ctx, serveOptions{cfg: cfg, data: data, listen: "127.0.0.1:0"}, func(u string) { urls <- u })
	}()
	var base string
	select {
	case base = <-urls:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	mustRun(t, "community", "add", "--data", data, "--code", "Q1", "--name", "Quota", "--recipient", recipient(t))
	post := func(size string) (int, string) {
		req, _ := http.NewRequest("POST", base+"/api/v1/uploads/", nil)
		req.Header.Set("Tus-Resumable", "1.0.0")
		req.Header.Set("Upload-Length", size)
		req.Header.Set("Upload-Metadata", "community "+b64("Q1")+",sha256 "+b64(strings.Repeat("a", 64)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct{ Error string }
		json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body.Error
	}
	if st, _ := post("1000"); st != 201 {
		t.Fatalf("1000 bytes: %d", st)
	}
	if st, code := post("100"); st != 507 || code != "inbox-quota" {
		t.Fatalf("over --inbox-quota: %d %s", st, code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
