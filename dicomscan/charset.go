package dicomscan

import (
	"bytes"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
)

// charset decodes text values (PN, LO, SH, ST, LT, UT, UC) of one dataset
// per its Specific Character Set (0008,0005). Single-byte sets, UTF-8 and
// GB18030/GBK decode fully; ISO 2022 code extensions (escape sequences, as
// in Japanese and Korean names) are switched per segment for the common
// sets. Whatever cannot be decoded becomes U+FFFD: decoding never fails.
type charset struct {
	first encoding.Encoding // the set in force before any escape sequence; nil = ASCII
	utf8  bool
	// declared is false when the dataset names no character set.
	declared bool
	iso2022  bool
	// katakana: the first set is ISO_IR 13 (JIS X 0201), whose upper half
	// is half-width katakana.
	katakana bool
	// value is the Specific Character Set as written (what the decoding
	// depends on: the key of interner.text).
	value string
}

// singleByte maps the defined terms (without the "ISO_IR "/"ISO 2022 IR "
// prefix) of the single-byte sets to their encodings.
var singleByte = map[string]encoding.Encoding{
	"100": charmap.ISO8859_1,
	"101": charmap.ISO8859_2,
	"109": charmap.ISO8859_3,
	"110": charmap.ISO8859_4,
	"144": charmap.ISO8859_5,
	"127": charmap.ISO8859_6,
	"126": charmap.ISO8859_7,
	"138": charmap.ISO8859_8,
	"148": charmap.ISO8859_9,
	"203": charmap.ISO8859_15,
	"166": charmap.Windows874, // TIS 620-2533 is its subset
}

