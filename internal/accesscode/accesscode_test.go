package accesscode

import (
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"ABCD-EFGH-JKMN", "ABCDEFGHJKMN", true},
		{"abcd efgh jkmn", "ABCDEFGHJKMN", true},
		{" abcd-efgh-jkmn\t", "ABCDEFGHJKMN", true},
		{"OOOO-IIII-LLLL", "000011111111", true},
		{"oooo-iiii-llll", "000011111111", true},
		{"ABCD-EFGH-JKM", "", false},   // too short
		{"ABCD-EFGH-JKMNP", "", false}, // too long
		{"ABCD-EFGH-JKMU", "", false},  // U is not in the alphabet
		{"ABCD-EFGH-JKM!", "", false},  // punctuation
		{"ÄBCD-EFGH-JKMN", "", false},  // non-ASCII
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := Normalize(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Normalize(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestFormat(t *testing.T) {
	if got := Format("ABCDEFGHJKMN"); got != "ABCD-EFGH-JKMN" {
		t.Fatalf("Format = %q", got)
	}
	if got := Format("short"); got != "short" {
		t.Fatalf("Format(short) = %q", got)
	}
	if strings.ContainsAny(Alphabet, "ILOU") {
		t.Fatal("alphabet contains a look-alike")
	}
}

// FuzzNormalize: whatever is accepted is a normalised code, and
// normalising is idempotent through Format.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"ABCD-EFGH-JKMN", "oooo iiii llll", "", "ÄÖÜ", "abcd-efgh-jkmn-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := Normalize(s)
		if !ok {
			return
		}
		if len(n) != Length || strings.Trim(n, Alphabet) != "" {
			t.Fatalf("%q → %q", s, n)
		}
		if again, ok := Normalize(Format(n)); !ok || again != n {
			t.Fatalf("%q → %q → %q", s, n, again)
		}
	})
}
