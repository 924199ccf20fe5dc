package crypto

import (
	"crypto/sha256"
	"encoding/base32"
	"io"
	"regexp"
	"strings"
	"testing"

	"filippo.io/age"
)

// A fixed vector: anyone re-implementing the fingerprint (the portal, a
// script) must get this result.
func TestFingerprintVector(t *testing.T) {
	const recipient = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
	sum := sha256.Sum256([]byte(recipient))
	want := base32.StdEncoding.EncodeToString(sum[:16])
	want = strings.TrimRight(want, "=")
	got := Fingerprint(recipient)
	if CompactFingerprint(got) != want {
		t.Fatalf("Fingerprint = %q, compact %q; want %q", got, CompactFingerprint(got), want)
	}
	if got != "Z57F NARR GFIG QW7R NZBM J2SI 4E" || got != groupOf4(want) {
		t.Fatalf("grouping: %q", got)
	}
	if !regexp.MustCompile(`^([A-Z2-7]{4} ){6}[A-Z2-7]{2}$`).MatchString(got) {
		t.Fatalf("Fingerprint %q does not have the documented shape", got)
	}
	t.Logf("vector: %s -> %s", recipient, got)
}

func groupOf4(s string) string {
	var parts []string
	for len(s) > 4 {
		parts = append(parts, s[:4])
		s = s[4:]
	}
	return strings.Join(append(parts, s), " ")
}

func TestFingerprintsEqual(t *testing.T) {
	fp := Fingerprint("age1example")
	if !FingerprintsEqual(fp, strings.ToLower(strings.ReplaceAll(fp, " ", "-"))) {
		t.Error("spacing or case must not matter")
	}
	if FingerprintsEqual(fp, Fingerprint("age1other")) {
		t.Error("different recipients compare equal")
	}
	if FingerprintsEqual("", "  ") {
		t.Error("empty fingerprints must never be equal")
	}
}

func TestCommunityFingerprint(t *testing.T) {
	a, b := "age1aaa", "age1bbb"
	if CommunityFingerprint([]string{a}) != Fingerprint(a) {
		t.Error("one recipient: community fingerprint must be the key's fingerprint")
	}
	if CommunityFingerprint([]string{a, b}) != CommunityFingerprint([]string{b, a}) {
		t.Error("order of recipients must not matter")
	}
	if CommunityFingerprint([]string{a, b}) == Fingerprint(a) {
		t.Error("an added recipient must change the community fingerprint")
	}
}

func TestGenerateIdentityRoundTrip(t *testing.T) {
	id, err := GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	rs, err := ParseRecipients([]string{id.Recipient().String()})
	if err != nil {
		t.Fatal(err)
	}
	var buf strings.Builder
	w, err := age.Encrypt(&buf, rs...)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("hallo"))
	w.Close()
	r, err := age.Decrypt(strings.NewReader(buf.String()), id)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if _, err := io.Copy(&out, r); err != nil || out.String() != "hallo" {
		t.Fatalf("round trip: %q, %v", out.String(), err)
	}
	if _, err := ParseRecipients([]string{"age1notakey"}); err == nil {
		t.Error("a bad recipient parsed")
	}
	if _, err := ParseRecipients(nil); err == nil {
		t.Error("no recipients accepted")
	}
}
