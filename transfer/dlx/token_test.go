package dlx_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/bildbote/bildbote/internal/accesscode"
	"github.com/bildbote/bildbote/transfer/dlx"
)

func TestNormalizeToken(t *testing.T) {
	for in, want := range map[string]string{
		"abcd efgh jkmn":       "ABCDEFGHJKMN",
		"ABCD-EFGH-JKMN":       "ABCDEFGHJKMN",
		" oooo-iiii-llll ":     "000011111111",
		"ABC-S1Z-98A":          "ABC-S1Z-98A", // 9 characters: another portal's opaque token
		"  abc-s1z-98a\n":      "abc-s1z-98a",
		"ABCD-EFGH-JKMU":       "ABCD-EFGH-JKMU", // U is not in the alphabet: opaque
		"eyJhbGciOi.token.ÄÖÜ": "eyJhbGciOi.token.ÄÖÜ",
	} {
		if got := dlx.NormalizeToken(in); got != want {
			t.Errorf("NormalizeToken(%q) = %q, want %q", in, got, want)
		}
	}
	if got := dlx.FormatToken("abcdefghjkmn"); got != "ABCD-EFGH-JKMN" {
		t.Errorf("FormatToken = %q", got)
	}
	if got := dlx.FormatToken("ABC-S1Z-98A"); got != "ABC-S1Z-98A" {
		t.Errorf("FormatToken(opaque) = %q", got)
	}
}

// The portal and the client share internal/accesscode, so they cannot
// disagree on what a code is. What is left to check is the client's own
// rule: an input the shared definition accepts (after trimming) is sent as
// that normalised code, and any other input is sent only trimmed, never
// half-normalised.
func TestNormalizeTokenUsesSharedCode(t *testing.T) {
	alphabet := []rune("0123456789ABCDEFGHJKMNPQRSTVWXYZabcdefghijklmnopqrstuvwxyzILOU -_.\tÄß!\n")
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		n := 10 + rng.IntN(8)
		r := make([]rune, n)
		for j := range r {
			r[j] = alphabet[rng.IntN(len(alphabet))]
		}
		in := string(r)
		got := dlx.NormalizeToken(in)
		if code, ok := accesscode.Normalize(strings.TrimSpace(in)); ok {
			if got != code {
				t.Fatalf("%q: code %q, client sends %q", in, code, got)
			}
			if f := dlx.FormatToken(in); f != accesscode.Format(code) {
				t.Fatalf("FormatToken(%q) = %q, want %q", in, f, accesscode.Format(code))
			}
		} else {
			if got != strings.TrimSpace(in) {
				t.Fatalf("%q is no code but the client sends %q", in, got)
			}
			if f := dlx.FormatToken(in); f != in {
				t.Fatalf("FormatToken(%q) = %q, want it unchanged", in, f)
			}
		}
	}
	for i := 0; i < 1000; i++ {
		c := make([]byte, accesscode.Length)
		for j := range c {
			c[j] = accesscode.Alphabet[rng.IntN(len(accesscode.Alphabet))]
		}
		if got := dlx.NormalizeToken(strings.ToLower(accesscode.Format(string(c)))); got != string(c) {
			t.Fatalf("code %q not recovered: %q", c, got)
		}
	}
}

func TestNormalizeDate(t *testing.T) {
	for in, want := range map[string]string{"14.02.1958": "19580214", "4.2.1958": "19580204", "1958-02-14": "19580214", "19580214": "19580214", "14.02.58": "19580214"} {
		if got, ok := dlx.NormalizeDate(in); !ok || got != want {
			t.Errorf("NormalizeDate(%q) = %q %v", in, got, ok)
		}
	}
	for _, bad := range []string{"", "31.02.1958", "1958", "gestern"} {
		if _, ok := dlx.NormalizeDate(bad); ok {
			t.Errorf("NormalizeDate(%q) accepted", bad)
		}
	}
}
