package pixel

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/bildbote/bildbote/internal/dicomvr"
)

// Transfer syntaxes.
const (
	tsImplicitLE  = "1.2.840.10008.1.2"
	tsExplicitLE  = "1.2.840.10008.1.2.1"
	tsDeflated    = "1.2.840.10008.1.2.1.99"
	tsExplicitBE  = "1.2.840.10008.1.2.2"
	tsJPEGBase    = "1.2.840.10008.1.2.4.50"
	tsJPEGExt     = "1.2.840.10008.1.2.4.51"
	tsRLE         = "1.2.840.10008.1.2.5"
	maxDepth      = 64
	tagItem       = uint32(0xFFFEE000)
	tagItemEnd    = uint32(0xFFFEE00D)
	tagSeqEnd     = uint32(0xFFFEE0DD)
	tagPixelData  = uint32(0x7FE00010)
	undefinedLen  = uint32(0xFFFFFFFF)
	maxInflateFac = 1100 // deflate cannot exceed about 1032:1
)

// ErrMalformed is returned (wrapped) for a file whose structure the
// decoder cannot follow.
var ErrMalformed = errors.New("malformed DICOM file")

// ErrNoPixelData is returned (wrapped) for a file without Pixel Data
// (a report, a plan, a DICOMDIR).
var ErrNoPixelData = errors.New("no pixel data")

type enc struct{ explicit, big bool }

