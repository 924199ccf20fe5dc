package app_test

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/internal/gencd"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/testkit/corpus"
	"github.com/bildbote/bildbote/internal/testkit/faultproxy"
	"github.com/bildbote/bildbote/internal/testkit/validate"
	"github.com/bildbote/bildbote/portal"
)

// Fault tests: the real portal, with connections cut by faultproxy, a
// restart, short JWTs, 503 answers, a full disk and a tampered envelope.
// Retries start at 20 ms so the test does not sit in backoff.

const fastRetry = 20 * time.Millisecond

func bigCD(t *testing.T) (string, *gencd.Result) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "cd")
	// 40 files of 256×256×2 bytes: an envelope of a few MB.
	res, err := gencd.Generate(dir, gencd.Options{Files: 40, PixelSize: 256})
	if err != nil {
		t.Fatal(err)
	}
	return dir, res
}

// behindProxy starts a portal whose public address is a faultproxy.
func behindProxy(t *testing.T, opt faultproxy.Options, mod ...func(*portal.Config)) (*testPortal, *faultproxy.Proxy) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	px, err := faultproxy.New(ln.Addr().String(), opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { px.Close() })
	mod = append(mod, func(c *portal.Config) { c.PublicURL = "http://" + px.Addr() })
	return startPortalOn(t, t.TempDir(), ln, mod...), px
}

