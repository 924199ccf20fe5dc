package deid

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/klauspost/compress/flate"

	"github.com/bildbote/bildbote/internal/dicomvr"
)

// Transfer syntaxes whose data set encoding differs from explicit VR
// little endian.
const (
	tsImplicitLE = "1.2.840.10008.1.2"
	tsExplicitLE = "1.2.840.10008.1.2.1"
	tsDeflated   = "1.2.840.10008.1.2.1.99"
	tsExplicitBE = "1.2.840.10008.1.2.2"
)

// ErrMalformed is returned (wrapped) for a file that is not a DICOM file
// the engine can rewrite safely.
var ErrMalformed = errors.New("malformed DICOM file")

const (
	maxDepth   = 64 // nesting of sequences
	tagItem    = uint32(0xFFFEE000)
	tagItemEnd = uint32(0xFFFEE00D)
	tagSeqEnd  = uint32(0xFFFEE0DD)
	undefined  = uint32(0xFFFFFFFF)
)

// enc is how a data set is encoded.
type enc struct {
	explicit, big bool
}

func (e enc) order() binary.ByteOrder {
	if e.big {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

func encOf(ts string) enc {
	switch ts {
	case tsImplicitLE:
		return enc{}
	case tsExplicitBE:
		return enc{explicit: true, big: true}
	}
	return enc{explicit: true}
}

// element is one data element. Values are kept as the bytes read (in the
// data set's byte order), so what the engine does not change is written
// back byte for byte.
type element struct {
	tag   uint32
	vr    string // as read (explicit) or from PS3.6 (implicit); "UN" when unknown
	value []byte
	// isSQ: a sequence; items hold its items.
	isSQ  bool
	items []*dataset
	// encapsulated: an undefined-length value that is not a sequence
	// (encapsulated pixel data): value holds its items and the sequence
	// delimitation item, verbatim.
	encapsulated bool
	// unSQ: a sequence read from an undefined-length UN element, whose
	// items are implicit VR little endian (PS3.5 6.2.2).
	unSQ bool
}

type dataset struct {
	elems []*element
	enc   enc
}

type parser struct {
	buf []byte
}

func (p *parser) errf(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, a...)...)
}

// readTag reads a tag at off.
func readTag(b []byte, off int, e enc) uint32 {
	o := e.order()
	return uint32(o.Uint16(b[off:]))<<16 | uint32(o.Uint16(b[off+2:]))
}

func validVR(b []byte) bool {
	return len(b) >= 2 && b[0] >= 'A' && b[0] <= 'Z' && b[1] >= 'A' && b[1] <= 'Z'
}

