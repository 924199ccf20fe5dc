package dimse

import (
	"encoding/binary"
	"fmt"

	"github.com/bildbote/bildbote/internal/dicomvr"
)

const (
	tagItem          = 0xFFFEE000
	tagItemDelim     = 0xFFFEE00D
	tagSequenceDelim = 0xFFFEE0DD
	undefinedLength  = 0xFFFFFFFF
	maxNesting       = 32
)

// ExplicitToImplicit re-encodes an explicit VR little endian data set as
// implicit VR little endian. Values are copied unchanged (both are little
// endian); only element headers change, so lengths of sequences and items
// with a defined length and group lengths are recomputed. UN elements of
// undefined length already hold implicit VR data (PS3.5 §6.2.2) and are
// copied as they are. Encapsulated (undefined length) pixel data cannot
// occur in explicit VR little endian and is an error.
func ExplicitToImplicit(p []byte) ([]byte, error) {
	return converter{}.run(p)
}

// BigToLittle re-encodes an explicit VR big endian data set as little
// endian, explicit or implicit VR: headers are rewritten and every binary
// value is byte-swapped by its VR (US, SS, OW and AT in 2-byte units; UL,
// SL, FL, OF, OL in 4; FD, OD, SV, UV, OV in 8). A UN value cannot be
// swapped without knowing what it holds, so it is an error, as is a value
// whose length is not a multiple of its unit.
func BigToLittle(p []byte, explicit bool) ([]byte, error) {
	return converter{big: true, explicit: explicit}.run(p)
}

// converter reads explicit VR data (big endian when big) and writes
// little endian data (explicit VR when explicit, else implicit).
type converter struct{ big, explicit bool }

func (c converter) run(p []byte) ([]byte, error) {
	out, _, err := c.convertElements(p, false, 0)
	return out, err
}

func (c converter) u16(p []byte) uint16 {
	if c.big {
		return binary.BigEndian.Uint16(p)
	}
	return binary.LittleEndian.Uint16(p)
}

func (c converter) u32(p []byte) uint32 {
	if c.big {
		return binary.BigEndian.Uint32(p)
	}
	return binary.LittleEndian.Uint32(p)
}

func (c converter) tagAt(p []byte) uint32 { return uint32(c.u16(p))<<16 | uint32(c.u16(p[2:])) }

func tagAt(p []byte) uint32 {
	return uint32(binary.LittleEndian.Uint16(p))<<16 | uint32(binary.LittleEndian.Uint16(p[2:]))
}

func appendHeader(out []byte, tag uint32, n uint32) []byte {
	out = binary.LittleEndian.AppendUint16(out, uint16(tag>>16))
	out = binary.LittleEndian.AppendUint16(out, uint16(tag))
	return binary.LittleEndian.AppendUint32(out, n)
}

// appendElementHeader writes an element header in the output encoding.
func (c converter) appendElementHeader(out []byte, tag uint32, vr string, n uint32) []byte {
	if !c.explicit {
		return appendHeader(out, tag, n)
	}
	out = binary.LittleEndian.AppendUint16(out, uint16(tag>>16))
	out = binary.LittleEndian.AppendUint16(out, uint16(tag))
	out = append(out, vr...)
	if dicomvr.LongLength(vr) {
		out = append(out, 0, 0)
		return binary.LittleEndian.AppendUint32(out, n)
	}
	return binary.LittleEndian.AppendUint16(out, uint16(n))
}

// swapUnit is the size of the binary units of vr, 0 for byte or text data.
func swapUnit(vr string) int {
	switch vr {
	case "US", "SS", "OW", "AT":
		return 2
	case "UL", "SL", "FL", "OF", "OL":
		return 4
	case "FD", "OD", "SV", "UV", "OV":
		return 8
	}
	return 0
}

// appendValue appends v, swapped to little endian when reading big endian.
func (c converter) appendValue(out []byte, tag uint32, vr string, v []byte) ([]byte, error) {
	if !c.big {
		return append(out, v...), nil
	}
	if vr == "UN" {
		return nil, fmt.Errorf("element (%04X,%04X) UN in big endian: its byte order is unknown", tag>>16, tag&0xFFFF)
	}
	u := swapUnit(vr)
	if u == 0 {
		return append(out, v...), nil
	}
	if len(v)%u != 0 {
		return nil, fmt.Errorf("element (%04X,%04X) %s of length %d, not a multiple of %d", tag>>16, tag&0xFFFF, vr, len(v), u)
	}
	start := len(out)
	out = append(out, v...)
	w := out[start:]
	for i := 0; i < len(w); i += u {
		for a, b := i, i+u-1; a < b; a, b = a+1, b-1 {
			w[a], w[b] = w[b], w[a]
		}
	}
	return out, nil
}

