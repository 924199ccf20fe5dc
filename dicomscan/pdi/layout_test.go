package pdi

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestLayoutMatchesWriteDir: a layout plans the very file-set WriteDir
// writes — the same paths for the same sources and byte for byte the same
// DICOMDIR, README.TXT and INDEX.HTM — and reads no instance body.
func TestLayoutMatchesWriteDir(t *testing.T) {
	t.Parallel()
	_, idx := medium(t, standardSources(t))
	out := filepath.Join(t.TempDir(), "fileset")
	opts := Options{FileSetID: "LAYOUT", Time: fixedTime}
	want, err := WriteDir(context.Background(), out, idx, opts)
	if err != nil {
		t.Fatal(err)
	}
	got, root, err := Layout(context.Background(), idx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Written) != len(want.Written) || got.Instances != want.Instances {
		t.Fatalf("layout plans %d files (%d instances), WriteDir wrote %d (%d)", len(got.Written), got.Instances, len(want.Written), want.Instances)
	}
	for i, e := range got.Written {
		if w := want.Written[i]; e.Source != w.Source || e.Path != w.Path {
			t.Errorf("entry %d: layout %s -> %s, WriteDir %s -> %s", i, e.Source, e.Path, w.Source, w.Path)
		}
	}
	for _, name := range []string{"DICOMDIR", "README.TXT", "INDEX.HTM"} {
		disk, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(root[name], disk) {
			t.Errorf("%s: layout's %d bytes differ from WriteDir's %d", name, len(root[name]), len(disk))
		}
	}
	if len(root) != 3 {
		t.Errorf("layout root files %d, want 3", len(root))
	}
}
