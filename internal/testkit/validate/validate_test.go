package validate

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/bildbote/bildbote/internal/testkit/corpus"
)

// pydicom's own well-formed DICOMDIR passes, so a failure elsewhere means
// the file, not the validator.
func TestDICOMDIRAcceptsPydicomSample(t *testing.T) {
	src := filepath.Dir(corpus.PydicomFile(t, "dicomdirtests/DICOMDIR"))
	if n := DICOMDIR(t, filepath.Join(src, "DICOMDIR")); n == 0 {
		t.Error("pydicom found no instances in its own sample DICOMDIR")
	}
}

// A DICOMDIR that references a missing file must fail; a recorder catches
// the failure instead of failing this test.
func TestDICOMDIRRejectsMissingFile(t *testing.T) {
	src := filepath.Dir(corpus.PydicomFile(t, "dicomdirtests/DICOMDIR"))
	dst := t.TempDir()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	// Remove one referenced instance.
	var victim string
	filepath.WalkDir(dst, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() != "DICOMDIR" && victim == "" {
			victim = p
		}
		return nil
	})
	if victim == "" {
		t.Fatal("no instance to remove")
	}
	if err := os.Remove(victim); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{TB: t}
	DICOMDIR(rec, filepath.Join(dst, "DICOMDIR"))
	if !rec.failed {
		t.Errorf("DICOMDIR with %s missing was accepted", filepath.Base(victim))
	}
}

// recorder turns Errorf into a flag so a test can expect a failure.
type recorder struct {
	testing.TB
	failed bool
}

func (r *recorder) Errorf(string, ...any) { r.failed = true }
func (r *recorder) Helper()               {}