// convertElements converts elements until p ends or, when untilDelim, up
// to and including an item delimitation item. It returns the converted
// bytes and the number of input bytes used.
func (c converter) convertElements(p []byte, untilDelim bool, depth int) ([]byte, int, error) {
	if depth > maxNesting {
		return nil, 0, fmt.Errorf("sequences nested deeper than %d", maxNesting)
	}
	var out []byte
	var elems []outElem
	pos := 0
	for pos < len(p) {
		if len(p)-pos < 8 {
			return nil, 0, fmt.Errorf("element header cut at offset %d", pos)
		}
		tag := c.tagAt(p[pos:])
		if tag == tagItemDelim {
			if !untilDelim {
				return nil, 0, fmt.Errorf("item delimiter outside an item at offset %d", pos)
			}
			out = appendHeader(out, tag, 0)
			pos += 8
			c.fixGroupLengths(out, elems)
			return out, pos, nil
		}
		if tag>>16 == 0xFFFE {
			return nil, 0, fmt.Errorf("unexpected (FFFE,%04X) at offset %d", tag&0xFFFF, pos)
		}
		if !isVRBytes(p[pos+4:]) {
			return nil, 0, fmt.Errorf("element (%04X,%04X) at offset %d has no VR: not explicit VR", tag>>16, tag&0xFFFF, pos)
		}
		vr := string(p[pos+4 : pos+6])
		var n uint32
		hdr := 8
		if dicomvr.LongLength(vr) {
			if len(p)-pos < 12 {
				return nil, 0, fmt.Errorf("element header cut at offset %d", pos)
			}
			n, hdr = c.u32(p[pos+8:]), 12
		} else {
			n = uint32(c.u16(p[pos+6:]))
		}
		pos += hdr
		elems = append(elems, outElem{tag, len(out)})
		switch {
		case vr == "SQ":
			var body []byte
			var used int
			var err error
			if n == undefinedLength {
				body, used, err = c.convertItems(p[pos:], true, depth+1)
				if err != nil {
					return nil, 0, err
				}
				out = c.appendElementHeader(out, tag, vr, undefinedLength)
			} else {
				if uint64(n) > uint64(len(p)-pos) {
					return nil, 0, fmt.Errorf("sequence (%04X,%04X) length %d past the end", tag>>16, tag&0xFFFF, n)
				}
				body, used, err = c.convertItems(p[pos:pos+int(n)], false, depth+1)
				if err != nil {
					return nil, 0, err
				}
				out = c.appendElementHeader(out, tag, vr, uint32(len(body)))
			}
			out = append(out, body...)
			pos += used
		case n == undefinedLength && vr == "UN" && !c.big:
			used, err := implicitSequenceLength(p[pos:], depth+1)
			if err != nil {
				return nil, 0, fmt.Errorf("UN sequence (%04X,%04X): %w", tag>>16, tag&0xFFFF, err)
			}
			out = c.appendElementHeader(out, tag, vr, undefinedLength)
			out = append(out, p[pos:pos+used]...)
			pos += used
		case n == undefinedLength:
			return nil, 0, fmt.Errorf("element (%04X,%04X) %s of undefined length (encapsulated data is not explicit VR little endian)", tag>>16, tag&0xFFFF, vr)
		default:
			if uint64(n) > uint64(len(p)-pos) {
				return nil, 0, fmt.Errorf("element (%04X,%04X) length %d past the end", tag>>16, tag&0xFFFF, n)
			}
			out = c.appendElementHeader(out, tag, vr, n)
			var err error
			if out, err = c.appendValue(out, tag, vr, p[pos:pos+int(n)]); err != nil {
				return nil, 0, err
			}
			pos += int(n)
		}
	}
	if untilDelim {
		return nil, 0, fmt.Errorf("item of undefined length without delimiter")
	}
	c.fixGroupLengths(out, elems)
	return out, pos, nil
}

// outElem is where a converted element starts in the output.
type outElem struct {
	tag   uint32
	start int
}

