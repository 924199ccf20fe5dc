package dlx

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Item IDs and texts in a /list answer are untrusted: the portal may be
// broken or hostile. checkItems keeps the items whose ID is usable and
// cleans every text field, so nothing a portal lists can reach a file
// name, a terminal or a log line unchecked (callers still never use an ID
// as a path).

// MaxIDLen is the longest item ID accepted (DLX does not bound it; real
// portals use UIDs or short keys).
const MaxIDLen = 256

// maxTextLen bounds each text field of an item (description, names).
const maxTextLen = 1024

// ValidID reports whether id can name an item in requests: 1 to MaxIDLen
// bytes of valid UTF-8 without control characters or bidirectional
// overrides. DLX leaves IDs opaque, so this is the client's own floor;
// an ID is always path-escaped in URLs and never a file name.
func ValidID(id string) bool {
	if id == "" || len(id) > MaxIDLen || !utf8.ValidString(id) {
		return false
	}
	for _, r := range id {
		if unsafeRune(r) {
			return false
		}
	}
	return true
}

// unsafeRune: C0 and C1 controls, DEL, bidirectional overrides and
// isolates (which make text read differently than it is), the BOM.
func unsafeRune(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0xfeff:
		return true
	}
	return r == utf8.RuneError
}

// cleanText makes a listed text safe to show and to derive names from:
// invalid UTF-8, control characters and bidi overrides become spaces, runs
// of space collapse, and it is cut to maxTextLen bytes on a rune boundary.
func cleanText(s string) string {
	if len(s) > 4*maxTextLen {
		s = s[:4*maxTextLen]
	}
	var b strings.Builder
	space := false
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		if unsafeRune(r) || r == '\t' {
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
		if b.Len()+utf8.RuneLen(r) > maxTextLen {
			break
		}
		b.WriteRune(r)
	}
	return strings.TrimSpace(b.String())
}

// QuoteID shows an untrusted ID in a message: Go-quoted (ASCII only), cut.
func QuoteID(id string) string {
	if len(id) > 72 {
		return strconv.QuoteToASCII(id[:72]) + "…"
	}
	return strconv.QuoteToASCII(id)
}

// checkItems drops items whose ID is not ValidID (and repeats of an ID),
// cleans the texts and clamps the file count. It returns the dropped IDs.
func checkItems(in []Item) (out []Item, dropped []string) {
	seen := map[string]bool{}
	for _, it := range in {
		if !ValidID(it.ID) || seen[it.ID] {
			dropped = append(dropped, it.ID)
			continue
		}
		seen[it.ID] = true
		it.MIMEType = cleanText(it.MIMEType)
		it.Description = cleanText(it.Description)
		it.StudyInstanceUID = cleanText(it.StudyInstanceUID)
		it.Date = cleanText(it.Date)
		it.PatientsName = cleanText(it.PatientsName)
		it.PatientsBirthdate = cleanText(it.PatientsBirthdate)
		it.PatientsSex = cleanText(it.PatientsSex)
		if len(it.Modalities) > 64 {
			it.Modalities = it.Modalities[:64]
		}
		for i, m := range it.Modalities {
			it.Modalities[i] = cleanText(m)
		}
		if it.FileCount < 0 {
			it.FileCount = 0
		}
		out = append(out, it)
	}
	return out, dropped
}
