package app_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/crypto"
	"github.com/bildbote/bildbote/internal/gencd"
	"github.com/bildbote/bildbote/internal/i18n"
)

// hostileInbox is a portal's inbox API gone bad: it lists whatever items
// the test sets (IDs, sizes, checksums straight from the test), serves the
// one real envelope for any item ID and accepts every acknowledgement.
type hostileInbox struct {
	envelope []byte
	sha      string

	mu     sync.Mutex
	items  []map[string]any
	gets   []string
	acks   []string
	server *httptest.Server
}

func newHostileInbox(t testing.TB, envelope []byte) *hostileInbox {
	sum := sha256.Sum256(envelope)
	h := &hostileInbox{envelope: envelope, sha: hex.EncodeToString(sum[:])}
	h.server = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.server.Close)
	return h
}

func (h *hostileInbox) setItems(items ...map[string]any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.items, h.gets, h.acks = items, nil, nil
}

// item is a listing entry for the real envelope under id.
func (h *hostileInbox) item(id string) map[string]any {
	return map[string]any{"id": id, "size": len(h.envelope), "sha256": h.sha, "receivedAt": "2026-01-02T03:04:05Z"}
}

func (h *hostileInbox) serve(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), "/api/v1/inbox/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	code, id, hasID := strings.Cut(rest, "/")
	_ = code
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case !hasID && r.Method == http.MethodGet:
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"items": h.items})
	case hasID && r.Method == http.MethodGet:
		h.gets = append(h.gets, id)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(h.envelope))
	case hasID && r.Method == http.MethodDelete:
		h.acks = append(h.acks, id)
		w.WriteHeader(http.StatusNoContent)
	default:
		http.NotFound(w, r)
	}
}