// fixGroupLengths rewrites every (gggg,0000) UL value in out to the
// length of the elements of group gggg that follow it at this level.
func (c converter) fixGroupLengths(out []byte, list []outElem) {
	for i, e := range list {
		if e.tag&0xFFFF != 0 {
			continue
		}
		if c.explicit && (string(out[e.start+4:e.start+6]) != "UL" || binary.LittleEndian.Uint16(out[e.start+6:]) != 4) {
			continue
		}
		if !c.explicit && binary.LittleEndian.Uint32(out[e.start+4:]) != 4 {
			continue
		}
		end := len(out)
		for _, f := range list[i+1:] {
			if f.tag>>16 != e.tag>>16 {
				end = f.start
				break
			}
		}
		// Up to the last element of this level; a trailing item delimiter
		// is not part of any group.
		if end == len(out) && len(out) >= 8 && tagAt(out[len(out)-8:]) == tagItemDelim {
			end -= 8
		}
		binary.LittleEndian.PutUint32(out[e.start+8:], uint32(end-(e.start+12)))
	}
}

// convertItems converts the items of a sequence: all of p (defined length)
// or up to and including the sequence delimiter.
func (c converter) convertItems(p []byte, untilDelim bool, depth int) ([]byte, int, error) {
	var out []byte
	pos := 0
	for pos < len(p) {
		if len(p)-pos < 8 {
			return nil, 0, fmt.Errorf("item header cut at offset %d", pos)
		}
		tag := c.tagAt(p[pos:])
		n := c.u32(p[pos+4:])
		pos += 8
		switch tag {
		case tagSequenceDelim:
			if !untilDelim {
				return nil, 0, fmt.Errorf("sequence delimiter in a sequence of defined length")
			}
			out = appendHeader(out, tag, 0)
			return out, pos, nil
		case tagItem:
		default:
			return nil, 0, fmt.Errorf("(%04X,%04X) where an item belongs", tag>>16, tag&0xFFFF)
		}
		if n == undefinedLength {
			body, used, err := c.convertElements(p[pos:], true, depth)
			if err != nil {
				return nil, 0, err
			}
			out = appendHeader(out, tag, undefinedLength)
			out = append(out, body...)
			pos += used
			continue
		}
		if uint64(n) > uint64(len(p)-pos) {
			return nil, 0, fmt.Errorf("item length %d past the end", n)
		}
		body, _, err := c.convertElements(p[pos:pos+int(n)], false, depth)
		if err != nil {
			return nil, 0, err
		}
		out = appendHeader(out, tag, uint32(len(body)))
		out = append(out, body...)
		pos += int(n)
	}
	if untilDelim {
		return nil, 0, fmt.Errorf("sequence of undefined length without delimiter")
	}
	return out, pos, nil
}

// implicitSequenceLength returns how many bytes of p an implicit VR
// sequence of undefined length takes, its delimiter included.
func implicitSequenceLength(p []byte, depth int) (int, error) {
	if depth > maxNesting {
		return 0, fmt.Errorf("sequences nested deeper than %d", maxNesting)
	}
	pos := 0
	for {
		if len(p)-pos < 8 {
			return 0, fmt.Errorf("cut before the sequence delimiter")
		}
		tag := tagAt(p[pos:])
		n := binary.LittleEndian.Uint32(p[pos+4:])
		pos += 8
		switch {
		case tag == tagSequenceDelim:
			return pos, nil
		case tag == tagItem && n == undefinedLength:
			used, err := implicitItemLength(p[pos:], depth)
			if err != nil {
				return 0, err
			}
			pos += used
		case tag == tagItem:
			if uint64(n) > uint64(len(p)-pos) {
				return 0, fmt.Errorf("item length %d past the end", n)
			}
			pos += int(n)
		default:
			return 0, fmt.Errorf("(%04X,%04X) where an item belongs", tag>>16, tag&0xFFFF)
		}
	}
}

func implicitItemLength(p []byte, depth int) (int, error) {
	pos := 0
	for {
		if len(p)-pos < 8 {
			return 0, fmt.Errorf("cut before the item delimiter")
		}
		tag := tagAt(p[pos:])
		n := binary.LittleEndian.Uint32(p[pos+4:])
		pos += 8
		switch {
		case tag == tagItemDelim:
			return pos, nil
		case n == undefinedLength:
			used, err := implicitSequenceLength(p[pos:], depth+1)
			if err != nil {
				return 0, err
			}
			pos += used
		default:
			if uint64(n) > uint64(len(p)-pos) {
				return 0, fmt.Errorf("element length %d past the end", n)
			}
			pos += int(n)
		}
	}
}
