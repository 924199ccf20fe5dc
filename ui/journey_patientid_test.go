package ui

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
	"github.com/zalando/go-keyring"

	"github.com/bildbote/bildbote/app"

	"github.com/bildbote/bildbote/internal/gencd"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/testkit/corpus"
	"github.com/bildbote/bildbote/internal/testkit/dicompeer"
	"github.com/bildbote/bildbote/portal"
)

// TestJourneyRedeemIntoPACSWithPatientID: at the clinic, a code redeemed
// against the real reference portal goes into a real PACS (storescp) with
// the clinic's own patient ID typed under "In das PACS übernehmen". A
// backslash and 65 characters are refused under the field in the reader's
// words and keep the button greyed out; a valid ID imports, the done line
// names it, and every file storescp wrote carries it in Patient ID
// (dcmdump). The next code in a row starts with an empty field (the
// previous patient's ID does not carry over): its files keep their own ID.
// A code holding two patients greys the field out and says why (the
// count), in English.
func TestJourneyRedeemIntoPACSWithPatientID(t *testing.T) {
	runInPrivateNet(t, "TestJourneyRedeemIntoPACSWithPatientIDInside")
}

func TestJourneyRedeemIntoPACSWithPatientIDInside(t *testing.T) {
	insidePrivateNet(t)
	p := startDemoPortal(t)
	pacsDir, secondDir := t.TempDir(), t.TempDir()
	port, second := dicompeer.FreePort(t), dicompeer.FreePort(t)
	stores := dicompeer.Storescp(t, pacsDir, port)
	secondStores := dicompeer.Storescp(t, secondDir, second)
	target := fmt.Sprintf("dicom://STORESCP@127.0.0.1:%d?calling=BILDBOTE", port)
	const clinicID = "KH-0815-A"

	lang := i18n.DE
	h := journeyHarness(t, lang, p.url)
	h.u.app.Settings().SetTheme(NewTheme())
	h.u.win.Resize(screenSizes[1])
	r, set := h.u.redeem, h.u.settings
	h.u.selectTab(len(h.u.tabs.Items) - 1)
	set.clinic.SetChecked(true)
	set.pacs.SetText(target)
	test.Tap(set.save)
	if h.u.lastErr != nil {
		t.Fatalf("saving the PACS: %v", h.u.lastErr)
	}

	issued, staged, pat, _ := issueCode(t, p)
	h.u.selectTab(1)
	h.askWith(issued.Code)
	h.answerWith(birthDate(t, lang, pat))
	h.itemsShown(lang, staged)
	if !r.pidBox.Visible() || r.pid.Disabled() || r.pid.Text != "" {
		t.Fatalf("the patient ID field: shown %v, disabled %v, text %q; want shown, usable and empty",
			r.pidBox.Visible(), r.pid.Disabled(), r.pid.Text)
	}
	h.mustShow(i18n.T(lang, "ui.redeem.patientID"))
	typeID := func(id string) {
		t.Helper()
		r.pid.SetText("")
		h.canvas().Focus(r.pid)
		h.typeKeys(id)
	}
	for _, bad := range []struct{ id, want string }{
		{`KLINIK\4711`, i18n.T(lang, "app.patient-id-char", `\`)},
		{strings.Repeat("K", 65), i18n.T(lang, "app.patient-id-too-long", 65, 64)},
	} {
		typeID(bad.id)
		if !r.pidErr.Visible() || r.pidErr.Text != bad.want {
			t.Errorf("%q: under the field %v %q, want %q", bad.id, r.pidErr.Visible(), r.pidErr.Text, bad.want)
		}
		if !r.toPACS.Disabled() {
			t.Errorf("%q: the PACS button is usable", bad.id)
		}
		h.mustShow(bad.want)
		h.checkLanguage(lang, "an invalid patient ID", bad.id)
		test.Tap(r.toPACS)
		h.drain()
		if stores() != 0 || r.progress.Visible() {
			t.Fatalf("%q: an import started (%d C-STOREs)", bad.id, stores())
		}
	}
	h.shot(t, "redeem_into_pacs_patient_id_invalid_de_1024x600")
	typeID(clinicID)
	if r.pidErr.Visible() || r.toPACS.Disabled() {
		t.Fatalf("a valid patient ID: error shown %v (%q), button disabled %v", r.pidErr.Visible(), r.pidErr.Text, r.toPACS.Disabled())
	}
	h.shot(t, "redeem_into_pacs_patient_id_ready_de_1024x600")
	test.Tap(r.toPACS)
	h.waitFor("the import with the patient ID", func() bool { return r.done.Visible() })
	n := stores()
	if n == 0 || dicompeer.CountFiles(t, pacsDir) != n {
		t.Fatalf("storescp received %d C-STOREs and holds %d files", n, dicompeer.CountFiles(t, pacsDir))
	}
	for f, id := range peerPatientIDs(t, pacsDir) {
		if id != clinicID {
			t.Errorf("%s has Patient ID %q, want %q", f, id, clinicID)
		}
	}
	h.mustShow(i18n.T(lang, "ui.redeem.pacsWithPatientID", clinicID), i18n.T(lang, "ui.redeem.pacsStored", target, n, 0))
	h.checkLanguage(lang, "imported with a patient ID", target, clinicID)
	h.shot(t, "redeem_into_pacs_patient_id_done_de_1024x600")

	// The next patient's code, in a row: the field is empty again and
	// the import keeps the instances' own patient ID.
	secondTarget := fmt.Sprintf("dicom://STORESCP@127.0.0.1:%d", second)
	h.u.selectTab(len(h.u.tabs.Items) - 1)
	set.pacs.SetText(secondTarget)
	test.Tap(set.save)
	h.u.selectTab(1)
	test.Tap(r.another)
	issued, staged, pat, _ = issueCode(t, p)
	h.askWith(issued.Code)
	h.answerWith(birthDate(t, lang, pat))
	h.itemsShown(lang, staged)
	if r.pid.Text != "" || !r.pidBox.Visible() || r.pid.Disabled() {
		t.Fatalf("the next code: field %q shown %v disabled %v; want the empty field, usable", r.pid.Text, r.pidBox.Visible(), r.pid.Disabled())
	}
	for _, s := range h.screenTexts() {
		if strings.Contains(s, clinicID) {
			t.Errorf("the next code's screen still shows the previous patient's ID: %q", s)
		}
	}
	test.Tap(r.toPACS)
	h.waitFor("the second import", func() bool { return r.done.Visible() })
	if got := secondStores(); got != n {
		t.Errorf("the second storescp received %d C-STOREs, want %d", got, n)
	}
	for f, id := range peerPatientIDs(t, secondDir) {
		if id != pat.ID {
			t.Errorf("second code: %s has Patient ID %q, want the original %q", f, id, pat.ID)
		}
	}
	h.mustNotShow(strings.SplitN(i18n.T(lang, "ui.redeem.pacsWithPatientID", ""), " ", 2)[0] + " ")

	// In English: 65 characters are refused in English, and a code
	// holding two patients greys the field out with the count.
	lang = i18n.EN
	h = journeyHarness(t, lang, p.url)
	h.u.app.Settings().SetTheme(NewTheme())
	h.u.win.Resize(screenSizes[1])
	r, set = h.u.redeem, h.u.settings
	h.u.selectTab(len(h.u.tabs.Items) - 1)
	set.clinic.SetChecked(true)
	set.pacs.SetText(target)
	test.Tap(set.save)
	issued, staged, pat, _ = issueCode(t, p)
	h.u.selectTab(1)
	h.askWith(issued.Code)
	h.answerWith(birthDate(t, lang, pat))
	h.itemsShown(lang, staged)
	h.canvas().Focus(r.pid)
	h.typeKeys(strings.Repeat("7", 65))
	want := i18n.T(lang, "app.patient-id-too-long", 65, 64)
	if r.pidErr.Text != want || !r.toPACS.Disabled() {
		t.Errorf("en, 65 characters: %q (button disabled %v), want %q", r.pidErr.Text, r.toPACS.Disabled(), want)
	}
	h.mustShow(i18n.T(lang, "ui.redeem.patientID"), want)
	h.checkLanguage(lang, "an invalid patient ID")
	h.shot(t, "redeem_into_pacs_patient_id_invalid_en_1024x600")

	test.Tap(r.another)
	issued, staged, cd := issueCodeTwoPatients(t, p)
	h.askWith(issued.Code)
	h.answerWith(birthDate(t, lang, cd.Patients[0]))
	h.itemsShown(lang, staged)
	if r.pid.Text != "" || !r.pid.Disabled() || r.pidErr.Visible() || r.toPACS.Disabled() {
		t.Errorf("two patients: field %q disabled %v, error %v, button disabled %v; want empty, greyed out, no error, usable",
			r.pid.Text, r.pid.Disabled(), r.pidErr.Visible(), r.toPACS.Disabled())
	}
	h.mustShow(i18n.T(lang, "ui.redeem.patientIDSeveral", 2))
	h.checkLanguage(lang, "two patients")
	h.shot(t, "redeem_into_pacs_patient_id_two_patients_en_1024x600")
}

// issueCodeTwoPatients issues a code for the whole demo CD (two
// patients), asking the first one's birth date.
func issueCodeTwoPatients(t *testing.T, p *demoPortal) (portal.IssueResult, *portal.Staged, *gencd.Result) {
	t.Helper()
	cd := demoCD(t)
	if len(cd.Patients) < 2 {
		t.Fatalf("the demo CD holds %d patients", len(cd.Patients))
	}
	ctx := context.Background()
	record := portal.NewRecordID()
	staged, err := portal.StageItems(ctx, p.dir, record, []string{cd.Dir}, portal.StageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	issued, err := p.admin.IssueCode(ctx, portal.IssueRequest{
		RecordID: record, Items: staged.Items, ExpiresAt: time.Now().Add(5 * 24 * time.Hour).Truncate(time.Second),
		Questions: []portal.QuestionSpec{{Type: "PAT_BIRTH_DATE", Answer: cd.Patients[0].BirthDate}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return issued, staged, cd
}

// topPatientID is dcmdump's top-level Patient ID line (not the ones in
// Other Patient IDs Sequence, which dcmdump indents).
var topPatientID = regexp.MustCompile(`(?m)^\(0010,0020\) LO \[([^\]]*)\]`)

// peerPatientIDs reads the Patient ID of every file a peer wrote to dir
// with dcmtk's dcmdump; a file without one fails the test.
func peerPatientIDs(t *testing.T, dir string) map[string]string {
	t.Helper()
	dcmdump := corpus.Tool(t, "dcmdump")
	ids := map[string]string{}
	filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() {
			return nil
		}
		out, err := exec.Command(dcmdump, "-q", path).CombinedOutput()
		if err != nil {
			t.Fatalf("dcmdump %s: %v\n%s", path, err, out)
		}
		m := topPatientID.FindSubmatch(out)
		if m == nil {
			t.Fatalf("%s has no Patient ID:\n%s", path, out)
		}
		ids[filepath.Base(path)] = string(m[1])
		return nil
	})
	if len(ids) == 0 {
		t.Fatalf("the peer wrote no files to %s", dir)
	}
	return ids
}

// TestJourneyReceiveIntoPACSWithPatientID: in the clinic's inbox the
// patient ID field is usable only when exactly one envelope of one
// patient is checked (else greyed out with the reason); an invalid ID
// keeps "Importieren" greyed out with the core's words under the field; a
// valid one goes as ImportRequest.PatientID and every file the real
// storescp wrote carries it (dcmdump). The envelope of two patients,
// checked alone, says the count.
func TestJourneyReceiveIntoPACSWithPatientID(t *testing.T) {
	runInPrivateNet(t, "TestJourneyReceiveIntoPACSWithPatientIDInside")
}

func TestJourneyReceiveIntoPACSWithPatientIDInside(t *testing.T) {
	insidePrivateNet(t)
	p := startDemoPortal(t)
	pacsDir := t.TempDir()
	port := dicompeer.FreePort(t)
	stores := dicompeer.Storescp(t, pacsDir, port)
	target := fmt.Sprintf("dicom://STORESCP@127.0.0.1:%d?calling=BILDBOTE", port)
	const clinicID = "KH-0815-B"
	lang := i18n.DE

	keyring.MockInit()
	cd := demoCD(t)
	h := newHarnessWith(t, lang, app.Config{StateDir: t.TempDir(), PortalURL: p.url, LibraryDir: t.TempDir()})
	key, err := h.core.InitClinicKey()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	added, err := p.admin.AddCommunity(ctx, portal.AddCommunityRequest{Code: "kL9Q", Name: "Klinik Nord", Recipients: []string{key.Recipient}})
	if err != nil {
		t.Fatal(err)
	}
	sender, err := app.Open(app.Config{StateDir: t.TempDir(), PortalURL: p.url})
	if err != nil {
		t.Fatal(err)
	}
	defer sender.Close()
	ix, err := sender.Scan(ctx, []string{cd.Dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var first []string // the first patient's studies
	for _, st := range ix.Patients[0].Studies {
		first = append(first, st.InstanceUID)
	}
	for _, studies := range [][]string{first, nil} {
		job, err := sender.StartSend(ctx, app.SendRequest{Inbox: "kL9Q", Index: ix, Studies: studies, Sender: app.Sender{Name: "Praxis Dr. Weber", Contact: "0201"}})
		if err != nil {
			t.Fatal(err)
		}
		if j, err := sender.Wait(ctx, job.ID); err != nil || j.State != app.StateDone {
			t.Fatalf("send: %+v, %v", j, err)
		}
	}
	if err := h.core.UpdateSettings(func(s *app.Settings) { s.ClinicMode = true; s.PACSStowURL = target }); err != nil {
		t.Fatal(err)
	}
	h.u.showInboxTab(true)
	h.u.win.Resize(screenSizes[1])
	h.u.selectTab(2)
	s := h.u.inbox
	s.settingsChanged()
	s.code.SetText("kL9Q")
	s.apiKey.SetText(added.APIKey)
	test.Tap(s.refresh)
	h.waitFor("the envelopes", func() bool { return len(s.checks) == 2 })
	var one, two string
	for id, it := range s.items {
		if it.Summary == nil {
			t.Fatalf("envelope %s without a summary", id)
		}
		if it.Summary.Patients == 1 {
			one = id
		} else {
			two = id
		}
	}
	if one == "" || two == "" {
		t.Fatalf("want one envelope of one patient and one of two: %+v", s.items)
	}

	// Both checked: greyed out, one envelope at a time.
	if !s.pidBox.Visible() || !s.pid.Disabled() {
		t.Fatalf("two envelopes: field shown %v, disabled %v", s.pidBox.Visible(), s.pid.Disabled())
	}
	h.mustShow(i18n.T(lang, "ui.inbox.patientID"), i18n.T(lang, "ui.inbox.patientIDOne"))
	// The envelope of two patients alone: the count.
	s.checks[one].SetChecked(false)
	h.mustShow(i18n.T(lang, "ui.inbox.patientIDSeveral", 2))
	if !s.pid.Disabled() {
		t.Error("two patients: the field is usable")
	}
	h.shot(t, "inbox_patient_id_two_patients_de_1024x600")
	// The envelope of one patient: usable, checked while typed.
	s.checks[two].SetChecked(false)
	s.checks[one].SetChecked(true)
	if s.pid.Disabled() || s.pidNote.Visible() {
		t.Fatalf("one envelope of one patient: disabled %v, note %q", s.pid.Disabled(), s.pidNote.Text)
	}
	h.canvas().Focus(s.pid)
	h.typeKeys(`KH\0815`)
	want := i18n.T(lang, "app.patient-id-char", `\`)
	if s.pidErr.Text != want || !s.pidErr.Visible() || !s.importB.Disabled() {
		t.Errorf("a backslash: %q shown %v, import disabled %v; want %q", s.pidErr.Text, s.pidErr.Visible(), s.importB.Disabled(), want)
	}
	h.mustShow(want)
	h.checkLanguage(lang, "inbox, invalid patient ID", "kL9Q")
	h.shot(t, "inbox_patient_id_invalid_de_1024x600")
	s.pid.SetText("")
	h.typeKeys(clinicID)
	if s.pidErr.Visible() || s.importB.Disabled() {
		t.Fatalf("a valid ID: error %q, import disabled %v", s.pidErr.Text, s.importB.Disabled())
	}
	test.Tap(s.importB)
	h.waitFor("the import with the patient ID", func() bool { return s.results.Text != "" && len(s.checks) == 1 })
	if n := stores(); n == 0 || dicompeer.CountFiles(t, pacsDir) != n {
		t.Fatalf("storescp received %d C-STOREs and holds %d files", n, dicompeer.CountFiles(t, pacsDir))
	}
	for f, id := range peerPatientIDs(t, pacsDir) {
		if id != clinicID {
			t.Errorf("%s has Patient ID %q, want %q", f, id, clinicID)
		}
	}
	// The remaining envelope (two patients) is listed anew: field empty.
	if s.pid.Text != "" || !s.pid.Disabled() {
		t.Errorf("after the import: field %q, disabled %v; want empty and greyed out (two patients)", s.pid.Text, s.pid.Disabled())
	}
	h.checkLanguage(lang, "inbox, imported with a patient ID", "kL9Q")
}
