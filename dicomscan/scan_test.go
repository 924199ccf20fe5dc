package dicomscan

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
	"unsafe"

	"github.com/bildbote/bildbote/internal/testkit/corpus"
)

// findInstance returns the instance at path p and its patient, or nils.
func findInstance(ix *Index, p string) (*Patient, *Study, *Series, *Instance) {
	for _, pa := range ix.Patients {
		for _, st := range pa.Studies {
			for _, se := range st.Series {
				for _, in := range se.Instances {
					if in.Path == p {
						return pa, st, se, in
					}
				}
			}
		}
	}
	return nil, nil, nil, nil
}

func skippedCode(ix *Index, p string) string {
	for _, s := range ix.Skipped {
		if s.Path == p {
			return s.Code
		}
	}
	return ""
}

func TestScanCharsetFolder(t *testing.T) {
	ix := scanMedium(t, Options{}, corpus.PydicomCharsetFiles(t))
	if ix.Method != MethodScan {
		t.Errorf("method %q, want scan (no DICOMDIR)", ix.Method)
	}
	pa, _, _, in := findInstance(ix, "chrGerm.dcm")
	if pa == nil {
		t.Fatalf("chrGerm.dcm not indexed; skipped: %v", ix.Skipped)
	}
	if pa.Name != "Äneas^Rüdiger" {
		t.Errorf("chrGerm name %q, want Äneas^Rüdiger", pa.Name)
	}
	if in.CharacterSet != "ISO_IR 100" {
		t.Errorf("character set %q", in.CharacterSet)
	}
	if got := skippedCode(ix, "FileInfo.txt"); got != SkipClutter {
		t.Errorf("FileInfo.txt skipped as %q, want clutter", got)
	}
	if len(ix.Patients) < 2 || ix.Warnings == nil {
		t.Errorf("several patients expected with a warning, got %d patients, warnings %v", len(ix.Patients), ix.Warnings)
	}
}

// plainFS hides the host folder behind a bare fs.FS, so that a scan takes
// the portable path (fs.ReadDir, fsys.Open) instead of the unix one.
type plainFS struct{ fs.FS }

