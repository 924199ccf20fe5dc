package envelope

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/bildbote/bildbote/dicomscan"
)

var update = flag.Bool("update", false, "rewrite testdata/vector.{age,key}")

func execShell(cmd string) ([]byte, error) {
	return exec.Command("/bin/sh", "-c", cmd).CombinedOutput()
}

// TestWriteVector regenerates the test vector with -update; run it only
// when the format version changes on purpose.
func TestWriteVector(t *testing.T) {
	if !*update {
		t.Skip("run with -update to rewrite the test vector")
	}
	id, _ := age.GenerateX25519Identity()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "DICOM"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "DICOM", "IM1"), []byte("Grüße aus dem Testvektor\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "README.TXT"), []byte("readme\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ix := &dicomscan.Index{Patients: []*dicomscan.Patient{{Name: "Müller^Jürgen", ID: "4711", Studies: []*dicomscan.Study{{
		InstanceUID: "1.2.3", Series: []*dicomscan.Series{{InstanceUID: "1.2.3.1", Instances: []*dicomscan.Instance{{SOPInstanceUID: "1.2.3.1.1", Path: "DICOM/IM1", Size: int64(len("Grüße aus dem Testvektor\n"))}}}}}}}},
		Documents: []dicomscan.Document{{Path: "README.TXT", Size: 7, MIMEType: "text/plain"}}}
	ix.SetFS(os.DirFS(dir))
	in := SealInput{Index: ix, Documents: []string{"README.TXT"}, Patient: Patient{Name: "Müller^Jürgen", ID: "4711"},
		Sender: Sender{Name: "Test", Practice: "Testpraxis"}, Recipients: []string{id.Recipient().String()},
		Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	if err := os.MkdirAll("testdata", 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Seal(context.Background(), in, "testdata/vector.age", nil); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("testdata/vector.key", []byte("# test identity of vector.age; never a real key\n"+id.String()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}
