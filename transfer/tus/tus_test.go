package tus

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/testkit/faultproxy"
	"github.com/bildbote/bildbote/internal/wire"
	"github.com/bildbote/bildbote/transfer"
	"github.com/bildbote/bildbote/transfer/internal/retry"
	"github.com/tus/tusd/v2/pkg/filestore"
	tusd "github.com/tus/tusd/v2/pkg/handler"
	"github.com/tus/tusd/v2/pkg/memorylocker"
	expslog "golang.org/x/exp/slog"
)

// server is tusd's real handler with its file store, the same parts the
// portal uses.
type server struct {
	*httptest.Server
	addr     string
	dir      string
	endpoint string
	mu       sync.Mutex
	metadata []tusd.MetaData
}

func newServer(t *testing.T, cfg tusd.Config) *server { return newServerTB(t, cfg) }

func newServerTB(t testing.TB, cfg tusd.Config) *server {
	t.Helper()
	s := &server{dir: t.TempDir()}
	store := filestore.New(s.dir)
	composer := tusd.NewStoreComposer()
	store.UseIn(composer)
	memorylocker.New().UseIn(composer)
	cfg.StoreComposer = composer
	cfg.BasePath = "/files/"
	cfg.Logger = expslog.New(expslog.NewTextHandler(io.Discard, nil))
	pre := cfg.PreUploadCreateCallback
	cfg.PreUploadCreateCallback = func(hook tusd.HookEvent) (tusd.HTTPResponse, tusd.FileInfoChanges, error) {
		s.mu.Lock()
		s.metadata = append(s.metadata, hook.Upload.MetaData)
		s.mu.Unlock()
		if pre != nil {
			return pre(hook)
		}
		return tusd.HTTPResponse{}, tusd.FileInfoChanges{}, nil
	}
	h, err := tusd.NewHandler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/files/", http.StripPrefix("/files/", h))
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	s.endpoint = s.URL + "/files/"
	s.addr = s.Listener.Addr().String()
	return s
}

