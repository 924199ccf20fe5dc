package portal

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bildbote/bildbote/internal/gencd"
	"github.com/bildbote/bildbote/internal/testkit/validate"
)

// issueCDCode generates a small synthetic CD, stages the first patient's
// studies plus the PDF report and issues a code for them.
func (p *testPortal) issueCDCode() (code string, patient *gencd.Patient) {
	p.t.Helper()
	cd := p.t.TempDir()
	gen, err := gencd.Generate(cd, gencd.Options{Files: 40, Seed: 7, Documents: true, PixelSize: 32})
	if err != nil {
		p.t.Fatal(err)
	}
	patient = gen.Patients[0]
	rid := NewRecordID()
	staged, err := StageItems(p.t.Context(), p.dir, rid, []string{cd}, StageOptions{PatientID: patient.ID})
	if err != nil {
		p.t.Fatal(err)
	}
	res, err := p.srv.Store().IssueCode(p.t.Context(), IssueRequest{
		RecordID: rid, Items: staged.Items, ExpiresAt: time.Now().Add(time.Hour),
		Questions: []QuestionSpec{{Type: QuestionBirthDate, Answer: patient.BirthDate}},
	})
	if err != nil {
		p.t.Fatal(err)
	}
	return res.Code, patient
}

// fetchZip downloads path, expecting 503 with timeOutInSeconds while the
// ZIP is built, and returns the ZIP's bytes.
func (p *testPortal) fetchZip(path string, bearer http.Header) ([]byte, *http.Response) {
	p.t.Helper()
	saw503 := false
	for i := 0; i < 600; i++ {
		resp, body := p.do("GET", path, bearer, nil)
		switch resp.StatusCode {
		case 200:
			if !saw503 {
				p.t.Errorf("%s: the first request did not answer 503 while preparing", path)
			}
			return body, resp
		case 503:
			saw503 = true
			var c comebackLater
			if err := json.Unmarshal(body, &c); err != nil || c.TimeOutInSeconds < 1 || resp.Header.Get("Content-Type") != "application/json" {
				p.t.Fatalf("503 body %s", body)
			}
			time.Sleep(50 * time.Millisecond)
		default:
			p.t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
		}
	}
	p.t.Fatalf("%s: still not ready", path)
	return nil, nil
}

// unzipTo extracts a ZIP through os.Root (no path can leave dir).
func unzipTo(t *testing.T, data []byte, dir string) []string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		if strings.HasSuffix(f.Name, "/") {
			continue
		}
		if d := filepath.Dir(f.Name); d != "." {
			if err := root.MkdirAll(d, 0o700); err != nil {
				t.Fatal(err)
			}
		}
		in, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		out, err := root.Create(f.Name)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(out, in)
		out.Close()
		in.Close()
	}
	return names
}

