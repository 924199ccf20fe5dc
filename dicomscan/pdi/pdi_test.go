package pdi

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bildbote/bildbote/dicomscan"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/testkit/corpus"
	"github.com/bildbote/bildbote/internal/testkit/validate"
)

// fixedTime makes output reproducible across runs.
var fixedTime = time.Date(2026, 11, 23, 12, 30, 0, 0, time.UTC)

// source is one third-party input file and the name it gets on the test
// medium.
type source struct{ from, as string }

func pydicomFile(t *testing.T, name, as string) source {
	return source{corpus.PydicomFile(t, name), as}
}

func charsetFile(t *testing.T, name, as string) source {
	return source{filepath.Join(corpus.PydicomCharsetFiles(t), name), as}
}

// standardSources are files from every layout the writer must handle: a
// TIFF header in the preamble (MR_small), Latin-1 and UTF-8 names, JPEG,
// implicit VR, big endian, RLE, deflate, a bare data set without meta
// information, and a Siemens MR from dicom3tools.
func standardSources(t *testing.T) []source {
	return []source{
		pydicomFile(t, "CT_small.dcm", "cd/CT_small.dcm"),
		pydicomFile(t, "MR_small.dcm", "cd/mr/MR_small.dcm"),
		pydicomFile(t, "SC_rgb_jpeg_dcmd.dcm", "cd/implicit"),
		pydicomFile(t, "ExplVR_BigEnd.dcm", "cd/bigendian"),
		pydicomFile(t, "JPEG-lossy.dcm", "cd/JPEG-lossy.dcm"),
		pydicomFile(t, "SC_rgb_rle.dcm", "cd/rle"),
		pydicomFile(t, "image_dfl.dcm", "cd/deflated"),
		pydicomFile(t, "ExplVR_LitEndNoMeta.dcm", "cd/nometa"),
		charsetFile(t, "chrGerm.dcm", "cd/Bilder/Müller.dcm"),
		charsetFile(t, "chrX1.dcm", "cd/x1.dcm"),
		{corpus.Dicom3toolsExample(t), "cd/siemens/0051"},
	}
}

// medium copies sources into a new folder and indexes it with pydicom.
func medium(t *testing.T, srcs []source) (string, *dicomscan.Index) {
	t.Helper()
	dir := t.TempDir()
	var rels []string
	for _, s := range srcs {
		data, err := os.ReadFile(s.from)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(s.as))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		rels = append(rels, s.as)
	}
	return dir, pydicomIndex(t, dir, rels...)
}

