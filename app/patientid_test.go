package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/dicomscan"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/testkit/corpus"
	"github.com/bildbote/bildbote/internal/testkit/dicompeer"
	"github.com/bildbote/bildbote/internal/testkit/orthanc"
)

// TestPatientIDIntoPACS: the clinic's own patient ID on an import into
// real PACS.
//
// Receive: an envelope of two patients is refused with a patient ID (the
// message names 2 patients, de and en); an envelope of one patient goes
// into Orthanc by STOW-RS, into a storescp, and into a second storescp
// that is not running yet, with a copy in a folder. After the resume:
// each storescp got each instance once; Orthanc's REST API shows the new
// Patient ID and the original in Other Patient IDs Sequence (with Type of
// Patient ID TEXT); the copy in the folder keeps the original ID; the
// instances as storescp and Orthanc hold them pass dcmdump and dciodvfy
// with no error the original file lacks.
//
// Redeem: the other patient's code goes into Orthanc's DICOM port with
// another patient ID, read back the same way. Bad IDs and an ID without a
// PACS are refused before anything starts.
func TestPatientIDIntoPACS(t *testing.T) { orthanc.Run(t, "TestPatientIDIntoPACSInside") }

func TestPatientIDIntoPACSInside(t *testing.T) {
	base := orthanc.URL(t)
	dirA, dirB := t.TempDir(), t.TempDir()
	portA, portB := dicompeer.FreePort(t), dicompeer.FreePort(t)
	storesA := dicompeer.Storescp(t, dirA, portA)
	p := startPortal(t, t.TempDir())
	cl := newClinic(t, p, "bM1X")
	cdDir, cd := generateCD(t, 20)
	if len(cd.Patients) < 2 {
		t.Fatalf("the generated CD has %d patients, want 2", len(cd.Patients))
	}
	pa, pb := cd.Patients[0], cd.Patients[1]
	origPath := map[string]string{} // SOP Instance UID → file on the CD
	for _, in := range cd.AllInstances() {
		origPath[in.SOPInstanceUID] = filepath.Join(cdDir, filepath.FromSlash(in.Path))
	}
	practice := openCore(t, app.Config{})

	// Two patients in one envelope: refused, in German and English.
	if j := wait(t, practice, sendStudies(t, practice, p.url, "bM1X", cdDir, nil)); j.State != app.StateDone {
		t.Fatalf("send: %s %+v", j.State, j.Error)
	}
	stow := base + orthanc.DICOMwebRoot
	_, err := cl.core.StartImport(app.ImportRequest{Portal: p.url, Inbox: "bM1X", APIKey: cl.apiKey, PACS: []string{stow}, PatientID: "KLINIK-4711"})
	if ue, ok := i18n.AsUserError(err); !ok || ue.Kind != i18n.KindInput {
		t.Fatalf("patient ID for two patients: %v, want an input error", err)
	}
	de, _ := i18n.Localize(i18n.DE, err)
	en, _ := i18n.Localize(i18n.EN, err)
	if !strings.Contains(de, "2 Patienten") || !strings.Contains(en, "2 patients") {
		t.Errorf("the refusal does not name the patient count:\n%s\n%s", de, en)
	}
	items, err := cl.core.InboxList(context.Background(), p.url, "bM1X", cl.apiKey)
	if err != nil || len(items) != 1 {
		t.Fatalf("inbox after the refusal: %v %v, want the envelope still there", items, err)
	}
	mixed := items[0].ID

	// One patient: into STOW-RS, storescp A and the missing storescp B.
	var studies []string
	want := 0
	for _, st := range pa.Studies {
		studies = append(studies, st.InstanceUID)
		want += st.Files
	}
	if j := wait(t, practice, sendStudies(t, practice, p.url, "bM1X", cdDir, studies)); j.State != app.StateDone {
		t.Fatalf("send: %s %+v", j.State, j.Error)
	}
	items, _ = cl.core.InboxList(context.Background(), p.url, "bM1X", cl.apiKey)
	var one string
	for _, it := range items {
		if it.ID != mixed {
			one = it.ID
		}
	}
	targets := []string{stow, fmt.Sprintf("dicom://STORESCP@127.0.0.1:%d", portA), fmt.Sprintf("dicom://LATE@127.0.0.1:%d", portB)}
	copyDir := t.TempDir()
	ij, err := cl.core.StartImport(app.ImportRequest{Portal: p.url, Inbox: "bM1X", APIKey: cl.apiKey, ItemIDs: []string{one}, PACS: targets, ToDir: copyDir, PatientID: "  KLINIK-4711 "})
	if err != nil {
		t.Fatal(err)
	}
	waitWaiting(t, cl.core, ij)
	dicompeer.Storescp(t, dirB, portB)
	if err := cl.core.RetryNow(ij.ID); err != nil {
		t.Fatal(err)
	}
	if ij = wait(t, cl.core, ij); ij.State != app.StateDone {
		t.Fatalf("import: %s %+v", ij.State, ij.Error)
	}
	if n := storesA(); n != want {
		t.Errorf("storescp A received %d C-STOREs, want %d (each instance once)", n, want)
	}
	results := 0
	for _, r := range ij.Receipt.Imported {
		for _, pi := range r.PACS {
			if pi.PatientID != "KLINIK-4711" || !pi.Confirmed() {
				t.Errorf("instance result %+v", pi)
			}
			results++
		}
	}
	if results != 3*want {
		t.Errorf("%d instance results, want %d", results, 3*want)
	}
	for _, dir := range []string{dirA, dirB} {
		got := checkReceived(t, dir, origPath, "KLINIK-4711", pa.ID)
		if got != want {
			t.Errorf("%s holds %d rewritten instances, want %d", dir, got, want)
		}
	}
	checkOrthanc(t, base, origPath, "KLINIK-4711", pa.ID, want)
	// The folder copy is as it came.
	copies := 0
	filepath.Walk(copyDir, func(path string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() {
			return err
		}
		if h := header(t, path); h != nil && h.SOPInstanceUID != "" {
			copies++
			if h.PatientID != pa.ID {
				t.Errorf("the copy %s has Patient ID %q, want the original %q", path, h.PatientID, pa.ID)
			}
		}
		return nil
	})
	if copies != want {
		t.Errorf("the folder copy has %d instances, want %d", copies, want)
	}

	// Redeem the other patient's code into Orthanc's DICOM port.
	code := p.issueCode(cdDir, pb, time.Now().Add(72*time.Hour))
	core := openCore(t, app.Config{LibraryDir: t.TempDir()})
	s, _, err := redeem(t, core, p.url, code, germanDate(pb.BirthDate))
	if err != nil {
		t.Fatal(err)
	}
	dimse := "dicom://ORTHANC@127.0.0.1:4242"
	for _, bad := range []struct{ id, de string }{
		{`A\B`, "Backslash"},
		{"Müller", "Umlaute"},
		{strings.Repeat("1", 65), "65 Zeichen"},
		{"   ", "leer"},
	} {
		_, err := core.StartSaveWith(s, nil, "", app.SaveOptions{PACS: []string{dimse}, NoCopy: true, PatientID: bad.id})
		msg, _ := i18n.Localize(i18n.DE, err)
		if ue, ok := i18n.AsUserError(err); !ok || ue.Kind != i18n.KindInput || !strings.Contains(msg, bad.de) {
			t.Errorf("patient ID %q: %v (%q), want an input error saying %q", bad.id, err, msg, bad.de)
		}
	}
	if _, err := core.StartSaveWith(s, nil, t.TempDir(), app.SaveOptions{PatientID: "KLINIK-0815"}); err == nil {
		t.Error("a patient ID without a PACS target was taken")
	}
	job, err := core.StartSaveWith(s, nil, "", app.SaveOptions{PACS: []string{dimse}, NoCopy: true, PatientID: "KLINIK-0815"})
	if err != nil {
		t.Fatal(err)
	}
	if j := wait(t, core, job); j.State != app.StateDone {
		t.Fatalf("redeem into Orthanc: %s %+v", j.State, j.Error)
	}
	wantB := 0
	for _, st := range pb.Studies {
		wantB += st.Files
	}
	checkOrthanc(t, base, origPath, "KLINIK-0815", pb.ID, wantB)
}

