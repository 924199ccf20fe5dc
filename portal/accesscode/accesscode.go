// Package accesscode issues the patient access codes of bildbote-portal.
// The format (alphabet, length, normalising what people type, the
// XXXX-XXXX-XXXX display) is defined once in internal/accesscode, which
// the client (transfer/dlx) uses too; this package adds generation and
// keeps that format under the names the portal uses.
//
// The alphabet is Crockford's base 32 (digits and upper-case letters
// without I, L, O and U): 60 bits of randomness per code.
package accesscode

import (
	"crypto/rand"

	"github.com/bildbote/bildbote/internal/accesscode"
)

// Alphabet is the set of characters a normalised code consists of.
const Alphabet = accesscode.Alphabet

// Length is the number of characters of a code, without separators.
const Length = accesscode.Length

// Generate returns a new random code in normalised form (no dashes).
func Generate() string {
	var b [Length]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	out := make([]byte, Length)
	for i, v := range b {
		out[i] = Alphabet[int(v)%len(Alphabet)] // 256 is a multiple of 32: no bias
	}
	return string(out)
}

// Normalize is accesscode.Normalize of internal/accesscode: what a person
// typed as the normalised code, ok false when it is not one.
func Normalize(input string) (code string, ok bool) { return accesscode.Normalize(input) }

// Format is accesscode.Format of internal/accesscode: XXXX-XXXX-XXXX.
func Format(code string) string { return accesscode.Format(code) }
