package portal

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/bildbote/bildbote/internal/wire"
)

// addTestCommunity registers an inbox and returns its API key.
func (p *testPortal) addCommunity(code string, maxBytes int64, password string) string {
	p.t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		p.t.Fatal(err)
	}
	res, err := p.srv.Store().AddCommunity(p.t.Context(), AddCommunityRequest{
		Code: code, Name: "Radiologie Klinikum Saarbrücken", Recipients: []string{id.Recipient().String()},
		MaxUploadBytes: maxBytes, Password: password,
	})
	if err != nil {
		p.t.Fatal(err)
	}
	return res.APIKey
}

func tusMetadata(kv ...string) string {
	var parts []string
	for i := 0; i+1 < len(kv); i += 2 {
		parts = append(parts, kv[i]+" "+base64.StdEncoding.EncodeToString([]byte(kv[i+1])))
	}
	return strings.Join(parts, ",")
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// uploadSecrets remembers the creator secret of every upload the
// helpers created, by upload path; tusPatch, tusOffset and tusDelete send it.
var uploadSecrets sync.Map

func secretOf(loc string) string {
	v, _ := uploadSecrets.Load(loc)
	s, _ := v.(string)
	return s
}

// tusCreate does the tus creation POST and returns the response and the
// upload's path.
func (p *testPortal) tusCreate(size int, meta string) (*http.Response, string) {
	p.t.Helper()
	resp, body := p.do("POST", wire.UploadsPath, hdr("Tus-Resumable", "1.0.0", "Upload-Length", fmt.Sprint(size), "Upload-Metadata", meta), nil)
	loc := resp.Header.Get("Location")
	if resp.StatusCode == 201 {
		if loc == "" {
			p.t.Fatalf("create without Location: %s", body)
		}
		if strings.HasPrefix(loc, "http") {
			loc = loc[len(p.ts.URL):]
		}
		secret := resp.Header.Get(wire.UploadSecretHeader)
		if len(secret) < 43 {
			p.t.Fatalf("create without a creator secret: %q", secret)
		}
		uploadSecrets.Store(loc, secret)
	}
	return resp, loc
}

func (p *testPortal) tusPatch(loc string, offset int, chunk []byte) (*http.Response, []byte) {
	p.t.Helper()
	return p.do("PATCH", loc, hdr("Tus-Resumable", "1.0.0", "Upload-Offset", fmt.Sprint(offset),
		"Content-Type", "application/offset+octet-stream", wire.UploadSecretHeader, secretOf(loc)), chunk)
}

func (p *testPortal) tusDelete(loc string) *http.Response {
	p.t.Helper()
	resp, _ := p.do("DELETE", loc, hdr("Tus-Resumable", "1.0.0", wire.UploadSecretHeader, secretOf(loc)), nil)
	return resp
}

func (p *testPortal) tusOffset(loc string) (int, int) {
	p.t.Helper()
	resp, _ := p.do("HEAD", loc, hdr("Tus-Resumable", "1.0.0", wire.UploadSecretHeader, secretOf(loc)), nil)
	if resp.StatusCode != 200 {
		return -1, resp.StatusCode
	}
	var off int
	fmt.Sscan(resp.Header.Get("Upload-Offset"), &off)
	return off, 200
}

// TestTusUploadToInbox is a whole upload over raw tus 1.0, then the
// clinic's side of the inbox: list, download with Range, acknowledge.
func TestTusUploadToInbox(t *testing.T) {
	p := startPortal(t, t.TempDir())
	key := p.addCommunity("bM1X", 1<<20, "")
	envelope := []byte(strings.Repeat("age-encryption.org/v1 pretend envelope\n", 500))
	resp, loc := p.tusCreate(len(envelope), tusMetadata("community", "bM1X", "sha256", sha(envelope), "filename", "CD.zip.age"))
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d", resp.StatusCode)
	}
	half := len(envelope) / 2
	if resp, body := p.tusPatch(loc, 0, envelope[:half]); resp.StatusCode != 204 {
		t.Fatalf("patch 1: %d %s", resp.StatusCode, body)
	}
	if off, _ := p.tusOffset(loc); off != half {
		t.Fatalf("offset after first chunk: %d", off)
	}
	if resp, _ := p.tusPatch(loc, 0, envelope[:10]); resp.StatusCode != 409 {
		t.Fatalf("patch at a wrong offset: %d", resp.StatusCode)
	}
	resp, body := p.tusPatch(loc, half, envelope[half:])
	if resp.StatusCode != 204 {
		t.Fatalf("final patch: %d %s", resp.StatusCode, body)
	}
	id := path.Base(loc)
	if got := resp.Header.Get("Bildbote-Receipt"); got != "/api/v1/receipts/"+id {
		t.Fatalf("receipt header %q", got)
	}
	// The finished upload still answers HEAD (a client whose last
	// response got lost can see it is complete).
	if off, _ := p.tusOffset(loc); off != len(envelope) {
		t.Fatalf("offset after finish: %d", off)
	}
	resp, body = p.do("GET", "/api/v1/receipts/"+id, nil, nil)
	var rc Receipt
	if resp.StatusCode != 200 || json.Unmarshal(body, &rc) != nil || rc.SHA256 != sha(envelope) || rc.Size != int64(len(envelope)) ||
		rc.Community != "bM1X" || rc.CommunityName != "Radiologie Klinikum Saarbrücken" || rc.ID != id {
		t.Fatalf("receipt: %d %s", resp.StatusCode, body)
	}

	auth := hdr("Authorization", "Bearer "+key)
	resp, body = p.do("GET", "/api/v1/inbox/bM1X", auth, nil)
	var list struct{ Items []map[string]any }
	if resp.StatusCode != 200 || json.Unmarshal(body, &list) != nil || len(list.Items) != 1 || list.Items[0]["id"] != id {
		t.Fatalf("inbox: %d %s", resp.StatusCode, body)
	}
	// Exactly the contract's fields.
	for _, k := range []string{"id", "size", "sha256", "receivedAt"} {
		if _, ok := list.Items[0][k]; !ok {
			t.Errorf("inbox item lacks %s: %s", k, body)
		}
	}
	if len(list.Items[0]) != 4 || list.Items[0]["sha256"] != sha(envelope) || list.Items[0]["size"] != float64(len(envelope)) {
		t.Errorf("inbox item: %s", body)
	}
	resp, got := p.do("GET", "/api/v1/inbox/bM1X/"+id, auth, nil)
	if resp.StatusCode != 200 || string(got) != string(envelope) || resp.Header.Get("ETag") != `"`+sha(envelope)+`"` ||
		resp.Header.Get("Accept-Ranges") != "bytes" || resp.Header.Get("Content-Length") != fmt.Sprint(len(envelope)) {
		t.Fatalf("download: %d, %d bytes, %v", resp.StatusCode, len(got), resp.Header)
	}
	auth.Set("Range", "bytes=100-")
	resp, tail := p.do("GET", "/api/v1/inbox/bM1X/"+id, auth, nil)
	if resp.StatusCode != 206 || string(tail) != string(envelope[100:]) {
		t.Fatalf("range: %d", resp.StatusCode)
	}
	auth.Del("Range")
	if resp, _ := p.do("DELETE", "/api/v1/inbox/bM1X/"+id, auth, nil); resp.StatusCode != 204 {
		t.Fatalf("acknowledge: %d", resp.StatusCode)
	}
	if resp, _ := p.do("GET", "/api/v1/inbox/bM1X/"+id, auth, nil); resp.StatusCode != 404 {
		t.Fatalf("download after acknowledge: %d", resp.StatusCode)
	}
	_, body = p.do("GET", "/api/v1/inbox/bM1X", auth, nil)
	if !strings.Contains(string(body), `"items":[]`) {
		t.Fatalf("inbox after acknowledge: %s", body)
	}
	if _, err := os.Stat(p.srv.inboxPath("bM1X", id)); !os.IsNotExist(err) {
		t.Fatalf("acknowledged envelope still on disk: %v", err)
	}
}

