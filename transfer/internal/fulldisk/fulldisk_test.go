package fulldisk

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// The child really gets a small, separate file system: 2 MiB do not fit,
// and the environment passed to Run arrives.
func TestRun(t *testing.T) {
	Run(t, "TestRunChild", "BILDBOTE_FULLDISK_PROBE=yes")
}

func TestRunChild(t *testing.T) {
	mnt := Mount(t)
	if os.Getenv("BILDBOTE_FULLDISK_PROBE") != "yes" {
		t.Fatal("environment from Run missing")
	}
	err := os.WriteFile(filepath.Join(mnt, "big"), bytes.Repeat([]byte{1}, 2<<20), 0o644)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("writing 2 MiB onto the 1 MiB tmpfs: %v, want ENOSPC", err)
	}
}
