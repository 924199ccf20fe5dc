package dlx

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCheckItems(t *testing.T) {
	in := []Item{
		{ID: "study-1", MIMEType: "application/zip", Description: "CT\x1b[2J Thorax\u202e fdp.exe", PatientsName: "Müller,\tJürgen\x00", FileCount: -3},
		{ID: "study-1", Description: "again"},
		{ID: ""},
		{ID: "a\x00b"},
		{ID: "\u202egnp.exe"},
		{ID: strings.Repeat("x", MaxIDLen+1)},
		{ID: "bad\xffutf8"},
		{ID: "../../keys/clinic", Description: strings.Repeat("ä", 5000), Modalities: make(Strings, 1000)},
	}
	out, dropped := checkItems(in)
	if len(out) != 2 || len(dropped) != 6 {
		t.Fatalf("kept %d, dropped %d: %+v", len(out), len(dropped), out)
	}
	a := out[0]
	if a.Description != "CT [2J Thorax fdp.exe" || a.PatientsName != "Müller, Jürgen" || a.FileCount != 0 {
		t.Errorf("cleaned item %+v", a)
	}
	b := out[1]
	if b.ID != "../../keys/clinic" || len(b.Description) > maxTextLen || !utf8.ValidString(b.Description) || len(b.Modalities) != 64 {
		t.Errorf("long item: ID %q, description %d bytes, %d modalities", b.ID, len(b.Description), len(b.Modalities))
	}
}

func FuzzCleanText(f *testing.F) {
	for _, s := range []string{"", "x/../..", "\x00", "\u202e", "a\xffb", strings.Repeat("ü", 2000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := cleanText(s)
		if len(c) > maxTextLen || !utf8.ValidString(c) {
			t.Fatalf("cleanText(%q) = %q", s, c)
		}
		for _, r := range c {
			if unsafeRune(r) && r != utf8.RuneError {
				t.Fatalf("cleanText(%q) keeps %U", s, r)
			}
		}
	})
}
