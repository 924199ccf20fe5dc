package gencd_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/bildbote/bildbote/internal/gencd"
	"github.com/bildbote/bildbote/internal/testkit/corpus"
	"github.com/bildbote/bildbote/internal/testkit/validate"
)

// smallCD is a 30-file CD with 64x64 images, a DICOMDIR and a PDF.
func smallCD(t *testing.T) *gencd.Result {
	t.Helper()
	corpus.Tool(t, "dcmmkdir")
	res, err := gencd.Generate(t.TempDir(), gencd.Options{
		Files: 30, Seed: 7, PixelSize: 64, DICOMDIR: true, Documents: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func abs(res *gencd.Result, rel string) string {
	return filepath.Join(res.Dir, filepath.FromSlash(rel))
}

func TestSmallCDLayout(t *testing.T) {
	res := smallCD(t)
	if res.Files != 30 || len(res.AllInstances()) != 30 {
		t.Fatalf("files = %d, instances = %d, want 30", res.Files, len(res.AllInstances()))
	}
	var studies, series int
	for _, p := range res.Patients {
		studies += len(p.Studies)
		for _, st := range p.Studies {
			series += len(st.Series)
		}
	}
	if len(res.Patients) != 2 || studies != 3 || series != 10 {
		t.Errorf("patients/studies/series = %d/%d/%d, want 2/3/10", len(res.Patients), studies, series)
	}

	// Every file on disk is accounted for, and the DICOM ones have 8.3
	// upper-case file IDs.
	want := map[string]int64{res.DICOMDIR: -1}
	var total int64
	fileID := regexp.MustCompile(`^DICOM(/[A-Z0-9_]{1,8}){4}$`)
	for _, in := range res.AllInstances() {
		if !fileID.MatchString(in.Path) {
			t.Errorf("file ID %q is not 8.3 upper case", in.Path)
		}
		want[in.Path] = in.Size
		total += in.Size
	}
	for _, f := range append(res.Clutter, res.Documents...) {
		want[f.Path] = f.Size
	}
	if total != res.Bytes {
		t.Errorf("bytes = %d, sum of instances %d", res.Bytes, total)
	}
	err := filepath.WalkDir(res.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(res.Dir, p)
		rel = filepath.ToSlash(rel)
		size, ok := want[rel]
		if !ok {
			t.Errorf("unexpected file %s", rel)
			return nil
		}
		delete(want, rel)
		if info, _ := d.Info(); size >= 0 && info.Size() != size {
			t.Errorf("%s: size %d, result says %d", rel, info.Size(), size)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(want) > 0 {
		t.Errorf("files in the result but not on disk: %v", want)
	}

	exe, err := os.ReadFile(abs(res, "VIEWER/VIEWER.EXE"))
	if err != nil || !bytes.HasPrefix(exe, []byte("MZ")) {
		t.Errorf("VIEWER.EXE: %v, starts %q", err, exe[:min(2, len(exe))])
	}
	if len(res.Documents) != 1 || res.Documents[0].Path != "REPORT/BEFUND.PDF" {
		t.Fatalf("documents = %+v", res.Documents)
	}
	out, err := exec.Command(corpus.Tool(t, "pdfinfo"), abs(res, "REPORT/BEFUND.PDF")).CombinedOutput()
	if err != nil || !regexp.MustCompile(`(?m)^Pages:\s+1$`).Match(out) {
		t.Errorf("pdfinfo BEFUND.PDF: %v\n%s", err, out)
	}
}

// TestSmallCDValidates runs dcmdump and dciodvfy over every file,
// dcentvfy over each patient and each study, and the DICOMDIR checks.
func TestSmallCDValidates(t *testing.T) {
	res := smallCD(t)
	for _, in := range res.AllInstances() {
		validate.File(t, abs(res, in.Path))
	}
	for _, p := range res.Patients {
		var patientFiles []string
		for _, st := range p.Studies {
			var studyFiles []string
			for _, se := range st.Series {
				for _, in := range se.Instances {
					studyFiles = append(studyFiles, abs(res, in.Path))
				}
			}
			dcentvfy(t, studyFiles)
			patientFiles = append(patientFiles, studyFiles...)
		}
		dcentvfy(t, patientFiles)
	}
	if res.DICOMDIR != "DICOMDIR" {
		t.Fatalf("DICOMDIR = %q", res.DICOMDIR)
	}
	if n := validate.DICOMDIR(t, abs(res, res.DICOMDIR)); n != res.Files {
		t.Errorf("pydicom FileSet found %d instances, want %d", n, res.Files)
	}

	// Each PATIENT record carries its patient's character set, so the
	// names decode correctly from the DICOMDIR alone.
	out, err := exec.Command(corpus.PythonWithPydicom(t), "-W", "ignore", "-c", pyPatientRecords, abs(res, res.DICOMDIR)).Output()
	if err != nil {
		t.Fatalf("pydicom patient records: %v", err)
	}
	var want []string
	for _, p := range res.Patients {
		want = append(want, p.CharacterSet+"|"+p.Name+"|"+p.ID)
	}
	if got := strings.Split(strings.TrimSpace(string(out)), "\n"); !slices.Equal(got, want) {
		t.Errorf("DICOMDIR patient records = %q, want %q", got, want)
	}
}

const pyPatientRecords = `
import sys
from pydicom import dcmread
for r in dcmread(sys.argv[1]).DirectoryRecordSequence:
    if r.DirectoryRecordType == "PATIENT":
        print("%s|%s|%s" % (r.SpecificCharacterSet, r.PatientName, r.PatientID))
`

func dcentvfy(t *testing.T, files []string) {
	t.Helper()
	out, err := exec.Command(corpus.Tool(t, "dcentvfy"), files...).CombinedOutput()
	if err != nil || strings.Contains(string(out), "Error") {
		t.Errorf("dcentvfy over %d files: %v\n%s", len(files), err, out)
	}
}

// pyRead reads every file with pydicom (character sets applied) and prints
// one JSON object per file.
const pyRead = `
import sys, json
import pydicom
for p in sys.argv[1:]:
    ds = pydicom.dcmread(p)
    px = ds.pixel_array
    print(json.dumps({"path": p, "name": str(ds.PatientName), "id": ds.PatientID,
        "charset": ds.SpecificCharacterSet, "study": ds.StudyInstanceUID,
        "series": ds.SeriesInstanceUID, "sop": ds.SOPInstanceUID,
        "desc": ds.SeriesDescription, "groupLength": ds.file_meta.FileMetaInformationGroupLength,
        "shape": list(px.shape), "min": int(px.min()), "max": int(px.max())}))
`

type pyFile struct {
	Path, Name, ID, Charset, Study, Series, SOP, Desc string
	GroupLength                                       int `json:"groupLength"`
	Shape                                             []int
	Min, Max                                          int
}

// TestSmallCDReadsBackInPydicom checks the truth in the Result against an
// independent reader, and that the ISO_IR 100 patient is Latin-1 on disk.
func TestSmallCDReadsBackInPydicom(t *testing.T) {
	res := smallCD(t)
	var files []string
	byPath := map[string]*gencd.Instance{}
	for _, in := range res.AllInstances() {
		files = append(files, abs(res, in.Path))
		byPath[abs(res, in.Path)] = in
	}
	py := corpus.PythonWithPydicom(t)
	out, err := exec.Command(py, append([]string{"-c", pyRead}, files...)...).Output()
	if err != nil {
		t.Fatalf("pydicom: %v", err)
	}
	want := map[string]struct{ name, id, charset, study, series, desc string }{}
	for _, p := range res.Patients {
		for _, st := range p.Studies {
			for _, se := range st.Series {
				for _, in := range se.Instances {
					want[in.SOPInstanceUID] = struct{ name, id, charset, study, series, desc string }{
						p.Name, p.ID, p.CharacterSet, st.InstanceUID, se.InstanceUID, se.Description}
				}
			}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	n := 0
	for dec.More() {
		var f pyFile
		if err := dec.Decode(&f); err != nil {
			t.Fatal(err)
		}
		n++
		w, ok := want[f.SOP]
		if !ok || byPath[f.Path].SOPInstanceUID != f.SOP {
			t.Errorf("%s: SOP Instance UID %s not the one in the result", f.Path, f.SOP)
			continue
		}
		got := struct{ name, id, charset, study, series, desc string }{f.Name, f.ID, f.Charset, f.Study, f.Series, f.Desc}
		if got != w {
			t.Errorf("%s: pydicom read %+v, result says %+v", f.Path, got, w)
		}
		if !slices.Equal(f.Shape, []int{64, 64}) || f.Max-f.Min < 100 {
			t.Errorf("%s: pixels shape %v range %d..%d", f.Path, f.Shape, f.Min, f.Max)
		}
		if gl := metaGroupLength(t, f.Path); gl != f.GroupLength {
			t.Errorf("%s: group length says %d, meta elements take %d", f.Path, f.GroupLength, gl)
		}
	}
	if n != len(files) {
		t.Errorf("pydicom read %d files, want %d", n, len(files))
	}

	// The umlaut patient is ISO_IR 100: Latin-1 bytes on disk, no UTF-8.
	latin := res.Patients[0]
	if latin.CharacterSet != "ISO_IR 100" || latin.Name != "Müller^Jürgen" {
		t.Fatalf("first patient = %q %q", latin.CharacterSet, latin.Name)
	}
	raw, err := os.ReadFile(abs(res, latin.Studies[0].Series[0].Instances[0].Path))
	if err != nil {
		t.Fatal(err)
	}
	latinName := []byte("M\xfcller^J\xfcrgen")
	if !bytes.Contains(raw, latinName) || bytes.Contains(raw, []byte(latin.Name)) || !bytes.Equal(latin.NameOnDisk, latinName) {
		t.Errorf("patient name is not Latin-1 on disk")
	}
	utf := res.Patients[1]
	raw, err = os.ReadFile(abs(res, utf.Studies[0].Series[0].Instances[0].Path))
	if err != nil {
		t.Fatal(err)
	}
	if utf.CharacterSet != "ISO_IR 192" || !bytes.Contains(raw, []byte(utf.Name)) {
		t.Errorf("second patient %q (%s) not UTF-8 on disk", utf.Name, utf.CharacterSet)
	}
}

// metaGroupLength walks the group 0002 elements after the preamble and
// returns the number of bytes they take after the group length element.
func metaGroupLength(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 144 || string(b[128:132]) != "DICM" || !bytes.Equal(b[:128], make([]byte, 128)) {
		t.Fatalf("%s: no zero preamble and DICM", path)
	}
	pos := 132 + 12 // skip (0002,0000) UL 4
	start := pos
	for binary.LittleEndian.Uint16(b[pos:]) == 0x0002 {
		vr := string(b[pos+4 : pos+6])
		if vr == "OB" || vr == "UN" || vr == "UT" || vr == "SQ" {
			pos += 12 + int(binary.LittleEndian.Uint32(b[pos+8:]))
		} else {
			pos += 8 + int(binary.LittleEndian.Uint16(b[pos+6:]))
		}
	}
	return pos - start
}

// TestSameSeedSameBytes generates the full-size default images twice.
func TestSameSeedSameBytes(t *testing.T) {
	a, err := gencd.Generate(t.TempDir(), gencd.Options{Files: 10, Seed: 42, Documents: true})
	if err != nil {
		t.Fatal(err)
	}
	b, err := gencd.Generate(t.TempDir(), gencd.Options{Files: 10, Seed: 42, Documents: true, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	paths := []string{"README.TXT", "AUTORUN.INF", "VIEWER/VIEWER.EXE", "REPORT/BEFUND.PDF"}
	for _, in := range a.AllInstances() {
		paths = append(paths, in.Path)
	}
	for _, p := range paths {
		x, errA := os.ReadFile(abs(a, p))
		y, errB := os.ReadFile(abs(b, p))
		if errA != nil || errB != nil || !bytes.Equal(x, y) {
			t.Errorf("%s differs between two runs with the same seed (%v, %v)", p, errA, errB)
		}
	}
	c, err := gencd.Generate(t.TempDir(), gencd.Options{Files: 10, Seed: 43})
	if err != nil {
		t.Fatal(err)
	}
	if c.Patients[0].Studies[0].InstanceUID == a.Patients[0].Studies[0].InstanceUID {
		t.Error("another seed gave the same Study Instance UID")
	}
}

// TestPixelDataCompressesLikeAnImage: zstd on the pixel data of full-size
// images lands where real CT/MR does (about 2–3x), not at zeros or noise.
func TestPixelDataCompressesLikeAnImage(t *testing.T) {
	res, err := gencd.Generate(t.TempDir(), gencd.Options{Files: 10, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	for _, p := range res.Patients {
		for _, st := range p.Studies {
			for _, se := range st.Series {
				var raw, packed int
				for _, in := range se.Instances {
					b, err := os.ReadFile(abs(res, in.Path))
					if err != nil {
						t.Fatal(err)
					}
					pixels := b[len(b)-2*se.Rows*se.Cols:]
					raw += len(pixels)
					packed += len(enc.EncodeAll(pixels, nil))
				}
				ratio := float64(raw) / float64(packed)
				t.Logf("%s %dx%d: zstd ratio %.2f", se.Description, se.Rows, se.Cols, ratio)
				if ratio < 1.6 || ratio > 3.5 {
					t.Errorf("%s: zstd ratio %.2f outside 1.6–3.5", se.Description, ratio)
				}
			}
		}
	}
}

func TestImpossibleFileCountsAreErrors(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{gencd.MinFiles - 1, -3, 1_000_000} {
		if _, err := gencd.Generate(dir, gencd.Options{Files: n, PixelSize: 1}); err == nil {
			t.Errorf("no error for %d files", n)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("refused requests wrote %d entries", len(entries))
	}
}
