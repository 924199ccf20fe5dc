package stagedir

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCreateRenamesWhenComplete(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "out")
	err := Create("test", dst, 0, func(tmp string) error {
		if filepath.Dir(tmp) != filepath.Dir(dst) || !strings.HasPrefix(filepath.Base(tmp), ".out.partial-") {
			t.Errorf("staging directory %s is not a hidden sibling of %s", tmp, dst)
		}
		return os.WriteFile(filepath.Join(tmp, "a"), []byte("x"), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "a")); err != nil || string(b) != "x" {
		t.Fatalf("dst/a = %q, %v", b, err)
	}
	assertOnly(t, filepath.Dir(dst), "out")
}

func TestCreateLeavesNothingOnError(t *testing.T) {
	parent := t.TempDir()
	boom := errors.New("boom")
	err := Create("test", filepath.Join(parent, "out"), 0, func(tmp string) error {
		if err := os.WriteFile(filepath.Join(tmp, "half"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the fill error", err)
	}
	assertOnly(t, parent)
}

func TestCheckAbsent(t *testing.T) {
	dir := t.TempDir()
	if err := CheckAbsent("test", filepath.Join(dir, "new")); err != nil {
		t.Fatalf("absent: %v", err)
	}
	if err := CheckAbsent("test", dir); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("existing directory: %v", err)
	}
	link := filepath.Join(dir, "dangling")
	if err := os.Symlink(filepath.Join(dir, "nowhere"), link); err != nil {
		t.Skip(err)
	}
	if err := CheckAbsent("test", link); err == nil {
		t.Fatal("a dangling link counts as absent")
	}
}

func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Fatalf("%s holds %v, want %v", dir, got, names)
	}
}
