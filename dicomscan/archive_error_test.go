package dicomscan

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bildbote/bildbote/internal/i18n"
)

// A damaged ZIP, a cut ZIP and a file merely named .iso are reported as
// what they are — an *ArchiveError in a translated UserError with a hint
// — not scanned as "not DICOM".
func TestOpenDamagedArchive(t *testing.T) {
	dir := t.TempDir()
	cases := map[string][]byte{
		"broken.zip": []byte("PK\x03\x04 this is not really a zip"),
		"fake.zip":   []byte("just text"),
		"fake.iso":   make([]byte, 40000),
	}
	for name, data := range cases {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := Open(p)
		if err == nil {
			m.Close()
			t.Errorf("%s opened", name)
			continue
		}
		var ae *ArchiveError
		if !errors.As(err, &ae) || ae.Path != p {
			t.Errorf("%s: %v is not an ArchiveError for the path", name, err)
		}
		ue, ok := i18n.AsUserError(err)
		if !ok || ue.Kind != i18n.KindInput || ue.HintKey == "" {
			t.Fatalf("%s: not a UserError with a hint: %v", name, err)
		}
		if msg := ue.Message(i18n.DE); !strings.Contains(msg, p) || !strings.Contains(msg, "beschädigt") {
			t.Errorf("%s: German message %q", name, msg)
		}
	}
}
