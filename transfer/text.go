package transfer

import (
	"strings"
	"unicode/utf8"
)

// CleanText makes a text from a server (a clinic's name, a description)
// safe to show: invalid UTF-8, control characters (terminal escapes
// included) and bidi overrides become spaces, runs of spaces collapse,
// and it is cut to maxBytes on a rune boundary.
func CleanText(s string, maxBytes int) string {
	if len(s) > 4*maxBytes {
		s = s[:4*maxBytes]
	}
	var b strings.Builder
	space := false
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		if unsafeRune(r) {
			r = ' '
		}
		if r == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		if b.Len()+utf8.RuneLen(r) > maxBytes {
			break
		}
		b.WriteRune(r)
	}
	return strings.TrimSpace(b.String())
}

// unsafeRune: C0 and C1 controls, DEL, bidi embeddings, overrides and
// isolates, marks and the BOM, and the replacement of invalid UTF-8.
func unsafeRune(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c, r == 0xfeff:
		return true
	}
	return r == utf8.RuneError
}
