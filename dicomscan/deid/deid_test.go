package deid

import (
	"bytes"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pydicomFiles is where Debian's python3-pydicom keeps its test files
// (third-party DICOM; scripts/deps.sh installs the package).
const pydicomFiles = "/usr/lib/python3/dist-packages/pydicom/data"

func needPydicomFiles(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(pydicomFiles + "/test_files/CT_small.dcm"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("pydicom test files missing (scripts/deps.sh test installs python3-pydicom): %v", err)
		}
		t.Skip("pydicom test files not installed (scripts/deps.sh test)")
	}
}

// find returns the top-level element with tag t.
func find(ds *dataset, t uint32) *element {
	for _, el := range ds.elems {
		if el.tag == t {
			return el
		}
	}
	return nil
}

func str(ds *dataset, t uint32) string {
	if el := find(ds, t); el != nil {
		return strings.TrimRight(string(el.value), " \x00")
	}
	return ""
}

func pixelHash(t testing.TB, b []byte) [32]byte {
	t.Helper()
	f, err := parseFile(b)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	el := find(f.ds, 0x7FE00010)
	if el == nil {
		return [32]byte{}
	}
	return sha256.Sum256(el.value)
}

func TestRewriteCT(t *testing.T) {
	needPydicomFiles(t)
	src := pydicomFiles + "/test_files/CT_small.dcm"
	in, _ := os.ReadFile(src)
	s, err := NewSession(Options{Pseudonym: "Zweitmeinung-0427"})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	res, err := s.Rewrite(src, &out)
	if err != nil {
		t.Fatal(err)
	}
	f, err := parseFile(out.Bytes())
	if err != nil {
		t.Fatalf("output does not parse: %v", err)
	}
	orig, _ := parseFile(in)
	if got := str(f.ds, tPatientName); got != "Zweitmeinung-0427" {
		t.Errorf("PatientName %q", got)
	}
	if got := str(f.ds, tPatientID); got != "Zweitmeinung-0427" {
		t.Errorf("PatientID %q", got)
	}
	if str(f.ds, tPatientIdentityRemoved) != "YES" {
		t.Errorf("PatientIdentityRemoved %q", str(f.ds, tPatientIdentityRemoved))
	}
	for _, tg := range []uint32{tStudyInstanceUID, tSeriesInstanceUID, tSOPInstanceUID, 0x00200052} {
		o, n := str(orig.ds, tg), str(f.ds, tg)
		if o == n || !strings.HasPrefix(n, "2.25.") || n != s.NewUID(o) {
			t.Errorf("(%08X): %q -> %q", tg, o, n)
		}
	}
	if res.StudyUID != str(f.ds, tStudyInstanceUID) || res.SOPClassUID != str(orig.ds, tSOPClassUID) {
		t.Errorf("result UIDs %+v", res)
	}
	if pixelHash(t, in) != pixelHash(t, out.Bytes()) {
		t.Error("pixel data changed")
	}
	if str(f.ds, tPatientBirthDate) != "" || find(f.ds, 0x00101010) != nil && str(f.ds, 0x00101010) != "" {
		t.Error("birth date or age kept")
	}
	m := s.Mapping()
	if len(m.Patients) != 1 || m.Patients[0].OrigPatientName != str(orig.ds, tPatientName) || m.Patients[0].NewPatientID != "Zweitmeinung-0427" {
		t.Errorf("mapping %+v", m.Patients)
	}
	path := filepath.Join(t.TempDir(), "map.json")
	if err := WriteMapping(path, m); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mapping mode %v", fi.Mode())
	}
	back, err := ReadMapping(path)
	if err != nil || back.Pseudonym != m.Pseudonym || len(back.UIDs) != len(m.UIDs) || back.Patients[0] != m.Patients[0] {
		t.Errorf("read back %+v, %v", back, err)
	}
}

func TestTableLoaded(t *testing.T) {
	if len(allRows) != 655 {
		t.Errorf("%d rows", len(allRows))
	}
	if !strings.Contains(Edition, "PS3.15") {
		t.Errorf("edition line %q", Edition)
	}
	for _, c := range []struct {
		tag  uint32
		name string
	}{
		{0x00100010, "Patient's Name"}, {0x50001234, "Curve Data"}, {0x501E0010, "Curve Data"},
		{0x60003000, "Overlay Data"}, {0x60024000, "Overlay Comments"}, {0x00291010, "Private attributes"},
	} {
		if r := lookup(c.tag); r == nil || r.Name != c.name {
			t.Errorf("lookup(%08X) = %+v", c.tag, r)
		}
	}
	if lookup(0x60013000) != privateRow || lookup(0x52003000) != nil || lookup(0x60203000) != nil {
		t.Error("masks match outside the repeating groups")
	}
}
