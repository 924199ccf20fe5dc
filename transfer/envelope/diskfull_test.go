package envelope

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"filippo.io/age"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/transfer/diskspace"
	"github.com/bildbote/bildbote/transfer/internal/fulldisk"
)

// TestOpenDiskFull opens an envelope onto a real full disk: the test
// binary re-runs itself in a private mount namespace whose destination is
// a 1 MiB tmpfs. Open refuses with *diskspace.FullError and leaves nothing.
func TestOpenDiskFull(t *testing.T) {
	ix, _ := medium(t)
	id := newIdentity(t)
	spool, _ := seal(t, sealInput(ix, id))
	key := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(key, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fulldisk.Run(t, "TestOpenDiskFullChild", "BILDBOTE_ENVELOPE_SPOOL="+spool, "BILDBOTE_ENVELOPE_KEY="+key)
}

func TestOpenDiskFullChild(t *testing.T) {
	mnt := fulldisk.Mount(t)
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
