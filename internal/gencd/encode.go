package gencd

import (
	"encoding/binary"
	"slices"

	"github.com/bildbote/bildbote/internal/dicomvr"
)

// Transfer syntax and class UIDs the generator writes.
const (
	explicitVRLittleEndian = "1.2.840.10008.1.2.1"
	ctImageStorage         = "1.2.840.10008.5.1.4.1.1.2"
	mrImageStorage         = "1.2.840.10008.5.1.4.1.1.4"
	implementationVersion  = "BILDBOTE_GENCD"
)

// implementationClassUID is fixed (not seed-dependent): it names the
// writer, not the data.
var implementationClassUID = uidFrom(0, "implementation-class")

// element is one data element with its value already encoded (unpadded).
type element struct {
	tag uint32 // group<<16 | element
	vr  string
	val []byte
}

// dataset collects elements in any order; encode sorts them by tag, as
// PS3.5 §7.1 requires.
type dataset struct{ elems []element }

func (d *dataset) bytes(tag uint32, vr string, v []byte) {
	d.elems = append(d.elems, element{tag, vr, v})
}

// str adds a text element; multiple values are joined with a backslash by
// the caller.
func (d *dataset) str(tag uint32, vr, v string) { d.bytes(tag, vr, []byte(v)) }

func (d *dataset) us(tag uint32, v ...uint16) {
	b := make([]byte, 2*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint16(b[2*i:], x)
	}
	d.bytes(tag, "US", b)
}

// padByte is NUL for UIDs and binary VRs, a space for text.
func padByte(vr string) byte {
	switch vr {
	case "UI", "OB", "UN":
		return 0
	}
	return ' '
}

// encodedLen is the length of the value after padding to an even length.
func encodedLen(e element) int { return len(e.val) + len(e.val)&1 }

// appendElement appends e in explicit VR little endian.
func appendElement(b []byte, e element) []byte {
	b = binary.LittleEndian.AppendUint16(b, uint16(e.tag>>16))
	b = binary.LittleEndian.AppendUint16(b, uint16(e.tag))
	b = append(b, e.vr...)
	n := encodedLen(e)
	if dicomvr.LongLength(e.vr) {
		b = append(b, 0, 0)
		b = binary.LittleEndian.AppendUint32(b, uint32(n))
	} else {
		b = binary.LittleEndian.AppendUint16(b, uint16(n))
	}
	b = append(b, e.val...)
	if len(e.val)&1 == 1 {
		b = append(b, padByte(e.vr))
	}
	return b
}

func (d *dataset) sort() {
	slices.SortFunc(d.elems, func(a, b element) int {
		switch {
		case a.tag < b.tag:
			return -1
		case a.tag > b.tag:
			return 1
		}
		return 0
	})
}

// appendTo appends the sorted elements.
func (d *dataset) appendTo(b []byte) []byte {
	d.sort()
	for _, e := range d.elems {
		b = appendElement(b, e)
	}
	return b
}

// appendFileHeader appends the 128-byte zero preamble, "DICM" and the group
// 0002 meta information with a correct group length.
func appendFileHeader(b []byte, sopClass, sopInstance string) []byte {
	var meta dataset
	meta.bytes(0x00020001, "OB", []byte{0, 1})
	meta.str(0x00020002, "UI", sopClass)
	meta.str(0x00020003, "UI", sopInstance)
	meta.str(0x00020010, "UI", explicitVRLittleEndian)
	meta.str(0x00020012, "UI", implementationClassUID)
	meta.str(0x00020013, "SH", implementationVersion)
	var groupLen int
	for _, e := range meta.elems {
		groupLen += 8 + encodedLen(e)
		if dicomvr.LongLength(e.vr) {
			groupLen += 4
		}
	}
	b = append(b, make([]byte, 128)...)
	b = append(b, "DICM"...)
	b = appendElement(b, element{0x00020000, "UL", binary.LittleEndian.AppendUint32(nil, uint32(groupLen))})
	return meta.appendTo(b)
}

// appendPixelDataHeader appends the (7FE0,0010) OW tag and length; the
// caller appends n bytes of pixel data right after.
func appendPixelDataHeader(b []byte, n int) []byte {
	b = binary.LittleEndian.AppendUint16(b, 0x7FE0)
	b = binary.LittleEndian.AppendUint16(b, 0x0010)
	b = append(b, "OW"...)
	b = append(b, 0, 0)
	return binary.LittleEndian.AppendUint32(b, uint32(n))
}
