package dlx

import (
	"strings"
	"time"
)

// Bildbote portal access codes: 12 characters of Crockford's base 32
// (digits and upper-case letters without I, L, O, U), shown as
// XXXX-XXXX-XXXX. This must agree with portal/accesscode (a test checks
// it); transfer does not import the portal.
const (
	codeAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	codeLength   = 12
)

// NormalizeToken turns what a person typed or a QR code held into the
// token to send. When the input, upper-cased and without spaces, dashes,
// underscores and dots, with O read as 0 and I, L as 1, is 12 characters
// of the Bildbote alphabet, that normalised code is returned. Any other
// DLX token is opaque (other portals use other shapes, e.g. ABC-S1Z-98A):
// it is only trimmed.
func NormalizeToken(input string) string {
	trimmed := strings.TrimSpace(input)
	var b strings.Builder
	for _, r := range strings.ToUpper(trimmed) {
		switch r {
		case ' ', '-', '\t', '\u00a0', '_', '.':
			continue
		case 'O':
			r = '0'
		case 'I', 'L':
			r = '1'
		}
		if r > 127 || !strings.ContainsRune(codeAlphabet, r) {
			return trimmed
		}
		b.WriteRune(r)
	}
	if b.Len() != codeLength {
		return trimmed
	}
	return b.String()
}

// FormatToken shows a Bildbote code as XXXX-XXXX-XXXX and leaves any
// other token as it is.
func FormatToken(token string) string {
	n := NormalizeToken(token)
	if !isCode(n) {
		return token
	}
	return n[0:4] + "-" + n[4:8] + "-" + n[8:12]
}

func isCode(s string) bool {
	if len(s) != codeLength {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune(codeAlphabet, r) {
			return false
		}
	}
	return true
}

// NormalizeDate turns a date as people type it (DD.MM.YYYY, D.M.YYYY,
// YYYY-MM-DD, YYYYMMDD) into the DLX answer format YYYYMMDD.
func NormalizeDate(input string) (string, bool) {
	input = strings.TrimSpace(input)
	for _, layout := range []string{"20060102", "2006-01-02", "02.01.2006", "2.1.2006", "02.01.06"} {
		if t, err := time.Parse(layout, input); err == nil {
			if layout == "02.01.06" && t.Year() > time.Now().Year() {
				t = t.AddDate(-100, 0, 0)
			}
			return t.Format("20060102"), true
		}
	}
	return "", false
}
