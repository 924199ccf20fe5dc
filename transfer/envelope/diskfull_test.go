package envelope

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"filippo.io/age"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/testkit/corpus"
	"github.com/bildbote/bildbote/transfer/diskspace"
)

const tmpfsEnv = "BILDBOTE_ENVELOPE_TMPFS"

// TestOpenDiskFull opens an envelope onto a real full disk: the test
// binary re-runs itself in a private mount namespace whose destination is
// a 1 MiB tmpfs. Open refuses with *diskspace.FullError and leaves nothing.
func TestOpenDiskFull(t *testing.T) {
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		skipOrFail(t, "unshare not found")
	}
	ix, _ := medium(t)
	id := newIdentity(t)
	spool, _ := seal(t, sealInput(ix, id))
	key := filepath.Join(t.TempDir(), "key")
	os.WriteFile(key, []byte(id.String()+"\n"), 0o600)
	mnt := t.TempDir()
	cmd := exec.Command(unshare, "-m", "--propagation", "private", "sh", "-c",
		`mount -t tmpfs -o size=1m tmpfs "$0" || exit 77; exec "$1" -test.run='^TestOpenDiskFullChild$' -test.v`, mnt, os.Args[0])
	cmd.Env = append(os.Environ(), tmpfsEnv+"="+mnt, "BILDBOTE_ENVELOPE_SPOOL="+spool, "BILDBOTE_ENVELOPE_KEY="+key)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 77 {
		skipOrFail(t, "cannot mount a tmpfs in a private namespace: "+string(out))
	}
	if err != nil || !bytes.Contains(out, []byte("--- PASS: TestOpenDiskFullChild")) {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

func TestOpenDiskFullChild(t *testing.T) {
	mnt := os.Getenv(tmpfsEnv)
	if mnt == "" {
		t.Skip("runs inside TestOpenDiskFull")
	}
	keyData, _ := os.ReadFile(os.Getenv("BILDBOTE_ENVELOPE_KEY"))
	ids, err := age.ParseIdentities(bytes.NewReader(keyData))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(os.Getenv("BILDBOTE_ENVELOPE_SPOOL"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = Open(context.Background(), f, ids, filepath.Join(mnt, "item"), Limits{}, nil)
	var fe *diskspace.FullError
	if !errors.As(err, &fe) {
		t.Fatalf("full disk: %v", err)
	}
	if ue, ok := i18n.AsUserError(err); !ok || ue.Kind != i18n.KindRefused || ue.HintKey != "transfer.disk.full.hint" {
		t.Fatalf("user error: %v", err)
	}
	if entries, _ := os.ReadDir(mnt); len(entries) != 0 {
		t.Fatalf("left on the full disk: %v", entries)
	}
}

func skipOrFail(t *testing.T, msg string) {
	t.Helper()
	if corpus.InCI() {
		t.Fatal(msg + " (CI=true)")
	}
	t.Skip(msg)
}