// realEnvelope is an envelope a practice sealed to the clinic's key and
// uploaded to the real portal, as the portal stores it.
func realEnvelope(t *testing.T, recipient string) []byte {
	t.Helper()
	p := startPortal(t, t.TempDir())
	p.addCommunity("bM1X", "Klinik", recipient)
	cdDir, _ := generateCD(t, gencd.MinFiles)
	practice := openCore(t, app.Config{})
	job, err := send(t, practice, p.url, "bM1X", cdDir, true)
	if err != nil {
		t.Fatal(err)
	}
	if j := wait(t, practice, job); j.State != app.StateDone {
		t.Fatalf("send: %s %+v", j.State, j.Error)
	}
	files, _ := filepath.Glob(filepath.Join(p.dir, "inbox", "bm1x", "*"))
	if len(files) != 1 {
		t.Fatalf("inbox files %v", files)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// sentinelSite is a clinic's machine in miniature: base/ holds a sibling
// folder, the target folder to/ and the state dir state/ with a keys/
// folder (the clinic's real key file, keys/clinic.age, once clinicCore
// made it), every file of which must survive whatever the portal lists.
type sentinelSite struct {
	base, to, state string
}

func newSentinelSite(t testing.TB) *sentinelSite {
	base := t.TempDir()
	s := &sentinelSite{base: base, to: filepath.Join(base, "clinic", "to"), state: filepath.Join(base, "clinic", "state")}
	for name, body := range map[string]string{
		"important.txt":                   "do not delete",
		"clinic/sibling/report.pdf":       "%PDF-1.4 sentinel",
		"clinic/state/keys/clinic.pub":    "age1sentinel",
		"clinic/state/quarantine/keep.me": "sentinel",
		"clinic/to/already-there.txt":     "an earlier import",
	} {
		p := filepath.Join(base, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// clinicCore opens the clinic's core on the site's state dir with its key
// in the file state/keys/clinic.age (no keyring), the file the attack
// "../../keys/clinic" deleted.
func (s *sentinelSite) clinicCore(t testing.TB) (*app.Core, *app.KeyInfo) {
	t.Helper()
	core := openCore(t, app.Config{StateDir: s.state, NoKeyring: true,
		Passphrase: crypto.Passphrase{Prompt: func() (string, error) { return "correct horse", nil }}})
	key, err := core.InitClinicKey()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.state, "keys", "clinic.age")); err != nil {
		t.Fatalf("the key file: %v", err)
	}
	return core, key
}

// snapshot is every file and folder of base with its size and SHA-256,
// except what the import may change: the target folder's new entries, the
// job's work dirs (state/inbox/) and the core's own database files
// (state/*.db, state/*.lock). already-there.txt under to/ must stay.
func (s *sentinelSite) snapshot(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(s.base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(s.base, p)
		rel = filepath.ToSlash(rel)
		switch {
		case rel == "clinic/to/already-there.txt":
		case strings.HasPrefix(rel, "clinic/to/"):
			return nil
		case strings.HasPrefix(rel, "clinic/state/inbox"), strings.HasPrefix(rel, "clinic/state/quarantine/") && rel != "clinic/state/quarantine/keep.me":
			return nil
		case strings.HasPrefix(rel, "clinic/state/") && !strings.Contains(strings.TrimPrefix(rel, "clinic/state/"), "/") && !d.IsDir():
			if rel != "clinic/state/keys" {
				return nil // the core's own files (database, settings)
			}
		}
		if d.IsDir() {
			out[rel] = "dir"
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		out[rel] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	return out
}

func sameSnapshot(t *testing.T, what string, before, after map[string]string) bool {
	t.Helper()
	var diff []string
	for k, v := range before {
		if after[k] != v {
			diff = append(diff, "changed or gone: "+k)
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			diff = append(diff, "new: "+k)
		}
	}
	sort.Strings(diff)
	if len(diff) > 0 {
		t.Errorf("%s: outside the target: %s", what, strings.Join(diff, "; "))
		return false
	}
	return true
}

// TestHostileInboxIDsReported reproduces the two attacks of issue 12
// through the real app.Core: a portal listing the IDs "x/../.." (which
// made receive delete the parent of --to) and "../../keys/clinic" (which
// deleted the clinic's private key before any download). Both items are
// refused by name without a request for them, the real item beside them
// is imported, and nothing outside the target folder changes.
func TestHostileInboxIDsReported(t *testing.T) {
	site := newSentinelSite(t)
	core, key := site.clinicCore(t)
	h := newHostileInbox(t, realEnvelope(t, key.Recipient))
	const good = "0123456789abcdef0123456789abcdef"
	h.setItems(h.item("x/../.."), h.item("../../keys/clinic"), h.item(good))
	before := site.snapshot(t)

	job, err := core.StartImport(app.ImportRequest{Portal: h.server.URL, Inbox: "bM1X", APIKey: "key", ToDir: site.to})
	if err != nil {
		t.Fatal(err)
	}
	j := waitShort(t, core, job)
	sameSnapshot(t, "hostile IDs", before, site.snapshot(t))
	if j.State != app.StateFailed || j.Error == nil || j.Error.Kind != i18n.KindRefused {
		t.Fatalf("job %s %+v, want failed, refused", j.State, j.Error)
	}
	msg := j.Error.Message(i18n.EN)
	if !strings.Contains(msg, `"x/../.."`) || !strings.Contains(msg, `"../../keys/clinic"`) {
		t.Errorf("the error does not name both items: %q", msg)
	}
	if j.Receipt == nil || len(j.Receipt.Imported) == 0 || !j.Receipt.Imported[0].Acked {
		t.Fatalf("the valid item beside them was not imported: %+v", j.Receipt)
	}
	for _, r := range j.Receipt.Imported {
		if !strings.HasPrefix(r.Dir, site.to+string(filepath.Separator)) {
			t.Errorf("imported to %q, outside %q", r.Dir, site.to)
		}
	}
	h.mu.Lock()
	gets, acks := h.gets, h.acks
	h.mu.Unlock()
	for _, id := range append(gets, acks...) {
		if id != good {
			t.Errorf("a request for the hostile item %q was sent", id)
		}
	}
	if len(acks) != 1 {
		t.Errorf("acks %v, want the good item once", acks)
	}

	// Only hostile items: StartImport refuses at once, naming the item.
	h.setItems(h.item("../../keys/clinic"))
	before = site.snapshot(t)
	_, err = core.StartImport(app.ImportRequest{Portal: h.server.URL, Inbox: "bM1X", APIKey: "key", ToDir: site.to})
	if !isKind(err, i18n.KindRefused) || !strings.Contains(err.Error(), `"../../keys/clinic"`) {
		t.Errorf("only a hostile item: %v", err)
	}
	sameSnapshot(t, "only hostile", before, site.snapshot(t))
}

// waitShort waits for a job that must end within seconds and shows where
// it stands when it does not.
func waitShort(t *testing.T, core *app.Core, job *app.Job) *app.Job {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	j, err := core.Wait(ctx, job.ID)
	if err != nil {
		now, _ := core.Job(job.ID)
		t.Fatalf("job %s did not end: %v; now %+v", job.ID, err, now)
	}
	return j
}

// FuzzHostileInboxListing runs a real receive against a hostile inbox
// server whose listing the fuzzer writes (two items: IDs, size, checksum,
// time) and checks that nothing outside the target folder and the job's
// work dir changes (the sentinel tree, the clinic's key file among it),
// and that no request ever names an ID outside the grammar.
func FuzzHostileInboxListing(f *testing.F) {
	for _, id := range []string{"x/../..", "../../keys/clinic", "/etc/passwd", `C:\..`, `C:\Windows\System32`, "a\x00b", strings.Repeat("A", 65),
		strings.Repeat("../", 300), "ｘ／．．", "\u2215..\u2215..", ".", "..", "", " ", "0123456789abcdef0123456789abcdef", "item%2F..%2F..", "a/b", `..\..\keys`, "CON", "-", "_"} {
		f.Add(id, "0123456789abcdef0123456789abcdef", int64(-1), "=", "2026-01-02T03:04:05Z")
	}
	f.Add("ok1", "ok1", int64(0), "", "")
	f.Add("ok2", "../ok2", int64(1<<62), "zz", "bogus")
	f.Add("ok3", "ok4", int64(-5), "=", "9999-12-31T23:59:59Z")
	site := newSentinelSite(f)
	core, key := site.clinicCore(f)
	own, err := age.ParseX25519Recipient(key.Recipient)
	if err != nil {
		f.Fatal(err)
	}
	files := map[string]string{"files/BEFUND.pdf": "%PDF-1.4 report"}
	h := newHostileInbox(f, craftEnvelope(f, own, manifestOf(files), files, 0))
	f.Fuzz(func(t *testing.T, id1, id2 string, size int64, sha, received string) {
		item := func(id string) map[string]any {
			it := h.item(id)
			if size >= 0 {
				it["size"] = size
			}
			if sha != "=" {
				it["sha256"] = sha
			}
			if received != "" {
				it["receivedAt"] = received
			}
			return it
		}
		h.setItems(item(id1), item(id2))
		before := site.snapshot(t)
		job, err := core.StartImport(app.ImportRequest{Portal: h.server.URL, Inbox: "bM1X", APIKey: "key", ToDir: site.to})
		if err == nil && job != nil {
			j := waitShort(t, core, job)
			core.Forget(j.ID)
		}
		if !sameSnapshot(t, "listing "+strconvQuote(id1)+", "+strconvQuote(id2), before, site.snapshot(t)) {
			return
		}
		h.mu.Lock()
		sent := append(append([]string(nil), h.gets...), h.acks...)
		h.mu.Unlock()
		for _, id := range sent {
			if !validWireID(id) {
				t.Errorf("a request named the item %q", id)
			}
		}
		site.clearTarget(t)
	})
}

// validWireID is the inbox ID grammar as it appears in a request path.
func validWireID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func strconvQuote(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return strconv.QuoteToASCII(s)
}

// clearTarget empties to/ (but for already-there.txt) and the quarantine
// (but for keep.me) between fuzz runs.
func (s *sentinelSite) clearTarget(t *testing.T) {
	for dir, keep := range map[string]string{s.to: "already-there.txt", filepath.Join(s.state, "quarantine"): "keep.me"} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if e.Name() != keep {
				os.RemoveAll(filepath.Join(dir, e.Name()))
			}
		}
	}
}