// sendStudies sends the CD's studies (nil = all) to inbox.
func sendStudies(t *testing.T, practice *app.Core, portalURL, inbox, cd string, studies []string) *app.Job {
	t.Helper()
	ix, err := practice.Scan(context.Background(), []string{cd}, nil)
	if err != nil {
		t.Fatal(err)
	}
	job, err := practice.StartSend(context.Background(), app.SendRequest{
		Portal: portalURL, Inbox: inbox, Index: ix, Studies: studies,
		Sender: app.Sender{Name: "Praxis Dr. Weiß", Contact: "030 1234"}, Referrer: "Dr. Öztürk",
	})
	if err != nil {
		t.Fatal(err)
	}
	return job
}

// waitWaiting waits until job waits for a PACS that is not there.
func waitWaiting(t *testing.T, core *app.Core, job *app.Job) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; {
		j, err := core.Job(job.ID)
		if err != nil {
			t.Fatal(err)
		}
		if j.State == app.StateWaiting || (j.State == app.StateRunning && !j.RetryAt.IsZero()) {
			return
		}
		if j.State.Final() {
			t.Fatalf("import ended %s (%+v) while a PACS was down, want it to wait", j.State, j.Error)
		}
		if time.Now().After(deadline) {
			t.Fatalf("import did not wait for the missing PACS: %s", j.State)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func header(t *testing.T, path string) *dicomscan.Header {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	h, err := dicomscan.ReadHeader(f, fi.Size())
	if err != nil {
		return nil
	}
	return h
}

// checkReceived checks every instance an SCP wrote into dir: the new
// Patient ID, the original in Other Patient IDs Sequence (dcmdump), and
// no dciodvfy error its original lacks. It returns how many it checked.
func checkReceived(t *testing.T, dir string, origPath map[string]string, id, orig string) int {
	t.Helper()
	n := 0
	filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() {
			return err
		}
		n++
		checkRewritten(t, path, origPath, id, orig)
		return nil
	})
	return n
}

