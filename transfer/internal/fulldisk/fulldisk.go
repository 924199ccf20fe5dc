// Package fulldisk lets a test write onto a real full disk: the test
// binary runs one of its own tests again, in a private mount namespace
// (unshare -m) where a fresh 1 MiB tmpfs is mounted. Where unshare or the
// right to mount is missing the test is skipped, and under CI=true it
// fails instead (see corpus.InCI). Only tests import this package.
package fulldisk

import (
	"bytes"
	"os"
	"os/exec"
	"testing"

	"github.com/bildbote/bildbote/internal/testkit/corpus"
)

// mountEnv tells the child test where its tmpfs is mounted.
const mountEnv = "BILDBOTE_FULLDISK_MOUNT"

// Run runs the test named child of this test binary with a 1 MiB tmpfs
// mounted (child finds it with Mount) and env added to its environment,
// and fails t unless child passed.
func Run(t *testing.T, child string, env ...string) {
	t.Helper()
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		skipOrFail(t, "unshare not found")
	}
	mnt := t.TempDir()
	cmd := exec.Command(unshare, "-m", "--propagation", "private", "sh", "-c",
		`mount -t tmpfs -o size=1m tmpfs "$0" || exit 77; exec "$1" -test.run="^$2\$" -test.v`, mnt, os.Args[0], child)
	cmd.Env = append(append(os.Environ(), mountEnv+"="+mnt), env...)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 77 {
		skipOrFail(t, "cannot mount a tmpfs in a private namespace: "+string(out))
	}
	if err != nil || !bytes.Contains(out, []byte("--- PASS: "+child)) {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

// Mount returns the full disk's mount point inside a child test started
// by Run, and skips the test when it runs on its own.
func Mount(t *testing.T) string {
	t.Helper()
	mnt := os.Getenv(mountEnv)
	if mnt == "" {
		t.Skip("runs inside fulldisk.Run")
	}
	return mnt
}

func skipOrFail(t *testing.T, msg string) {
	t.Helper()
	if corpus.InCI() {
		t.Fatal(msg + " (CI=true)")
	}
	t.Skip(msg)
}
