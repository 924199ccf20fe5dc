package dimse

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/bildbote/bildbote/internal/testkit/orthanc"
)

// Orthanc's DICOM port (4242, AE ORTHANC) as a real PACS: C-ECHO, then
// C-STORE of third-party files (Orthanc takes all their syntaxes, so
// nothing is converted); each instance read back over Orthanc's REST API
// holds the data we sent, as dcmtk reads both (Orthanc re-encodes some
// files, e.g. sequence lengths, so bytes are not compared).
func TestStoreIntoOrthanc(t *testing.T) { orthanc.Run(t, "TestStoreIntoOrthancInside") }

func TestStoreIntoOrthancInside(t *testing.T) {
	base := orthanc.URL(t)
	cfg := Config{Addr: "127.0.0.1:4242", Called: "ORTHANC", Calling: "BILDBOTE"}
	if err := Echo(testCtx(t), cfg); err != nil {
		t.Fatal(err)
	}
	paths := mixedFiles(t, "CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "JPEG2000.dcm", "rtdose.dcm", "liver_1frame.dcm", "0051.dcm")
	res, err := StoreFiles(testCtx(t), cfg, paths)
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) []byte {
		rsp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer rsp.Body.Close()
		b, _ := io.ReadAll(rsp.Body)
		if rsp.StatusCode != 200 {
			t.Fatalf("GET %s: %s %s", path, rsp.Status, b)
		}
		return b
	}
	var ids []string
	if err := json.Unmarshal(get("/instances"), &ids); err != nil {
		t.Fatal(err)
	}
	stored := map[string]string{}
	dir := t.TempDir()
	for i, id := range ids {
		f := filepath.Join(dir, id+".dcm")
		if err := os.WriteFile(f, get("/instances/"+id+"/file"), 0o644); err != nil {
			t.Fatal(err)
		}
		in, err := OpenInstance(f)
		if err != nil {
			t.Fatalf("instance %d from Orthanc: %v", i, err)
		}
		stored[in.SOPInstanceUID+" "+in.TransferSyntax] = f
	}
	for _, r := range res {
		name := filepath.Base(r.Path)
		if !r.Stored() || r.Converted || r.SentAs != r.TransferSyntax {
			t.Errorf("%s: stored %v converted %v sent as %s err %v", name, r.Stored(), r.Converted, shortTS(r.SentAs), r.Err)
			continue
		}
		got, ok := stored[r.SOPInstanceUID+" "+r.TransferSyntax]
		if !ok {
			t.Errorf("%s: not in Orthanc as %s in %s", name, r.SOPInstanceUID, shortTS(r.TransferSyntax))
			continue
		}
		if !bytes.Equal(normalized(t, got), normalized(t, r.Path)) {
			t.Errorf("%s: Orthanc's copy holds other data than the file (dcmconv +ti of both)", name)
		}
	}
	if len(ids) != len(paths) {
		t.Errorf("Orthanc holds %d instances, want %d", len(ids), len(paths))
	}
}
