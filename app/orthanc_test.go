package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/crypto"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/testkit/orthanc"
)

// TestReceiveIntoOrthanc: an envelope sent through the real portal is
// imported into a real Orthanc over STOW-RS; every instance is found
// there and the umlauts of the patient's name are intact.
func TestReceiveIntoOrthanc(t *testing.T) { orthanc.Run(t, "TestReceiveIntoOrthancInside") }

func TestReceiveIntoOrthancInside(t *testing.T) {
	base := orthanc.URL(t)
	p := startPortal(t, t.TempDir())
	cl := newClinic(t, p, "bM1X")
	cdDir, cd := generateCD(t, 30)
	practice := openCore(t, app.Config{})
	job, err := send(t, practice, p.url, "bM1X", cdDir, false)
	if err != nil {
		t.Fatal(err)
	}
	if j := wait(t, practice, job); j.State != app.StateDone {
		t.Fatalf("send: %s %+v", j.State, j.Error)
	}
	ij, err := cl.core.StartImport(app.ImportRequest{Portal: p.url, Inbox: "bM1X", APIKey: cl.apiKey, StowURL: base + orthanc.DICOMwebRoot})
	if err != nil {
		t.Fatal(err)
	}
	ij = wait(t, cl.core, ij)
	if ij.State != app.StateDone {
		t.Fatalf("import: %s %+v", ij.State, ij.Error)
	}
	stored := 0
	for _, r := range ij.Receipt.Imported {
		stored += r.Stored
		if r.Failed != 0 || !r.Acked || r.Dir != "" {
			t.Errorf("result %+v", r)
		}
	}
	if stored != cd.Files {
		t.Errorf("%d stored, want %d", stored, cd.Files)
	}
	var instances []string
	getJSON(t, base+"/instances", &instances)
	if len(instances) != cd.Files {
		t.Errorf("Orthanc has %d instances, want %d", len(instances), cd.Files)
	}
	want := map[string]bool{}
	for _, in := range cd.AllInstances() {
		want[in.SOPInstanceUID] = true
	}
	for _, id := range instances {
		var tags map[string]string
		getJSON(t, base+"/instances/"+id+"/simplified-tags", &tags)
		delete(want, tags["SOPInstanceUID"])
	}
	if len(want) != 0 {
		t.Errorf("%d instances missing in Orthanc", len(want))
	}
	var patients []string
	getJSON(t, base+"/patients", &patients)
	names := map[string]bool{}
	for _, id := range patients {
		var pt struct {
			MainDicomTags map[string]string
		}
		getJSON(t, base+"/patients/"+id, &pt)
		names[pt.MainDicomTags["PatientName"]] = true
	}
	for _, pa := range cd.Patients {
		if !names[pa.Name] {
			t.Errorf("patient %q not in Orthanc (has %v)", pa.Name, names)
		}
	}
	if items, _ := cl.core.InboxList(context.Background(), p.url, "bM1X", cl.apiKey); len(items) != 0 {
		t.Errorf("not acknowledged: %v", items)
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

var _ = strings.Contains

// TestPACSConnection: the Settings "Test" button's check against a real
// Orthanc (DICOMweb root: ok; a URL without DICOMweb: not found), a
// closed port (refused) and the real portal's inbox API, which answers
// 401 to a request without its API key.
func TestPACSConnection(t *testing.T) { orthanc.Run(t, "TestPACSConnectionInside") }

func TestPACSConnectionInside(t *testing.T) {
	base := orthanc.URL(t)
	core := openCore(t, app.Config{})
	ctx := context.Background()
	if err := core.TestPACS(ctx, base+orthanc.DICOMwebRoot+"/"); err != nil {
		t.Fatalf("Orthanc's DICOMweb root: %v", err)
	}
	p := startPortal(t, t.TempDir())
	p.addCommunity("bM1X", "Klinik Süd", mustRecipient(t))
	cases := []struct {
		url  string
		want error
		kind i18n.Kind
	}{
		{base + "/no-dicomweb-here", app.ErrPACSNotFound, i18n.KindInput},
		{"http://127.0.0.1:1/dicom-web", app.ErrPACSUnreachable, i18n.KindTransient},
		{p.url + "/api/v1/inbox/bM1X", app.ErrPACSUnauthorized, i18n.KindRefused},
	}
	for _, c := range cases {
		err := core.TestPACS(ctx, c.url)
		if !errors.Is(err, c.want) || !isKind(err, c.kind) {
			t.Errorf("TestPACS(%s) = %v, want %v (%v)", c.url, err, c.want, c.kind)
		}
	}
	if err := core.TestPACS(ctx, "pacs.local"); !isKind(err, i18n.KindInput) {
		t.Errorf("no scheme: %v", err)
	}
}

func mustRecipient(t *testing.T) string {
	t.Helper()
	id, err := crypto.GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	return id.Recipient().String()
}
