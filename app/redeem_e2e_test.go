package app_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/internal/gencd"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/testkit/validate"
	"github.com/bildbote/bildbote/portal"
)

// issueCode stages the generated CD's first patient on the portal and
// issues an access code guarded by the date of birth.
func (p *testPortal) issueCode(cdDir string, pa *gencd.Patient, expires time.Time) string {
	p.t.Helper()
	rid := portal.NewRecordID()
	staged, err := portal.StageItems(context.Background(), p.dir, rid, []string{cdDir}, portal.StageOptions{PatientID: pa.ID})
	if err != nil {
		p.t.Fatalf("StageItems: %v", err)
	}
	res, err := p.srv.Store().IssueCode(context.Background(), portal.IssueRequest{
		RecordID: rid, Items: staged.Items, ExpiresAt: expires,
		Questions: []portal.QuestionSpec{{Type: portal.QuestionBirthDate, Answer: pa.BirthDate}},
	})
	if err != nil {
		p.t.Fatalf("IssueCode: %v", err)
	}
	return res.Code
}

// dob formats YYYYMMDD as a person types it in Germany.
func germanDate(d string) string { return d[6:] + "." + d[4:6] + "." + d[:4] }

func redeem(t *testing.T, core *app.Core, portalURL, code, dob string) (*app.RedeemSession, []app.Item, error) {
	t.Helper()
	s, err := core.RedeemStart(context.Background(), portalURL, code)
	if err != nil {
		return nil, nil, err
	}
	answers := map[string]string{}
	for _, q := range s.Questions {
		answers[q.ID] = dob
	}
	items, err := s.Answer(context.Background(), answers)
	return s, items, err
}

// TestRedeemSaveEndToEnd: a patient redeems a code on a real portal and
// saves the study into the library: every file arrives, the DICOMDIR is
// valid, the library folder is named after patient and study, and only a
// masked code is remembered.
func TestRedeemSaveEndToEnd(t *testing.T) {
	p := startPortal(t, t.TempDir())
	cdDir, cd := generateCD(t, gencd.MinFiles*2)
	pa := cd.Patients[0]
	code := p.issueCode(cdDir, pa, time.Now().Add(72*time.Hour))
	lib := t.TempDir()
	core := openCore(t, app.Config{LibraryDir: lib})

	// Wrong date of birth: an input error, nothing recorded.
	if _, _, err := redeem(t, core, p.url, code, "01.01.1900"); !isKind(err, i18n.KindInput) {
		t.Fatalf("wrong answer: %v", err)
	}
	// A code URL (the QR payload) with the date as typed in Germany.
	s, items, err := redeem(t, core, "", p.url+"/c?token="+code, germanDate(pa.BirthDate))
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != len(pa.Studies) {
		t.Fatalf("%d items for %d studies", len(items), len(pa.Studies))
	}
	if s.Masked == "" || strings.Contains(s.Masked, code[:4]) {
		t.Errorf("masked code %q", s.Masked)
	}
	if err := s.SetExpiry(time.Now().Add(72 * time.Hour)); err != nil {
		t.Fatal(err)
	}
	job, err := core.StartSave(s, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	j := wait(t, core, job)
	if j.State != app.StateDone || len(j.Receipt.Saved) != len(pa.Studies) {
		t.Fatalf("save job %+v err %+v", j, j.Error)
	}
	for i, sv := range j.Receipt.Saved {
		rel, _ := filepath.Rel(lib, sv.Dir)
		parts := strings.Split(rel, string(filepath.Separator))
		if len(parts) != 2 || !strings.HasPrefix(parts[0], "Müller") || !strings.Contains(parts[0], "Jürgen") || !strings.Contains(parts[0], pa.BirthDate[:4]) {
			t.Errorf("library folder %q", rel)
		}
		st := pa.Studies[i]
		if !strings.Contains(parts[1], st.Date[:4]) {
			t.Errorf("study folder %q lacks the date %s", parts[1], st.Date)
		}
		n := validate.DICOMDIR(t, filepath.Join(sv.Dir, "DICOMDIR"))
		if n != st.Files {
			t.Errorf("DICOMDIR of %s lists %d instances, want %d", rel, n, st.Files)
		}
	}
	// Nothing of the work dir is left behind.
	entries, _ := os.ReadDir(lib)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
	// The code is remembered masked, with what was saved, and reminds.
	codes, _ := core.Codes()
	if len(codes) != 1 || codes[0].Masked != s.Masked || len(codes[0].Saved) != len(pa.Studies) {
		t.Fatalf("codes %+v", codes)
	}
	state, _ := os.ReadFile(filepath.Join(core.StateDir(), "jobs.db"))
	if strings.Contains(string(state), code) || strings.Contains(string(state), pa.BirthDate) {
		t.Error("the code or the date of birth was stored")
	}
	if notes, _ := core.Notifications(time.Now()); len(notes) != 1 {
		t.Errorf("no expiry reminder: %v", notes)
	}
}

// TestRedeemTakesPortalExpiry: the reference portal tells the code's
// expiry, so Codes() and the reminder know it without SetExpiry; a date
// the user enters still wins.
func TestRedeemTakesPortalExpiry(t *testing.T) {
	p := startPortal(t, t.TempDir())
	cdDir, cd := generateCD(t, gencd.MinFiles)
	pa := cd.Patients[0]
	expires := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Second)
	code := p.issueCode(cdDir, pa, expires)
	core := openCore(t, app.Config{})

	s, _, err := redeem(t, core, p.url, code, pa.BirthDate)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Expires.Equal(expires) {
		t.Errorf("session expiry %v, want the portal's %v", s.Expires, expires)
	}
	codes, _ := core.Codes()
	if len(codes) != 1 || !codes[0].Expires.Equal(expires) {
		t.Fatalf("codes %+v, want expiry %v", codes, expires)
	}
	if notes, _ := core.Notifications(time.Now()); len(notes) != 1 {
		t.Errorf("no expiry reminder from the portal's date: %v", notes)
	}

	// A date typed from the code sheet (CLI --expires, the UI's field)
	// replaces the portal's.
	typed := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	if err := s.SetExpiry(typed); err != nil {
		t.Fatal(err)
	}
	if codes, _ = core.Codes(); len(codes) != 1 || !codes[0].Expires.Equal(typed) {
		t.Errorf("codes %+v, want the typed expiry %v", codes, typed)
	}
}

// TestRedeemExpired: right answers for an expired code are a refusal
// ("ask the practice"), not "wrong".
func TestRedeemExpired(t *testing.T) {
	p := startPortal(t, t.TempDir())
	cdDir, cd := generateCD(t, gencd.MinFiles)
	pa := cd.Patients[0]
	code := p.issueCode(cdDir, pa, time.Now().Add(time.Second))
	time.Sleep(1500 * time.Millisecond)
	core := openCore(t, app.Config{})
	_, _, err := redeem(t, core, p.url, code, pa.BirthDate)
	if !isKind(err, i18n.KindRefused) {
		t.Fatalf("expired code: %v", err)
	}
	_, _, err = redeem(t, core, p.url, code, "19000101")
	if !isKind(err, i18n.KindInput) {
		t.Fatalf("expired code, wrong answer: %v", err)
	}
}
