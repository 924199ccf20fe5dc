package app_test

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"fmt"
	"hash/crc32"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bildbote/bildbote/app"
)

// brokenDLX answers the DLX steps like a portal and serves each download
// with the handler the test sets.
type brokenDLX struct {
	server   *httptest.Server
	mime     string
	download atomic.Value // http.Handler
}

func newBrokenDLX(t *testing.T, mime string, h http.Handler) *brokenDLX {
	b := &brokenDLX{mime: mime}
	b.download.Store(h)
	b.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case p == "/dlx/v1/api_info":
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"dlxVersion":"1.0","apiBasePath":"/dlx/v1"}`))
		case strings.HasPrefix(p, "/dlx/v1/token/"):
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"apiInfo":[{"dlxVersion":"1.0","apiBasePath":"/dlx/v1"}],"tfaQuestion":[{"question":[{"text":"Geburtsdatum","language":"de"}],"questionId":"1","questionType":"PAT_BIRTH_DATE","answerFormat":"DATE"}]}`))
		case strings.HasPrefix(p, "/dlx/v1/tokentfa/"):
			w.Header().Set("Content-Type", "application/jwt")
			w.Write([]byte("a.b.c"))
		case p == "/dlx/v1/list":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"dataItem":[{"id":"study1","mimeType":%q,"description":"CT Schädel","patientsName":"Test^Anna","patientsBirthdate":"19580214"}]}`, b.mime)
		case strings.HasPrefix(p, "/dlx/v1/download/"):
			b.download.Load().(http.Handler).ServeHTTP(w, r)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(b.server.Close)
	return b
}

// redeemAll runs the whole save flow and returns the job when it stopped.
func redeemAll(t *testing.T, c *app.Core, portal, lib string) *app.Job {
	t.Helper()
	ctx := context.Background()
	s, err := c.RedeemStart(ctx, portal, "ABCD-EFGH-JKMN")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Answer(ctx, map[string]string{"1": "1958-02-14"}); err != nil {
		t.Fatal(err)
	}
	job, err := c.StartSave(s, nil, lib)
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	j, err := c.Wait(wctx, job.ID)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func treeBytes(dir string) (n int64) {
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// bomb is issue 12's ZIP: 600 entries of just under 1 MiB of zeros, named
// .dcm, in under 700 kB.
func bomb(t *testing.T) []byte {
	zeros := make([]byte, 1<<20-1)
	var comp bytes.Buffer
	fw, _ := flate.NewWriter(&comp, flate.BestCompression)
	fw.Write(zeros)
	fw.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := 0; i < 600; i++ {
		w, err := zw.CreateRaw(&zip.FileHeader{Name: fmt.Sprintf("DICOM/ST01/IM%03d.dcm", i), Method: zip.Deflate,
			CRC32: crc32.ChecksumIEEE(zeros), CompressedSize64: uint64(comp.Len()), UncompressedSize64: uint64(len(zeros))})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(comp.Bytes())
	}
	zw.Close()
	return buf.Bytes()
}

// The sub-floor bomb through the whole redeem flow: refused, nothing in
// the library, nothing left in the work folder.
func TestRedeemRefusesSubFloorBomb(t *testing.T) {
	data := bomb(t)
	p := newBrokenDLX(t, "application/zip", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/zip")
		w.Write(data)
	}))
	state, lib := t.TempDir(), t.TempDir()
	c := openCore(t, app.Config{StateDir: state, RetryInitial: 5 * time.Millisecond})
	j := redeemAll(t, c, p.server.URL, lib)
	if j.State != app.StateFailed || j.Error == nil || j.Error.Key != "transfer.zip.limit.ratio" {
		t.Fatalf("state %s, error %+v", j.State, j.Error)
	}
	written := treeBytes(lib) + treeBytes(filepath.Join(state, "work"))
	t.Logf("sub-floor bomb via redeem: %d kB download declaring 600 MiB refused; %d bytes in the library and work folder", len(data)/1000, written)
	if treeBytes(lib) != 0 {
		t.Fatalf("%d bytes in the library", treeBytes(lib))
	}
}

// A portal that keeps resetting the connection: the job gives up after
// its bound (Config.GiveUpAfter, 300 ms here; 4 h by default) with a
// "gave up" message, and Resume finishes it once the portal works.
func TestRedeemGivesUpAndResumes(t *testing.T) {
	reset := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.(*net.TCPConn).SetLinger(0)
			conn.Close()
		}
	})
	p := newBrokenDLX(t, "application/pdf", reset)
	lib := t.TempDir()
	c := openCore(t, app.Config{RetryInitial: 5 * time.Millisecond, GiveUpAfter: 300 * time.Millisecond})
	start := time.Now()
	j := redeemAll(t, c, p.server.URL, lib)
	took := time.Since(start)
	if j.State != app.StateFailed || j.Error == nil || !strings.HasPrefix(j.Error.Key, "transfer.net.gave_up.") || j.Error.HintKey != "transfer.net.gave_up.hint" {
		t.Fatalf("state %s, error %+v", j.State, j.Error)
	}
	t.Logf("reset connection: job failed after %v (bound 300 ms): %s", took.Round(time.Millisecond), j.Error.Message("en"))
	p.download.Store(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/pdf")
		w.Write([]byte("%PDF-1.4 report"))
	}))
	if err := c.Resume(j.ID); err != nil {
		t.Fatal(err)
	}
	j, err := c.Wait(context.Background(), j.ID)
	if err != nil || j.State != app.StateDone {
		t.Fatalf("after Resume: %v %s %+v", err, j.State, j.Error)
	}
}

// max_network_wait_minutes and max_busy_wait_minutes come from the
// policy (locked) and are checked.
func TestWaitBoundsFromPolicy(t *testing.T) {
	c := openCore(t, app.Config{PolicyPath: policyFile(t, "max_network_wait_minutes = 600\nmax_busy_wait_minutes = 90\n")})
	s := c.Settings()
	if s.MaxNetworkWaitMinutes != 600 || s.MaxBusyWaitMinutes != 90 || !c.Locked(app.SettingMaxBusyWait) || !c.Locked(app.SettingMaxNetworkWait) {
		t.Fatalf("settings %+v", s)
	}
	for _, bad := range []string{"max_busy_wait_minutes = 0\n", "max_network_wait_minutes = -1\n", "max_busy_wait_minutes = 20000\n"} {
		if _, err := app.Open(app.Config{StateDir: t.TempDir(), PolicyPath: policyFile(t, bad)}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
