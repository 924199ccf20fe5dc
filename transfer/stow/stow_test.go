package stow_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/testkit/corpus"
	"github.com/bildbote/bildbote/internal/testkit/orthanc"
	"github.com/bildbote/bildbote/transfer/internal/retry"
	"github.com/bildbote/bildbote/transfer/stow"
)

// TestStowIntoOrthanc starts a real Orthanc in a private network namespace
// and runs TestStowInside there.
func TestStowIntoOrthanc(t *testing.T) {
	orthanc.Run(t, "TestStowInside")
}

var corpusFiles = []string{
	"charset_files/chrGerm.dcm", // ISO_IR 100, Äneas^Rüdiger
	"test_files/CT_small.dcm",
	"test_files/MR_small.dcm",
	"test_files/JPEG2000.dcm",
	"test_files/JPGExtended.dcm",
	"test_files/SC_rgb_rle.dcm",
}

// sopUIDs reads each file's SOP Instance UID with pydicom (a second
// implementation, not ours).
func sopUIDs(t *testing.T, paths []string) []string {
	t.Helper()
	py := corpus.PythonWithPydicom(t)
	args := append([]string{"-c", "import sys,pydicom\nfor p in sys.argv[1:]: print(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID)"}, paths...)
	out, err := exec.Command(py, args...).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(out))
}

func TestStowInside(t *testing.T) {
	base := orthanc.URL(t)
	ctx := context.Background()
	var paths []string
	for _, f := range corpusFiles {
		paths = append(paths, corpus.Path(t, filepath.Join(corpus.PydicomData, f)))
	}
	uids := sopUIDs(t, paths)
	var insts []stow.Instance
	for i, p := range paths {
		fi, _ := os.Stat(p)
		insts = append(insts, stow.Instance{Path: p, Size: fi.Size(), SOPInstanceUID: uids[i]})
	}
	// A file that is no DICOM at all, in the middle of a batch.
	junk := filepath.Join(t.TempDir(), "junk.dcm")
	if err := os.WriteFile(junk, []byte("this is not a DICOM file"), 0o644); err != nil {
		t.Fatal(err)
	}
	insts = append(insts[:3], append([]stow.Instance{{Path: junk, Size: 24, SOPInstanceUID: "1.2.3.4.5.6.7"}}, insts[3:]...)...)

	c := &stow.Client{Base: base + orthanc.DICOMwebRoot, BatchFiles: 3, Retry: retry.Policy{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond}}
	rep, err := c.Store(ctx, insts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Stored != len(paths) || rep.Failed != 1 || rep.Requests < 3 {
		t.Fatalf("report: stored %d failed %d requests %d: %+v", rep.Stored, rep.Failed, rep.Requests, rep.Results)
	}
	for _, r := range rep.Results {
		if r.Path == junk && (r.Stored || !r.Retried) {
			t.Errorf("junk: %+v", r)
		}
	}

	// What Orthanc holds: every instance, and the German name intact.
	var ids []string
	getJSON(t, base+"/instances", &ids)
	if len(ids) != len(paths) {
		t.Fatalf("Orthanc has %d instances, want %d", len(ids), len(paths))
	}
	var found []struct {
		MainDicomTags map[string]string `json:"MainDicomTags"`
	}
	postJSON(t, base+"/tools/find", `{"Level":"Patient","Query":{"PatientID":"SCSGERM"},"Expand":true}`, &found)
	if len(found) != 1 || found[0].MainDicomTags["PatientName"] != "Äneas^Rüdiger" {
		t.Fatalf("patient as stored: %+v", found)
	}

	// Storing again is harmless.
	rep, err = c.Store(ctx, insts[:2])
	if err != nil || rep.Stored != 2 {
		t.Fatalf("store again: %+v %v", rep, err)
	}

	// A wrong URL is a typed, user-fixable error.
	_, err = (&stow.Client{Base: base + "/no-dicom-web"}).Store(ctx, insts[:1])
	var se *stow.StatusError
	if !errors.As(err, &se) || se.Status != http.StatusNotFound {
		t.Fatalf("wrong URL: %v", err)
	}
	if ue, ok := i18n.AsUserError(err); !ok || ue.Key != "transfer.stow.not_found" {
		t.Fatalf("wrong URL user error: %v", err)
	}
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func postJSON(t *testing.T, u, body string, v any) {
	t.Helper()
	resp, err := http.Post(u, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v: %s", u, err, data)
	}
}