// parseDataset parses b[off:end] as a data set. With untilItemEnd it stops
// after an item delimitation item and returns the offset after it.
func (p *parser) parseDataset(off, end int, e enc, depth int, untilItemEnd bool) (*dataset, int, error) {
	if depth > maxDepth {
		return nil, 0, p.errf("sequences nested deeper than %d", maxDepth)
	}
	b := p.buf
	ds := &dataset{enc: e}
	for off < end {
		if end-off < 8 {
			// Trailing bytes shorter than an element header: some writers
			// pad files; nothing to keep.
			if untilItemEnd {
				return nil, 0, p.errf("item ends inside an element header at %d", off)
			}
			return ds, end, nil
		}
		t := readTag(b, off, e)
		if t == tagItemEnd {
			if !untilItemEnd {
				return nil, 0, p.errf("stray item delimiter at %d", off)
			}
			return ds, off + 8, nil
		}
		if t == tagSeqEnd || t == tagItem {
			return nil, 0, p.errf("stray item tag (%04X,%04X) at %d", t>>16, t&0xFFFF, off)
		}
		el := &element{tag: t}
		var length uint32
		hdr := 8
		if e.explicit {
			if !validVR(b[off+4:]) {
				return nil, 0, p.errf("element (%04X,%04X) at %d has no valid VR", t>>16, t&0xFFFF, off)
			}
			el.vr = string(b[off+4 : off+6])
			if dicomvr.LongLength(el.vr) {
				if end-off < 12 {
					return nil, 0, p.errf("element header cut at %d", off)
				}
				length = e.order().Uint32(b[off+8:])
				hdr = 12
			} else {
				length = uint32(e.order().Uint16(b[off+6:]))
			}
		} else {
			length = e.order().Uint32(b[off+4:])
			el.vr = vrOf(t)
			if el.vr == "" {
				el.vr = "UN"
			}
		}
		off += hdr
		if length == undefined {
			switch {
			case el.vr == "SQ" || (el.vr == "UN" && (e.explicit || t != 0x7FE00010)):
				el.isSQ = true
				itemEnc := e
				if el.vr == "UN" {
					if e.explicit {
						el.unSQ = true // items are implicit VR little endian
						itemEnc = enc{}
					} else {
						el.vr = "SQ"
					}
				}
				items, next, err := p.parseItems(off, end, itemEnc, depth+1, true)
				if err != nil {
					return nil, 0, fmt.Errorf("(%04X,%04X): %w", t>>16, t&0xFFFF, err)
				}
				el.items, off = items, next
			default:
				next, err := p.skipEncapsulated(off, end, e)
				if err != nil {
					return nil, 0, fmt.Errorf("(%04X,%04X): %w", t>>16, t&0xFFFF, err)
				}
				if el.vr == "UN" {
					el.vr = "OB"
				}
				el.encapsulated = true
				el.value = b[off:next]
				off = next
			}
			ds.elems = append(ds.elems, el)
			continue
		}
		if int64(length) > int64(end-off) {
			return nil, 0, p.errf("element (%04X,%04X) at %d declares %d bytes, %d left", t>>16, t&0xFFFF, off-hdr, length, end-off)
		}
		vend := off + int(length)
		switch {
		case el.vr == "SQ":
			items, _, err := p.parseItems(off, vend, e, depth+1, false)
			if err != nil {
				return nil, 0, fmt.Errorf("(%04X,%04X): %w", t>>16, t&0xFFFF, err)
			}
			el.isSQ, el.items = true, items
		case e.explicit && el.vr == "UN" && length >= 8 && (vrOf(t) == "SQ" || vrOf(t) == "" && readTag(b, off, enc{}) == tagItem):
			// A sequence written as UN by a converter (its items are
			// implicit VR little endian, PS3.5 6.2.2).
			if items, _, err := p.parseItems(off, vend, enc{}, depth+1, false); err == nil {
				el.isSQ, el.items, el.unSQ = true, items, true
			} else {
				el.value = b[off:vend]
			}
		case !e.explicit && el.vr == "UN" && length >= 8 && readTag(b, off, e) == tagItem:
			// An implicit VR sequence the dictionary does not know.
			if items, _, err := p.parseItems(off, vend, e, depth+1, false); err == nil {
				el.isSQ, el.items, el.vr = true, items, "SQ"
			} else {
				el.value = b[off:vend]
			}
		default:
			el.value = b[off:vend]
		}
		off = vend
		ds.elems = append(ds.elems, el)
	}
	if untilItemEnd {
		return nil, 0, p.errf("item without delimiter")
	}
	return ds, off, nil
}

// parseItems parses the items of a sequence from off; with undef it reads
// up to the sequence delimiter and returns the offset after it.
func (p *parser) parseItems(off, end int, e enc, depth int, undef bool) ([]*dataset, int, error) {
	b := p.buf
	var items []*dataset
	for {
		if off == end && !undef {
			return items, off, nil
		}
		if end-off < 8 {
			return nil, 0, p.errf("sequence cut at %d", off)
		}
		t := readTag(b, off, e)
		l := e.order().Uint32(b[off+4:])
		off += 8
		switch t {
		case tagSeqEnd:
			if !undef {
				return nil, 0, p.errf("sequence delimiter in a sequence of defined length")
			}
			return items, off, nil
		case tagItem:
		default:
			return nil, 0, p.errf("expected an item at %d, found (%04X,%04X)", off-8, t>>16, t&0xFFFF)
		}
		if l == undefined {
			ds, next, err := p.parseDataset(off, end, e, depth, true)
			if err != nil {
				return nil, 0, err
			}
			items, off = append(items, ds), next
			continue
		}
		if int64(l) > int64(end-off) {
			return nil, 0, p.errf("item at %d declares %d bytes, %d left", off-8, l, end-off)
		}
		ds, _, err := p.parseDataset(off, off+int(l), e, depth, false)
		if err != nil {
			return nil, 0, err
		}
		items, off = append(items, ds), off+int(l)
	}
}

// skipEncapsulated walks the fragments of encapsulated pixel data from off
// and returns the offset after its sequence delimitation item.
func (p *parser) skipEncapsulated(off, end int, e enc) (int, error) {
	b := p.buf
	for {
		if end-off < 8 {
			return 0, p.errf("encapsulated data cut at %d", off)
		}
		t := readTag(b, off, e)
		l := e.order().Uint32(b[off+4:])
		off += 8
		switch t {
		case tagSeqEnd:
			return off, nil
		case tagItem:
			if l == undefined || int64(l) > int64(end-off) {
				return 0, p.errf("fragment at %d declares %d bytes, %d left", off-8, l, end-off)
			}
			off += int(l)
		default:
			return 0, p.errf("expected a fragment at %d, found (%04X,%04X)", off-8, t>>16, t&0xFFFF)
		}
	}
}

