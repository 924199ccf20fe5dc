package transfer

import (
	"strings"
	"testing"
)

func TestCleanText(t *testing.T) {
	for in, want := range map[string]string{
		"Klinik Süd":                        "Klinik Süd",
		"Klinik\x1b[2J\x1b]0;pwned\x07 Süd": "Klinik [2J ]0;pwned Süd",
		"Radiologie \u202eduS kinilK":       "Radiologie duS kinilK",
		"a\r\nb\tc\x00d\xffe":               "a b c d e",
		"  \u2066x\u2069  ":                 "x",
		strings.Repeat("ä", 200):            strings.Repeat("ä", 50),
	} {
		if got := CleanText(in, 100); got != want {
			t.Errorf("CleanText(%q) = %q, want %q", in, got, want)
		}
	}
}
