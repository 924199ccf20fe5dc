package safezip

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/testkit/corpus"
	"github.com/bildbote/bildbote/transfer"
)

// zerosZip has n entries of size zero bytes each, deflated (once, the
// same stream reused raw).
func zerosZip(t *testing.T, n int, size int, name string) []byte {
	t.Helper()
	zeros := make([]byte, size)
	var comp bytes.Buffer
	fw, _ := flate.NewWriter(&comp, flate.BestCompression)
	fw.Write(zeros)
	fw.Close()
	crc := crc32.ChecksumIEEE(zeros)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := 0; i < n; i++ {
		w, err := zw.CreateRaw(&zip.FileHeader{Name: fmt.Sprintf(name, i), Method: zip.Deflate, CRC32: crc,
			CompressedSize64: uint64(comp.Len()), UncompressedSize64: uint64(size)})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(comp.Bytes())
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// The attack of issue 12: 600 entries just under the per-entry ratio
// floor (1 MiB) of zeros in a ~677 kB ZIP. It was accepted and 600 MiB
// written; now the archive-wide ratio refuses it before a byte is written.
func TestSubFloorBomb(t *testing.T) {
	data := zerosZip(t, 600, 1<<20-1, "STUDY/IMG%03d.dcm")
	dst, _, err := extract(t, data, Limits{})
	var le *LimitError
	if !errors.As(err, &le) || le.What != "archive compression ratio" {
		t.Fatalf("want archive ratio limit, got %v", err)
	}
	if ue, ok := i18n.AsUserError(err); !ok || ue.Kind != i18n.KindRefused {
		t.Fatalf("user error %v", err)
	}
	written := dirBytes(t, filepath.Dir(dst))
	t.Logf("sub-floor bomb: %d kB ZIP declaring %d MiB refused (ratio %.0f > %.0f), %d bytes written", len(data)/1000, 600*(1<<20-1)>>20, le.Got, le.Limit, written)
	if written != 0 {
		t.Fatalf("%d bytes written", written)
	}
}

// Below the archive floor the entries are small enough to unpack — but
// they are named .dcm and are not DICOM: refused, nothing kept.
func TestNotDICOMRefused(t *testing.T) {
	data := zerosZip(t, 20, 1<<20-1, "STUDY/IMG%03d.dcm")
	dst, _, err := extract(t, data, Limits{})
	var pe *transfer.ProtocolError
	if !errors.As(err, &pe) || pe.What != "not-dicom" {
		t.Fatalf("want not-dicom, got %v", err)
	}
	if ue, ok := i18n.AsUserError(err); !ok || ue.HintKey == "" || transfer.Classify(err).Class != transfer.Permanent {
		t.Fatalf("user error %v", err)
	}
	if _, serr := os.Stat(dst); !os.IsNotExist(serr) {
		t.Fatal("destination exists")
	}
	// Text named .dcm, too.
	if _, _, err := extract(t, makeZip(t, entry{name: "a.DCM", data: []byte("<html>not an image</html>")}), Limits{}); !errors.As(err, &pe) {
		t.Fatalf("html as .dcm: %v", err)
	}
}

// Real DICOM named .dcm passes, with and without the preamble; other
// names are not checked.
func TestDICOMPasses(t *testing.T) {
	mr, err := os.ReadFile(corpus.PydicomFile(t, "MR_small.dcm"))
	if err != nil {
		t.Fatal(err)
	}
	if string(mr[128:132]) != "DICM" {
		t.Fatal("corpus file without preamble")
	}
	_, res, err := extract(t, makeZip(t,
		entry{name: "S/a.dcm", data: mr},
		entry{name: "README.TXT", data: []byte("text")},
		entry{name: "S/IMG001", data: mr},
	), Limits{})
	if err != nil || res.Files != 3 {
		t.Fatalf("%v %+v", err, res)
	}
}

func dirBytes(t *testing.T, dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}