// TestUploadAndInboxStatusCodes covers the error answers of the upload and
// inbox API.
func TestUploadAndInboxStatusCodes(t *testing.T) {
	p := startPortal(t, t.TempDir())
	key := p.addCommunity("bM1X", 1000, "")
	p.addCommunity("Secret", 1000, "open sesame")
	good := sha([]byte("x"))
	tests := []struct {
		name   string
		size   int
		meta   string
		status int
		errKey string
	}{
		{"ok", 10, tusMetadata("community", "bM1X", "sha256", good), 201, ""},
		{"community code case-insensitive", 10, tusMetadata("community", "BM1X", "sha256", good), 201, ""},
		{"too large", 1001, tusMetadata("community", "bM1X", "sha256", good), 413, "too-large"},
		{"unknown community", 10, tusMetadata("community", "nope", "sha256", good), 404, "unknown-community"},
		{"no sha256", 10, tusMetadata("community", "bM1X"), 400, "bad-sha256"},
		{"password missing", 10, tusMetadata("community", "Secret", "sha256", good), 403, "wrong-password"},
		{"password wrong", 10, tusMetadata("community", "Secret", "sha256", good, "password", "nope"), 403, "wrong-password"},
		{"password right", 10, tusMetadata("community", "Secret", "sha256", good, "password", "open sesame"), 201, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := p.tusCreate(tt.size, tt.meta)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
		})
	}
	// Error bodies are the API's JSON.
	resp, body := p.do("POST", wire.UploadsPath, hdr("Tus-Resumable", "1.0.0", "Upload-Length", "5000", "Upload-Metadata", tusMetadata("community", "bM1X", "sha256", good)), nil)
	var e wire.Error
	if resp.StatusCode != 413 || json.Unmarshal(body, &e) != nil || e.Error != "too-large" || e.Message == "" {
		t.Fatalf("413 body: %s", body)
	}
	// The password never reaches the disk.
	infos, _ := filepath.Glob(filepath.Join(p.dir, uploadsDir, "*.info"))
	for _, f := range infos {
		if b, _ := os.ReadFile(f); strings.Contains(string(b), "password") {
			t.Fatalf("%s keeps the password: %s", f, b)
		}
	}

	inbox := []struct {
		name, method, path, key string
		status                  int
	}{
		{"list", "GET", "/api/v1/inbox/bM1X", key, 200},
		{"list without key", "GET", "/api/v1/inbox/bM1X", "", 401},
		{"list with a wrong key", "GET", "/api/v1/inbox/bM1X", "bbk_wrong", 401},
		{"list with another inbox's key", "GET", "/api/v1/inbox/Secret", key, 401},
		{"list unknown inbox", "GET", "/api/v1/inbox/nope", key, 404},
		{"get unknown item", "GET", "/api/v1/inbox/bM1X/0123", key, 404},
		{"get without key", "GET", "/api/v1/inbox/bM1X/0123", "", 401},
		{"delete unknown item", "DELETE", "/api/v1/inbox/bM1X/0123", key, 404},
		{"delete without key", "DELETE", "/api/v1/inbox/bM1X/0123", "", 401},
		{"unknown receipt", "GET", "/api/v1/receipts/0123", "", 404},
		{"community", "GET", "/api/v1/communities/bM1X", "", 200},
		{"unknown community", "GET", "/api/v1/communities/nope", "", 404},
		{"search", "GET", "/api/v1/communities?q=saarbr%C3%BCcken", "", 200},
	}
	for _, tt := range inbox {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.key != "" {
				h.Set("Authorization", "Bearer "+tt.key)
			}
			resp, body := p.do(tt.method, tt.path, h, nil)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Fatalf("content type %q", ct)
			}
		})
	}
}

