package safezip

import (
	"errors"
	"strings"
	"testing"

	"github.com/bildbote/bildbote/internal/i18n"
)

// TestRefusalsReadWhole: what a hostile archive is refused for reaches
// the reader in German and English with the figures (no English term in
// the German text), and names from the archive are escaped (no control
// or bidi characters reach a terminal or a dialog).
func TestRefusalsReadWhole(t *testing.T) {
	many := make([]entry, 50)
	for i := range many {
		many[i] = entry{name: strings.Repeat("x", i+1), data: []byte("1234")}
	}
	comp, crc := rawDeflate(t, 16<<20)
	for _, tc := range []struct {
		name   string
		data   []byte
		lim    Limits
		en, de string
	}{
		{"sub-floor bomb", zerosZip(t, 600, 1<<20-1, "STUDY/IMG%03d.dcm"), Limits{},
			"to 1, more than the 50 to 1 allowed", "zu 1 komprimiert, stärker als die erlaubten 50 zu 1"},
		{"ratio bomb", rawZip(t, "bomb.dcm", comp, crc, 16<<20), Limits{},
			"to 1, more than the 200 to 1 allowed", "zu 1 komprimiert, stärker als die erlaubten 200 zu 1"},
		{"entries", makeZip(t, many...), Limits{MaxEntries: 49},
			"The archive has 50 entries; at most 49 are allowed.", "Das Archiv hat 50 Einträge; erlaubt sind höchstens 49."},
		{"file size", rawZip(t, "big.dcm", comp, crc, 5<<30), Limits{MaxFileBytes: 4 << 30},
			"An entry of the archive unpacks to 5.4 GB, more than the 4.3 GB allowed for one file.",
			"Ein Eintrag des Archivs entpackt sich auf 5,4 GB, mehr als die für eine Datei erlaubten 4,3 GB."},
		{"total size", makeZip(t, many...), Limits{MaxTotalBytes: 199},
			"The archive would unpack to more than the 199 B allowed.", "Das Archiv würde sich auf mehr als die erlaubten 199 B entpacken."},
		{"unsafe name", makeZip(t, entry{name: "../\x1b[2J\u202eevil", data: []byte("x")}), Limits{},
			`entry that is not allowed ("../\x1b[2J\u202eevil")`, `unzulässigen Eintrag ("../\x1b[2J\u202eevil")`},
		{"not DICOM", makeZip(t, entry{name: "IMG\u202egpj.dcm", data: []byte("<html>")}), Limits{},
			`"IMG\u202egpj.dcm" is named as a DICOM image`, `"IMG\u202egpj.dcm"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := extract(t, tc.data, tc.lim)
			if _, ok := i18n.AsUserError(err); !ok {
				t.Fatalf("not a user error: %v", err)
			}
			var le *LimitError
			if errors.As(err, &le) {
				t.Logf("%s: %s %.0f > %.0f", tc.name, le.What, le.Got, le.Limit)
			}
			for lang, want := range map[i18n.Lang]string{i18n.EN: tc.en, i18n.DE: tc.de} {
				msg, hint := i18n.Localize(lang, err)
				if !strings.Contains(msg, want) || hint == "" {
					t.Errorf("%s: %q, want %q in it (hint %q)", lang, msg, want, hint)
				}
				if strings.ContainsAny(msg, "\x1b\u202e") || strings.Contains(msg, "%!") {
					t.Errorf("%s: raw characters or verbs in %q", lang, msg)
				}
				if lang == i18n.DE && strings.Contains(msg, "ratio") {
					t.Errorf("English in %q", msg)
				}
			}
		})
	}
}
