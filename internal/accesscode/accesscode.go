// Package accesscode is the one definition of the Bildbote access-code
// format, shared by the portal that issues codes (portal/accesscode) and
// the client that sends them back (transfer/dlx), which must not import
// each other.
//
// A code is 12 characters of Crockford's base 32 (digits and upper-case
// letters without I, L, O and U), shown as XXXX-XXXX-XXXX. Normalize maps
// the usual confusions back onto the alphabet (O→0, I and L→1), drops
// spaces, dashes, underscores and dots and upper-cases, so
// "abcd efgh jkmn", "ABCD-EFGH-JKMN" and "abcdefghjkmn" are the same code.
package accesscode

import "strings"

// Alphabet is the set of characters a normalised code consists of.
const Alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// Length is the number of characters of a code, without separators.
const Length = 12

// Normalize turns what a person typed into the normalised code: upper
// case, without spaces and dashes, with O read as 0 and I, L as 1. ok is
// false when the result is not Length characters of Alphabet.
func Normalize(input string) (code string, ok bool) {
	var b strings.Builder
	for _, r := range strings.ToUpper(input) {
		switch r {
		case ' ', '-', '\t', '\u00a0', '_', '.':
			continue
		case 'O':
			r = '0'
		case 'I', 'L':
			r = '1'
		}
		if r > 127 || !strings.ContainsRune(Alphabet, r) {
			return "", false
		}
		b.WriteRune(r)
	}
	code = b.String()
	if len(code) != Length {
		return "", false
	}
	return code, true
}

// Format shows a normalised code as XXXX-XXXX-XXXX. Anything that is not
// a normalised code is returned unchanged.
func Format(code string) string {
	if len(code) != Length {
		return code
	}
	return code[0:4] + "-" + code[4:8] + "-" + code[8:12]
}
