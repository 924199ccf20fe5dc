// Package corpus locates third-party DICOM files and tools installed from
// Debian packages (see scripts/deps.sh test) for tests.
//
// Nobody in this project wrote these files: they are the test input that
// keeps our readers honest. When something is missing a test skips on a
// developer's machine but fails loudly under CI=true, where scripts/deps.sh
// must have installed it.
package corpus

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Well-known install locations of the Debian packages.
const (
	PydicomData   = "/usr/lib/python3/dist-packages/pydicom/data"
	Dicom3toolsEx = "/usr/share/doc/dicom3tools/examples/0051.dcm"
	GDCMEx        = "/usr/share/doc/libgdcm3.0/examples/00191113.dcm"
	// Python is Debian's interpreter: its modules (pydicom) are not visible
	// to another python3 that may come first on PATH.
	Python = "/usr/bin/python3"
)

// InCI reports whether the tests run in CI, where nothing may be missing.
func InCI() bool { return os.Getenv("CI") == "true" }

// Missing skips t on a developer's machine and fails it under CI=true: for
// a test that cannot run because something the machine should have (a
// tool, a file, root for a mount) is not there.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	missing(t, format, args...)
}

func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if InCI() {
		t.Fatalf("corpus: "+format+" (CI=true: scripts/deps.sh test must install it)", args...)
	}
	t.Skipf("corpus: "+format+" (run scripts/deps.sh test)", args...)
}

// Path returns p if it exists, or fails/skips the test.
func Path(t testing.TB, p string) string {
	t.Helper()
	if _, err := os.Stat(p); err != nil {
		missing(t, "%s not found", p)
	}
	return p
}

// PydicomTestFiles is pydicom's test_files folder (~70 files, every
// transfer syntax, deliberately broken ones, dicomdirtests/).
func PydicomTestFiles(t testing.TB) string {
	return Path(t, filepath.Join(PydicomData, "test_files"))
}

// PydicomCharsetFiles is pydicom's charset_files folder (chrGerm etc.).
func PydicomCharsetFiles(t testing.TB) string {
	return Path(t, filepath.Join(PydicomData, "charset_files"))
}

// PydicomFile returns one file of test_files by name, e.g. "MR_small.dcm"
// or "dicomdirtests/DICOMDIR".
func PydicomFile(t testing.TB, name string) string {
	return Path(t, filepath.Join(PydicomData, "test_files", filepath.FromSlash(name)))
}

// Dicom3toolsExample is dicom3tools' Siemens MR example.
func Dicom3toolsExample(t testing.TB) string { return Path(t, Dicom3toolsEx) }

// GDCMExample is GDCM's XA example (JPEG lossless, UIDs with spaces).
func GDCMExample(t testing.TB) string { return Path(t, GDCMEx) }

// Tool returns the path of an installed command, or fails/skips the test.
func Tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		missing(t, "tool %s not on PATH", name)
	}
	return p
}

// PythonWithPydicom returns Debian's python3 after checking it imports
// pydicom and numpy (pydicom needs numpy to read pixel data back; Debian's
// python3-pydicom only recommends it).
func PythonWithPydicom(t testing.TB) string {
	t.Helper()
	Path(t, Python)
	if out, err := exec.Command(Python, "-c", "import pydicom, numpy").CombinedOutput(); err != nil {
		missing(t, "%s cannot import pydicom and numpy (python3-pydicom, python3-numpy): %v\n%s", Python, err, out)
	}
	return Python
}
