package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/internal/testkit/dicompeer"
	"github.com/bildbote/bildbote/internal/testkit/orthanc"
)

// TestPatientIDFlag: --patient-id on receive … --pacs and redeem … --pacs
// against real peers (portal, storescp, Orthanc's DICOM port, netns).
// Usage errors: without --pacs, with --watch; a bad ID is an input error
// (de and en); receive of a two-patient envelope is refused naming the
// count; a one-patient envelope goes into Orthanc with the new ID and the
// original in Other Patient IDs Sequence, read back over its REST API (the
// text output names the ID);
// redeem --pacs --patient-id the same into storescp, with the --json
// receipt naming the ID sent.
func TestPatientIDFlag(t *testing.T) { orthanc.Run(t, "TestPatientIDFlagInside") }

func TestPatientIDFlagInside(t *testing.T) {
	base := orthanc.URL(t)
	work := t.TempDir()
	t.Setenv("BILDBOTE_POLICY", "")
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(work, "config"))
	t.Setenv("LANG", "en_US.UTF-8")
	t.Setenv("BILDBOTE_KEY_PASSPHRASE", "correct horse battery staple")
	clinicState, practiceState := filepath.Join(work, "clinic"), filepath.Join(work, "practice")
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := Main(args, strings.NewReader(""), &out, &errb)
		return code, out.String(), errb.String()
	}
	key, cd, res := clinicKeyAndCD(t, clinicState, work)
	if len(res.Patients) < 2 {
		t.Fatalf("the CD has %d patients, want 2", len(res.Patients))
	}
	pa, pb := res.Patients[0], res.Patients[1]
	portalURL, apiKey, issue := startTestPortal(t, filepath.Join(work, "portal"), key.Recipient, cd, pb)
	port := dicompeer.FreePort(t)
	stores := dicompeer.Storescp(t, filepath.Join(work, "scp"), port)
	scp := fmt.Sprintf("dicom://STORESCP@127.0.0.1:%d", port)
	orth := "dicom://ORTHANC@127.0.0.1:4242"
	recv := []string{"receive", "--state", clinicState, "--portal", portalURL, "--inbox", "bM1X", "--api-key", apiKey}

	// Usage and input errors, before anything is fetched.
	if code, _, errs := run(append(recv, "--patient-id", "KLINIK-4711")...); code != ExitUsage || !strings.Contains(errs, "--patient-id goes with --pacs") {
		t.Errorf("receive --patient-id without --pacs: %d %q", code, errs)
	}
	if code, _, errs := run(append(recv, "--pacs", orth, "--watch", "--patient-id", "KLINIK-4711")...); code != ExitUsage || !strings.Contains(errs, "--watch") {
		t.Errorf("receive --watch --patient-id: %d %q", code, errs)
	}
	if code, _, errs := run("redeem", "--state", clinicState, "--portal", portalURL, "--dob", pb.BirthDate, "--patient-id", "X", issue()); code != ExitUsage || !strings.Contains(errs, "--pacs") {
		t.Errorf("redeem --patient-id without --pacs: %d %q", code, errs)
	}
	if code, _, errs := run(append(recv, "--pacs", orth, "--patient-id", `A\B`)...); code != ExitInput || !strings.Contains(errs, "backslash") {
		t.Errorf("receive --patient-id with a backslash: %d %q", code, errs)
	}
	t.Setenv("LANG", "de_DE.UTF-8")
	if code, _, errs := run(append(recv, "--pacs", orth, "--patient-id", strings.Repeat("7", 70))...); code != ExitInput || !strings.Contains(errs, "70 Zeichen") {
		t.Errorf("receive --patient-id of 70 characters in German: %d %q", code, errs)
	}

	// Two patients in the inbox: refused, naming the count (German).
	if code, out, errs := run("send", "--state", practiceState, "--portal", portalURL, "--to", "bM1X", "--sender", "Praxis Dr. Weiß", cd); code != 0 {
		t.Fatalf("send: %d %s %s", code, out, errs)
	}
	if code, _, errs := run(append(recv, "--pacs", orth, "--patient-id", "KLINIK-4711")...); code != ExitInput || !strings.Contains(errs, "2 Patienten") {
		t.Errorf("receive --patient-id of two patients in German: %d %q", code, errs)
	}
	t.Setenv("LANG", "en_US.UTF-8")
	if code, _, errs := run(append(recv, "--pacs", orth, "--patient-id", "KLINIK-4711")...); code != ExitInput || !strings.Contains(errs, "2 patients") {
		t.Errorf("receive --patient-id of two patients: %d %q", code, errs)
	}
	// Take that envelope without an ID (into storescp), then send pa's
	// studies only and receive them into Orthanc with the ID.
	if code, out, errs := run(append(recv, "--pacs", scp)...); code != 0 {
		t.Fatalf("receive without an ID: %d %s %s", code, out, errs)
	}
	send := []string{"send", "--state", practiceState, "--portal", portalURL, "--to", "bM1X", "--sender", "Praxis Dr. Weiß"}
	want := 0
	for _, st := range pa.Studies {
		send = append(send, "--study", st.InstanceUID)
		want += st.Files
	}
	if code, out, errs := run(append(send, cd)...); code != 0 {
		t.Fatalf("send one patient: %d %s %s", code, out, errs)
	}
	if code, out, errs := run(append(recv, "--pacs", orth, "--patient-id", "KLINIK-4711")...); code != 0 || !strings.Contains(out, "with patient ID KLINIK-4711") {
		t.Fatalf("receive --pacs --patient-id: %d %s %s", code, out, errs)
	}
	orthancPatient(t, base, "KLINIK-4711", pa.ID, want)

	// redeem --pacs --patient-id into storescp, --json receipt.
	before := stores()
	code, out, errs := run("redeem", "--json", "--state", clinicState, "--portal", portalURL, "--dob", pb.BirthDate, "--pacs", scp, "--patient-id", "KLINIK-0815", issue())
	if code != 0 {
		t.Fatalf("redeem --pacs --patient-id: %d\n%s\n%s", code, out, errs)
	}
	var j app.Job
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		t.Fatalf("redeem --json: %v\n%s", err, out)
	}
	sent := 0
	for _, sv := range j.Receipt.Saved {
		for _, pi := range sv.PACS {
			if pi.PatientID != "KLINIK-0815" || !pi.Confirmed() {
				t.Errorf("instance %+v", pi)
			}
			sent++
		}
	}
	wantB := 0
	for _, st := range pb.Studies {
		wantB += st.Files
	}
	if n := stores() - before; n != wantB || sent != wantB {
		t.Errorf("redeem sent %d C-STOREs with %d results, want %d", n, sent, wantB)
	}
}

