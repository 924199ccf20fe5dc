package pdi

import (
	"strings"
	"unicode/utf8"
)

// Directory record keys are written in the character set of their record:
// ISO_IR 100 (Latin-1) when every text fits it — German umlauts and ß do —
// and ISO_IR 192 (UTF-8) otherwise. The Index holds UTF-8.

const (
	charsetLatin1 = "ISO_IR 100"
	charsetUTF8   = "ISO_IR 192"
)

// key is one record key before encoding: a text value, a UID, or a
// sequence of items. Text is UTF-8 until the record's character set is
// chosen.
type key struct {
	tag   tag
	vr    string
	text  string
	items [][]key
}

// charsetAffected reports whether vr's bytes depend on the Specific
// Character Set. CS, DA, TM, IS, UI and friends are always ASCII.
func charsetAffected(vr string) bool {
	switch vr {
	case "SH", "LO", "PN", "ST", "LT", "UT", "UC":
		return true
	}
	return false
}

// carriesText reports whether any key (or nested key) is charset affected:
// such a record gets its own Specific Character Set.
func carriesText(keys []key) bool {
	for _, k := range keys {
		if charsetAffected(k.vr) {
			return true
		}
		for _, it := range k.items {
			if carriesText(it) {
				return true
			}
		}
	}
	return false
}

// fitsLatin1 reports whether every charset-affected text of keys can be
// written in ISO_IR 100.
func fitsLatin1(keys []key) bool {
	for _, k := range keys {
		if charsetAffected(k.vr) {
			for _, r := range k.text {
				if r >= 0x80 && r < 0xA0 || r > 0xFF {
					return false
				}
			}
		}
		for _, it := range k.items {
			if !fitsLatin1(it) {
				return false
			}
		}
	}
	return true
}

// encodeKeys turns keys into elements in character set cs.
func encodeKeys(keys []key, cs string) []element {
	els := make([]element, 0, len(keys))
	for _, k := range keys {
		switch {
		case k.vr == "SQ":
			items := make([][]element, len(k.items))
			for i, it := range k.items {
				items[i] = encodeKeys(it, cs)
			}
			els = append(els, sqElement(k.tag, items...))
		case k.vr == "UI":
			els = append(els, uidElement(k.tag, cleanUID(k.text)))
		default:
			els = append(els, textElement(k.tag, k.vr, encodeText(cleanText(k.vr, k.text), k.vr, cs)))
		}
	}
	return els
}

// maxChars is the longest value (in characters) each VR allows.
var maxChars = map[string]int{
	"AE": 16, "CS": 16, "SH": 16, "LO": 64, "PN": 3*64 + 2, "DA": 8,
	"TM": 16, "DT": 26, "IS": 12, "DS": 16, "ST": 1024, "LT": 10240,
}

// cleanText makes s a valid single value of vr: the first value only (a
// backslash separates values), no control characters, no leading or
// trailing spaces, cut to the VR's maximum length. CS and the numeric and
// date VRs keep only the characters they allow.
func cleanText(vr, s string) string {
	if vr != "ST" && vr != "LT" && vr != "UT" {
		if i := strings.IndexByte(s, '\\'); i >= 0 {
			s = s[:i]
		}
	}
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7F || r == utf8.RuneError {
			return ' '
		}
		return r
	}, s)
	switch vr {
	case "CS":
		s = strings.Map(func(r rune) rune {
			switch {
			case r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == ' ', r == '_':
				return r
			case r >= 'a' && r <= 'z':
				return r - 'a' + 'A'
			}
			return '_'
		}, s)
	case "DA", "TM", "IS", "DS", "DT":
		s = strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' || strings.ContainsRune("+-.E ", r) {
				return r
			}
			return -1
		}, s)
	}
	s = strings.TrimSpace(s)
	if max, ok := maxChars[vr]; ok && utf8.RuneCountInString(s) > max {
		s = string([]rune(s)[:max])
		s = strings.TrimRight(s, " ")
	}
	return s
}

// cleanUID keeps the characters a UID may hold (digits and dots), at most 64.
func cleanUID(s string) string {
	s = strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' || r == '.' {
			return r
		}
		return -1
	}, s)
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}

// encodeText converts UTF-8 text to the bytes of character set cs.
func encodeText(s, vr, cs string) []byte {
	if !charsetAffected(vr) || cs != charsetLatin1 {
		return []byte(s)
	}
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xFF || r >= 0x80 && r < 0xA0 {
			r = '?' // fitsLatin1 chose this set, so this cannot happen
		}
		b = append(b, byte(r))
	}
	return b
}

// recordElements encodes a record's keys, adding the Specific Character
// Set when the record carries text.
func recordElements(keys []key) []element {
	if !carriesText(keys) {
		return encodeKeys(keys, "")
	}
	cs := charsetUTF8
	if fitsLatin1(keys) {
		cs = charsetLatin1
	}
	els := encodeKeys(keys, cs)
	return append(els, textElement(tagSpecificCharacterSet, "CS", []byte(cs)))
}
