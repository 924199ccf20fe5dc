package app_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zalando/go-keyring"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/crypto"
	"github.com/bildbote/bildbote/dicomscan"
	"github.com/bildbote/bildbote/internal/gencd"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/portal"
)

func init() {
	// Headless Linux has no Secret Service; the product falls back to a
	// key file, the tests keep keys in go-keyring's in-memory provider.
	keyring.MockInit()
}

// testPortal is the real reference portal on 127.0.0.1.
type testPortal struct {
	t    testing.TB
	dir  string
	url  string
	srv  *portal.Server
	ts   *httptest.Server
	addr string
	mod  []func(*portal.Config)
}

// wrapHandler puts a fault injector in front of the portal whose data dir
// is the key (set before starting it).
var wrapHandler = map[string]func(http.Handler) http.Handler{}

func startPortal(t testing.TB, dir string, mod ...func(*portal.Config)) *testPortal {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return startPortalOn(t, dir, ln, mod...)
}

func startPortalOn(t testing.TB, dir string, ln net.Listener, mod ...func(*portal.Config)) *testPortal {
	t.Helper()
	url := "http://" + ln.Addr().String()
	cfg := portal.Config{DataDir: dir, PublicURL: url}
	for _, m := range mod {
		m(&cfg)
	}
	srv, err := portal.New(cfg)
	if err != nil {
		t.Fatalf("portal.New: %v", err)
	}
	srv.Start()
	var h http.Handler = srv.Handler()
	if w := wrapHandler[dir]; w != nil {
		h = w(h)
	}
	ts := httptest.NewUnstartedServer(h)
	ts.Listener.Close()
	ts.Listener = ln
	ts.Start()
	p := &testPortal{t: t, dir: dir, url: cfg.PublicURL, srv: srv, ts: ts, addr: ln.Addr().String(), mod: mod}
	t.Cleanup(p.stop)
	return p
}

func (p *testPortal) stop() {
	if p.ts == nil {
		return
	}
	p.ts.CloseClientConnections()
	p.ts.Close()
	p.srv.Close()
	p.ts = nil
}

// restart stops the portal and starts it again on the same address and
// data dir.
func (p *testPortal) restart() {
	p.t.Helper()
	p.stop()
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatal(err)
	}
	np := startPortalOn(p.t, p.dir, ln, p.mod...)
	*p = *np
}

// addCommunity registers an inbox for recipient and returns its API key.
func (p *testPortal) addCommunity(code, name, recipient string) string {
	p.t.Helper()
	res, err := p.srv.Store().AddCommunity(context.Background(), portal.AddCommunityRequest{Code: code, Name: name, Recipients: []string{recipient}})
	if err != nil {
		p.t.Fatalf("AddCommunity: %v", err)
	}
	return res.APIKey
}

func emptyPolicy(t testing.TB) string {
	p := filepath.Join(t.TempDir(), "policy.toml")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func openCore(t testing.TB, cfg app.Config) *app.Core {
	t.Helper()
	if cfg.StateDir == "" {
		cfg.StateDir = t.TempDir()
	}
	if cfg.PolicyPath == "" {
		cfg.PolicyPath = emptyPolicy(t)
	}
	cfg.ScryptWorkFactor = 10
	c, err := app.Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func generateCD(t testing.TB, files int) (string, *gencd.Result) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "cd")
	res, err := gencd.Generate(dir, gencd.Options{Files: files, PixelSize: 64, DICOMDIR: false})
	if err != nil {
		t.Fatal(err)
	}
	return dir, res
}

// clinic is a receiving clinic: its core, key and inbox on the portal.
type clinic struct {
	core   *app.Core
	key    *app.KeyInfo
	apiKey string
	code   string
}

func newClinic(t *testing.T, p *testPortal, code string) *clinic {
	t.Helper()
	core := openCore(t, app.Config{})
	key, err := core.InitClinicKey()
	if err != nil {
		t.Fatal(err)
	}
	return &clinic{core: core, key: key, code: code, apiKey: p.addCommunity(code, "Klinik Süd – Radiologie", key.Recipient)}
}