func policyFile(t *testing.T, body string) string {
	p := filepath.Join(t.TempDir(), "policy.toml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCutsInUploadAndDownload: 10 cuts in one upload and 10 in one
// download; every file still arrives byte for byte.
func TestCutsInUploadAndDownload(t *testing.T) {
	p, px := behindProxy(t, faultproxy.Options{Cuts: 10, MinBytes: 64 << 10, MaxBytes: 160 << 10, Seed: 1})
	cl := newClinic(t, p, "bM1X")
	cl.core.Close()
	cdDir, cd := bigCD(t)
	practice := openCore(t, app.Config{RetryInitial: fastRetry})
	job, err := send(t, practice, p.url, "bM1X", cdDir, false)
	if err != nil {
		t.Fatal(err)
	}
	if j := wait(t, practice, job); j.State != app.StateDone {
		t.Fatalf("send: %s %+v", j.State, j.Error)
	}
	if px.Cuts() != 10 {
		t.Fatalf("%d cuts during the upload, want 10", px.Cuts())
	}
	// Download through a second proxy with its own 10 cuts.
	px2, err := faultproxy.New(p.addr, faultproxy.Options{Cuts: 10, MinBytes: 64 << 10, MaxBytes: 160 << 10, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer px2.Close()
	clinicCore := openCore(t, app.Config{StateDir: cl.core.StateDir(), RetryInitial: fastRetry})
	to := t.TempDir()
	ij, err := clinicCore.StartImport(app.ImportRequest{Portal: "http://" + px2.Addr(), Inbox: "bM1X", APIKey: cl.apiKey, ToDir: to})
	if err != nil {
		t.Fatal(err)
	}
	ij = wait(t, clinicCore, ij)
	if ij.State != app.StateDone {
		t.Fatalf("import: %s %+v", ij.State, ij.Error)
	}
	if px2.Cuts() != 10 {
		t.Errorf("%d cuts during the download, want 10", px2.Cuts())
	}
	sameImported(t, cd, ij.Receipt.Imported)
}

// TestPortalRestartMidUpload: the portal stops while an upload runs and
// comes back; the job waits for the network and finishes the same upload.
func TestPortalRestartMidUpload(t *testing.T) {
	p := startPortal(t, t.TempDir())
	newClinic(t, p, "bM1X")
	cdDir, _ := bigCD(t)
	// 8 Mbit/s so the upload takes a few seconds.
	practice := openCore(t, app.Config{RetryInitial: fastRetry, PolicyPath: policyFile(t, "bandwidth_limit_kbps = 8000\n")})
	job, err := send(t, practice, p.url, "bM1X", cdDir, false)
	if err != nil {
		t.Fatal(err)
	}
	waitUploadStarted(t, p.dir)
	p.restart()
	sub := practice.Subscribe()
	defer sub.Close()
	j := wait(t, practice, job)
	if j.State != app.StateDone {
		t.Fatalf("send after restart: %s %+v", j.State, j.Error)
	}
	items, err := p.srv.Store().ListCommunities(context.Background())
	if err != nil || len(items) != 1 || items[0].Pending != 1 {
		t.Errorf("inbox after restart: %+v %v", items, err)
	}
}

// waitUploadStarted waits until the portal holds some uploaded bytes.
func waitUploadStarted(t *testing.T, dataDir string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		found := false
		filepath.Walk(filepath.Join(dataDir, "uploads"), func(path string, fi os.FileInfo, err error) error {
			if err == nil && !fi.IsDir() && !strings.HasSuffix(path, ".info") && fi.Size() > 256<<10 {
				found = true
			}
			return nil
		})
		if found {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the upload never started")
}

// TestJWTExpiresMidDownload: the portal's session tokens live three
// seconds (hashing the answers takes one under -race); the first download
// is cut after 128 KiB and 3.5 s, when the JWT has expired, so the client
// must answer the questions again (from memory) and resume the download.
func TestJWTExpiresMidDownload(t *testing.T) {
	dir := t.TempDir()
	var cuts atomic.Int32
	wrapHandler[dir] = func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, "/dlx/v1/download/") && cuts.Add(1) == 1 {
				h.ServeHTTP(&cutWriter{ResponseWriter: w, after: 128 << 10, pause: 3500 * time.Millisecond}, r)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
	defer delete(wrapHandler, dir)
	p := startPortal(t, dir, func(c *portal.Config) { c.JWTLifetime = 3 * time.Second; c.PrepareEagerly = true })
	cdDir, cd := bigCD(t)
	pa := cd.Patients[0]
	code := p.issueCode(cdDir, pa, time.Now().Add(time.Hour))
	core := openCore(t, app.Config{RetryInitial: fastRetry, LibraryDir: t.TempDir()})
	s, _, err := redeem(t, core, p.url, code, pa.BirthDate)
	if err != nil {
		t.Fatal(err)
	}
	job, err := core.StartSave(s, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	j := wait(t, core, job)
	if j.State != app.StateDone || len(j.Receipt.Saved) != len(pa.Studies) {
		t.Fatalf("save: %s %+v", j.State, j.Error)
	}
	if cuts.Load() < 2 {
		t.Error("the download was not cut")
	}
	for i, sv := range j.Receipt.Saved {
		if n := validate.DICOMDIR(t, filepath.Join(sv.Dir, "DICOMDIR")); n != pa.Studies[i].Files {
			t.Errorf("%s: %d instances", sv.Dir, n)
		}
	}
}

// cutWriter passes `after` bytes, waits `pause` (the JWT expires), then
// aborts the response: the client sees a cut connection.
type cutWriter struct {
	http.ResponseWriter
	after int
	pause time.Duration
	n     int
}

func (c *cutWriter) Write(b []byte) (int, error) {
	if c.n+len(b) > c.after {
		if f, ok := c.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		time.Sleep(c.pause)
		panic(http.ErrAbortHandler)
	}
	c.n += len(b)
	return c.ResponseWriter.Write(b)
}

// TestPortalAnswers503: the portal is overloaded for a while (503 on
// uploads and downloads); both flows wait and finish.
func TestPortalAnswers503(t *testing.T) {
	dir := t.TempDir()
	var busy atomic.Int32
	busy.Store(6)
	wrapHandler[dir] = func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if (r.Method == http.MethodPatch || strings.Contains(r.URL.Path, "/download") || strings.Contains(r.URL.Path, "/inbox/")) && busy.Add(-1) >= 0 {
				w.Header().Set("Retry-After", "0")
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusServiceUnavailable)
				w.Write([]byte(`{"error":"busy","message":"try later","timeOutInSeconds":0}`))
				return
			}
			h.ServeHTTP(w, r)
		})
	}
	defer delete(wrapHandler, dir)
	p := startPortal(t, dir)
	cl := newClinic(t, p, "bM1X")
	cdDir, cd := generateCD(t, 20)
	practice := openCore(t, app.Config{RetryInitial: fastRetry})
	job, err := send(t, practice, p.url, "bM1X", cdDir, false)
	if err != nil {
		t.Fatal(err)
	}
	if j := wait(t, practice, job); j.State != app.StateDone {
		t.Fatalf("send: %s %+v", j.State, j.Error)
	}
	busy.Store(3)
	ij, err := cl.core.StartImport(app.ImportRequest{Portal: p.url, Inbox: "bM1X", APIKey: cl.apiKey, ToDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ij = wait(t, cl.core, ij)
	if ij.State != app.StateDone {
		t.Fatalf("import: %s %+v", ij.State, ij.Error)
	}
	sameImported(t, cd, ij.Receipt.Imported)
	if busy.Load() >= 0 {
		t.Error("the 503s were never served")
	}
}

// TestTamperedEnvelopeNotImported: a byte of the stored envelope flipped
// on the portal; nothing is imported and the item stays in the inbox.
func TestTamperedEnvelopeNotImported(t *testing.T) {
	p := startPortal(t, t.TempDir())
	cl := newClinic(t, p, "bM1X")
	cdDir, _ := generateCD(t, gencd.MinFiles)
	practice := openCore(t, app.Config{})
	job, err := send(t, practice, p.url, "bM1X", cdDir, false)
	if err != nil {
		t.Fatal(err)
	}
	wait(t, practice, job)
	files, _ := filepath.Glob(filepath.Join(p.dir, "inbox", "bm1x", "*"))
	if len(files) != 1 {
		t.Fatalf("inbox files %v", files)
	}
	data, _ := os.ReadFile(files[0])
	data[len(data)/2] ^= 0x40
	if err := os.WriteFile(files[0], data, 0o600); err != nil {
		t.Fatal(err)
	}

	to := t.TempDir()
	ij, err := cl.core.StartImport(app.ImportRequest{Portal: p.url, Inbox: "bM1X", APIKey: cl.apiKey, ToDir: to})
	if err != nil {
		t.Fatal(err)
	}
	ij = wait(t, cl.core, ij)
	if ij.State != app.StateFailed || ij.Error == nil || ij.Error.Kind != i18n.KindRefused {
		t.Fatalf("tampered import: %s %+v", ij.State, ij.Error)
	}
	if entries, _ := os.ReadDir(to); len(entries) != 0 {
		t.Errorf("something was imported: %v", entries)
	}
	if items, _ := cl.core.InboxList(context.Background(), p.url, "bM1X", cl.apiKey); len(items) != 1 {
		t.Errorf("tampered item acknowledged: %v", items)
	}
}

// TestFullDiskOnUnpack: the library's disk fills while a study is
// unpacked; the save fails with a clear error and nothing is reported or
// left as saved.
func TestFullDiskOnUnpack(t *testing.T) {
	if os.Geteuid() != 0 {
		corpus.Missing(t, "needs root to mount a small tmpfs")
	}
	p := startPortal(t, t.TempDir(), func(c *portal.Config) { c.PrepareEagerly = true })
	cdDir, cd := bigCD(t)
	pa := cd.Patients[0]
	code := p.issueCode(cdDir, pa, time.Now().Add(time.Hour))

	// Learn the size of the download first, on a normal disk.
	probe := openCore(t, app.Config{LibraryDir: t.TempDir()})
	s, _, err := redeem(t, probe, p.url, code, pa.BirthDate)
	if err != nil {
		t.Fatal(err)
	}
	j := wait(t, probe, mustJob(probe.StartSave(s, nil, "")))
	if j.State != app.StateDone {
		t.Fatalf("probe save: %s %+v", j.State, j.Error)
	}
	// Room for the downloads and a little more, not for the unpacked files.
	lib := t.TempDir()
	size := j.BytesTotal + j.BytesTotal/4
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+itoa(size), "tmpfs", lib).CombinedOutput(); err != nil {
		corpus.Missing(t, "mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", lib).Run() })

	core := openCore(t, app.Config{LibraryDir: lib})
	s, _, err = redeem(t, core, p.url, code, pa.BirthDate)
	if err != nil {
		t.Fatal(err)
	}
	j = wait(t, core, mustJob(core.StartSave(s, nil, "")))
	if j.State != app.StateFailed || j.Error == nil || !strings.HasPrefix(j.Error.Key, "transfer.disk.") {
		t.Fatalf("full disk: %s %+v", j.State, j.Error)
	}
	if j.Receipt != nil && len(j.Receipt.Saved) > 0 {
		t.Errorf("reported as saved: %+v", j.Receipt.Saved)
	}
	var saved []string
	filepath.Walk(lib, func(path string, fi os.FileInfo, err error) error {
		if err == nil && fi.Name() == "DICOMDIR" {
			saved = append(saved, path)
		}
		return nil
	})
	codes, _ := core.Codes()
	// A study saved before the disk filled is complete; none is half.
	for _, d := range saved {
		validate.DICOMDIR(t, d)
	}
	if len(codes) != 1 || len(codes[0].Saved) != len(saved) {
		t.Errorf("codes record %+v, DICOMDIRs on disk %v", codes, saved)
	}
	msg := i18n.T(i18n.EN, j.Error.Key, j.Error.Args...)
	if !strings.Contains(msg, lib) && !strings.Contains(strings.ToLower(msg), "disk") {
		t.Errorf("unclear message %q", msg)
	}
}

func mustJob(j *app.Job, err error) *app.Job {
	if err != nil {
		panic(err)
	}
	return j
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