func newCharset(value string) charset {
	terms := strings.Split(value, `\`)
	first := strings.TrimSpace(terms[0])
	c := charset{declared: strings.TrimSpace(value) != "", value: value}
	switch {
	case first == "ISO_IR 192":
		c.utf8 = true
	case first == "GB18030":
		c.first = simplifiedchinese.GB18030
	case first == "GBK":
		c.first = simplifiedchinese.GBK
	case strings.HasPrefix(first, "ISO_IR "):
		c.first = singleByte[strings.TrimPrefix(first, "ISO_IR ")]
	case first == "ISO_IR 13" || first == "ISO 2022 IR 13":
		c.katakana = true
		c.iso2022 = true
	case strings.HasPrefix(first, "ISO 2022 IR "):
		c.first = singleByte[strings.TrimPrefix(first, "ISO 2022 IR ")]
		c.iso2022 = true
	}
	if len(terms) > 1 {
		c.iso2022 = true
	}
	return c
}

// text decodes a text value to UTF-8 and trims its padding.
// textIn is text, with the values seen before (with the same character
// set) taken from strs.
func (c charset) textIn(v []byte, strs *interner) string {
	t := trimValue(v)
	if isASCII(t) && (!c.iso2022 || !containsESC(t)) {
		return strs.of(bytes.TrimSpace(t))
	}
	if strs == nil {
		return c.text(v)
	}
	m := strs.text[c.value]
	if s, ok := m[string(t)]; ok {
		return s
	}
	s := c.text(v)
	if strs.nText >= maxInterned {
		return s
	}
	if m == nil {
		if strs.text == nil {
			strs.text = map[string]map[string]string{}
		}
		m = map[string]string{}
		strs.text[c.value] = m
	}
	m[string(t)] = s
	strs.nText++
	return s
}

func (c charset) text(v []byte) string {
	v = trimValue(v)
	if len(v) == 0 {
		return ""
	}
	if isASCII(v) {
		// Every supported set agrees with ASCII on these bytes (ISO 2022
		// switches sets only with ESC, which is ASCII too but handled below).
		if !c.iso2022 || !containsESC(v) {
			return strings.TrimSpace(string(v))
		}
	}
	if c.iso2022 && (containsESC(v) || c.katakana) {
		return strings.TrimSpace(decodeISO2022(v, c.first, c.katakana))
	}
	var s string
	switch {
	case c.utf8:
		s = string(v)
	case c.first != nil:
		s = decodeWith(c.first, v)
	case isASCII(v):
		s = string(v)
	case utf8.Valid(v) && c.declared:
		s = string(v)
	case utf8.Valid(v):
		// Undeclared non-ASCII text: UTF-8 if it is valid UTF-8 ...
		s = string(v)
	default:
		// ... otherwise Latin-1, what German writers without a declared
		// character set almost always mean.
		s = decodeWith(charmap.ISO8859_1, v)
	}
	return strings.TrimSpace(strings.ToValidUTF8(s, "\uFFFD"))
}

func isASCII(v []byte) bool {
	for _, b := range v {
		if b >= 0x80 {
			return false
		}
	}
	return true
}

func containsESC(v []byte) bool {
	for _, b := range v {
		if b == 0x1B {
			return true
		}
	}
	return false
}

func decodeWith(enc encoding.Encoding, v []byte) string {
	if cm, ok := enc.(*charmap.Charmap); ok {
		// Byte by byte: far cheaper than a transformer for short values.
		var sb strings.Builder
		sb.Grow(len(v) + len(v)/2)
		for _, b := range v {
			sb.WriteRune(cm.DecodeByte(b))
		}
		return sb.String()
	}
	out, err := enc.NewDecoder().Bytes(v)
	if err != nil {
		return strings.ToValidUTF8(string(v), "\uFFFD")
	}
	return string(out)
}

// g1Sets maps the final byte of "ESC - F" (a 96-character set into G1) to
// its encoding.
var g1Sets = map[byte]encoding.Encoding{
	'A': charmap.ISO8859_1, 'B': charmap.ISO8859_2, 'C': charmap.ISO8859_3,
	'D': charmap.ISO8859_4, 'L': charmap.ISO8859_5, 'G': charmap.ISO8859_6,
	'F': charmap.ISO8859_7, 'H': charmap.ISO8859_8, 'M': charmap.ISO8859_9,
	'T': charmap.Windows874, 'b': charmap.ISO8859_15,
}

// segment modes of ISO 2022 decoding.
type iso2022Mode int

const (
	modeSingle   iso2022Mode = iota // enc (or ASCII when nil)
	modeJIS0208                     // two-byte JIS X 0208 in G0
	modeJIS0212                     // two-byte JIS X 0212 in G0
	modeKatakana                    // JIS X 0201 katakana in G1
	modeKorean                      // KS X 1001 in G1 (EUC-KR bytes)
	modeGB2312                      // GB 2312 in G1 (EUC-CN bytes)
)

// decodeISO2022 decodes a value with escape sequences segment by segment.
// Delimiters of PN components and text lines return to the initial set.
func decodeISO2022(v []byte, initial encoding.Encoding, katakana bool) string {
	var sb strings.Builder
	initialMode := modeSingle
	if katakana {
		initialMode = modeKatakana
	}
	mode, enc := initialMode, initial
	run := make([]byte, 0, len(v))
	flush := func() {
		if len(run) > 0 {
			sb.WriteString(decodeRun(mode, enc, run))
			run = run[:0]
		}
	}
	for i := 0; i < len(v); i++ {
		b := v[i]
		switch {
		case b == 0x1B:
			flush()
			n, m, e := parseEscape(v[i+1:])
			if n == 0 {
				sb.WriteRune(utf8.RuneError)
				continue
			}
			if m >= 0 {
				mode, enc = m, e
			}
			i += n
		case isDelimiter(b) && mode != modeJIS0208 && mode != modeJIS0212:
			// In the two-byte G0 sets these bytes are halves of characters;
			// writers switch back to ASCII before a delimiter.
			flush()
			sb.WriteByte(b)
			mode, enc = initialMode, initial
		default:
			run = append(run, b)
		}
	}
	flush()
	return strings.ToValidUTF8(sb.String(), "\uFFFD")
}

// parseEscape reads the escape sequence after ESC: the bytes it used, and
// the mode it selects (-1 for an unknown set that is skipped).
func parseEscape(p []byte) (int, iso2022Mode, encoding.Encoding) {
	switch {
	case len(p) >= 2 && p[0] == '(' && (p[1] == 'B' || p[1] == 'J'):
		return 2, modeSingle, nil
	case len(p) >= 2 && p[0] == ')' && p[1] == 'I':
		return 2, modeKatakana, nil
	case len(p) >= 2 && p[0] == '-':
		if e, ok := g1Sets[p[1]]; ok {
			return 2, modeSingle, e
		}
		return 2, -1, nil
	case len(p) >= 2 && p[0] == '$' && (p[1] == 'B' || p[1] == '@'):
		return 2, modeJIS0208, nil
	case len(p) >= 3 && p[0] == '$' && p[1] == '(' && p[2] == 'D':
		return 3, modeJIS0212, nil
	case len(p) >= 3 && p[0] == '$' && p[1] == ')' && p[2] == 'C':
		return 3, modeKorean, nil
	case len(p) >= 3 && p[0] == '$' && p[1] == ')' && p[2] == 'A':
		return 3, modeGB2312, nil
	case len(p) >= 2 && p[0] == '$' && p[1] == 'A':
		return 2, modeGB2312, nil
	case len(p) >= 2:
		return 2, -1, nil
	}
	return 0, -1, nil
}

func decodeRun(mode iso2022Mode, enc encoding.Encoding, run []byte) string {
	switch mode {
	case modeJIS0208:
		high := make([]byte, len(run))
		for i, b := range run {
			high[i] = b | 0x80
		}
		return decodeWith(japanese.EUCJP, high)
	case modeJIS0212:
		var high []byte
		for i := 0; i+1 < len(run); i += 2 {
			high = append(high, 0x8F, run[i]|0x80, run[i+1]|0x80)
		}
		return decodeWith(japanese.EUCJP, high)
	case modeKatakana:
		var sb strings.Builder
		for _, b := range run {
			if b >= 0xA1 && b <= 0xDF {
				sb.WriteRune(rune(0xFF61 + int(b) - 0xA1))
			} else if b < 0x80 {
				sb.WriteByte(b)
			} else {
				sb.WriteRune(utf8.RuneError)
			}
		}
		return sb.String()
	case modeKorean:
		return decodeWith(korean.EUCKR, run)
	case modeGB2312:
		return decodeWith(simplifiedchinese.GBK, run)
	}
	if enc == nil {
		return strings.ToValidUTF8(string(run), "\uFFFD")
	}
	return decodeWith(enc, run)
}

func isDelimiter(b byte) bool {
	return b == '^' || b == '=' || b == '\\' || b == '\r' || b == '\n' || b == '\t'
}
