// Package validate runs independent validators (dicom3tools, dcmtk,
// pydicom) over DICOM files and DICOMDIRs the project writes. Every test
// that writes DICOM must pass its output through here.
package validate

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/bildbote/bildbote/internal/testkit/corpus"
)

// File checks one DICOM file: dcmdump parses it and dciodvfy reports no
// errors (warnings are allowed).
func File(t testing.TB, path string) {
	t.Helper()
	run(t, exec.Command(corpus.Tool(t, "dcmdump"), "-q", path))
	Dciodvfy(t, path)
}

// Dciodvfy fails the test on any "Error" line of dciodvfy for path.
func Dciodvfy(t testing.TB, path string) {
	t.Helper()
	out, err := exec.Command(corpus.Tool(t, "dciodvfy"), path).CombinedOutput()
	var errs []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "Error") {
			errs = append(errs, line)
		}
	}
	if len(errs) > 0 || (err != nil && len(errs) == 0 && !isExit1(err)) {
		t.Errorf("dciodvfy %s: %v\n%s", path, err, strings.Join(errs, "\n"))
	}
}

func isExit1(err error) bool {
	ee, ok := err.(*exec.ExitError)
	return ok && ee.ExitCode() == 1
}

// pyFileSet loads a DICOMDIR with pydicom's FileSet, warnings as errors,
// and loads every referenced instance. It prints the instance count.
// Debian 12's pydicom 2.3 warns "The 'DicomDir' class is deprecated" from
// inside dcmread for every DICOMDIR: that one warning is about pydicom
// itself, not the file, so it alone is ignored.
const pyFileSet = `
import sys, warnings
warnings.simplefilter("error")
warnings.filterwarnings("ignore", message=".*'DicomDir' class is deprecated", category=DeprecationWarning)
from pydicom import dcmread
from pydicom.fileset import FileSet
fs = FileSet(dcmread(sys.argv[1]))
n = 0
for inst in fs:
    inst.load()
    n += 1
print(n)
`

// DICOMDIR checks a DICOMDIR with dciodvfy (IOD), dcdirdmp (walks the
// offsets) and pydicom's FileSet (records, offsets, referenced files), and
// returns the number of instances pydicom found.
func DICOMDIR(t testing.TB, path string) int {
	t.Helper()
	Dciodvfy(t, path)
	run(t, exec.Command(corpus.Tool(t, "dcdirdmp"), path))
	out := run(t, exec.Command(corpus.PythonWithPydicom(t), "-c", pyFileSet, path))
	var n int
	for _, c := range strings.TrimSpace(out) {
		if c < '0' || c > '9' {
			t.Errorf("pydicom FileSet %s: unexpected output %q", path, out)
			return 0
		}
		n = n*10 + int(c-'0')
	}
	return n
}

func run(t testing.TB, cmd *exec.Cmd) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Errorf("%s: %v\n%s%s", strings.Join(cmd.Args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}