// TestChecksumMismatch: the final PATCH fails with 460 and the upload is
// gone, nothing reaches the inbox.
func TestChecksumMismatch(t *testing.T) {
	p := startPortal(t, t.TempDir())
	key := p.addCommunity("bM1X", 1<<20, "")
	data := []byte("the real envelope bytes")
	resp, loc := p.tusCreate(len(data), tusMetadata("community", "bM1X", "sha256", sha([]byte("something else"))))
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d", resp.StatusCode)
	}
	resp, body := p.tusPatch(loc, 0, data)
	var e wire.Error
	if resp.StatusCode != wire.StatusChecksumMismatch || json.Unmarshal(body, &e) != nil || e.Error != "checksum-mismatch" {
		t.Fatalf("final patch: %d %s", resp.StatusCode, body)
	}
	if _, status := p.tusOffset(loc); status != 404 {
		t.Fatalf("HEAD after mismatch: %d", status)
	}
	if _, body := p.do("GET", "/api/v1/inbox/bM1X", hdr("Authorization", "Bearer "+key), nil); !strings.Contains(string(body), `"items":[]`) {
		t.Fatalf("inbox: %s", body)
	}
}

// TestCommunityLookup checks the JSON of lookup and search.
func TestCommunityLookup(t *testing.T) {
	p := startPortal(t, t.TempDir())
	p.addCommunity("bM1X", 0, "")
	resp, body := p.do("GET", "/api/v1/communities/bm1x", nil, nil)
	var c wire.Community
	if resp.StatusCode != 200 || json.Unmarshal(body, &c) != nil {
		t.Fatalf("lookup: %d %s", resp.StatusCode, body)
	}
	if c.Code != "bM1X" || c.UploadURL != p.ts.URL+wire.UploadsPath || c.MaxUploadBytes != DefaultMaxUploadBytes || c.PasswordRequired ||
		len(c.Recipients) != 1 || !strings.HasPrefix(c.Recipients[0].Recipient, "age1") || len(c.Recipients[0].Fingerprint) != 26+6 {
		t.Fatalf("community: %+v", c)
	}
	for q, n := range map[string]int{"klinikum": 1, "BM1": 1, "": 1, "berlin": 0} {
		_, body := p.do("GET", "/api/v1/communities?q="+q, nil, nil)
		var out struct{ Communities []wire.Community }
		if json.Unmarshal(body, &out) != nil || len(out.Communities) != n {
			t.Errorf("search %q: %s", q, body)
		}
	}
}