func wait(t *testing.T, core *app.Core, job *app.Job) *app.Job {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	j, err := core.Wait(ctx, job.ID)
	if err != nil {
		t.Fatalf("wait for job %s: %v", job.ID, err)
	}
	return j
}

func send(t *testing.T, practice *app.Core, portalURL, inbox, cd string, accept bool) (*app.Job, error) {
	t.Helper()
	ix, err := practice.Scan(context.Background(), []string{cd}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return practice.StartSend(context.Background(), app.SendRequest{
		Portal: portalURL, Inbox: inbox, Index: ix,
		Sender: app.Sender{Name: "Praxis Dr. Weiß", Contact: "030 1234"}, Referrer: "Dr. Öztürk",
		Message: "Bitte befunden", AcceptNewKey: accept,
	})
}

// sameImported compares every instance of the generated CD with the
// files/<path> of the folder its study was imported to.
func sameImported(t *testing.T, cd *gencd.Result, imported []app.ImportResult) {
	t.Helper()
	dirs := map[string]string{}
	for _, r := range imported {
		dirs[r.StudyUID] = r.Dir
	}
	n := 0
	for _, pa := range cd.Patients {
		for _, st := range pa.Studies {
			dir, ok := dirs[st.InstanceUID]
			if !ok {
				t.Errorf("study %s of %s not imported", st.Description, pa.ID)
				continue
			}
			for _, se := range st.Series {
				for _, in := range se.Instances {
					want, err := os.ReadFile(filepath.Join(cd.Dir, filepath.FromSlash(in.Path)))
					if err != nil {
						t.Fatal(err)
					}
					have, err := os.ReadFile(filepath.Join(dir, "files", filepath.FromSlash(in.Path)))
					if err != nil {
						t.Errorf("missing %s: %v", in.Path, err)
						continue
					}
					if !bytes.Equal(want, have) {
						t.Errorf("%s differs", in.Path)
					}
					n++
				}
			}
		}
	}
	if n != cd.Files {
		t.Errorf("compared %d of %d files", n, cd.Files)
	}
}

// checkPatientFolders: each study is in <to>/<its patient> <birth
// date>/<study date> <description>, never under another patient.
func checkPatientFolders(t *testing.T, cd *gencd.Result, to string, imported []app.ImportResult) {
	t.Helper()
	dirs := map[string]string{}
	for _, r := range imported {
		dirs[r.StudyUID] = r.Dir
	}
	if len(cd.Patients) < 2 {
		t.Fatalf("the generated CD has %d patients, the test needs 2", len(cd.Patients))
	}
	for _, pa := range cd.Patients {
		wantPatient := app.SanitizeName(dicomscan.FormatName(pa.Name) + " " + dicomscan.FormatDate(i18n.EN, pa.BirthDate))
		for _, st := range pa.Studies {
			rel, err := filepath.Rel(to, dirs[st.InstanceUID])
			if err != nil {
				t.Fatal(err)
			}
			parts := strings.Split(rel, string(filepath.Separator))
			wantStudy := app.SanitizeName(dicomscan.FormatDate(i18n.EN, st.Date) + " " + st.Description)
			if len(parts) != 2 || parts[0] != wantPatient || !strings.HasPrefix(parts[1], wantStudy) {
				t.Errorf("study %q of %q imported to %q, want %s/%s", st.Description, pa.Name, rel, wantPatient, wantStudy)
			}
		}
	}
}

// grepTree reports which of the needles occur in any file under dir.
func grepTree(t *testing.T, dir string, needles map[string][]byte) []string {
	t.Helper()
	var found []string
	seen := map[string]bool{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		for name, n := range needles {
			if !seen[name] && bytes.Contains(data, n) {
				seen[name] = true
				found = append(found, name+" in "+p)
			}
		}
		return nil
	})
	return found
}

