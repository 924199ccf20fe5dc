package accesscode

import "testing"

func TestGenerateIsNormalised(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		c := Generate()
		n, ok := Normalize(c)
		if !ok || n != c {
			t.Fatalf("Generate() = %q, Normalize = %q, %v", c, n, ok)
		}
		if seen[c] {
			t.Fatalf("duplicate code %q", c)
		}
		seen[c] = true
	}
}

func TestGenerateUsesWholeAlphabet(t *testing.T) {
	used := map[rune]bool{}
	for i := 0; i < 2000; i++ {
		for _, r := range Generate() {
			used[r] = true
		}
	}
	if len(used) != len(Alphabet) {
		t.Fatalf("used %d of %d characters", len(used), len(Alphabet))
	}
}

// Generated codes survive being shown and typed back.
func TestGeneratedRoundTrip(t *testing.T) {
	for _, c := range []string{Generate(), Generate()} {
		n, ok := Normalize(Format(c))
		if !ok || n != c {
			t.Fatalf("round trip %q → %q", c, n)
		}
	}
}