func (s *server) stored(t *testing.T, uploadURL string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(s.dir, path.Base(uploadURL)))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func randomFile(t *testing.T, n int) (*os.File, []byte) {
	t.Helper()
	data := make([]byte, n)
	rand.Read(data)
	p := filepath.Join(t.TempDir(), "envelope.age")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, data
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func fastRetry() retry.Policy {
	return retry.Policy{Initial: 5 * time.Millisecond, Max: 50 * time.Millisecond}
}

func TestUploadAndMetadata(t *testing.T) {
	srv := newServer(t, tusd.Config{})
	f, data := randomFile(t, 1<<20+123)
	var urls []string
	var last transfer.Status
	var mu sync.Mutex
	c := &Client{ChunkSize: 256 << 10, Progress: transfer.ProgressFunc(func(s transfer.Status) { mu.Lock(); last = s; mu.Unlock() })}
	res, err := c.Upload(context.Background(), Job{Endpoint: srv.endpoint, File: f, Size: int64(len(data)),
		Metadata: map[string]string{"community": "bM1X", "filename": "Müller Jürgen.age", "sha256": sha(data)},
		OnURL:    func(u string) error { urls = append(urls, u); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if len(urls) != 1 || res.URL != urls[0] || res.ID != path.Base(res.URL) {
		t.Fatalf("urls %v, result %+v", urls, res)
	}
	if !bytes.Equal(srv.stored(t, res.URL), data) {
		t.Fatal("server holds other bytes")
	}
	md := srv.metadata[0]
	if md["filename"] != "Müller Jürgen.age" || md["community"] != "bM1X" || md["sha256"] != sha(data) {
		t.Fatalf("metadata as the server decoded it: %v", md)
	}
	if last.State != transfer.StateDone || last.Done != int64(len(data)) {
		t.Fatalf("last progress %+v", last)
	}
}

// A kill mid-upload: the job store has the URL, a new client resumes from
// the server's offset and re-sends at most one chunk.
func TestResumeAfterKill(t *testing.T) {
	srv := childServer(t)
	f, data := randomFile(t, 2<<20)
	const chunk = 128 << 10
	ctx, cancel := context.WithCancel(context.Background())
	var saved, savedSecret string
	c := &Client{ChunkSize: chunk, Progress: transfer.ProgressFunc(func(s transfer.Status) {
		if s.Done > 1<<20 {
			cancel()
		}
	})}
	_, err := c.Upload(ctx, Job{Endpoint: srv.endpoint, File: f, Size: int64(len(data)),
		OnCreated: func(u, secret string) error { saved, savedSecret = u, secret; return nil }})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled upload: %v", err)
	}
	// The server's offset after the kill.
	var atResume int64 = -1
	var sentAfter int64
	var mu sync.Mutex // progress comes from the caller's and the transport's goroutines
	c2 := &Client{ChunkSize: chunk, Progress: transfer.ProgressFunc(func(s transfer.Status) {
		mu.Lock()
		defer mu.Unlock()
		if s.State == transfer.StateUploading && atResume < 0 {
			atResume = s.Done
		}
		sentAfter = s.Done
	})}
	res, err := c2.Resume(context.Background(), saved, savedSecret, f, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if atResume < 1<<20-chunk || res.URL != saved {
		t.Fatalf("resumed at %d (want ≥ %d), url %s", atResume, 1<<20-chunk, res.URL)
	}
	if sentAfter != int64(len(data)) || !bytes.Equal(srv.stored(t, saved), data) {
		t.Fatal("resumed upload incomplete or wrong")
	}
}

// Ten connections cut after random amounts of data; the upload finishes
// and the server's bytes hash like the file.
func TestSurvivesTenCuts(t *testing.T) {
	srv := childServer(t)
	proxy, err := faultproxy.New(srv.addr, faultproxy.Options{Cuts: 10, MinBytes: 20 << 10, MaxBytes: 400 << 10, Seed: 42})
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	f, data := randomFile(t, 3<<20)
	var waits int
	var mu sync.Mutex
	c := &Client{ChunkSize: 512 << 10, Retry: fastRetry(),
		HTTP: &http.Client{Transport: &http.Transport{DisableKeepAlives: false}},
		Progress: transfer.ProgressFunc(func(s transfer.Status) {
			if s.State == transfer.StateWaitingNetwork {
				mu.Lock()
				waits++
				mu.Unlock()
				if s.Err == nil {
					t.Error("waiting without an error")
				}
			}
		})}
	res, err := c.Upload(context.Background(), Job{Endpoint: "http://" + proxy.Addr() + "/files/", File: f, Size: int64(len(data))})
	if err != nil {
		t.Fatal(err)
	}
	if proxy.Cuts() != 10 {
		t.Fatalf("proxy cut %d connections", proxy.Cuts())
	}
	if sha(srv.stored(t, res.URL)) != sha(data) {
		t.Fatal("hash mismatch after cuts")
	}
	if waits == 0 {
		t.Error("never reported waiting for the network")
	}
}

// While nothing listens the client waits (reporting it) and carries on
// when the server appears: it never gives up on its own.
func TestWaitsForNetwork(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	f, data := randomFile(t, 300<<10)
	waiting := make(chan error, 100)
	c := &Client{Retry: fastRetry(), Progress: transfer.ProgressFunc(func(s transfer.Status) {
		if s.State == transfer.StateWaitingNetwork {
			select {
			case waiting <- s.Err:
			default:
			}
		}
	})}
	type outcome struct {
		res *Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := c.Upload(context.Background(), Job{Endpoint: "http://" + addr + "/files/", File: f, Size: int64(len(data))})
		done <- outcome{res, err}
	}()
	for i := 0; i < 3; i++ { // several waits, while the server is down
		if err := <-waiting; err == nil {
			t.Fatal("waiting report without the last error")
		}
	}
	// The server comes back on the same address.
	srv := newServer(t, tusd.Config{})
	srv.Close()
	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port %s taken meanwhile: %v", addr, err)
	}
	back := httptest.NewUnstartedServer(srv.Config.Handler)
	back.Listener = ln2
	back.Start()
	defer back.Close()
	out := <-done
	if out.err != nil {
		t.Fatal(out.err)
	}
	if !bytes.Equal(srv.stored(t, out.res.URL), data) {
		t.Fatal("wrong bytes after waiting")
	}
}

// The server lost the upload (abandoned and swept): Upload starts over and
// hands the new URL to the job store.
func TestStartOverWhenGone(t *testing.T) {
	srv := newServer(t, tusd.Config{})
	f, data := randomFile(t, 100<<10)
	c := &Client{}
	first, err := c.Upload(context.Background(), Job{Endpoint: srv.endpoint, File: f, Size: int64(len(data))})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Terminate(context.Background(), first.URL, first.Secret); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Resume(context.Background(), first.URL, first.Secret, f, int64(len(data))); !errors.Is(err, ErrUploadGone) {
		t.Fatalf("Resume of a deleted upload: %v", err)
	}
	var urls []string
	res, err := c.Upload(context.Background(), Job{Endpoint: srv.endpoint, URL: first.URL, File: f, Size: int64(len(data)),
		OnURL: func(u string) error { urls = append(urls, u); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if len(urls) != 1 || res.URL == first.URL || !bytes.Equal(srv.stored(t, res.URL), data) {
		t.Fatalf("start over: %v %+v", urls, res)
	}
}

func TestChecksumMismatchIsPermanent(t *testing.T) {
	srv := newServer(t, tusd.Config{PreFinishResponseCallback: func(hook tusd.HookEvent) (tusd.HTTPResponse, error) {
		return tusd.HTTPResponse{}, tusd.Error{ErrorCode: "checksum-mismatch", Message: "no",
			HTTPResponse: tusd.HTTPResponse{StatusCode: wire.StatusChecksumMismatch, Body: `{"error":"checksum-mismatch","message":"sha256 differs"}`}}
	}})
	f, data := randomFile(t, 10<<10)
	_, err := (&Client{Retry: fastRetry()}).Upload(context.Background(), Job{Endpoint: srv.endpoint, File: f, Size: int64(len(data))})
	var ce *ChecksumError
	if !errors.As(err, &ce) || ce.Message != "sha256 differs" {
		t.Fatalf("460: %v", err)
	}
	if ue, ok := i18n.AsUserError(err); !ok || ue.Kind != i18n.KindRefused {
		t.Fatalf("460 not a refused user error: %v", err)
	}
}

func TestRefusedAtCreation(t *testing.T) {
	srv := newServer(t, tusd.Config{MaxSize: 1000})
	f, data := randomFile(t, 2000)
	_, err := (&Client{}).Upload(context.Background(), Job{Endpoint: srv.endpoint, File: f, Size: int64(len(data))})
	var se *StatusError
	if !errors.As(err, &se) || se.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("413: %v", err)
	}
	if ue, ok := i18n.AsUserError(err); !ok || ue.Key != "transfer.tus.too_large" {
		t.Fatalf("413 user error: %v", err)
	}
}

func TestMismatchedLength(t *testing.T) {
	srv := newServer(t, tusd.Config{})
	f, data := randomFile(t, 1000)
	res, err := (&Client{}).Upload(context.Background(), Job{Endpoint: srv.endpoint, File: f, Size: int64(len(data))})
	if err != nil {
		t.Fatal(err)
	}
	_, err = (&Client{}).Resume(context.Background(), res.URL, res.Secret, f, 999)
	var me *MismatchError
	if !errors.As(err, &me) {
		t.Fatalf("wrong file for upload: %v", err)
	}
}

func TestEncodeMetadata(t *testing.T) {
	got := encodeMetadata(map[string]string{"b": "ü", "a": ""})
	if got != "a,b w7w=" {
		t.Fatalf("encodeMetadata = %q", got)
	}
}