func pydicomIndex(t *testing.T, dir string, rels ...string) *dicomscan.Index {
	t.Helper()
	py := corpus.PythonWithPydicom(t)
	args := append([]string{filepath.Join("testdata", "index.py"), dir}, rels...)
	out, err := exec.Command(py, args...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("index.py: %v\n%s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	var idx dicomscan.Index
	if err := json.Unmarshal(out, &idx); err != nil {
		t.Fatalf("index.py output: %v", err)
	}
	idx.SetFS(os.DirFS(dir))
	return &idx
}

func instances(idx *dicomscan.Index) int {
	n := 0
	for _, p := range idx.Patients {
		for _, s := range p.Studies {
			for _, se := range s.Series {
				n += len(se.Instances)
			}
		}
	}
	return n
}

// checkFileSet validates a written file-set with the independent tools and
// checks every instance against its source: zeroed preamble, DICM, and
// the data set copied byte for byte.
func checkFileSet(t *testing.T, out, mediumDir string, res *Result, wantInstances int) {
	t.Helper()
	if res.Instances != wantInstances {
		t.Errorf("Result.Instances = %d, want %d (skipped: %v)", res.Instances, wantInstances, res.Skipped)
	}
	if n := validate.DICOMDIR(t, filepath.Join(out, "DICOMDIR")); n != wantInstances {
		t.Errorf("pydicom FileSet found %d instances, want %d", n, wantInstances)
	}
	for _, e := range res.Written {
		if !strings.HasPrefix(e.Path, "DICOM/") {
			continue
		}
		checkFileID(t, e.Path)
		got, err := os.ReadFile(filepath.Join(out, filepath.FromSlash(e.Path)))
		if err != nil {
			t.Fatal(err)
		}
		src, err := os.ReadFile(filepath.Join(mediumDir, filepath.FromSlash(e.Source)))
		if err != nil {
			t.Fatal(err)
		}
		checkRewritten(t, e, got, src)
	}
}

func checkRewritten(t *testing.T, e Entry, got, src []byte) {
	t.Helper()
	if int64(len(got)) != e.Size {
		t.Errorf("%s: %d bytes, Result says %d", e.Path, len(got), e.Size)
	}
	if len(got) < 132 || !bytes.Equal(got[:128], make([]byte, 128)) || string(got[128:132]) != "DICM" {
		t.Fatalf("%s: preamble not zeroed or no DICM prefix", e.Path)
	}
	gm, err := readSourceMeta(bufioReader(got))
	if err != nil {
		t.Fatalf("%s: own meta unreadable: %v", e.Path, err)
	}
	sm, err := readSourceMeta(bufioReader(src))
	if err != nil {
		t.Fatalf("%s: source meta: %v", e.Source, err)
	}
	if !bytes.Equal(got[gm.dataStart:], src[sm.dataStart:]) {
		t.Errorf("%s: data set differs from %s", e.Path, e.Source)
	}
}

func checkFileID(t *testing.T, p string) {
	t.Helper()
	parts := strings.Split(p, "/")
	if len(parts) > 8 {
		t.Errorf("file ID %s: %d components", p, len(parts))
	}
	for _, c := range parts {
		if c == "" || len(c) > 8 || strings.Trim(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != "" {
			t.Errorf("file ID %s: bad component %q", p, c)
		}
	}
}

func TestWriteDir(t *testing.T) {
	t.Parallel()
	srcs := standardSources(t)
	mediumDir, idx := medium(t, srcs)
	out := filepath.Join(t.TempDir(), "fileset")
	res, err := WriteDir(context.Background(), out, idx, Options{FileSetID: "Bildbote Test", Time: fixedTime})
	if err != nil {
		t.Fatal(err)
	}
	checkFileSet(t, out, mediumDir, res, len(srcs))
	if res.FileSetID != "BILDBOTE_TEST" {
		t.Errorf("FileSetID = %q", res.FileSetID)
	}
	for _, name := range []string{"README.TXT", "INDEX.HTM"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Error(err)
		}
	}
	// the outputs of inputs that pass dciodvfy must pass it too
	for _, e := range res.Written {
		switch filepath.Base(e.Source) {
		case "CT_small.dcm", "MR_small.dcm", "0051":
			validate.File(t, filepath.Join(out, filepath.FromSlash(e.Path)))
		}
	}
}

func TestPreambleZeroed(t *testing.T) {
	t.Parallel()
	src := corpus.PydicomFile(t, "MR_small.dcm")
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if string(data[:4]) != "II*\x00" {
		t.Fatalf("test input changed: MR_small.dcm no longer has a TIFF header in its preamble")
	}
	mediumDir, idx := medium(t, []source{{src, "MR_small.dcm"}})
	out := filepath.Join(t.TempDir(), "fs")
	res, err := WriteDir(context.Background(), out, idx, Options{Time: fixedTime})
	if err != nil {
		t.Fatal(err)
	}
	checkFileSet(t, out, mediumDir, res, 1)
	got, err := os.ReadFile(filepath.Join(out, filepath.FromSlash(res.Written[0].Path)))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[:128], make([]byte, 128)) {
		t.Errorf("preamble not zeroed: % x", got[:16])
	}

	// CVE-2019-11687: a DICOM file whose preamble is a Windows program
	// header ("MZ...") is both; written out, it is only DICOM
	poly := append([]byte(nil), data...)
	copy(poly, "MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff")
	polyDir := t.TempDir()
	writeFile(t, filepath.Join(polyDir, "setup.dcm"), poly)
	idx = pydicomIndex(t, polyDir, "setup.dcm")
	out = filepath.Join(t.TempDir(), "fs")
	res, err = WriteDir(context.Background(), out, idx, Options{Time: fixedTime})
	if err != nil {
		t.Fatal(err)
	}
	checkFileSet(t, out, polyDir, res, 1)
	got, err = os.ReadFile(filepath.Join(out, filepath.FromSlash(res.Written[0].Path)))
	if err != nil {
		t.Fatal(err)
	}
	if isExecutableContent(got) || !bytes.Equal(got[:128], make([]byte, 128)) {
		t.Errorf("polyglot preamble survived: % x", got[:16])
	}
}

func TestWriteZip(t *testing.T) {
	t.Parallel()
	srcs := standardSources(t)
	mediumDir, idx := medium(t, srcs)
	var buf bytes.Buffer
	res, err := WriteZip(context.Background(), &buf, idx, Options{Time: fixedTime, Lang: i18n.EN})
	if err != nil {
		t.Fatal(err)
	}

	zipPath := filepath.Join(t.TempDir(), "pdi.zip")
	if err := os.WriteFile(zipPath, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	cmd := exec.Command(corpus.Tool(t, "unzip"), "-q", zipPath, "-d", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("unzip: %v\n%s", err, msg)
	}
	checkFileSet(t, out, mediumDir, res, len(srcs))
	readme, err := os.ReadFile(filepath.Join(out, "README.TXT"))
	if err != nil {
		t.Fatal(err)
	}
	en, de := bytes.Index(readme, []byte("MEDICAL IMAGES")), bytes.Index(readme, []byte("MEDIZINISCHE BILDER"))
	if en != 0+len("BILDBOTE - ") || de < en || !bytes.Contains(readme, []byte("\r\n")) {
		t.Errorf("README.TXT: English first, then German, CRLF:\n%s", readme)
	}
	index, err := os.ReadFile(filepath.Join(out, "INDEX.HTM"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(index, []byte(`<html lang="en">`)) || !bytes.Contains(index, []byte("Äneas, Rüdiger")) {
		t.Errorf("INDEX.HTM: not English or the German name is lost")
	}
	wellFormed(t, index)

	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	var dicomdirs int
	for _, f := range zr.File {
		if filepath.Base(f.Name) == "DICOMDIR" {
			dicomdirs++
			if f.Name != "DICOMDIR" {
				t.Errorf("DICOMDIR at %s, want the root", f.Name)
			}
		}
	}
	if dicomdirs != 1 || len(zr.File) != res.Files {
		t.Errorf("%d DICOMDIRs, %d entries; Result.Files = %d", dicomdirs, len(zr.File), res.Files)
	}

	// the same input and time give the same bytes (HTTP Range on a re-run),
	// whatever the number of CPUs deflating
	for _, workers := range []int{1, 3} {
		var again bytes.Buffer
		if _, err := writeZip(context.Background(), &again, idx, Options{Time: fixedTime, Lang: i18n.EN}, zipTuning{workers: workers}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), again.Bytes()) {
			t.Errorf("a run with %d workers differs", workers)
		}
	}

	// instances too large to deflate ahead are streamed in between
	var mixed bytes.Buffer
	mres, err := writeZip(context.Background(), &mixed, idx, Options{Time: fixedTime}, zipTuning{aheadLimit: 8 << 10})
	if err != nil {
		t.Fatal(err)
	}
	checkFileSet(t, extract(t, mixed.Bytes()), mediumDir, mres, len(srcs))
	checkZipTimes(t, mixed.Bytes())
	checkZipTimes(t, buf.Bytes())
}

func bufioReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }

// TestNonImageRecords: SR, RT and waveform instances get the record type
// their SOP class calls for, with keys read from the file (implicit VR,
// explicit VR, and a bare data set without meta information).
func TestNonImageRecords(t *testing.T) {
	t.Parallel()
	srcs := []source{
		pydicomFile(t, "test-SR.dcm", "sr"),
		pydicomFile(t, "rtplan.dcm", "rtplan"),
		pydicomFile(t, "rtdose.dcm", "rtdose"),
		pydicomFile(t, "ExplVR_LitEndNoMeta.dcm", "ionplan"),
		pydicomFile(t, "waveform_ecg.dcm", "ecg"),
		pydicomFile(t, "CT_small.dcm", "ct"),
	}
	mediumDir, idx := medium(t, srcs)
	out := filepath.Join(t.TempDir(), "fs")
	res, err := WriteDir(context.Background(), out, idx, Options{Time: fixedTime})
	if err != nil {
		t.Fatal(err)
	}
	checkFileSet(t, out, mediumDir, res, len(srcs))
	const py = `
import sys, warnings
warnings.simplefilter("ignore")
from pydicom import dcmread
for r in dcmread(sys.argv[1]).DirectoryRecordSequence:
    if "ReferencedFileID" in r:
        print(r.DirectoryRecordType)
`
	got, err := exec.Command(corpus.PythonWithPydicom(t), "-c", py, filepath.Join(out, "DICOMDIR")).Output()
	if err != nil {
		t.Fatal(err)
	}
	types := strings.Fields(strings.ReplaceAll(string(got), " ", "_"))
	sortStrings(types)
	// the ion plan has no RT Plan Label (Type 1): it falls back to IMAGE
	want := []string{"IMAGE", "IMAGE", "RT_DOSE", "RT_PLAN", "SR_DOCUMENT", "WAVEFORM"}
	if strings.Join(types, ",") != strings.Join(want, ",") {
		t.Errorf("record types %v, want %v", types, want)
	}
	// the dicomscan reader takes every leaf record type from the DICOMDIR
	again := scan(t, out, dicomscan.Options{})
	if again.Method != dicomscan.MethodDICOMDIR || instances(again) != len(srcs) {
		t.Errorf("rescan: method %q (%s), %d instances, want %d", again.Method, again.FallbackReason, instances(again), len(srcs))
	}
}

// checkZipTimes: every entry carries Options.Time (raw entries deflated
// ahead set the fields themselves).
func checkZipTimes(t *testing.T, data []byte) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if !f.Modified.Equal(fixedTime) {
			t.Errorf("%s: modified %v, want %v", f.Name, f.Modified, fixedTime)
		}
	}
}

// README.TXT points to IHE_PDI\ only when the file-set has documents
// there (issue 13: a saved study's README named a reports folder that did
// not exist).
func TestReadmeNamesOnlyFoldersThatExist(t *testing.T) {
	for _, docs := range []int{0, 1} {
		sum := summary{Studies: 1, Images: 2}
		for i := 0; i < docs; i++ {
			sum.Documents = append(sum.Documents, sumDocument{Title: "BEFUND.PDF", Href: "IHE_PDI/DOC00001"})
		}
		text := string(readme(sum, Options{Time: fixedTime, Lang: i18n.DE}))
		if got := strings.Count(text, documentsDir+`\`); got != 2*docs {
			t.Errorf("%d documents: README names %s\\ %d times, want %d:\n%s", docs, documentsDir, got, 2*docs, text)
		}
		if !strings.Contains(text, "DICOMDIR") || !strings.Contains(text, "INDEX.HTM") {
			t.Errorf("README lost its other lines:\n%s", text)
		}
	}
}
