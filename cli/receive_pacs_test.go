package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/internal/gencd"
	"github.com/bildbote/bildbote/internal/testkit/dicompeer"
	"github.com/bildbote/bildbote/internal/testkit/orthanc"
	"github.com/bildbote/bildbote/portal"
)

// TestReceivePACS: bildbote-cli against real peers — the reference portal
// over loopback, dcmtk storescp and Orthanc (DICOM port and DICOMweb),
// inside a private network namespace. send, then receive --pacs
// dicom://… --stow http://…/dicom-web: every instance arrives at both,
// the --json receipt has one result per instance and target; a PACS that
// refuses the association fails the receive with exit 4 and the text
// printer names each instance not taken; redeem --pacs puts a patient's
// code into storescp without a copy; pacs test answers for both
// notations.
func TestReceivePACS(t *testing.T) { orthanc.Run(t, "TestReceivePACSInside") }

func TestReceivePACSInside(t *testing.T) {
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
	portalURL, apiKey, issue := startTestPortal(t, filepath.Join(work, "portal"), key.Recipient, cd, res.Patients[0])
	sendCD := func() {
		t.Helper()
		if code, out, errs := run("send", "--state", practiceState, "--portal", portalURL, "--to", "bM1X", "--sender", "Praxis Dr. Weiß", cd); code != 0 {
			t.Fatalf("send: %d %s %s", code, out, errs)
		}
	}
	sendCD()
	port := dicompeer.FreePort(t)
	stores := dicompeer.Storescp(t, filepath.Join(work, "scp"), port)
	dicomTarget := fmt.Sprintf("dicom://STORESCP@127.0.0.1:%d?calling=BILDBOTE", port)
	stowTarget := base + orthanc.DICOMwebRoot
	code, out, errs := run("receive", "--json", "--state", clinicState, "--portal", portalURL, "--inbox", "bM1X", "--api-key", apiKey,
		"--pacs", dicomTarget, "--stow", stowTarget)
	if code != 0 {
		t.Fatalf("receive --pacs: exit %d\n%s\n%s", code, out, errs)
	}
	var j app.Job
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		t.Fatalf("receive --json: %v\n%s", err, out)
	}
	perTarget := map[string]int{}
	for _, r := range j.Receipt.Imported {
		for _, pi := range r.PACS {
			if !pi.Confirmed() || pi.SOPInstanceUID == "" {
				t.Errorf("instance %+v", pi)
			}
			perTarget[pi.Target]++
		}
	}
	if perTarget[dicomTarget] != res.Files || perTarget[stowTarget] != res.Files {
		t.Errorf("results per target %v, want %d for each of %s and %s", perTarget, res.Files, dicomTarget, stowTarget)
	}
	if n := stores(); n != res.Files {
		t.Errorf("storescp received %d C-STOREs, want %d", n, res.Files)
	}
	var instances []string
	resp, err := http.Get(base + "/instances")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&instances)
	resp.Body.Close()
	if len(instances) != res.Files {
		t.Errorf("Orthanc has %d instances, want %d", len(instances), res.Files)
	}
	// Nothing left: a second receive sends nothing.
	if code, out, errs := run("receive", "--state", clinicState, "--portal", portalURL, "--inbox", "bM1X", "--api-key", apiKey, "--pacs", dicomTarget); code != 0 || !strings.Contains(errs+out, "empty") {
		t.Errorf("second receive: %d %q %q", code, out, errs)
	}
	if n := stores(); n != res.Files {
		t.Errorf("after a second receive storescp received %d C-STOREs, want %d", n, res.Files)
	}

	// A PACS that refuses us: exit 4, each instance named.
	sendCD()
	refusing := dicompeer.FreePort(t)
	dicompeer.Storescp(t, filepath.Join(work, "scp2"), refusing, "--refuse")
	t.Setenv("LANG", "de_DE.UTF-8")
	code, out, errs = run("receive", "--state", clinicState, "--portal", portalURL, "--inbox", "bM1X", "--api-key", apiKey,
		"--pacs", fmt.Sprintf("dicom://STORESCP@127.0.0.1:%d", refusing))
	t.Setenv("LANG", "en_US.UTF-8")
	if code != ExitRefused {
		t.Errorf("receive into a refusing PACS: exit %d, want %d\n%s\n%s", code, ExitRefused, out, errs)
	}
	if n := strings.Count(out, "nicht gesendet: "); n != res.Files || strings.Contains(out, "refuses") {
		t.Errorf("text output names %d instances not sent in German, want %d:\n%s", n, res.Files, out)
	}

	// redeem --pacs: a patient's code straight into the PACS, no copy.
	pa := res.Patients[0]
	patientFiles := 0
	for _, st := range pa.Studies {
		patientFiles += st.Files
	}
	before := stores()
	code, out, errs = run("redeem", "--state", clinicState, "--portal", portalURL, "--dob", pa.BirthDate, "--pacs", dicomTarget, issue())
	if code != 0 || !strings.Contains(out, "Into the PACS: ") || !strings.Contains(out, dicomTarget+": ") {
		t.Errorf("redeem --pacs: %d\n%s\n%s", code, out, errs)
	}
	if n := stores() - before; n != patientFiles {
		t.Errorf("redeem --pacs sent %d C-STOREs, want %d", n, patientFiles)
	}
	if code, _, errs := run("redeem", "--state", clinicState, "--portal", portalURL, "--dob", pa.BirthDate, "--copy", issue()); code != ExitUsage || !strings.Contains(errs, "--copy") {
		t.Errorf("redeem --copy without --pacs: %d %q", code, errs)
	}

	// pacs test, both notations.
	if code, out, errs := run("pacs", "test", "--state", clinicState, stowTarget); code != 0 || !strings.Contains(out, "QIDO-RS") {
		t.Errorf("pacs test %s: %d %q %q", stowTarget, code, out, errs)
	}
	if code, out, errs := run("pacs", "test", dicomTarget); code != 0 || !strings.Contains(out, "C-ECHO") {
		t.Errorf("pacs test %s: %d %q %q", dicomTarget, code, out, errs)
	}
	if code, _, errs := run("pacs", "test", "--state", clinicState, base+"/nothing-here"); code != ExitInput || !strings.Contains(errs, "no DICOMweb service") {
		t.Errorf("pacs test without DICOMweb: %d %q", code, errs)
	}
	if code, _, errs := run("pacs", "test", "pacs.local:104"); code != ExitInput || !strings.Contains(errs, "not a PACS address") {
		t.Errorf("pacs test without scheme: %d %q", code, errs)
	}
	t.Setenv("LANG", "de_DE.UTF-8")
	if code, _, errs := run("receive", "--state", clinicState, "--portal", portalURL, "--inbox", "bM1X", "--api-key", apiKey, "--pacs", "ftp://pacs"); code != ExitInput || !strings.Contains(errs, "keine PACS-Adresse") {
		t.Errorf("receive --pacs ftp:// in German: %d %q", code, errs)
	}
}

