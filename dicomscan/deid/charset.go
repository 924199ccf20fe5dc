package deid

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/simplifiedchinese"
)

// Single-byte character sets of PS3.3 C.12.1.1.2 (without code extensions).
var singleByte = map[string]encoding.Encoding{
	"ISO_IR 100": charmap.ISO8859_1,
	"ISO_IR 101": charmap.ISO8859_2,
	"ISO_IR 109": charmap.ISO8859_3,
	"ISO_IR 110": charmap.ISO8859_4,
	"ISO_IR 144": charmap.ISO8859_5,
	"ISO_IR 127": charmap.ISO8859_6,
	"ISO_IR 126": charmap.ISO8859_7,
	"ISO_IR 138": charmap.ISO8859_8,
	"ISO_IR 148": charmap.ISO8859_9,
	"ISO_IR 203": charmap.ISO8859_15,
	"ISO_IR 166": charmap.Windows874,
}

// encodePseudonym encodes the pseudonym for a data set's Specific
// Character Set. An ASCII pseudonym is valid in every character set. A
// non-ASCII one is encoded for UTF-8, GB18030, GBK and the single-byte
// sets; a data set without Specific Character Set gets ISO_IR 192
// (addCharset). Code extensions (ISO 2022) take ASCII pseudonyms only.
func encodePseudonym(p, cs string) (v []byte, addCharset string, err error) {
	if isASCII([]byte(p)) {
		return []byte(p), "", nil
	}
	first := strings.TrimSpace(strings.Split(cs, "\\")[0])
	switch {
	case cs == "":
		return []byte(p), "ISO_IR 192", nil
	case first == "ISO_IR 192":
		return []byte(p), "", nil
	case first == "GB18030":
		b, err := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte(p))
		if err == nil {
			return b, "", nil
		}
	case first == "GBK":
		b, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(p))
		if err == nil {
			return b, "", nil
		}
	case !strings.Contains(cs, "\\") && singleByte[first] != nil:
		b, err := singleByte[first].NewEncoder().Bytes([]byte(p))
		if err == nil {
			return b, "", nil
		}
	}
	return nil, "", fmt.Errorf("%w: %q cannot be written in the file's character set %q; use ASCII letters", ErrPseudonym, p, cs)
}

// decodeText decodes a value for display (previews, results): trailing
// padding removed; UTF-8, GB18030/GBK and single-byte sets decoded; code
// extension escapes shown as they are.
func decodeText(v []byte, cs string) string {
	s := strings.TrimRight(string(v), " \x00")
	if isASCII([]byte(s)) {
		return s
	}
	first := strings.TrimSpace(strings.Split(cs, "\\")[0])
	var e encoding.Encoding
	switch {
	case first == "ISO_IR 192":
		if utf8.ValidString(s) {
			return s
		}
	case first == "GB18030":
		e = simplifiedchinese.GB18030
	case first == "GBK":
		e = simplifiedchinese.GBK
	case singleByte[first] != nil && !strings.Contains(s, "\x1b"):
		e = singleByte[first]
	}
	if e != nil {
		if d, err := e.NewDecoder().String(s); err == nil {
			return d
		}
	}
	return strings.ToValidUTF8(s, "?")
}