// TestSendReceiveEndToEnd: a practice sends a generated CD to a clinic's
// inbox on a real portal over HTTP; the clinic imports it; every file
// arrives byte for byte, and the portal never held plaintext.
func TestSendReceiveEndToEnd(t *testing.T) {
	p := startPortal(t, t.TempDir())
	cl := newClinic(t, p, "bM1X")
	cdDir, cd := generateCD(t, 40)
	practice := openCore(t, app.Config{})

	cm, err := practice.LookupCommunity(context.Background(), p.url+"/dlx/v1", "bM1X")
	if err != nil {
		t.Fatal(err)
	}
	if cm.Pin != app.PinNew || !crypto.FingerprintsEqual(cm.Fingerprint, cl.key.Fingerprint) || cm.Name != "Klinik Süd – Radiologie" {
		t.Fatalf("community %+v", cm)
	}
	job, err := send(t, practice, p.url, "bM1X", cdDir, false)
	if err != nil {
		t.Fatal(err)
	}
	done := wait(t, practice, job)
	if done.State != app.StateDone || done.Receipt == nil || done.Receipt.Upload == nil {
		t.Fatalf("send job: %+v err %+v", done, done.Error)
	}
	rc := done.Receipt.Upload
	// The title is translatable and survives the job store.
	stored, err := practice.Job(done.ID)
	if err != nil {
		t.Fatal(err)
	}
	nStudies := 0
	for _, pa := range cd.Patients {
		nStudies += len(pa.Studies)
	}
	wantDE := fmt.Sprintf("bM1X · Klinik Süd – Radiologie · Studien: %d", nStudies)
	wantEN := fmt.Sprintf("bM1X · Klinik Süd – Radiologie · studies: %d", nStudies)
	if got := stored.LocalTitle(i18n.DE); got != wantDE || stored.Title != wantEN || stored.LocalTitle(i18n.EN) != wantEN {
		t.Errorf("title %q / %q, want %q / %q", got, stored.Title, wantDE, wantEN)
	}
	if rc.Community != "bM1X" || rc.Size != done.BytesTotal || rc.SHA256 == "" || rc.Files != cd.Files {
		t.Errorf("receipt %+v", rc)
	}
	if spool, _ := os.ReadDir(filepath.Join(practice.StateDir(), "spool")); len(spool) != 0 {
		t.Errorf("spool not emptied: %v", spool)
	}
	// The sender fields are remembered.
	if s := practice.Settings(); s.SenderName != "Praxis Dr. Weiß" || s.Referrer != "Dr. Öztürk" {
		t.Errorf("settings %+v", s)
	}
	// Now pinned.
	if cm, _ := practice.LookupCommunity(context.Background(), p.url, "bM1X"); cm.Pin != app.PinMatch {
		t.Errorf("pin after send: %s", cm.Pin)
	}

	// The server never holds plaintext: neither the patient's name (as
	// written in the files, and as UTF-8) nor a run of pixel bytes.
	pa := cd.Patients[0]
	first := cd.AllInstances()[0]
	raw, _ := os.ReadFile(filepath.Join(cd.Dir, first.Path))
	needles := map[string][]byte{
		"name on disk":  pa.NameOnDisk,
		"name UTF-8":    []byte(strings.Split(pa.Name, "^")[0]),
		"pixel pattern": raw[len(raw)-64:],
	}
	if found := grepTree(t, p.dir, needles); len(found) > 0 {
		t.Errorf("portal data dir holds plaintext: %v", found)
	}

	items, err := cl.core.InboxList(context.Background(), p.url, "bM1X", cl.apiKey)
	if err != nil || len(items) != 1 || items[0].SHA256 != rc.SHA256 {
		t.Fatalf("inbox %+v %v", items, err)
	}
	// The list shows what the sealed manifest says, read with the clinic key.
	studies := 0
	for _, pa := range cd.Patients {
		studies += len(pa.Studies)
	}
	want := app.InboxSummary{Sender: "Praxis Dr. Weiß", Patient: dicomscan.FormatName(pa.Name), BirthDate: pa.BirthDate,
		Patients: len(cd.Patients), Studies: studies, Files: cd.Files, Message: "Bitte befunden"}
	if got := items[0].Summary; got == nil || *got != want {
		t.Errorf("inbox summary %+v, want %+v", got, want)
	}
	// Without the clinic key the list still works, without summaries.
	keyless := openCore(t, app.Config{NoKeyring: true})
	if items, err := keyless.InboxList(context.Background(), p.url, "bM1X", cl.apiKey); err != nil || len(items) != 1 || items[0].Summary != nil {
		t.Errorf("inbox without the key: %+v %v", items, err)
	}
	to := t.TempDir()
	ij, err := cl.core.StartImport(app.ImportRequest{Portal: p.url, Inbox: "bM1X", APIKey: cl.apiKey, ToDir: to})
	if err != nil {
		t.Fatal(err)
	}
	ij = wait(t, cl.core, ij)
	if ij.State != app.StateDone || len(ij.Receipt.Imported) == 0 {
		t.Fatalf("import job %+v err %+v", ij, ij.Error)
	}
	checkPatientFolders(t, cd, to, ij.Receipt.Imported)
	sameImported(t, cd, ij.Receipt.Imported)
	for _, r := range ij.Receipt.Imported {
		if !r.Acked {
			t.Errorf("not acknowledged: %+v", r)
		}
	}
	if items, _ := cl.core.InboxList(context.Background(), p.url, "bM1X", cl.apiKey); len(items) != 0 {
		t.Errorf("inbox not emptied after import: %v", items)
	}
	// A wrong API key is an input error.
	if _, err := cl.core.InboxList(context.Background(), p.url, "bM1X", "wrong"); !isKind(err, i18n.KindInput) {
		t.Errorf("wrong API key: %v", err)
	}
}