// startTestPortal runs the reference portal on loopback with inbox bM1X
// for recipient and returns its URL, the inbox's API key and a function
// issuing a code for patient pa of the CD at cd (date of birth asked).
func startTestPortal(t *testing.T, dir, recipient, cd string, pa *gencd.Patient) (string, string, func() string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	srv, err := portal.New(portal.Config{DataDir: dir, PublicURL: url})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	hs := &http.Server{Handler: srv.Handler()}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close(); srv.Close() })
	res, err := srv.Store().AddCommunity(context.Background(), portal.AddCommunityRequest{Code: "bM1X", Name: "Klinik Süd", Recipients: []string{recipient}})
	if err != nil {
		t.Fatal(err)
	}
	issue := func() string {
		t.Helper()
		rid := portal.NewRecordID()
		st, err := portal.StageItems(context.Background(), dir, rid, []string{cd}, portal.StageOptions{PatientID: pa.ID})
		if err != nil {
			t.Fatal(err)
		}
		c, err := srv.Store().IssueCode(context.Background(), portal.IssueRequest{RecordID: rid, Items: st.Items, ExpiresAt: time.Now().Add(24 * time.Hour),
			Questions: []portal.QuestionSpec{{Type: portal.QuestionBirthDate, Answer: pa.BirthDate}}})
		if err != nil {
			t.Fatal(err)
		}
		return c.Code
	}
	return url, res.APIKey, issue
}

// clinicKeyAndCD is the set-up the PACS tests share: the clinic's key
// made by `keys init` in clinicState (and read back as the core holds
// it), and a generated CD of gencd.MinFiles files under work/cd.
func clinicKeyAndCD(t *testing.T, clinicState, work string) (*app.KeyInfo, string, *gencd.Result) {
	t.Helper()
	var out, errb bytes.Buffer
	if code := Main([]string{"keys", "init", "--json", "--state", clinicState}, strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("keys init: %d %s %s", code, out.String(), errb.String())
	}
	core, err := app.Open(app.Config{StateDir: clinicState})
	if err != nil {
		t.Fatal(err)
	}
	key, err := core.InitClinicKey()
	core.Close()
	if err != nil {
		t.Fatal(err)
	}
	cd := filepath.Join(work, "cd")
	res, err := gencd.Generate(cd, gencd.Options{Files: gencd.MinFiles, PixelSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	return key, cd, res
}