// TestRestartKeepsEverything: a partial upload resumes after a restart,
// codes and inbox items survive.
func TestRestartKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	p := startPortal(t, dir)
	key := p.addCommunity("bM1X", 1<<20, "")
	code, _ := p.issuePDFCode("19580214", time.Now().Add(time.Hour))
	data := []byte(strings.Repeat("0123456789", 300))
	_, loc := p.tusCreate(len(data), tusMetadata("community", "bM1X", "sha256", sha(data)))
	if resp, _ := p.tusPatch(loc, 0, data[:1000]); resp.StatusCode != 204 {
		t.Fatalf("patch: %d", resp.StatusCode)
	}
	p.stop()

	q := startPortal(t, dir)
	if off, _ := q.tusOffset(loc); off != 1000 {
		t.Fatalf("offset after restart: %d", off)
	}
	if resp, body := q.tusPatch(loc, 1000, data[1000:]); resp.StatusCode != 204 {
		t.Fatalf("resume: %d %s", resp.StatusCode, body)
	}
	_, body := q.do("GET", "/api/v1/inbox/bM1X", hdr("Authorization", "Bearer "+key), nil)
	if !strings.Contains(string(body), path.Base(loc)) {
		t.Fatalf("inbox: %s", body)
	}
	q.login(code, "1", "19580214")
	q.stop()

	r := startPortal(t, dir)
	_, got := r.do("GET", "/api/v1/inbox/bM1X/"+path.Base(loc), hdr("Authorization", "Bearer "+key), nil)
	if string(got) != string(data) {
		t.Fatalf("envelope after second restart: %d bytes", len(got))
	}
}

// TestSweep: abandoned partial uploads, old finished uploads and codes
// past their retention are deleted; fresh ones stay.
func TestSweep(t *testing.T) {
	p := startPortal(t, t.TempDir(), func(c *Config) { c.AbandonAfter = time.Hour; c.Retention = 24 * time.Hour })
	p.addCommunity("bM1X", 1<<20, "")
	data := []byte("partial upload data")
	_, oldLoc := p.tusCreate(len(data), tusMetadata("community", "bM1X", "sha256", sha(data)))
	p.tusPatch(oldLoc, 0, data[:5])
	_, freshLoc := p.tusCreate(len(data), tusMetadata("community", "bM1X", "sha256", sha(data)))
	_, doneLoc := p.tusCreate(len(data), tusMetadata("community", "bM1X", "sha256", sha(data)))
	p.tusPatch(doneLoc, 0, data)
	_, oldRID := p.issuePDFCode("19580214", time.Now().Add(-48*time.Hour))
	_, recentRID := p.issuePDFCode("19580214", time.Now().Add(-time.Hour))

	// Files an interrupted `code issue` left behind, a day old.
	orphan := RecordDir(p.dir, NewRecordID())
	if err := os.MkdirAll(filepath.Join(orphan, "src"), 0o700); err != nil {
		t.Fatal(err)
	}
	dayAgo := time.Now().Add(-25 * time.Hour)
	os.Chtimes(orphan, dayAgo, dayAgo)
	// Make the old upload and the finished one idle for two hours.
	past := time.Now().Add(-2 * time.Hour)
	for _, loc := range []string{oldLoc, doneLoc} {
		os.Chtimes(filepath.Join(p.dir, uploadsDir, path.Base(loc)), past, past)
	}
	p.srv.Sweep(t.Context(), time.Now())

	if _, s := p.tusOffset(oldLoc); s != 404 {
		t.Errorf("abandoned upload: HEAD %d", s)
	}
	if _, s := p.tusOffset(doneLoc); s != 404 {
		t.Errorf("old finished upload: HEAD %d", s)
	}
	if _, s := p.tusOffset(freshLoc); s != 200 {
		t.Errorf("fresh upload: HEAD %d", s)
	}
	if _, err := p.srv.Store().receipt(path.Base(doneLoc)); err != nil {
		t.Errorf("the finished upload's inbox item went with it: %v", err)
	}
	if _, err := p.srv.Store().codeByID(oldRID); err == nil {
		t.Error("code past retention survived")
	}
	if _, err := os.Stat(RecordDir(p.dir, oldRID)); !os.IsNotExist(err) {
		t.Error("files of a code past retention survived")
	}
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Error("unregistered code files survived")
	}
	if _, err := os.Stat(RecordDir(p.dir, recentRID)); err != nil {
		t.Error("files of a registered code were removed")
	}
	if _, err := p.srv.Store().codeByID(recentRID); err != nil {
		t.Error("recently expired code was deleted")
	}
}
