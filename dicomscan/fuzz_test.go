package dicomscan

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/bildbote/bildbote/internal/testkit/corpus"
)

// addCorpusSeeds adds the small files of pydicom's test data as seeds.
// Missing files only shrink the seed set: the committed regression seeds
// under testdata/fuzz run regardless.
func addCorpusSeeds(f *testing.F, dirs ...string) {
	for _, dir := range dirs {
		entries, _ := os.ReadDir(filepath.Join(corpus.PydicomData, dir))
		for _, e := range entries {
			info, err := e.Info()
			if err != nil || !info.Mode().IsRegular() || info.Size() > 64<<10 {
				continue
			}
			data, err := os.ReadFile(filepath.Join(corpus.PydicomData, dir, e.Name()))
			if err == nil {
				f.Add(data)
			}
		}
	}
}

// FuzzReadHeader: no input may panic, hang, or make the reader keep more
// than a bounded amount of memory, whether the size is known or not.
func FuzzReadHeader(f *testing.F) {
	addCorpusSeeds(f, "test_files", "charset_files")
	f.Add(explicitLE(tsExplicitLE, elem(0x0008, 0x0018, "UI", []byte("1.2.3\x00"))))
	f.Add(explicitLE(tsDeflated, []byte{0x03, 0x00}))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, size := range []int64{int64(len(data)), -1} {
			h, err := ReadHeader(bytes.NewReader(data), size)
			if err == nil && h == nil {
				t.Fatal("no header and no error")
			}
			if h != nil {
				for _, s := range []string{h.PatientName, h.StudyDescription, h.SeriesDescription, h.PatientID} {
					if !validUTF8(s) {
						t.Fatalf("text %q is not UTF-8", s)
					}
				}
			}
		}
	})
}

// FuzzReadDICOMDIR: parsing and arranging the records of any input ends,
// without panicking, whatever its offsets point at.
func FuzzReadDICOMDIR(f *testing.F) {
	addCorpusSeeds(f, "test_files/dicomdirtests", "test_files/dicomdirtests/TINY_ALPHA")
	// A small one (the corpus DICOMDIRs are 11 KB, slow to mutate).
	f.Add(buildDICOMDIR(sampleRecords()))
	f.Fuzz(func(t *testing.T, data []byte) {
		dd, err := ReadDICOMDIR(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		roots, err := dd.tree()
		if err != nil {
			return
		}
		for _, p := range roots {
			for _, st := range p.children {
				for _, se := range st.children {
					for _, in := range se.children {
						fileIDPath(in.FileID)
					}
				}
			}
		}
	})
}

func validUTF8(s string) bool { return bytes.Equal([]byte(s), bytes.ToValidUTF8([]byte(s), nil)) }
