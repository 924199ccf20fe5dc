package crypto

import (
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"sort"
	"strings"

	"filippo.io/age"
)

// FingerprintBytes is how many bytes of the SHA-256 a fingerprint keeps.
const FingerprintBytes = 16

var fingerprintEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// Fingerprint returns the fingerprint of an age recipient string ("age1…")
// as shown to people:
//
//	the first 16 bytes of SHA-256 over the exact recipient string (ASCII,
//	no trailing newline), base32 (RFC 4648 alphabet A–Z 2–7, no padding,
//	upper case) = 26 characters, shown in groups of 4 separated by one
//	space: six groups of 4 and a last group of 2, e.g.
//	"MFRG GZDF MZTW Q2LK NNWG 23TP OA".
//
// Compare fingerprints with FingerprintsEqual (or CompactFingerprint), so
// that spacing and case typed by a person do not matter.
func Fingerprint(recipient string) string {
	sum := sha256.Sum256([]byte(recipient))
	enc := fingerprintEncoding.EncodeToString(sum[:FingerprintBytes])
	var b strings.Builder
	for i := 0; i < len(enc); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(enc[i:min(i+4, len(enc))])
	}
	return b.String()
}

// CompactFingerprint removes spaces and dashes and upper-cases s, the form
// in which two fingerprints are compared.
func CompactFingerprint(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == ' ' || r == '-' || r == '\t' || r == '\n' || r == '\r':
			return -1
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		}
		return r
	}, s)
}

// FingerprintsEqual reports whether a and b name the same fingerprint,
// ignoring spacing, dashes and case.
func FingerprintsEqual(a, b string) bool {
	ca, cb := CompactFingerprint(a), CompactFingerprint(b)
	return ca != "" && ca == cb
}

// CommunityFingerprint is the fingerprint pinned for a community: the
// Fingerprint of its recipient when it has exactly one (the normal case,
// and what a policy file lists), otherwise the Fingerprint of its sorted
// recipient strings joined by "\n", so that adding a recipient is a
// change too.
func CommunityFingerprint(recipients []string) string {
	if len(recipients) == 1 {
		return Fingerprint(recipients[0])
	}
	sorted := append([]string(nil), recipients...)
	sort.Strings(sorted)
	return Fingerprint(strings.Join(sorted, "\n"))
}

// GenerateIdentity returns a new age X25519 identity.
func GenerateIdentity() (*age.X25519Identity, error) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, fmt.Errorf("generate age identity: %w", err)
	}
	return id, nil
}

// ParseRecipients parses age X25519 recipient strings ("age1…").
func ParseRecipients(recipients []string) ([]age.Recipient, error) {
	if len(recipients) == 0 {
		return nil, fmt.Errorf("no recipients")
	}
	out := make([]age.Recipient, 0, len(recipients))
	for _, s := range recipients {
		r, err := age.ParseX25519Recipient(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("recipient %q: %w", s, err)
		}
		out = append(out, r)
	}
	return out, nil
}
