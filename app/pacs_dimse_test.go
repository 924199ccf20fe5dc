package app_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/testkit/dicompeer"
	"github.com/bildbote/bildbote/internal/testkit/orthanc"
)

// TestReceiveIntoDIMSE: an envelope sent through the real portal is
// imported by DIMSE C-STORE into three PACS at once, all real: a dcmtk
// storescp, Orthanc's DICOM port, and a second storescp that is not
// running yet. The import waits (connection refused is transient), the
// second storescp is started, the job is resumed, and then: every
// instance arrived at every PACS, and the first storescp received exactly
// one C-STORE per instance (its log counted) — the resumed run did not send again what it had confirmed. A receive
// afterwards finds nothing to do.
func TestReceiveIntoDIMSE(t *testing.T) { orthanc.Run(t, "TestReceiveIntoDIMSEInside") }

func TestReceiveIntoDIMSEInside(t *testing.T) {
	orthanc.URL(t)
	dirA, dirB := t.TempDir(), t.TempDir()
	portA, portB := dicompeer.FreePort(t), dicompeer.FreePort(t)
	storesA := dicompeer.Storescp(t, dirA, portA)
	targets := []string{
		fmt.Sprintf("dicom://STORESCP@127.0.0.1:%d?calling=BILDBOTE", portA),
		"dicom://ORTHANC@127.0.0.1:4242",
		fmt.Sprintf("dicom://LATE@127.0.0.1:%d", portB),
	}
	p := startPortal(t, t.TempDir())
	cl := newClinic(t, p, "bM1X")
	cdDir, cd := generateCD(t, 12)
	practice := openCore(t, app.Config{})
	job, err := send(t, practice, p.url, "bM1X", cdDir, false)
	if err != nil {
		t.Fatal(err)
	}
	if j := wait(t, practice, job); j.State != app.StateDone {
		t.Fatalf("send: %s %+v", j.State, j.Error)
	}
	ij, err := cl.core.StartImport(app.ImportRequest{Portal: p.url, Inbox: "bM1X", APIKey: cl.apiKey, PACS: targets})
	if err != nil {
		t.Fatal(err)
	}
	// The third PACS refuses connections: the job waits for it.
	deadline := time.Now().Add(time.Minute)
	for {
		j, err := cl.core.Job(ij.ID)
		if err != nil {
			t.Fatal(err)
		}
		if j.State == app.StateWaiting || (j.State == app.StateRunning && !j.RetryAt.IsZero()) {
			break
		}
		if j.State.Final() {
			t.Fatalf("import ended %s (%+v) while a PACS was down, want it to wait", j.State, j.Error)
		}
		if time.Now().After(deadline) {
			t.Fatalf("import did not wait for the missing PACS: %s", j.State)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := storesA(); n != cd.Files {
		t.Fatalf("before the resume storescp A received %d C-STOREs, want %d", n, cd.Files)
	}
	dicompeer.Storescp(t, dirB, portB)
	if err := cl.core.RetryNow(ij.ID); err != nil {
		t.Fatal(err)
	}
	ij = wait(t, cl.core, ij)
	if ij.State != app.StateDone {
		t.Fatalf("import: %s %+v", ij.State, ij.Error)
	}
	if n := storesA(); n != cd.Files {
		t.Errorf("storescp A received %d C-STOREs, want %d (each instance once)", n, cd.Files)
	}
	if n := dicompeer.CountFiles(t, dirA); n != cd.Files {
		t.Errorf("storescp A has %d files, want %d", n, cd.Files)
	}
	if n := dicompeer.CountFiles(t, dirB); n != cd.Files {
		t.Errorf("storescp B has %d files, want %d", n, cd.Files)
	}
	var instances []string
	getJSON(t, orthanc.URL(t)+"/instances", &instances)
	if len(instances) != cd.Files {
		t.Errorf("Orthanc has %d instances, want %d", len(instances), cd.Files)
	}
	stored, perTarget := 0, map[string]int{}
	for _, r := range ij.Receipt.Imported {
		stored += r.Stored
		if r.Failed != 0 || !r.Acked {
			t.Errorf("result %+v", r)
		}
		for _, pi := range r.PACS {
			if pi.Status != app.PACSSuccess || pi.Code != "0000" || pi.SOPInstanceUID == "" || pi.StudyUID != r.StudyUID {
				t.Errorf("instance result %+v", pi)
			}
			perTarget[pi.Target]++
		}
	}
	if stored != 3*cd.Files {
		t.Errorf("%d stored, want %d (3 PACS × %d)", stored, 3*cd.Files, cd.Files)
	}
	for _, tg := range targets {
		if perTarget[tg] != cd.Files {
			t.Errorf("%s: %d instance results, want %d", tg, perTarget[tg], cd.Files)
		}
	}
	again, err := cl.core.StartImport(app.ImportRequest{Portal: p.url, Inbox: "bM1X", APIKey: cl.apiKey, PACS: targets})
	if err != nil || again != nil {
		t.Errorf("second receive: job %v, %v; want nothing to do", again, err)
	}
	if n := storesA(); n != cd.Files {
		t.Errorf("after a second receive storescp A received %d C-STOREs, want %d", n, cd.Files)
	}
}

// TestReceiveDIMSERefused: a PACS that refuses the association (storescp
// --refuse) fails the import for good: the envelope stays on the portal,
// the receipt lists each instance as not taken, with the reason.
func TestReceiveDIMSERefused(t *testing.T) { orthanc.Run(t, "TestReceiveDIMSERefusedInside") }

func TestReceiveDIMSERefusedInside(t *testing.T) {
	orthanc.URL(t)
	port := dicompeer.FreePort(t)
	dicompeer.Storescp(t, t.TempDir(), port, "--refuse")
	p := startPortal(t, t.TempDir())
	cl := newClinic(t, p, "bM1X")
	cdDir, cd := generateCD(t, 10)
	practice := openCore(t, app.Config{})
	job, err := send(t, practice, p.url, "bM1X", cdDir, false)
	if err != nil {
		t.Fatal(err)
	}
	if j := wait(t, practice, job); j.State != app.StateDone {
		t.Fatalf("send: %s %+v", j.State, j.Error)
	}
	ij, err := cl.core.StartImport(app.ImportRequest{Portal: p.url, Inbox: "bM1X", APIKey: cl.apiKey,
		PACS: []string{fmt.Sprintf("dicom://STORESCP@127.0.0.1:%d", port)}})
	if err != nil {
		t.Fatal(err)
	}
	ij = wait(t, cl.core, ij)
	if ij.State != app.StateFailed {
		t.Fatalf("import: %s, want failed", ij.State)
	}
	if ij.Receipt == nil || len(ij.Receipt.PACSRefused) != cd.Files {
		t.Fatalf("receipt %+v, want %d refused instances", ij.Receipt, cd.Files)
	}
	for _, pi := range ij.Receipt.PACSRefused {
		if pi.Confirmed() || pi.Error == "" {
			t.Errorf("refused instance %+v", pi)
		}
	}
	items, err := cl.core.InboxList(context.Background(), p.url, "bM1X", cl.apiKey)
	if err != nil || len(items) != 1 {
		t.Errorf("inbox after a refused import: %d items, %v; want the envelope kept", len(items), err)
	}
}

// TestRedeemIntoDIMSE: a patient's code redeemed at the clinic goes
// straight into the PACS — a real storescp and Orthanc's DICOM port —
// first without a copy (nothing stays in the library, documents are left
// out), then into Orthanc with a copy in a folder.
func TestRedeemIntoDIMSE(t *testing.T) { orthanc.Run(t, "TestRedeemIntoDIMSEInside") }

func TestRedeemIntoDIMSEInside(t *testing.T) {
	base := orthanc.URL(t)
	port := dicompeer.FreePort(t)
	stores := dicompeer.Storescp(t, t.TempDir(), port)
	p := startPortal(t, t.TempDir())
	cdDir, cd := generateCD(t, 20)
	pa := cd.Patients[0]
	want := 0
	for _, st := range pa.Studies {
		want += st.Files
	}
	code := p.issueCode(cdDir, pa, time.Now().Add(72*time.Hour))
	lib := t.TempDir()
	core := openCore(t, app.Config{LibraryDir: lib})
	s, _, err := redeem(t, core, p.url, code, germanDate(pa.BirthDate))
	if err != nil {
		t.Fatal(err)
	}
	target := fmt.Sprintf("dicom://STORESCP@127.0.0.1:%d", port)
	job, err := core.StartSaveWith(s, nil, "", app.SaveOptions{PACS: []string{target}, NoCopy: true})
	if err != nil {
		t.Fatal(err)
	}
	j := wait(t, core, job)
	if j.State != app.StateDone {
		t.Fatalf("save into the PACS: %s %+v", j.State, j.Error)
	}
	if n := stores(); n != want {
		t.Errorf("storescp received %d C-STOREs, want %d", n, want)
	}
	results := 0
	for _, sv := range j.Receipt.Saved {
		if sv.Dir != "" || sv.Failed != 0 || sv.Stored != len(sv.PACS) {
			t.Errorf("saved %+v", sv)
		}
		for _, pi := range sv.PACS {
			if pi.Status != app.PACSSuccess || pi.Target != target || pi.StudyUID == "" {
				t.Errorf("instance %+v", pi)
			}
			results++
		}
	}
	if results != want {
		t.Errorf("%d instance results, want %d", results, want)
	}
	if entries, _ := os.ReadDir(lib); len(entries) != 0 {
		t.Errorf("the library holds %d entries after a save without copy", len(entries))
	}

	copyDir := t.TempDir()
	job, err = core.StartSaveWith(s, nil, copyDir, app.SaveOptions{PACS: []string{"dicom://ORTHANC@127.0.0.1:4242"}})
	if err != nil {
		t.Fatal(err)
	}
	if j = wait(t, core, job); j.State != app.StateDone {
		t.Fatalf("save into Orthanc with a copy: %s %+v", j.State, j.Error)
	}
	var instances []string
	getJSON(t, base+"/instances", &instances)
	if len(instances) != want {
		t.Errorf("Orthanc has %d instances, want %d", len(instances), want)
	}
	for _, sv := range j.Receipt.Saved {
		if sv.Dir == "" {
			t.Errorf("no copy kept: %+v", sv)
		}
	}
	if n := dicompeer.CountFiles(t, copyDir); n < want {
		t.Errorf("the copy has %d files, want at least %d", n, want)
	}
}

// TestPACSTargetCheck: the settings' Test button (TestPACS) and
// TestPACSTarget take both notations: a C-ECHO to Orthanc's DICOM port and
// a QIDO-RS search on its DICOMweb root answer; a storescp refusing
// associations, a closed port and a malformed target are told apart.
func TestPACSTargetCheck(t *testing.T) { orthanc.Run(t, "TestPACSTargetCheckInside") }

func TestPACSTargetCheckInside(t *testing.T) {
	base := orthanc.URL(t)
	core := openCore(t, app.Config{})
	ctx := context.Background()
	for _, ok := range []string{"dicom://ORTHANC@127.0.0.1:4242", base + orthanc.DICOMwebRoot} {
		if err := core.TestPACS(ctx, ok); err != nil {
			t.Errorf("TestPACS(%s): %v", ok, err)
		}
		if err := core.TestPACSTarget(ctx, ok, 5*time.Second); err != nil {
			t.Errorf("TestPACSTarget(%s): %v", ok, err)
		}
	}
	refusing := dicompeer.FreePort(t)
	dicompeer.Storescp(t, t.TempDir(), refusing, "--refuse")
	cases := map[string]i18n.Kind{
		fmt.Sprintf("dicom://STORESCP@127.0.0.1:%d", refusing):          i18n.KindRefused,
		fmt.Sprintf("dicom://PACS@127.0.0.1:%d", dicompeer.FreePort(t)): i18n.KindTransient,
		"dicom://127.0.0.1:4242":                                        i18n.KindInput,
	}
	for target, kind := range cases {
		err := core.TestPACS(ctx, target)
		if ue, ok := i18n.AsUserError(err); !ok || ue.Kind != kind {
			t.Errorf("TestPACS(%s) = %v, want a %v error", target, err, kind)
		}
	}
}
