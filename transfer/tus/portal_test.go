package tus

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/bildbote/bildbote/internal/wire"
	"github.com/bildbote/bildbote/portal"
	"github.com/bildbote/bildbote/transfer"
)

// realPortal is bildbote-portal's handler on loopback with one inbox.
func realPortal(t *testing.T) (endpoint string, srv *portal.Server) {
	t.Helper()
	srv, err := portal.New(portal.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { ts.Close(); srv.Close() })
	id, _ := age.GenerateX25519Identity()
	if _, err := srv.Store().AddCommunity(t.Context(), portal.AddCommunityRequest{
		Code: "bM1X", Name: "Radiologie", Recipients: []string{id.Recipient().String()}, MaxUploadBytes: 64 << 20,
	}); err != nil {
		t.Fatal(err)
	}
	return ts.URL + wire.UploadsPath, srv
}

// TestCreatorSecretAgainstPortal: the client keeps the portal's creator
// secret, hands it to OnCreated, and a resume with it (a new client after
// a kill) finishes the same upload; without it the upload is invisible,
// and another party can neither delete nor write it.
func TestCreatorSecretAgainstPortal(t *testing.T) {
	endpoint, _ := realPortal(t)
	f, data := randomFile(t, 1<<20)
	meta := map[string]string{"community": "bM1X", "sha256": sha(data)}
	ctx, cancel := context.WithCancel(context.Background())
	var saved, savedSecret string
	c := &Client{ChunkSize: 128 << 10, Retry: fastRetry(), Progress: transfer.ProgressFunc(func(s transfer.Status) {
		if s.Done > 512<<10 {
			cancel()
		}
	})}
	_, err := c.Upload(ctx, Job{Endpoint: endpoint, Metadata: meta, File: f, Size: int64(len(data)),
		OnCreated: func(u, secret string) error { saved, savedSecret = u, secret; return nil }})
	if !errors.Is(err, context.Canceled) || saved == "" || len(savedSecret) < 43 {
		t.Fatalf("killed upload: %v, url %q, secret of %d chars", err, saved, len(savedSecret))
	}

	// Someone who learnt the URL: HEAD, PATCH and DELETE without the
	// secret, or with a wrong one, all look like an unknown upload.
	for _, secret := range []string{"", "wrong", strings.ToUpper(savedSecret)} {
		for _, method := range []string{"HEAD", "PATCH", "DELETE"} {
			req, _ := http.NewRequest(method, saved, strings.NewReader("evil"))
			req.Header.Set("Tus-Resumable", Version)
			req.Header.Set("Upload-Offset", "0")
			req.Header.Set("Content-Type", "application/offset+octet-stream")
			if secret != "" {
				req.Header.Set(wire.UploadSecretHeader, secret)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("%s with secret %q: %d, want 404", method, secret, resp.StatusCode)
			}
		}
	}
	if _, err := (&Client{Retry: fastRetry()}).Resume(context.Background(), saved, "", f, int64(len(data))); !errors.Is(err, ErrUploadGone) {
		t.Fatalf("resume without the secret: %v", err)
	}

	// The creator resumes where it stopped.
	var firstDone int64 = -1
	c2 := &Client{ChunkSize: 128 << 10, Retry: fastRetry(), Progress: transfer.ProgressFunc(func(s transfer.Status) {
		if s.State == transfer.StateUploading && firstDone < 0 {
			firstDone = s.Done
		}
	})}
	res, err := c2.Upload(context.Background(), Job{Endpoint: endpoint, Metadata: meta, File: f, Size: int64(len(data)),
		URL: saved, Secret: savedSecret, OnCreated: func(string, string) error { t.Error("created a new upload"); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if res.URL != saved || res.Secret != savedSecret || firstDone < 384<<10 || res.Receipt != "/api/v1/receipts/"+path.Base(saved) {
		t.Fatalf("resume: %+v, first progress at %d", res, firstDone)
	}

	// Terminate needs the secret too.
	g, other := randomFile(t, 300<<10)
	ctx, cancel = context.WithCancel(context.Background())
	c3 := &Client{ChunkSize: 64 << 10, Retry: fastRetry(), Progress: transfer.ProgressFunc(func(s transfer.Status) {
		if s.Done > 100<<10 {
			cancel()
		}
	})}
	var partURL, partSecret string
	c3.Upload(ctx, Job{Endpoint: endpoint, Metadata: map[string]string{"community": "bM1X", "sha256": sha(other)}, File: g, Size: int64(len(other)),
		OnCreated: func(u, s string) error { partURL, partSecret = u, s; return nil }})
	if err := (&Client{}).Terminate(context.Background(), partURL, ""); err != nil {
		t.Fatal(err) // 404 counts as gone for the client
	}
	if done, err := (&upload{c: &Client{}, job: &Job{Size: int64(len(other))}, url: partURL, secret: partSecret, waiter: nil}).headOnce(); err != nil || done {
		t.Fatalf("the upload went with a DELETE without secret: %v", err)
	}
	if err := (&Client{}).Terminate(context.Background(), partURL, partSecret); err != nil {
		t.Fatal(err)
	}
	if _, err := (&upload{c: &Client{}, job: &Job{Size: int64(len(other))}, url: partURL, secret: partSecret}).headOnce(); !errors.Is(err, ErrUploadGone) {
		t.Fatalf("after the creator's DELETE: %v", err)
	}
}

// headOnce is one HEAD of the upload (test helper): ErrUploadGone on 404.
func (u *upload) headOnce() (done bool, err error) {
	req, _ := http.NewRequest(http.MethodHead, u.url, nil)
	u.setHeaders(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return resp.Header.Get("Upload-Offset") == resp.Header.Get("Upload-Length"), nil
	case http.StatusNotFound:
		return false, ErrUploadGone
	}
	return false, errors.New(resp.Status)
}
