package dlx

import (
	"strings"
	"time"

	"github.com/bildbote/bildbote/internal/accesscode"
)

// NormalizeToken turns what a person typed or a QR code held into the
// token to send. When the input, trimmed, is a Bildbote access code as
// internal/accesscode normalises it (upper-cased, without spaces, dashes,
// underscores and dots, O read as 0 and I, L as 1), that normalised code
// is returned: the portal uses the same definition, so a code it issued
// arrives unchanged. Any other DLX token is opaque (other portals use other
// shapes, e.g. ABC-S1Z-98A): it is only trimmed.
func NormalizeToken(input string) string {
	trimmed := strings.TrimSpace(input)
	if code, ok := accesscode.Normalize(trimmed); ok {
		return code
	}
	return trimmed
}

// FormatToken shows a Bildbote code as XXXX-XXXX-XXXX and leaves any
// other token as it is.
func FormatToken(token string) string {
	if code, ok := accesscode.Normalize(strings.TrimSpace(token)); ok {
		return accesscode.Format(code)
	}
	return token
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
