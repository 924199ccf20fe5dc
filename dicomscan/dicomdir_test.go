package dicomscan

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/bildbote/bildbote/internal/testkit/corpus"
)

// dicomdirTree copies pydicom's three-patient DICOMDIR test tree into a
// temporary folder, with the named variant as its DICOMDIR ("" for none).
func dicomdirTree(t *testing.T, variant string) string {
	t.Helper()
	src := filepath.Join(corpus.PydicomTestFiles(t), "dicomdirtests")
	dst := t.TempDir()
	for _, d := range []string{"77654033", "98892001", "98892003"} {
		copyTree(t, filepath.Join(src, d), filepath.Join(dst, d))
	}
	if variant != "" {
		copyFile(t, filepath.Join(src, variant), filepath.Join(dst, "DICOMDIR"))
	}
	return dst
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		copyFile(t, p, filepath.Join(dst, rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// instanceSet lists "path sopInstanceUID study series" lines, sorted.
func instanceSet(ix *Index) []string {
	var out []string
	for _, pa := range ix.Patients {
		for _, st := range pa.Studies {
			for _, se := range st.Series {
				for _, in := range se.Instances {
					out = append(out, strings.Join([]string{in.Path, in.SOPInstanceUID, pa.ID, pa.Name, st.InstanceUID, se.InstanceUID}, " "))
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// pydicomFileSet lists the instances pydicom's FileSet finds in the
// DICOMDIR of dir, as relative paths and SOP Instance UIDs, sorted.
func pydicomFileSet(t *testing.T, dir string) []string {
	t.Helper()
	py := corpus.PythonWithPydicom(t)
	script := `
import sys, json, os
from pydicom import dcmread
from pydicom.fileset import FileSet
fs = FileSet(dcmread(os.path.join(sys.argv[1], "DICOMDIR")))
out = []
for inst in fs:
    out.append(os.path.relpath(inst.path, sys.argv[1]) + " " + inst.SOPInstanceUID)
print(json.dumps(sorted(out)))
`
	out, err := exec.Command(py, "-c", script, dir).Output()
	if err != nil {
		t.Fatalf("pydicom FileSet: %v", err)
	}
	var list []string
	if err := json.Unmarshal(out, &list); err != nil {
		t.Fatal(err)
	}
	return list
}

func pathAndUID(lines []string) []string {
	var out []string
	for _, l := range lines {
		f := strings.Fields(l)
		out = append(out, f[0]+" "+f[1])
	}
	sort.Strings(out)
	return out
}

func TestDICOMDIRVariants(t *testing.T) {
	reference := instanceSet(scanMedium(t, Options{}, dicomdirTree(t, "")))
	if len(reference) == 0 {
		t.Fatal("full scan of the test tree found nothing")
	}
	cases := []struct {
		variant  string
		method   string
		fallback string // substring of the fallback reason
	}{
		{"DICOMDIR", MethodDICOMDIR, ""},
		{"DICOMDIR-bigEnd", MethodDICOMDIR, ""},
		{"DICOMDIR-implicit", MethodDICOMDIR, ""},
		{"DICOMDIR-reordered", MethodDICOMDIR, ""},
		{"DICOMDIR-nooffset", MethodDICOMDIR, ""},
		{"DICOMDIR-nopatient", MethodScan, "inconsistent records"},
		{"DICOMDIR-empty.dcm", MethodScan, "not in the DICOMDIR"},
	}
	for _, c := range cases {
		t.Run(c.variant, func(t *testing.T) {
			t.Parallel()
			dir := dicomdirTree(t, c.variant)
			ix := scanMedium(t, Options{}, dir)
			if ix.Method != c.method {
				t.Fatalf("method %q (fallback %q), want %q", ix.Method, ix.FallbackReason, c.method)
			}
			if !strings.Contains(ix.FallbackReason, c.fallback) || (c.fallback == "") != (ix.FallbackReason == "") {
				t.Errorf("fallback reason %q, want one containing %q", ix.FallbackReason, c.fallback)
			}
			if c.fallback != "" && !hasWarning(ix, WarnDICOMDIRFallback) {
				t.Errorf("no %s warning: %v", WarnDICOMDIRFallback, ix.Warnings)
			}
			got := instanceSet(ix)
			if strings.Join(got, "\n") != strings.Join(reference, "\n") {
				t.Errorf("index differs from the full scan:\n got %d: %v\nwant %d: %v", len(got), got, len(reference), reference)
			}
			if c.method == MethodDICOMDIR && c.variant != "DICOMDIR-implicit" {
				// pydicom cannot load its own implicit test DICOMDIR as a
				// FileSet; for the others it is a third-party opinion.
				if py := pydicomFileSet(t, dir); strings.Join(py, "\n") != strings.Join(pathAndUID(got), "\n") {
					t.Errorf("pydicom FileSet disagrees:\n got %v\nwant %v", pathAndUID(got), py)
				}
			}
		})
	}
}

func hasWarning(ix *Index, code string) bool {
	for _, w := range ix.Warnings {
		if w.Code == code {
			return true
		}
	}
	return false
}

// An empty DICOMDIR on an otherwise empty medium is a valid, empty index.
func TestDICOMDIREmptyMedium(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, corpus.PydicomFile(t, "dicomdirtests/DICOMDIR-empty.dcm"), filepath.Join(dir, "DICOMDIR"))
	ix := scanMedium(t, Options{}, dir)
	if ix.Method != MethodDICOMDIR || len(ix.Patients) != 0 || ix.FallbackReason != "" {
		t.Fatalf("method %q, %d patients, fallback %q", ix.Method, len(ix.Patients), ix.FallbackReason)
	}
}

// patchDICOMDIR rewrites the DICOMDIR of dir with fn.
func patchDICOMDIR(t *testing.T, dir string, fn func([]byte) []byte) {
	t.Helper()
	p := filepath.Join(dir, "DICOMDIR")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, fn(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Offsets that cycle must not hang the reader: it falls back to the record
// order, which is consistent here, and still uses the DICOMDIR.
func TestDICOMDIROffsetLoop(t *testing.T) {
	dir := dicomdirTree(t, "DICOMDIR")
	patchDICOMDIR(t, dir, func(b []byte) []byte {
		// Every "next record" offset of 0 (end of a chain) now points back
		// at the first record: (0004,1400) UL 4 → 396.
		zero := []byte{0x04, 0x00, 0x00, 0x14, 'U', 'L', 4, 0, 0, 0, 0, 0}
		loop := []byte{0x04, 0x00, 0x00, 0x14, 'U', 'L', 4, 0, 0x8C, 0x01, 0, 0}
		n := bytes.Count(b, zero)
		if n == 0 {
			t.Fatal("no next-record offset of 0 found to patch")
		}
		return bytes.ReplaceAll(b, zero, loop)
	})
	ix := scanMedium(t, Options{}, dir)
	if ix.Method != MethodDICOMDIR {
		t.Fatalf("method %q (fallback %q), want dicomdir by record order", ix.Method, ix.FallbackReason)
	}
	want := instanceSet(scanMedium(t, Options{IgnoreDICOMDIR: true}, dir))
	if got := instanceSet(ix); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("index differs from the full scan: %d vs %d instances", len(got), len(want))
	}
}

// A Referenced File ID with ".." falls back to a full scan, which reads
// only files inside the medium.
func TestDICOMDIRPointsOutside(t *testing.T) {
	dir := dicomdirTree(t, "DICOMDIR")
	patchDICOMDIR(t, dir, func(b []byte) []byte {
		return bytes.Replace(b, []byte(`77654033\`), []byte(`..\..\..\`), 1)
	})
	ix := scanMedium(t, Options{}, dir)
	if ix.Method != MethodScan || !strings.Contains(ix.FallbackReason, "outside the medium") {
		t.Fatalf("method %q, fallback %q", ix.Method, ix.FallbackReason)
	}
}

// Files named as a Linux mount of an ISO 9660 CD shows them (lower case,
// ";1" suffixes) still resolve against the upper-case File IDs.
func TestDICOMDIRLooseNames(t *testing.T) {
	dir := dicomdirTree(t, "DICOMDIR")
	var renames [][2]string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if p == dir || d.Name() == "DICOMDIR" {
			return nil
		}
		name := strings.ToLower(d.Name())
		if !d.IsDir() {
			name += ";1"
		}
		if name == d.Name() {
			return nil
		}
		renames = append(renames, [2]string{p, filepath.Join(filepath.Dir(p), name)})
		return nil
	})
	for i := len(renames) - 1; i >= 0; i-- { // deepest first
		if err := os.Rename(renames[i][0], renames[i][1]); err != nil {
			t.Fatal(err)
		}
	}
	ix := scanMedium(t, Options{}, dir)
	if ix.Method != MethodDICOMDIR {
		t.Fatalf("method %q, fallback %q", ix.Method, ix.FallbackReason)
	}
	if ix.Files == 0 {
		t.Fatal("no instances")
	}
	for _, l := range instanceSet(ix) {
		p := strings.Fields(l)[0]
		if !strings.HasSuffix(p, ";1") {
			t.Errorf("path %q is not the name on disk", p)
		}
		if _, err := fs.Stat(ix.FS(), p); err != nil {
			t.Errorf("Index.FS cannot open %s: %v", p, err)
		}
	}
}

// A referenced file that is missing makes the DICOMDIR untrustworthy.
func TestDICOMDIRMissingFile(t *testing.T) {
	dir := dicomdirTree(t, "DICOMDIR")
	if err := os.Remove(filepath.Join(dir, "98892001", "CT2N", "6293")); err != nil {
		t.Fatal(err)
	}
	ix := scanMedium(t, Options{}, dir)
	if ix.Method != MethodScan || !strings.Contains(ix.FallbackReason, "missing") {
		t.Fatalf("method %q, fallback %q", ix.Method, ix.FallbackReason)
	}
}

// A referenced file that is now a folder, or a link, is missing too: the
// listing the DICOMDIR path resolves against (no stat per record) holds
// only regular files, and the full scan reports the link.
func TestDICOMDIRReferencedNotAFile(t *testing.T) {
	for _, kind := range []string{"folder", "link"} {
		dir := dicomdirTree(t, "DICOMDIR")
		p := filepath.Join(dir, "98892001", "CT2N", "6293")
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		var err error
		if kind == "folder" {
			err = os.Mkdir(p, 0o755)
		} else {
			err = os.Symlink(filepath.Join(dir, "77654033", "CR1", "6154"), p)
		}
		if err != nil {
			t.Fatal(err)
		}
		ix := scanMedium(t, Options{}, dir)
		if ix.Method != MethodScan || !strings.Contains(ix.FallbackReason, "missing") || !strings.Contains(ix.FallbackReason, "6293") {
			t.Fatalf("%s: method %q, fallback %q", kind, ix.Method, ix.FallbackReason)
		}
		if code := skippedCode(ix, "98892001/CT2N/6293"); kind == "link" && code != SkipNotRegular {
			t.Errorf("link skipped as %q", code)
		}
	}
}

// TINY_ALPHA has its DICOMDIR one folder down, as a copied CD folder
// does; dropped together with a loose file that no DICOMDIR lists, the
// medium needs a full scan.
func TestDICOMDIRInSubfolder(t *testing.T) {
	cd := filepath.Join(t.TempDir(), "CD1")
	copyTree(t, corpus.PydicomFile(t, "dicomdirtests/TINY_ALPHA"), cd)
	ix := scanMedium(t, Options{}, filepath.Dir(cd))
	if ix.Method != MethodDICOMDIR || ix.Files == 0 {
		t.Fatalf("method %q, files %d, fallback %q", ix.Method, ix.Files, ix.FallbackReason)
	}
	if _, _, _, in := findInstance(ix, "CD1/PT000000/ST000000/SE000000/IM000000"); in == nil {
		t.Errorf("CD1/PT000000/ST000000/SE000000/IM000000 not indexed")
	}
	if code := skippedCode(ix, "CD1/README"); code != SkipClutter {
		t.Errorf("README skipped as %q", code)
	}

	mixed := scanMedium(t, Options{}, cd, corpus.PydicomFile(t, "CT_small.dcm"))
	if mixed.Method != MethodScan || !strings.Contains(mixed.FallbackReason, "CT_small.dcm") {
		t.Fatalf("mixed drop: method %q, fallback %q", mixed.Method, mixed.FallbackReason)
	}
	if mixed.Files != ix.Files+1 {
		t.Errorf("mixed drop indexed %d files, want %d", mixed.Files, ix.Files+1)
	}
}

// A file whose UIDs differ from its DICOMDIR record (here the first file of
// a series replaced by an image of another patient) makes the DICOMDIR
// untrustworthy.
func TestDICOMDIRDisagrees(t *testing.T) {
	dir := dicomdirTree(t, "DICOMDIR")
	copyFile(t, filepath.Join(dir, "77654033", "CR1", "6154"), filepath.Join(dir, "98892001", "CT2N", "6293"))
	ix := scanMedium(t, Options{}, dir)
	if ix.Method != MethodScan || !strings.Contains(ix.FallbackReason, "disagrees") {
		t.Fatalf("method %q, fallback %q", ix.Method, ix.FallbackReason)
	}
	if ix.Duplicates != 1 {
		t.Errorf("%d duplicates, want 1 (the copied file)", ix.Duplicates)
	}
}
