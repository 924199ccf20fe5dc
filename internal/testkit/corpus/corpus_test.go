package corpus

import (
	"os"
	"path/filepath"
	"testing"
)

func TestPydicomFilesPresent(t *testing.T) {
	dir := PydicomTestFiles(t)
	for _, name := range []string{"CT_small.dcm", "MR_small.dcm", "MR_truncated.dcm", "no_meta.dcm", "dicomdirtests/DICOMDIR"} {
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(name))); err != nil {
			t.Errorf("pydicom test file %s: %v", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(PydicomCharsetFiles(t), "chrGerm.dcm")); err != nil {
		t.Errorf("chrGerm.dcm: %v", err)
	}
	Dicom3toolsExample(t)
	GDCMExample(t)
	PythonWithPydicom(t)
}
