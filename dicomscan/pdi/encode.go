package pdi

import (
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/bildbote/bildbote/internal/dicomvr"
)

// This file is a small encoder for Explicit VR Little Endian data elements:
// just enough for a DICOMDIR and a File Meta Information group. Every
// element has a defined length, so a whole record's size is known before
// any offset is filled in (the DICOMDIR layout needs that).

// Tag is a DICOM attribute tag, group in the high 16 bits.
type tag uint32

func (t tag) group() uint16   { return uint16(t >> 16) }
func (t tag) element() uint16 { return uint16(t) }

func (t tag) String() string { return fmt.Sprintf("(%04X,%04X)", t.group(), t.element()) }

// element is one encoded data element: value already padded to even length
// (or items for an SQ).
type element struct {
	tag   tag
	vr    string
	value []byte
	items [][]element // SQ only
}

// size is the encoded length of e including its header.
func (e element) size() int {
	header := 8
	if dicomvr.LongLength(e.vr) {
		header = 12
	}
	if e.vr == "SQ" {
		return header + itemsSize(e.items)
	}
	return header + len(e.value)
}

// itemsSize is the encoded length of the items of a sequence, each with an
// item tag and a defined length.
func itemsSize(items [][]element) int {
	n := 0
	for _, it := range items {
		n += 8 + elementsSize(it)
	}
	return n
}

func elementsSize(els []element) int {
	n := 0
	for _, e := range els {
		n += e.size()
	}
	return n
}

// appendElements encodes els in ascending tag order, as DICOM requires.
func appendElements(b []byte, els []element) ([]byte, error) {
	sortElements(els)
	for _, e := range els {
		var err error
		if b, err = appendElement(b, e); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func sortElements(els []element) {
	sort.SliceStable(els, func(i, j int) bool { return els[i].tag < els[j].tag })
}

func appendElement(b []byte, e element) ([]byte, error) {
	if len(e.vr) != 2 {
		return nil, fmt.Errorf("encode %v: bad VR %q", e.tag, e.vr)
	}
	if len(e.value)%2 != 0 {
		return nil, fmt.Errorf("encode %v: odd value length %d", e.tag, len(e.value))
	}
	b = binary.LittleEndian.AppendUint16(b, e.tag.group())
	b = binary.LittleEndian.AppendUint16(b, e.tag.element())
	b = append(b, e.vr...)
	length := len(e.value)
	if e.vr == "SQ" {
		length = itemsSize(e.items)
	}
	if dicomvr.LongLength(e.vr) {
		if uint64(length) >= 0xFFFFFFFF {
			return nil, fmt.Errorf("encode %v: value too long (%d bytes)", e.tag, length)
		}
		b = append(b, 0, 0)
		b = binary.LittleEndian.AppendUint32(b, uint32(length))
	} else {
		if length > 0xFFFE {
			return nil, fmt.Errorf("encode %v %s: value too long (%d bytes)", e.tag, e.vr, length)
		}
		b = binary.LittleEndian.AppendUint16(b, uint16(length))
	}
	if e.vr != "SQ" {
		return append(b, e.value...), nil
	}
	for _, it := range e.items {
		b = binary.LittleEndian.AppendUint16(b, 0xFFFE)
		b = binary.LittleEndian.AppendUint16(b, 0xE000)
		b = binary.LittleEndian.AppendUint32(b, uint32(elementsSize(it)))
		var err error
		if b, err = appendElements(b, it); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// uidElement is a UI element, padded with NUL to even length.
func uidElement(t tag, uid string) element {
	return element{tag: t, vr: "UI", value: pad([]byte(uid), 0)}
}

// textElement is a string element of vr (CS, SH, LO, PN, DA, TM, IS, ...)
// whose bytes are already in the record's character set, padded with a
// space to even length.
func textElement(t tag, vr string, value []byte) element {
	return element{tag: t, vr: vr, value: pad(value, ' ')}
}

func ulElement(t tag, v uint32) element {
	return element{tag: t, vr: "UL", value: binary.LittleEndian.AppendUint32(nil, v)}
}

func usElement(t tag, v uint16) element {
	return element{tag: t, vr: "US", value: binary.LittleEndian.AppendUint16(nil, v)}
}

func obElement(t tag, v []byte) element {
	return element{tag: t, vr: "OB", value: pad(v, 0)}
}

func sqElement(t tag, items ...[]element) element {
	return element{tag: t, vr: "SQ", items: items}
}

// pad returns v extended to even length with c (a copy; v is not changed).
func pad(v []byte, c byte) []byte {
	out := make([]byte, len(v), len(v)+1)
	copy(out, v)
	if len(out)%2 != 0 {
		out = append(out, c)
	}
	return out
}
