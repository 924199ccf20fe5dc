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

	"github.com/bildbote/bildbote/internal/gencd"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/testkit/corpus"
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
	port, second := freePort(t), freePort(t)
	stores := startStorescp(t, pacsDir, port)
	secondStores := startStorescp(t, secondDir, second)
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
	h.shot(t, "redeem_patient_id_invalid_de_1024x600")
	typeID(clinicID)
	if r.pidErr.Visible() || r.toPACS.Disabled() {
		t.Fatalf("a valid patient ID: error shown %v (%q), button disabled %v", r.pidErr.Visible(), r.pidErr.Text, r.toPACS.Disabled())
	}
	h.shot(t, "redeem_patient_id_ready_de_1024x600")
	test.Tap(r.toPACS)
	h.waitFor("the import with the patient ID", func() bool { return r.done.Visible() })
	n := stores()
	if n == 0 || countFiles(t, pacsDir) != n {
		t.Fatalf("storescp received %d C-STOREs and holds %d files", n, countFiles(t, pacsDir))
	}
	for f, id := range peerPatientIDs(t, pacsDir) {
		if id != clinicID {
			t.Errorf("%s has Patient ID %q, want %q", f, id, clinicID)
		}
	}
	h.mustShow(i18n.T(lang, "ui.redeem.pacsWithPatientID", clinicID), i18n.T(lang, "ui.redeem.pacsStored", target, n, 0))
	h.checkLanguage(lang, "imported with a patient ID", target, clinicID)
	h.shot(t, "redeem_patient_id_done_de_1024x600")

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
	h.shot(t, "redeem_patient_id_invalid_en_1024x600")

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
	h.shot(t, "redeem_patient_id_two_patients_en_1024x600")
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
