package portal

import (
	"crypto/ed25519"
	"testing"
	"time"
)

// FuzzVerifyJWT: no input panics, and nothing but a token signed with the
// key passes.
func FuzzVerifyJWT(f *testing.F) {
	_, key, _ := ed25519.GenerateKey(nil)
	good, _ := signJWT(key, claims{Subject: "rec", Audience: jwtAudience, IssuedAt: 1, ExpiresAt: 1 << 40})
	f.Add(good)
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("")
	pub := key.Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, token string) {
		c, err := verifyJWT(pub, token, time.Unix(1000, 0))
		if err == nil && token != good {
			t.Fatalf("accepted %q as %+v", token, c)
		}
	})
}

// FuzzNormalizeAnswer: no input panics; a date answer is always 8 digits.
func FuzzNormalizeAnswer(f *testing.F) {
	for _, s := range []string{"1958-02-14", "14.02.1958", "19580214", "", "  Dr. Bob ", "2.1.2006"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d, ok := normalizeAnswer(QuestionBirthDate, s); ok && len(d) != 8 {
			t.Fatalf("%q → %q", s, d)
		}
		normalizeAnswer(QuestionCustom, s)
		normalizeAnswer(QuestionPassword, s)
	})
}