func (e enc) order() binary.ByteOrder {
	if e.big {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

// header holds the attributes of the top-level data set the decoder needs.
type header struct {
	ts     string
	e      enc
	vals   map[uint32][]byte // top-level elements of group 0028 (raw, data set byte order)
	pixel  []byte            // native pixel data
	encaps []byte            // encapsulated pixel data: items and delimiter
	hasPix bool
}

func (h *header) us(tag uint32, def int) int {
	v, ok := h.vals[tag]
	if !ok || len(v) < 2 {
		return def
	}
	return int(h.e.order().Uint16(v))
}

func (h *header) str(tag uint32) string {
	return strings.TrimRight(strings.TrimLeft(string(h.vals[tag]), " "), "\x00 ")
}

// ds returns the first value of a DS (or IS) element.
func (h *header) ds(tag uint32) (float64, bool) {
	s := h.str(tag)
	if i := strings.IndexByte(s, '\\'); i >= 0 {
		s = s[:i]
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f != f {
		return 0, false
	}
	return f, true
}

func errf(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, a...)...)
}

func readTag(b []byte, off int, e enc) uint32 {
	o := e.order()
	return uint32(o.Uint16(b[off:]))<<16 | uint32(o.Uint16(b[off+2:]))
}

func validVR(b []byte) bool {
	return len(b) >= 2 && b[0] >= 'A' && b[0] <= 'Z' && b[1] >= 'A' && b[1] <= 'Z'
}

// parseHeader reads a Part 10 file (or a bare data set) far enough to
// find the image attributes and the pixel data.
func parseHeader(b []byte) (*header, error) {
	h := &header{vals: map[uint32][]byte{}}
	off := 0
	if len(b) >= 132 && string(b[128:132]) == "DICM" {
		off = 132
	}
	for len(b)-off >= 8 && binary.LittleEndian.Uint16(b[off:]) == 0x0002 {
		t := readTag(b, off, enc{explicit: true})
		var l uint32
		hdr := 8
		if validVR(b[off+4:]) {
			if dicomvr.LongLength(string(b[off+4 : off+6])) {
				if len(b)-off < 12 {
					return nil, errf("meta element cut")
				}
				l, hdr = binary.LittleEndian.Uint32(b[off+8:]), 12
			} else {
				l = uint32(binary.LittleEndian.Uint16(b[off+6:]))
			}
		} else {
			l = binary.LittleEndian.Uint32(b[off+4:])
		}
		if int64(l) > int64(len(b)-off-hdr) {
			return nil, errf("meta element (0002,%04X) declares %d bytes", t&0xFFFF, l)
		}
		if t == 0x00020010 {
			h.ts = strings.TrimRight(string(b[off+hdr:off+hdr+int(l)]), "\x00 ")
		}
		off += hdr + int(l)
	}
	body := b[off:]
	if len(body) < 8 {
		return nil, errf("no data set")
	}
	if h.ts == "" {
		h.ts = sniffTS(body)
	}
	if h.ts == tsDeflated {
		limit := int64(len(body))*maxInflateFac + 1<<20
		r := flate.NewReader(bytes.NewReader(body))
		var out bytes.Buffer
		n, err := io.Copy(&out, io.LimitReader(r, limit+1))
		if err != nil {
			return nil, errf("inflating the data set: %v", err)
		}
		if n > limit {
			return nil, errf("deflated data set inflates beyond %d bytes", limit)
		}
		body = out.Bytes()
	}
	h.e = enc{explicit: h.ts != tsImplicitLE, big: h.ts == tsExplicitBE}
	// Meta says explicit, data set is implicit (seen in the wild).
	if h.e.explicit && !h.e.big && !validVR(body[4:]) {
		h.e = enc{}
	}
	if _, err := walk(body, 0, len(body), h.e, 0, false, h); err != nil {
		return nil, err
	}
	return h, nil
}

func sniffTS(b []byte) string {
	le := binary.LittleEndian.Uint16(b)
	switch {
	case le > 0x0008 && binary.BigEndian.Uint16(b) <= 0x0008:
		return tsExplicitBE
	case validVR(b[4:]):
		return tsExplicitLE
	}
	return tsImplicitLE
}

// walk reads the data set b[off:end]. With top it records the elements
// the decoder needs in h; nested data sets are only skipped. With
// untilItemEnd it stops after an item delimiter and returns the offset
// after it.
func walk(b []byte, off, end int, e enc, depth int, untilItemEnd bool, h *header) (int, error) {
	if depth > maxDepth {
		return 0, errf("sequences nested deeper than %d", maxDepth)
	}
	top := depth == 0
	for off < end {
		if end-off < 8 {
			if untilItemEnd {
				return 0, errf("item ends inside an element header at %d", off)
			}
			return end, nil
		}
		t := readTag(b, off, e)
		if t == tagItemEnd {
			if !untilItemEnd {
				return 0, errf("stray item delimiter at %d", off)
			}
			return off + 8, nil
		}
		if t == tagSeqEnd || t == tagItem {
			return 0, errf("stray item tag at %d", off)
		}
		var length uint32
		hdr := 8
		vr := ""
		if e.explicit {
			if !validVR(b[off+4:]) {
				return 0, errf("element (%04X,%04X) at %d has no valid VR", t>>16, t&0xFFFF, off)
			}
			vr = string(b[off+4 : off+6])
			if dicomvr.LongLength(vr) {
				if end-off < 12 {
					return 0, errf("element header cut at %d", off)
				}
				length, hdr = e.order().Uint32(b[off+8:]), 12
			} else {
				length = uint32(e.order().Uint16(b[off+6:]))
			}
		} else {
			length = e.order().Uint32(b[off+4:])
		}
		off += hdr
		if length == undefinedLen {
			if t == tagPixelData && vr != "SQ" {
				next, err := skipFragments(b, off, end, e)
				if err != nil {
					return 0, err
				}
				if top {
					h.encaps, h.hasPix = b[off:next], true
				}
				off = next
				continue
			}
			ie := e
			if vr == "UN" {
				ie = enc{} // items of a UN sequence are implicit VR LE (PS3.5 6.2.2)
			}
			next, err := skipItems(b, off, end, ie, depth+1, true)
			if err != nil {
				return 0, err
			}
			off = next
			continue
		}
		if int64(length) > int64(end-off) {
			return 0, errf("element (%04X,%04X) declares %d bytes, %d left", t>>16, t&0xFFFF, length, end-off)
		}
		if top {
			switch {
			case t == tagPixelData:
				h.pixel, h.hasPix = b[off:off+int(length)], true
			case t>>16 == 0x0028:
				h.vals[t] = b[off : off+int(length)]
			}
		}
		off += int(length)
	}
	if untilItemEnd {
		return 0, errf("item without delimiter")
	}
	return off, nil
}

func skipItems(b []byte, off, end int, e enc, depth int, undef bool) (int, error) {
	for {
		if off == end && !undef {
			return off, nil
		}
		if end-off < 8 {
			return 0, errf("sequence cut at %d", off)
		}
		t := readTag(b, off, e)
		l := e.order().Uint32(b[off+4:])
		off += 8
		switch t {
		case tagSeqEnd:
			return off, nil
		case tagItem:
		default:
			return 0, errf("expected an item at %d", off-8)
		}
		if l == undefinedLen {
			next, err := walk(b, off, end, e, depth, true, nil)
			if err != nil {
				return 0, err
			}
			off = next
			continue
		}
		if int64(l) > int64(end-off) {
			return 0, errf("item at %d declares %d bytes, %d left", off-8, l, end-off)
		}
		off += int(l)
	}
}

func skipFragments(b []byte, off, end int, e enc) (int, error) {
	for {
		if end-off < 8 {
			return 0, errf("encapsulated data cut at %d", off)
		}
		t := readTag(b, off, e)
		l := e.order().Uint32(b[off+4:])
		off += 8
		switch t {
		case tagSeqEnd:
			return off, nil
		case tagItem:
			if l == undefinedLen || int64(l) > int64(end-off) {
				return 0, errf("fragment at %d declares %d bytes, %d left", off-8, l, end-off)
			}
			off += int(l)
		default:
			return 0, errf("expected a fragment at %d", off-8)
		}
	}
}

// fragments splits encapsulated pixel data into its Basic Offset Table
// and fragments. Items are always little endian (PS3.5 A.4).
func fragments(b []byte) (bot []uint32, frags [][]byte, fragOff []uint32, err error) {
	off := 0
	first := true
	for off+8 <= len(b) {
		t := readTag(b, off, enc{})
		l := binary.LittleEndian.Uint32(b[off+4:])
		if t == tagSeqEnd {
			break
		}
		if t != tagItem || int64(l) > int64(len(b)-off-8) {
			return nil, nil, nil, errf("bad fragment item at %d", off)
		}
		v := b[off+8 : off+8+int(l)]
		if first {
			for i := 0; i+4 <= len(v); i += 4 {
				bot = append(bot, binary.LittleEndian.Uint32(v[i:]))
			}
			first = false
			off += 8 + int(l)
			continue
		}
		frags = append(frags, v)
		fragOff = append(fragOff, uint32(off))
		off += 8 + int(l)
	}
	if first {
		return nil, nil, nil, errf("encapsulated pixel data without offset table")
	}
	// fragOff relative to the first fragment item after the table.
	if len(fragOff) > 0 {
		base := fragOff[0]
		for i := range fragOff {
			fragOff[i] -= base
		}
	}
	return bot, frags, fragOff, nil
}