// The full scan lists folders and reads files on several workers at once:
// its index must not depend on how many, on which path (host folder or
// bare fs.FS) or on the order they finished in. The medium has more files
// in one folder than one batch holds, copies of one image (sorting before
// the original: the first by path is indexed, the rest are duplicates),
// links, empty folders and clutter.
func TestParallelWalkDeterministic(t *testing.T) {
	res := smallCD(t)
	dir := res.Dir
	var src string
	fs.WalkDir(os.DirFS(dir), "DICOM", func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && src == "" {
			src = filepath.Join(dir, p)
		}
		return err
	})
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	many := filepath.Join(dir, "COPIES", "A", "B")
	for _, d := range []string{many, filepath.Join(dir, "EMPTY", "X")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3*walkBatch + 5 {
		if err := os.WriteFile(filepath.Join(many, fmt.Sprintf("IM%04d", i)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(src, filepath.Join(many, "LINK")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "DICOM"), filepath.Join(dir, "COPIES", "DIRLINK")); err != nil {
		t.Fatal(err)
	}

	// The medium given as a link to the folder (under the same name).
	link := filepath.Join(t.TempDir(), filepath.Base(dir))
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}

	canonical := func(ix *Index) string { return canonicalIndex(t, ix) }
	want := ""
	for _, c := range []struct {
		name    string
		plain   bool
		workers int
		at      string
	}{{"host-1", false, 1, dir}, {"host-2", false, 2, dir}, {"host-32", false, 32, dir},
		{"plain-1", true, 1, dir}, {"plain-8", true, 8, dir}, {"link-8", false, 8, link}} {
		for run := range 3 {
			m, err := Open(c.at)
			if err != nil {
				t.Fatal(err)
			}
			if c.plain {
				m.FS = plainFS{os.DirFS(dir)}
			}
			ix, err := Scan(context.Background(), m, Options{IgnoreDICOMDIR: true, Workers: c.workers})
			m.Close()
			if err != nil {
				t.Fatal(err)
			}
			got := canonical(ix)
			if want == "" {
				want = got
				if ix.Files != res.Files || ix.Duplicates != 3*walkBatch+5 {
					t.Fatalf("%d files, %d duplicates, want %d and %d", ix.Files, ix.Duplicates, res.Files, 3*walkBatch+5)
				}
				if code := skippedCode(ix, "COPIES/A/B/LINK"); code != SkipNotRegular {
					t.Errorf("link skipped as %q", code)
				}
				if code := skippedCode(ix, "COPIES/DIRLINK"); code != SkipNotRegular {
					t.Errorf("link to a folder skipped as %q", code)
				}
				continue
			}
			if got != want {
				t.Fatalf("%s run %d: index differs from the first scan's\n got %s\nwant %s", c.name, run, got, want)
			}
		}
	}
}

// canonicalIndex is the JSON of an index without its times.
func canonicalIndex(t *testing.T, ix *Index) string {
	t.Helper()
	c := *ix
	c.ScannedAt, c.Took = time.Time{}, 0
	b, err := json.Marshal(&c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The DICOMDIR path lists and stats the medium on several workers while it
// reads the DICOMDIR: the index (sizes included) must be the same on every
// path and worker count, and agree with the generator.
func TestDICOMDIRPathDeterministic(t *testing.T) {
	res := smallCD(t)
	want := ""
	for _, c := range []struct {
		plain   bool
		workers int
	}{{false, 1}, {false, 8}, {true, 1}, {true, 8}} {
		m, err := Open(res.Dir)
		if err != nil {
			t.Fatal(err)
		}
		if c.plain {
			m.FS = plainFS{os.DirFS(res.Dir)}
		}
		ix, err := Scan(context.Background(), m, Options{Workers: c.workers})
		m.Close()
		if err != nil {
			t.Fatal(err)
		}
		if ix.Method != MethodDICOMDIR {
			t.Fatalf("plain=%v workers=%d: method %q (%s)", c.plain, c.workers, ix.Method, ix.FallbackReason)
		}
		checkAgainstGenerator(t, ix, res, "")
		got := canonicalIndex(t, ix)
		if want == "" {
			want = got
		} else if got != want {
			t.Fatalf("plain=%v workers=%d: index differs\n got %s\nwant %s", c.plain, c.workers, got, want)
		}
	}
}

// The interner shares values but stays bounded whatever a medium holds:
// unique values (and character sets) beyond maxInterned are copied, not kept.
func TestInternerBounded(t *testing.T) {
	strs := newInterner()
	a := strs.of([]byte("CT"))
	if b := strs.of([]byte("CT")); unsafe.StringData(a) != unsafe.StringData(b) {
		t.Error("equal values not shared")
	}
	latin1 := newCharset("ISO_IR 100")
	n1 := latin1.textIn([]byte("M\xfcller^J\xfcrgen "), strs)
	if n1 != "Müller^Jürgen" {
		t.Errorf("decoded %q", n1)
	}
	if n2 := latin1.textIn([]byte("M\xfcller^J\xfcrgen"), strs); unsafe.StringData(n1) != unsafe.StringData(n2) {
		t.Error("equal decoded text not shared")
	}
	for i := range 3 * maxInterned {
		v := []byte(fmt.Sprintf("UID.%d", i))
		if got := strs.of(v); got != string(v) {
			t.Fatalf("of(%q) = %q", v, got)
		}
		cs := newCharset(fmt.Sprintf("ISO_IR %d", i))
		if got := cs.textIn([]byte{'A', 0xe4}, strs); got == "" {
			t.Fatal("no text")
		}
	}
	if len(strs.m) > maxInterned || strs.nText > maxInterned || len(strs.text) > maxInterned {
		t.Errorf("interner holds %d values, %d texts in %d sets; bound %d", len(strs.m), strs.nText, len(strs.text), maxInterned)
	}
}
