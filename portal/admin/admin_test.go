package admin

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/bildbote/bildbote/internal/gencd"
	"github.com/bildbote/bildbote/portal"
	"github.com/bildbote/bildbote/portal/accesscode"
)

// run calls Main and returns exit code, stdout, stderr.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(args, &out, &errb)
	return code, out.String(), errb.String()
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := run(t, args...)
	if code != 0 {
		t.Fatalf("%v: exit %d\n%s%s", args, code, out, errOut)
	}
	return out
}

func recipient(t *testing.T) string {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id.Recipient().String()
}

func makeCD(t *testing.T) (string, *gencd.Result) {
	t.Helper()
	dir := t.TempDir()
	res, err := gencd.Generate(dir, gencd.Options{Files: 40, Seed: 3, Documents: true, PixelSize: 32})
	if err != nil {
		t.Fatal(err)
	}
	return dir, res
}

var formattedCode = regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}\n$`)

func TestCommandsOnAStoppedDataDir(t *testing.T) {
	t.Setenv("LANG", "en_US.UTF-8")
	data := t.TempDir()
	key := mustRun(t, "community", "add", "--data", data, "--code", "bM1X", "--name", "Radiologie Klinikum Saarbrücken", "--recipient", recipient(t), "--recipient", recipient(t))
	if !strings.HasPrefix(key, "bbk_") {
		t.Fatalf("API key %q", key)
	}
	list := mustRun(t, "community", "list", "--data", data)
	if !strings.Contains(list, "bM1X") || !strings.Contains(list, "Saarbrücken") {
		t.Fatalf("community list:\n%s", list)
	}
	if code, _, errOut := run(t, "community", "add", "--data", data, "--code", "bM1X", "--name", "Again", "--recipient", recipient(t)); code != exitInput || !strings.Contains(errOut, "exists") {
		t.Fatalf("duplicate community: %d %s", code, errOut)
	}
	if code, _, errOut := run(t, "community", "add", "--data", data, "--code", "x2", "--name", "X", "--recipient", "age1nope"); code != exitInput || !strings.Contains(errOut, "age1nope") {
		t.Fatalf("bad recipient: %d %s", code, errOut)
	}
	if code, _, _ := run(t, "community", "add", "--code", "x2"); code != exitUsage {
		t.Fatalf("missing --data: %d", code)
	}

	cd, gen := makeCD(t)
	p := gen.Patients[0]
	sheet := filepath.Join(t.TempDir(), "sheet.pdf")
	out := mustRun(t, "code", "issue", "--data", data, "--patient", p.ID, "--expires", "90d", "--sheet", sheet, "--public-url", "https://portal.example", cd)
	if !formattedCode.MatchString(out) {
		t.Fatalf("code issue printed %q", out)
	}
	if b, err := os.ReadFile(sheet); err != nil || !bytes.HasPrefix(b, []byte("%PDF-")) {
		t.Fatalf("sheet: %v", err)
	}
	var codes []portal.CodeInfo
	json.Unmarshal([]byte(mustRun(t, "code", "list", "--data", data, "--json")), &codes)
	if len(codes) != 1 || codes[0].Questions[0] != portal.QuestionBirthDate || codes[0].Items != len(p.Studies)+1 {
		t.Fatalf("code list: %+v", codes)
	}
	if d := time.Until(codes[0].ExpiresAt); d < 89*24*time.Hour || d > 91*24*time.Hour {
		t.Fatalf("expiry in %v", d)
	}
	// extend by the code as the patient reads it out, revoke by record ID.
	mustRun(t, "code", "extend", strings.ToLower(strings.TrimSpace(out)), "--data", data, "--expires", "2w")
	mustRun(t, "code", "revoke", "--data", data, codes[0].RecordID)
	json.Unmarshal([]byte(mustRun(t, "code", "list", "--data", data, "--json")), &codes)
	if !codes[0].Revoked || time.Until(codes[0].ExpiresAt) > 15*24*time.Hour {
		t.Fatalf("after extend+revoke: %+v", codes[0])
	}
	text := mustRun(t, "code", "list", "--data", data)
	if strings.Contains(text, strings.TrimSpace(out)) || !strings.Contains(text, "revoked") {
		t.Fatalf("code list text:\n%s", text)
	}
	if code, _, _ := run(t, "code", "revoke", "--data", data, "ZZZZ-ZZZZ-ZZZZ"); code != exitInput {
		t.Fatalf("revoke unknown: %d", code)
	}
	if code, _, _ := run(t, "code", "issue", "--data", data, filepath.Join(t.TempDir(), "missing")); code != exitInput {
		t.Fatalf("issue from a missing path: %d", code)
	}
	// Several patients without --dob: no default question.
	if code, _, errOut := run(t, "code", "issue", "--data", data, cd); code != exitInput || !strings.Contains(errOut, "--dob") {
		t.Fatalf("two patients without --dob: %d %s", code, errOut)
	}
}

// TestCommandsWhileServing: with a server holding the database, admin
// commands go through the admin socket and the server sees their effect
// at once.
func TestCommandsWhileServing(t *testing.T) {
	data := t.TempDir()
	srv, err := portal.New(portal.Config{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.ListenAdmin(); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer func() { ts.Close(); srv.Close() }()

	if _, err := portal.OpenStore(data, 100*time.Millisecond); err != portal.ErrLocked {
		t.Fatalf("the server must hold the database: %v", err)
	}
	mustRun(t, "community", "add", "--data", data, "--code", "bM1X", "--name", "Klinik", "--recipient", recipient(t))
	resp, err := http.Get(ts.URL + "/api/v1/communities/bM1X")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("community via server: %v %v", resp, err)
	}
	cd, gen := makeCD(t)
	p := gen.Patients[1]
	code := strings.TrimSpace(mustRun(t, "code", "issue", "--data", data, "--patient", p.ID, "--dob", "1960-01-31", cd))
	if _, ok := accesscode.Normalize(code); !ok {
		t.Fatalf("code %q", code)
	}
	body := `{"tfaAnswer":[{"questionId":"1","answer":"19600131"}]}`
	resp, err = http.Post(ts.URL+"/dlx/v1/tokentfa/"+code, "application/json", strings.NewReader(body))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("redeem a code issued while serving: %v %v", resp.StatusCode, err)
	}
	if out := mustRun(t, "code", "list", "--data", data); !strings.Contains(out, "PAT_BIRTH_DATE") {
		t.Fatalf("code list over the socket:\n%s", out)
	}
}

func TestServeRefusesPlainHTTPOffLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:8080"} {
		if code, _, errOut := run(t, "serve", "--data", t.TempDir(), "--listen", addr); code != exitRefused || errOut == "" {
			t.Errorf("%s: exit %d %s", addr, code, errOut)
		}
	}
	for addr, want := range map[string]bool{"127.0.0.1:80": true, "[::1]:80": true, "localhost:1": true, "0.0.0.0:1": false, ":1": false} {
		if isLoopback(addr) != want {
			t.Errorf("isLoopback(%s) != %v", addr, want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"90d": 90 * 24 * time.Hour, "2w": 14 * 24 * time.Hour, "36h": 36 * time.Hour, "10m": 10 * time.Minute} {
		if got, err := parseDuration(in); err != nil || got != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
	for _, in := range []string{"", "d", "-3d", "1.5d", "3x", "0d"} {
		if _, err := parseDuration(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

// TestDemo seeds a data dir, checks the identity file age can read, that
// a second run changes nothing, and that the printed code redeems.
func TestDemo(t *testing.T) {
	data := t.TempDir()
	var first DemoInfo
	if err := json.Unmarshal([]byte(mustRun(t, "demo", "--data", data, "--json")), &first); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(data, DemoIdentityFile))
	if err != nil {
		t.Fatal(err)
	}
	ids, err := age.ParseIdentities(f)
	f.Close()
	if err != nil || len(ids) != 1 || ids[0].(*age.X25519Identity).Recipient().String() != first.Recipient {
		t.Fatalf("identity file: %v", err)
	}
	var second DemoInfo
	json.Unmarshal([]byte(mustRun(t, "demo", "--data", data, "--json")), &second)
	if second != first {
		t.Fatalf("second run changed the demo: %+v", second)
	}
	srv, err := portal.New(portal.Config{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer func() { ts.Close(); srv.Close() }()
	body := `{"tfaAnswer":[{"questionId":"1","answer":"` + first.BirthDate + `"}]}`
	resp, err := http.Post(ts.URL+"/dlx/v1/tokentfa/"+first.AccessCode, "application/json", strings.NewReader(body))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("demo code: %v %v", resp.StatusCode, err)
	}
	req, _ := http.NewRequest("GET", ts.URL+"/api/v1/inbox/"+first.Inbox, nil)
	req.Header.Set("Authorization", "Bearer "+first.APIKey)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("demo inbox: %v %v", resp.StatusCode, err)
	}
}

// TestIssueFromZip: a CD given as a ZIP is staged like a folder.
func TestIssueFromZip(t *testing.T) {
	cd, gen := makeCD(t)
	zipPath := filepath.Join(t.TempDir(), "cd.zip")
	f, err := os.Create(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	if err := zw.AddFS(os.DirFS(cd)); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	f.Close()
	data := t.TempDir()
	p := gen.Patients[0]
	mustRun(t, "code", "issue", "--data", data, "--patient", p.ID, zipPath)
	var codes []portal.CodeInfo
	json.Unmarshal([]byte(mustRun(t, "code", "list", "--data", data, "--json")), &codes)
	if len(codes) != 1 || codes[0].Items != len(p.Studies)+1 {
		t.Fatalf("code from ZIP: %+v", codes)
	}
}

// TestSocketErrorsAreTranslated: a UserError raised in the server comes
// back over the admin socket with its key, and prints translated.
func TestSocketErrorsAreTranslated(t *testing.T) {
	data := t.TempDir()
	srv, err := portal.New(portal.Config{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if err := srv.ListenAdmin(); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LANG", "de_DE.UTF-8")
	code, _, errOut := run(t, "community", "add", "--data", data, "--code", "bM1X", "--name", "X", "--recipient", "age1kaputt")
	if code != exitInput || !strings.Contains(errOut, "ist kein öffentlicher age-Schlüssel") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}