// TestChangedCommunityKeyRefused: a community whose key changed since it
// was pinned is refused until the user accepts the new key.
func TestChangedCommunityKeyRefused(t *testing.T) {
	p1 := startPortal(t, t.TempDir())
	newClinic(t, p1, "bM1X")
	cdDir, _ := generateCD(t, gencd.MinFiles)
	practice := openCore(t, app.Config{})
	job, err := send(t, practice, p1.url, "bM1X", cdDir, false)
	if err != nil {
		t.Fatal(err)
	}
	wait(t, practice, job)

	// Same inbox code, another key (a swapped or attacked portal).
	p2 := startPortal(t, t.TempDir())
	other, err := crypto.GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	p2.addCommunity("bM1X", "Klinik Süd – Radiologie", other.Recipient().String())
	cm, err := practice.LookupCommunity(context.Background(), p2.url, "bM1X")
	if err != nil || cm.Pin != app.PinChanged || cm.PinnedFingerprint == "" {
		t.Fatalf("lookup after key change: %+v %v", cm, err)
	}
	_, err = send(t, practice, p2.url, "bM1X", cdDir, false)
	var kc *crypto.KeyChangedError
	if !errors.As(err, &kc) || !isKind(err, i18n.KindRefused) {
		t.Fatalf("changed key not refused: %v", err)
	}
	if jobs, _ := practice.Jobs(); len(jobs) != 1 {
		t.Errorf("a refused send made a job: %d jobs", len(jobs))
	}
	job, err = send(t, practice, p2.url, "bM1X", cdDir, true)
	if err != nil {
		t.Fatalf("accepted new key: %v", err)
	}
	if j := wait(t, practice, job); j.State != app.StateDone {
		t.Errorf("send after accepting: %s", j.State)
	}
}

func isKind(err error, k i18n.Kind) bool {
	ue, ok := i18n.AsUserError(err)
	return ok && ue.Kind == k
}

// TestPolicyPinWins: a key pinned by the clinic's policy cannot be
// overridden by the user accepting a new key.
func TestPolicyPinWins(t *testing.T) {
	p := startPortal(t, t.TempDir())
	newClinic(t, p, "bM1X")
	cdDir, _ := generateCD(t, gencd.MinFiles)
	pol := filepath.Join(t.TempDir(), "policy.toml")
	if err := os.WriteFile(pol, []byte("[pinned_keys]\nbM1X = \"MFRG GZDF MZTW Q2LK NNWG 23TP OA\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	practice := openCore(t, app.Config{PolicyPath: pol})
	for _, accept := range []bool{false, true} {
		_, err := send(t, practice, p.url, "bM1X", cdDir, accept)
		var kc *crypto.KeyChangedError
		if !errors.As(err, &kc) || !kc.Policy {
			t.Errorf("accept=%v: policy pin not enforced: %v", accept, err)
		}
	}
}