// orthancPatient checks Orthanc's instances with Patient ID id: want of
// them, each with the original in Other Patient IDs Sequence.
func orthancPatient(t *testing.T, base, id, orig string, want int) {
	t.Helper()
	rsp, err := http.Post(base+"/tools/find", "application/json", strings.NewReader(`{"Level":"Instance","Query":{"PatientID":"`+id+`"}}`))
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	json.NewDecoder(rsp.Body).Decode(&found)
	rsp.Body.Close()
	if len(found) != want {
		t.Errorf("Orthanc has %d instances with Patient ID %s, want %d", len(found), id, want)
	}
	for _, oid := range found {
		rsp, err := http.Get(base + "/instances/" + oid + "/tags?simplify")
		if err != nil {
			t.Fatal(err)
		}
		var tags struct {
			PatientID               string
			OtherPatientIDsSequence []struct{ PatientID, TypeOfPatientID string }
		}
		json.NewDecoder(rsp.Body).Decode(&tags)
		rsp.Body.Close()
		if tags.PatientID != id || len(tags.OtherPatientIDsSequence) != 1 || tags.OtherPatientIDsSequence[0].PatientID != orig {
			t.Errorf("Orthanc's %s: Patient ID %q, Other Patient IDs %+v; want %q and %q", oid, tags.PatientID, tags.OtherPatientIDsSequence, id, orig)
		}
	}
}