// file is a parsed Part 10 file.
type file struct {
	meta    []*element // group 0002, explicit VR little endian
	ts      string
	ds      *dataset
	hadMeta bool
}

var inflaterPool = sync.Pool{New: func() any { return flate.NewReader(bytes.NewReader(nil)) }}

// maxInflateRatio bounds a deflated data set: deflate cannot exceed about
// 1032:1, so more output than this is not a deflate stream we accept.
const maxInflateRatio = 1100

func parseFile(b []byte) (*file, error) {
	f := &file{}
	off := 0
	if len(b) >= 132 && string(b[128:132]) == "DICM" {
		off = 132
	}
	// File Meta Information (explicit VR little endian; some old writers
	// used implicit VR).
	mp := &parser{buf: b}
	le := enc{explicit: true}
	for len(b)-off >= 8 && binary.LittleEndian.Uint16(b[off:]) == 0x0002 {
		t := readTag(b, off, le)
		var l uint32
		hdr := 8
		vr := ""
		if validVR(b[off+4:]) {
			vr = string(b[off+4 : off+6])
			if dicomvr.LongLength(vr) {
				if len(b)-off < 12 {
					return nil, mp.errf("meta element cut")
				}
				l, hdr = binary.LittleEndian.Uint32(b[off+8:]), 12
			} else {
				l = uint32(binary.LittleEndian.Uint16(b[off+6:]))
			}
		} else {
			l = binary.LittleEndian.Uint32(b[off+4:])
			vr = vrOf(t)
		}
		if int64(l) > int64(len(b)-off-hdr) {
			return nil, mp.errf("meta element (0002,%04X) declares %d bytes", t&0xFFFF, l)
		}
		v := b[off+hdr : off+hdr+int(l)]
		f.meta = append(f.meta, &element{tag: t, vr: vr, value: v})
		if t == 0x00020010 {
			f.ts = trimUID(v)
		}
		off += hdr + int(l)
		f.hadMeta = true
	}
	if off == 0 && !looksLikeDataSet(b) {
		return nil, fmt.Errorf("%w: neither a DICOM Part 10 file nor a data set", ErrMalformed)
	}
	body := b[off:]
	if f.ts == "" {
		f.ts = sniffTS(body)
	}
	if f.ts == tsDeflated {
		limit := int64(len(body))*maxInflateRatio + 1<<20
		r := inflaterPool.Get().(io.ReadCloser)
		defer inflaterPool.Put(r)
		if err := r.(flate.Resetter).Reset(bytes.NewReader(body), nil); err != nil {
			return nil, fmt.Errorf("%w: inflating the data set: %v", ErrMalformed, err)
		}
		var out bytes.Buffer
		out.Grow(min(4*len(body), int(limit)))
		n, err := io.Copy(&out, io.LimitReader(r, limit+1))
		if err != nil {
			return nil, fmt.Errorf("%w: inflating the data set: %v", ErrMalformed, err)
		}
		if n > limit {
			return nil, fmt.Errorf("%w: deflated data set inflates beyond %d bytes", ErrMalformed, limit)
		}
		body = out.Bytes()
	}
	e := encOf(f.ts)
	// A file whose meta says explicit VR but whose data set is implicit
	// (seen in the wild): read what is there.
	if e.explicit && !e.big && len(body) >= 6 && !validVR(body[4:]) {
		e = enc{}
	}
	p := &parser{buf: body}
	ds, _, err := p.parseDataset(0, len(body), e, 0, false)
	if err != nil {
		return nil, err
	}
	f.ds = ds
	return f, nil
}

func trimUID(v []byte) string {
	return strings.TrimRight(string(v), "\x00 ")
}

// looksLikeDataSet reports whether b plausibly starts a bare data set: an
// even group of 0008 or below, little or big endian.
func looksLikeDataSet(b []byte) bool {
	if len(b) < 8 {
		return false
	}
	le := binary.LittleEndian.Uint16(b)
	be := binary.BigEndian.Uint16(b)
	return le <= 0x0008 && le%2 == 0 || be <= 0x0008 && be%2 == 0 && be != 0
}

func sniffTS(b []byte) string {
	if len(b) < 8 {
		return tsImplicitLE
	}
	le := binary.LittleEndian.Uint16(b)
	switch {
	case le > 0x0008 && binary.BigEndian.Uint16(b) <= 0x0008:
		return tsExplicitBE
	case validVR(b[4:]):
		return tsExplicitLE
	}
	return tsImplicitLE
}

func (f *file) isDICOMDIR() bool {
	for _, el := range f.meta {
		if el.tag == 0x00020002 && trimUID(el.value) == "1.2.840.10008.1.3.10" {
			return true
		}
	}
	for _, el := range f.ds.elems {
		if el.tag == 0x00041220 {
			return true
		}
	}
	return false
}