func checkRewritten(t *testing.T, path string, origPath map[string]string, id, orig string) {
	t.Helper()
	h := header(t, path)
	if h == nil {
		t.Errorf("%s: not readable", path)
		return
	}
	if h.PatientID != id {
		t.Errorf("%s: Patient ID %q, want %q", path, h.PatientID, id)
	}
	out, err := exec.Command(corpus.Tool(t, "dcmdump"), "-q", "+P", "0010,1002", "+P", "0010,0020", "+P", "0010,0022", path).CombinedOutput()
	if err != nil {
		t.Errorf("dcmdump %s: %v\n%s", path, err, out)
	}
	d := string(out)
	if !strings.Contains(d, "(0010,1002) SQ") || !strings.Contains(d, "["+orig+"]") || !strings.Contains(d, "[TEXT]") {
		t.Errorf("%s: the original %q is not in Other Patient IDs Sequence:\n%s", path, orig, d)
	}
	src, ok := origPath[h.SOPInstanceUID]
	if !ok {
		t.Errorf("%s: SOP Instance UID %s is none of the CD's", path, h.SOPInstanceUID)
		return
	}
	old := map[string]bool{}
	for _, e := range dciodvfyErrors(t, src) {
		old[e] = true
	}
	for _, e := range dciodvfyErrors(t, path) {
		if !old[e] {
			t.Errorf("%s: dciodvfy: new error %s", path, e)
		}
	}
}

func dciodvfyErrors(t *testing.T, path string) []string {
	t.Helper()
	out, _ := exec.Command(corpus.Tool(t, "dciodvfy"), path).CombinedOutput()
	var errs []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "Error") {
			errs = append(errs, l)
		}
	}
	sort.Strings(errs)
	return errs
}

// checkOrthanc reads Orthanc's instances of patient id over its REST API:
// want of them, each with Patient ID id and the original in Other Patient
// IDs Sequence (Type of Patient ID TEXT), and each file as Orthanc keeps
// it checked as the SCPs' are.
func checkOrthanc(t *testing.T, base string, origPath map[string]string, id, orig string, want int) {
	t.Helper()
	rsp, err := http.Post(base+"/tools/find", "application/json", strings.NewReader(`{"Level":"Instance","Query":{"PatientID":"`+id+`"}}`))
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	err = json.NewDecoder(rsp.Body).Decode(&found)
	rsp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != want {
		t.Errorf("Orthanc has %d instances with Patient ID %s, want %d", len(found), id, want)
	}
	dir := t.TempDir()
	for _, oid := range found {
		var tags struct {
			PatientID               string
			OtherPatientIDsSequence []struct{ PatientID, TypeOfPatientID string }
		}
		getJSON(t, base+"/instances/"+oid+"/tags?simplify", &tags)
		if tags.PatientID != id || len(tags.OtherPatientIDsSequence) != 1 || tags.OtherPatientIDsSequence[0].PatientID != orig || tags.OtherPatientIDsSequence[0].TypeOfPatientID != "TEXT" {
			t.Errorf("Orthanc's instance %s: Patient ID %q, Other Patient IDs %+v; want %q and [{%s TEXT}]", oid, tags.PatientID, tags.OtherPatientIDsSequence, id, orig)
		}
		rsp, err := http.Get(base + "/instances/" + oid + "/file")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rsp.Body)
		rsp.Body.Close()
		f := filepath.Join(dir, oid+".dcm")
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
		checkRewritten(t, f, origPath, id, orig)
	}
}
