package ui

import (
	"strings"
	"unicode"

	"github.com/bildbote/bildbote/transfer/dlx"
)

// normalizeCode is the typing aid of the code fields. A complete code is
// normalised by transfer/dlx (the one definition: O read as 0, I and L
// as 1); while the code is incomplete the fields only show letters and
// digits in upper case.
func (u *UI) normalizeCode(s string) string {
	if n := dlx.NormalizeToken(s); n != strings.TrimSpace(s) || len(n) == 12 {
		return n
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return unicode.ToUpper(r)
		}
		return -1
	}, s)
}
