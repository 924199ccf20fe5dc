package admin

import (
	"bytes"
	"compress/zlib"
	"context"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bildbote/bildbote/portal"
	"github.com/bildbote/bildbote/portal/accesscode"
	"github.com/bildbote/bildbote/portal/codesheet"
)

// holdsCode reports whether data contains code (normalised or formatted)
// in its bytes or in any Flate stream inside it (PDF streams).
func holdsCode(data []byte, code string) bool {
	n, _ := accesscode.Normalize(code)
	needles := [][]byte{[]byte(n), []byte(accesscode.Format(n))}
	has := func(b []byte) bool {
		for _, x := range needles {
			if bytes.Contains(b, x) {
				return true
			}
		}
		return false
	}
	if has(data) {
		return true
	}
	for rest := data; ; {
		i := bytes.Index(rest, []byte("stream"))
		if i < 0 {
			return false
		}
		rest = rest[i+len("stream"):]
		body := bytes.TrimLeft(rest, "\r\n")
		if j := bytes.Index(body, []byte("endstream")); j >= 0 {
			body = body[:j]
		}
		if zr, err := zlib.NewReader(bytes.NewReader(body)); err == nil {
			plain, _ := io.ReadAll(io.LimitReader(zr, 64<<20))
			if has(plain) {
				return true
			}
		}
	}
}

