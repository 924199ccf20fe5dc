package dlx_test

import (
	"math/rand/v2"
	"testing"

	"github.com/bildbote/bildbote/portal/accesscode"
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

// The client's normaliser and the portal's must agree on every input, or
// a code the portal issued could be mangled on its way back.
func TestNormalizeAgreesWithPortal(t *testing.T) {
	alphabet := []rune("0123456789ABCDEFGHJKMNPQRSTVWXYZabcdefghijklmnopqrstuvwxyzILOU -_.\tÄß!")
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		n := 10 + rng.IntN(8)
		r := make([]rune, n)
		for j := range r {
			r[j] = alphabet[rng.IntN(len(alphabet))]
		}
		in := string(r)
		portalCode, ok := accesscode.Normalize(in)
		got := dlx.NormalizeToken(in)
		if ok && got != portalCode {
			t.Fatalf("%q: portal %q, client %q", in, portalCode, got)
		}
		if !ok && len(got) == 12 && got != in {
			if _, again := accesscode.Normalize(got); again {
				t.Fatalf("%q: client normalised to %q, portal refuses the input", in, got)
			}
		}
	}
	for i := 0; i < 1000; i++ {
		c := accesscode.Generate()
		if dlx.NormalizeToken(accesscode.Format(c)) != c {
			t.Fatalf("generated %q not recovered", c)
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