// TestStudyDownloadIsIHEPDI redeems a code for a synthetic CD over HTTP
// and validates what arrives: each study is a ZIP with one DICOMDIR at
// the root that dciodvfy, dcdirdmp and pydicom accept; downloadall holds
// every study and the PDF under IHE_PDI/; ranges work on ZIPs.
func TestStudyDownloadIsIHEPDI(t *testing.T) {
	p := startPortal(t, t.TempDir())
	code, patient := p.issueCDCode()
	bearer := hdr("Authorization", "Bearer "+p.login(code, "1", patient.BirthDate))
	_, body := p.do("GET", "/dlx/v1/list", bearer, nil)
	var list dataItems
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatal(err)
	}
	studies, pdfs := 0, 0
	for _, it := range list.DataItem {
		switch it.MIMEType {
		case "application/zip":
			studies++
			if it.StudyInstanceUID == "" || it.FileCount == 0 || it.PatientsBirthdate != patient.BirthDate || it.Modalities == "" {
				t.Errorf("study item %+v", it)
			}
			zipData, resp := p.fetchZip("/dlx/v1/download/"+it.ID, bearer)
			if resp.Header.Get("Content-Type") != "application/zip" || resp.Header.Get("ETag") == "" || resp.Header.Get("Accept-Ranges") != "bytes" {
				t.Errorf("zip headers %v", resp.Header)
			}
			dir := t.TempDir()
			names := unzipTo(t, zipData, dir)
			if n := validDICOMDIR(t, filepath.Join(dir, "DICOMDIR")); n != it.FileCount {
				t.Errorf("DICOMDIR lists %d instances, item says %d", n, it.FileCount)
			}
			for _, n := range names {
				if strings.HasPrefix(n, "IHE_PDI/") && strings.HasSuffix(n, ".PDF") {
					t.Errorf("study ZIP holds the report %s", n)
				}
			}
			rh := bearer.Clone()
			rh.Set("Range", "bytes=0-1")
			if resp, b := p.do("GET", "/dlx/v1/download/"+it.ID, rh, nil); resp.StatusCode != 206 || string(b) != "PK" {
				t.Errorf("range on zip: %d %q", resp.StatusCode, b)
			}
		case "application/pdf":
			pdfs++
		}
	}
	if studies != len(patient.Studies) || pdfs != 1 {
		t.Fatalf("%d studies, %d PDFs; want %d and 1", studies, pdfs, len(patient.Studies))
	}
	all, resp := p.fetchZip("/dlx/v1/downloadall", bearer)
	if resp.Header.Get("Content-Type") != "application/zip" {
		t.Fatalf("downloadall type %q", resp.Header.Get("Content-Type"))
	}
	dir := t.TempDir()
	names := unzipTo(t, all, dir)
	validDICOMDIR(t, filepath.Join(dir, "DICOMDIR"))
	hasPDF := false
	for _, n := range names {
		if strings.HasPrefix(n, "IHE_PDI/") && strings.HasSuffix(strings.ToUpper(n), ".PDF") {
			hasPDF = true
		}
	}
	if !hasPDF {
		t.Errorf("downloadall lacks the report: %v", names)
	}
}

// TestPrepareEagerly: with PrepareEagerly the ZIPs are built at start-up,
// so downloads after a restart need no waiting.
func TestPrepareEagerly(t *testing.T) {
	dir := t.TempDir()
	p := startPortal(t, dir)
	code, patient := p.issueCDCode()
	p.stop()
	// A build a crash interrupted.
	leftover := filepath.Join(dir, codesDir, "x", "zip", ".building-123")
	if err := os.MkdirAll(filepath.Dir(leftover), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(leftover, []byte("PK"), 0o600); err != nil {
		t.Fatal(err)
	}
	q := startPortal(t, dir, func(c *Config) { c.PrepareEagerly = true })
	if _, err := os.Stat(leftover); !os.IsNotExist(err) {
		t.Error("unfinished build survived a restart")
	}
	q.srv.Start()
	q.srv.prep.wait()
	bearer := hdr("Authorization", "Bearer "+q.login(code, "1", patient.BirthDate))
	_, body := q.do("GET", "/dlx/v1/list", bearer, nil)
	var list dataItems
	json.Unmarshal(body, &list)
	for _, it := range list.DataItem {
		if resp, _ := q.do("GET", "/dlx/v1/download/"+it.ID, bearer, nil); resp.StatusCode != 200 {
			t.Fatalf("%s after eager preparation: %d", it.MIMEType, resp.StatusCode)
		}
	}
}

// validDICOMDIR is validate.DICOMDIR that stops the test when the
// DICOMDIR fails a validator: the checks after it would only describe the
// same broken ZIP again.
func validDICOMDIR(t *testing.T, path string) int {
	t.Helper()
	failedBefore := t.Failed()
	n := validate.DICOMDIR(t, path)
	if t.Failed() && !failedBefore {
		t.FailNow()
	}
	return n
}