// codesInDir lists every regular file under dir that holds one of codes.
func codesInDir(t *testing.T, dir string, codes ...string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, c := range codes {
			if holdsCode(data, c) {
				found = append(found, path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// TestNoCodeInTheDataDir is the attack of issue 12 on a copy of the data
// dir: after `code issue` (with and without a sheet, while a server runs
// and while none does) and after a sweep, no file in the data dir holds
// an access code, not even inside a PDF's Flate streams; a sheet an
// earlier version left in DIR/sheets is deleted.
func TestNoCodeInTheDataDir(t *testing.T) {
	t.Setenv("LANG", "en_US.UTF-8")
	data := t.TempDir()
	cd, gen := makeCD(t)
	p := gen.Patients[0]

	// Without a server: the command opens the database itself.
	sheet := filepath.Join(t.TempDir(), "sheet.pdf")
	withSheet := strings.TrimSpace(mustRun(t, "code", "issue", "--data", data, "--patient", p.ID, "--sheet", sheet, cd))
	b, err := os.ReadFile(sheet)
	if err != nil || !holdsCode(b, withSheet) {
		t.Fatalf("the search must find the code in the sheet written (positive control): %v", err)
	}
	code, out, errOut := run(t, "code", "issue", "--data", data, "--patient", p.ID, cd)
	noSheet := strings.TrimSpace(out)
	if code != 0 || !strings.Contains(errOut, "No code sheet written") {
		t.Fatalf("issue without --sheet: %d %s", code, errOut)
	}
	if code, _, errOut := run(t, "code", "issue", "--data", data, "--patient", p.ID, "--sheet", filepath.Join(data, "sheets", "x.pdf"), cd); code != exitInput || !strings.Contains(errOut, "inside the data directory") {
		t.Fatalf("a sheet inside the data dir: %d %s", code, errOut)
	}

	// With a server: through the admin socket.
	srv, err := portal.New(portal.Config{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.ListenAdmin(); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = run(t, "code", "issue", "--data", data, "--patient", p.ID, "--sheet", "-", cd)
	toStdout := strings.TrimSpace(strings.SplitN(errOut, "\n", 2)[0])
	if code != 0 || !strings.HasPrefix(out, "%PDF-") || !holdsCode([]byte(out), toStdout) {
		t.Fatalf("--sheet -: exit %d, stdout %.20q, stderr %s", code, out, errOut)
	}
	codes := []string{withSheet, noSheet, toStdout}
	for _, c := range codes {
		if _, ok := accesscode.Normalize(c); !ok {
			t.Fatalf("code %q", c)
		}
	}
	if list, err := srv.Store().ListCodes(context.Background()); err != nil || len(list) != 3 {
		t.Fatalf("%d codes, want 3 (the refused one is not issued): %v", len(list), err)
	}
	if found := codesInDir(t, data, codes...); len(found) > 0 {
		t.Fatalf("access codes in the data dir after code issue: %v", found)
	}

	// A sheet an earlier version wrote into DIR/sheets, while the server
	// runs: gone after the next sweep, and so is every code after its
	// retention.
	legacy := filepath.Join(data, "sheets", "legacy.pdf")
	writeLegacySheet(t, legacy, noSheet)
	if found := codesInDir(t, data, noSheet); len(found) != 1 {
		t.Fatalf("the search must find the legacy sheet (positive control): %v", found)
	}
	srv.Sweep(context.Background(), time.Now().Add(200*24*time.Hour))
	if found := codesInDir(t, data, codes...); len(found) > 0 {
		t.Fatalf("access codes in the data dir after the sweep: %v", found)
	}
	if list, _ := srv.Store().ListCodes(context.Background()); len(list) != 0 {
		t.Fatalf("sweep left %d codes", len(list))
	}
	srv.Close()

	// And one left while no server ran: deleted when serve starts.
	writeLegacySheet(t, legacy, noSheet)
	srv, err = portal.New(portal.Config{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if found := codesInDir(t, data, codes...); len(found) > 0 {
		t.Fatalf("access codes in the data dir after a start: %v", found)
	}
}

func writeLegacySheet(t *testing.T, path, code string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := codesheet.Write(f, codesheet.Sheet{Code: code, PublicURL: "http://127.0.0.1:8080", ExpiresAt: time.Now().Add(time.Hour), Questions: []string{portal.QuestionBirthDate}}); err != nil {
		t.Fatal(err)
	}
}

// TestUnlockWhileServing: a code locked for everyone by wrong answers
// from many addresses is unlocked with `code extend --unlock` while the
// server runs, without changing its expiry, and the patient gets in.
func TestUnlockWhileServing(t *testing.T) {
	t.Setenv("LANG", "en_US.UTF-8")
	data := t.TempDir()
	srv, err := portal.New(portal.Config{DataDir: data, Answers: portal.AnswerLimits{Rate: -1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.ListenAdmin(); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer func() { ts.Close(); srv.Close() }()
	cd, gen := makeCD(t)
	p := gen.Patients[1]
	code := strings.TrimSpace(mustRun(t, "code", "issue", "--data", data, "--patient", p.ID, "--dob", "1960-01-31", cd))
	tfa := func(addr int, dob string) *http.Response {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(addr))}}
		c := &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
		resp, err := c.Post(ts.URL+"/dlx/v1/tokentfa/"+code, "application/json", strings.NewReader(`{"tfaAnswer":[{"questionId":"1","answer":"`+dob+`"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	// 4 wrong answers from each of 5 addresses: 20 from 5 ≥ the defaults
	// (20 from 4), no address locked by itself.
	for addr := 10; addr < 15; addr++ {
		for range 4 {
			tfa(addr, "19000101")
		}
	}
	if resp := tfa(99, "19600131"); resp.StatusCode != 401 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("code not locked for everyone: %d", resp.StatusCode)
	}
	if out := mustRun(t, "code", "list", "--data", data); !strings.Contains(out, "locked until") || !strings.Contains(out, " 20 ") {
		t.Fatalf("code list:\n%s", out)
	}
	before := mustRun(t, "code", "list", "--data", data, "--json")
	out := mustRun(t, "code", "extend", "--data", data, "--unlock", code)
	if !strings.Contains(out, "lifted") {
		t.Fatalf("extend --unlock: %s", out)
	}
	after := mustRun(t, "code", "list", "--data", data, "--json")
	if expiry := func(s string) string { i := strings.Index(s, `"expiresAt"`); return s[i : i+40] }; expiry(before) != expiry(after) {
		t.Fatalf("--unlock changed the expiry: %s -> %s", expiry(before), expiry(after))
	}
	if resp := tfa(99, "19600131"); resp.StatusCode != 200 {
		t.Fatalf("patient after --unlock: %d", resp.StatusCode)
	}
}
