package dimse

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/bildbote/bildbote/internal/dicomvr"
)

// Tags of the Patient Module (PS3.3 C.7.1.1) that a patient-ID mapping
// touches.
const (
	tagPatientGroupLength      = 0x00100000
	tagPatientID               = 0x00100020
	tagIssuerOfPatientID       = 0x00100021
	tagTypeOfPatientID         = 0x00100022
	tagIssuerQualifiersSeq     = 0x00100024
	tagOtherPatientIDsSequence = 0x00101002
)

// MaxPatientIDLength is the most characters an LO value (Patient ID) holds.
const MaxPatientIDLength = 64

// ErrDeflated: a deflated data set that cannot be rewritten: it does not
// inflate, or inflates to more than 1 GiB.
var ErrDeflated = errors.New("dimse: deflated data set: patient ID not rewritten")

// ErrBadPatientID: the new patient ID is not a valid LO value.
var ErrBadPatientID = errors.New("dimse: patient ID is not a valid LO value")

// ValidPatientID reports why id cannot be written into Patient ID
// (0010,0020): empty, longer than 64 characters, or holding a character
// outside printable ASCII or a backslash (the value separator). Only ASCII
// is taken because it reads the same under every Specific Character Set an
// instance may declare. Leading and trailing spaces are not significant in
// LO and are trimmed by the caller.
func ValidPatientID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: empty", ErrBadPatientID)
	case len(id) > MaxPatientIDLength:
		return fmt.Errorf("%w: %d characters, at most %d", ErrBadPatientID, len(id), MaxPatientIDLength)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < 0x20 || c > 0x7E || c == '\\' {
			return fmt.Errorf("%w: character %q at %d", ErrBadPatientID, rune(c), i+1)
		}
	}
	return nil
}

// PatientIDRewrite is what RewritePatientID did.
type PatientIDRewrite struct {
	// Original is the Patient ID the instance had (trimmed), "" if none.
	Original string
	// Changed is false when the instance already had the new ID (nothing
	// to do: the output is the input).
	Changed bool
}

// RewritePatientID gives a DICOM Part 10 file (file: all its bytes) the
// patient ID id in Patient ID (0010,0020). The original Patient ID is kept
// as a new last item of Other Patient IDs Sequence (0010,1002) — with its
// Issuer of Patient ID (0010,0021) and Issuer of Patient ID Qualifiers
// Sequence (0010,0024), moved from the top level, where they described the
// original ID, and Type of Patient ID (0010,0022) TEXT; an existing
// sequence keeps its items. Only group 0010 of the top-level data set
// changes: the file meta information and every other byte are copied as
// they are (pixel data, compressed or not, included). The data set keeps
// its encoding (implicit or explicit VR, little or big endian), values
// are padded to even length and a group length (0010,0000) is recomputed.
// A deflated data set (Deflated Explicit VR Little Endian) is inflated,
// rewritten as explicit VR little endian and deflated again (the file
// meta information unchanged); one that does not inflate (or to more than
// 1 GiB) is ErrDeflated. A malformed data set is an error.
func RewritePatientID(file []byte, id string) ([]byte, PatientIDRewrite, error) {
	if start, ts, err := metaEnd(file); err == nil && ts == DeflatedExplicitVRLE {
		return rewriteDeflated(file, start, id)
	}
	head, rest, _, res, err := rewriteHead(file, id)
	if err != nil {
		return nil, res, err
	}
	if !res.Changed {
		return file, res, nil
	}
	return append(head, file[rest:]...), res, nil
}

// rewriteHead rewrites the start of a Part 10 file (file may be only its
// first bytes): it returns the new bytes up to the end of group 0010,
// where in file the unchanged rest begins, and whether that end was seen
// (an element of a later group, or the end of file).
func rewriteHead(file []byte, id string) ([]byte, int, bool, PatientIDRewrite, error) {
	if err := ValidPatientID(id); err != nil {
		return nil, 0, false, PatientIDRewrite{}, err
	}
	start, ts, err := metaEnd(file)
	if err != nil {
		return nil, 0, false, PatientIDRewrite{}, err
	}
	if ts == DeflatedExplicitVRLE {
		// Only as a whole (RewritePatientID): the prefix of a deflate
		// stream is no data set.
		return nil, 0, false, PatientIDRewrite{}, ErrDeflated
	}
	return rewriteDataSet(file, start, ts, id)
}

// rewriteDeflated is RewritePatientID for a deflated data set at
// file[start:] (raw deflate, PS3.5 A.5).
func rewriteDeflated(file []byte, start int, id string) ([]byte, PatientIDRewrite, error) {
	if err := ValidPatientID(id); err != nil {
		return nil, PatientIDRewrite{}, err
	}
	raw, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(file[start:])), maxInflated+1))
	if err == nil && len(raw) > maxInflated {
		err = fmt.Errorf("inflates to more than %d bytes", maxInflated)
	}
	if err != nil {
		return nil, PatientIDRewrite{}, fmt.Errorf("%w: %w", ErrDeflated, err)
	}
	plain := append(append(make([]byte, 0, start+len(raw)), file[:start]...), raw...)
	head, rest, _, res, err := rewriteDataSet(plain, start, ExplicitVRLittleEndian, id)
	if err != nil || !res.Changed {
		if err == nil {
			return file, res, nil
		}
		return nil, res, err
	}
	var out bytes.Buffer
	out.Grow(start + len(raw)/2)
	out.Write(file[:start])
	w, err := flate.NewWriter(&out, flate.DefaultCompression)
	if err != nil {
		return nil, res, err
	}
	w.Write(head[start:])
	w.Write(plain[rest:])
	if err := w.Close(); err != nil {
		return nil, res, err
	}
	return out.Bytes(), res, nil
}

// rewriteDataSet is rewriteHead for the data set at file[start:] in
// transfer syntax ts (not deflated).
func rewriteDataSet(file []byte, start int, ts, id string) ([]byte, int, bool, PatientIDRewrite, error) {
	e := dsEncoding{explicit: true}
	switch ts {
	case ImplicitVRLittleEndian:
		e.explicit = false
	case ExplicitVRBigEndian:
		e.big = true
	}
	if !e.big && start+6 <= len(file) && !isVRBytes(file[start+4:]) {
		e.explicit = false // meta says explicit, the data is implicit (they exist)
	}
	ds := file[start:]
	// Walk the top level up to the end of group 0010.
	var elems []rawElem
	pos, end, sawEnd := 0, len(ds), false
	for pos < len(ds) {
		if len(ds)-pos >= 4 && (converter{big: e.big}).tagAt(ds[pos:])>>16 > 0x0010 {
			end, sawEnd = pos, true // before reading its length: ds may be a prefix
			break
		}
		el, err := e.element(ds, pos)
		if err != nil {
			return nil, 0, false, PatientIDRewrite{}, err
		}
		if el.tag>>16 > 0x0010 {
			end, sawEnd = pos, true
			break
		}
		if el.tag>>16 == 0x0010 {
			elems = append(elems, el)
		} else if len(elems) > 0 {
			return nil, 0, false, PatientIDRewrite{}, fmt.Errorf("dimse: element (%04X,%04X) after group 0010: elements not in ascending order", el.tag>>16, el.tag&0xFFFF)
		}
		pos += el.len
	}
	first := end // where group 0010 begins (or would begin)
	if len(elems) > 0 {
		first = elems[0].start
	}
	var res PatientIDRewrite
	byTag := map[uint32]rawElem{}
	for _, el := range elems {
		byTag[el.tag] = el
	}
	if pid, ok := byTag[tagPatientID]; ok {
		res.Original = strings.Trim(string(ds[pid.start+pid.hdr:pid.start+pid.len]), " \x00")
	}
	if res.Original == id {
		return nil, start + end, sawEnd, res, nil
	}
	res.Changed = true
	var pieces []piece
	var groupLength *rawElem
	for i := range elems {
		el := elems[i]
		switch el.tag {
		case tagPatientGroupLength:
			groupLength = &elems[i]
		case tagPatientID, tagIssuerOfPatientID, tagIssuerQualifiersSeq, tagOtherPatientIDsSequence:
			// rebuilt below
		default:
			pieces = append(pieces, piece{el.tag, ds[el.start : el.start+el.len]})
		}
	}
	pieces = append(pieces, piece{tagPatientID, e.appendShort(nil, tagPatientID, "LO", padded(id))})
	if res.Original != "" {
		var item []byte
		for _, tag := range []uint32{tagPatientID, tagIssuerOfPatientID} {
			if el, ok := byTag[tag]; ok {
				item = append(item, ds[el.start:el.start+el.len]...)
			}
		}
		item = e.appendShort(item, tagTypeOfPatientID, "CS", []byte("TEXT"))
		if el, ok := byTag[tagIssuerQualifiersSeq]; ok {
			item = append(item, ds[el.start:el.start+el.len]...)
		}
		var items []byte
		if el, ok := byTag[tagOtherPatientIDsSequence]; ok {
			if e.explicit && el.vr != "SQ" {
				return nil, 0, false, res, fmt.Errorf("dimse: Other Patient IDs Sequence (0010,1002) has VR %s, not SQ", el.vr)
			}
			items = ds[el.start+el.hdr : el.start+el.len]
			if el.undefined {
				items = items[:len(items)-8] // the sequence delimiter
			}
		}
		seq := append(append([]byte(nil), items...), e.appendItemHeader(nil, uint32(len(item)))...)
		seq = append(seq, item...)
		pieces = append(pieces, piece{tagOtherPatientIDsSequence, append(e.appendLong(nil, tagOtherPatientIDsSequence, "SQ", uint32(len(seq))), seq...)})
	} else if el, ok := byTag[tagOtherPatientIDsSequence]; ok {
		pieces = append(pieces, piece{el.tag, ds[el.start : el.start+el.len]})
	}
	sort.SliceStable(pieces, func(i, j int) bool { return pieces[i].tag < pieces[j].tag })
	var group []byte
	for _, p := range pieces {
		group = append(group, p.b...)
	}
	out := make([]byte, 0, start+first+len(group)+64)
	out = append(out, file[:start+first]...)
	if groupLength != nil {
		out = append(out, ds[groupLength.start:groupLength.start+groupLength.hdr]...)
		out = e.order().AppendUint32(out, uint32(len(group)))
	}
	out = append(out, group...)
	return out, start + end, sawEnd, res, nil
}

// headRead is how much of a file RewritePatientIDFile reads first: group
// 0010 normally ends well within it, and the rest (pixel data) is copied
// without being held in memory.
const headRead = 1 << 20

// RewritePatientIDFile is RewritePatientID from the file src to dst
// (written with mode 0600; dst is src's copy when nothing changes). Only
// the start of src is held in memory unless group 0010 ends beyond it.
func RewritePatientIDFile(src, dst, id string) (PatientIDRewrite, error) {
	f, err := os.Open(src)
	if err != nil {
		return PatientIDRewrite{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return PatientIDRewrite{}, err
	}
	prefix := make([]byte, min(st.Size(), headRead))
	if _, err := io.ReadFull(f, prefix); err != nil {
		return PatientIDRewrite{}, err
	}
	head, rest, sawEnd, res, err := rewriteHead(prefix, id)
	if int64(len(prefix)) == st.Size() || err != nil || !sawEnd {
		// All of it at once (a small file, or group 0010 not within the
		// prefix: a huge private element before it).
		b, err := os.ReadFile(src)
		if err != nil {
			return PatientIDRewrite{}, err
		}
		out, res, err := RewritePatientID(b, id)
		if err != nil {
			return res, fmt.Errorf("%s: %w", src, err)
		}
		return res, os.WriteFile(dst, out, 0o600)
	}
	if !res.Changed {
		head, rest = nil, 0
	}
	w, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return res, err
	}
	_, err = w.Write(append(head, prefix[rest:]...))
	if err == nil {
		_, err = io.Copy(w, f)
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	return res, err
}

type piece struct {
	tag uint32
	b   []byte
}

// rawElem is one top-level element: where it starts in the data set, its
// header and total length.
type rawElem struct {
	tag        uint32
	vr         string
	start, hdr int
	len        int
	undefined  bool
}

// dsEncoding is a data set's encoding.
type dsEncoding struct{ big, explicit bool }

func (e dsEncoding) order() binary.AppendByteOrder {
	if e.big {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

// element reads the element at pos of ds: its header and how long it is
// (sequences of undefined length through their delimiter).
func (e dsEncoding) element(ds []byte, pos int) (rawElem, error) {
	c := converter{big: e.big, explicit: true}
	if len(ds)-pos < 8 {
		return rawElem{}, fmt.Errorf("dimse: element header cut at offset %d", pos)
	}
	el := rawElem{tag: c.tagAt(ds[pos:]), start: pos, hdr: 8}
	var n uint32
	if e.explicit {
		if !isVRBytes(ds[pos+4:]) {
			return rawElem{}, fmt.Errorf("dimse: element (%04X,%04X) at offset %d has no VR", el.tag>>16, el.tag&0xFFFF, pos)
		}
		el.vr = string(ds[pos+4 : pos+6])
		if dicomvr.LongLength(el.vr) {
			if len(ds)-pos < 12 {
				return rawElem{}, fmt.Errorf("dimse: element header cut at offset %d", pos)
			}
			n, el.hdr = c.u32(ds[pos+8:]), 12
		} else {
			n = uint32(c.u16(ds[pos+6:]))
		}
	} else {
		n = c.u32(ds[pos+4:])
	}
	body := ds[pos+el.hdr:]
	if n != undefinedLength {
		if uint64(n) > uint64(len(body)) {
			return rawElem{}, fmt.Errorf("dimse: element (%04X,%04X) length %d past the end", el.tag>>16, el.tag&0xFFFF, n)
		}
		el.len = el.hdr + int(n)
		return el, nil
	}
	el.undefined = true
	var used int
	var err error
	switch {
	case e.explicit && el.vr == "SQ":
		_, used, err = c.convertItems(body, true, 1)
	case !e.explicit || (el.vr == "UN" && !e.big):
		used, err = implicitSequenceLength(body, 1)
	default:
		err = fmt.Errorf("%s of undefined length", el.vr)
	}
	if err != nil {
		return rawElem{}, fmt.Errorf("dimse: element (%04X,%04X): %w", el.tag>>16, el.tag&0xFFFF, err)
	}
	el.len = el.hdr + used
	return el, nil
}

func (e dsEncoding) appendTag(out []byte, tag uint32) []byte {
	o := e.order()
	out = o.AppendUint16(out, uint16(tag>>16))
	return o.AppendUint16(out, uint16(tag))
}

// appendShort appends an element of a short VR (LO, CS) with value v.
func (e dsEncoding) appendShort(out []byte, tag uint32, vr string, v []byte) []byte {
	out = e.appendTag(out, tag)
	if e.explicit {
		out = append(out, vr...)
		out = e.order().AppendUint16(out, uint16(len(v)))
	} else {
		out = e.order().AppendUint32(out, uint32(len(v)))
	}
	return append(out, v...)
}

// appendLong appends the header of an element of a long VR (SQ).
func (e dsEncoding) appendLong(out []byte, tag uint32, vr string, n uint32) []byte {
	out = e.appendTag(out, tag)
	if e.explicit {
		out = append(out, vr...)
		out = append(out, 0, 0)
	}
	return e.order().AppendUint32(out, n)
}

func (e dsEncoding) appendItemHeader(out []byte, n uint32) []byte {
	out = e.appendTag(out, tagItem)
	return e.order().AppendUint32(out, n)
}

// padded is v with a trailing space when its length is odd.
func padded(v string) []byte {
	b := []byte(v)
	if len(b)%2 == 1 {
		b = append(b, ' ')
	}
	return b
}

// metaEnd returns where the data set of a Part 10 file starts and its
// transfer syntax (from the file meta information).
func metaEnd(p []byte) (int, string, error) {
	if len(p) < 132 || string(p[128:132]) != "DICM" {
		return 0, "", errNotPart10
	}
	pos, ts := 132, ""
	for pos+8 <= len(p) && binary.LittleEndian.Uint16(p[pos:]) == 0x0002 {
		if !isVRBytes(p[pos+4:]) {
			return 0, "", fmt.Errorf("file meta information not in explicit VR: %w", errNotPart10)
		}
		elem, vr := binary.LittleEndian.Uint16(p[pos+2:]), string(p[pos+4:pos+6])
		n, hdr := int(binary.LittleEndian.Uint16(p[pos+6:])), 8
		if dicomvr.LongLength(vr) {
			if pos+12 > len(p) {
				return 0, "", errNotPart10
			}
			n, hdr = int(binary.LittleEndian.Uint32(p[pos+8:])), 12
		}
		if n < 0 || pos+hdr+n > len(p) {
			return 0, "", fmt.Errorf("file meta element (0002,%04X) runs past the end: %w", elem, errNotPart10)
		}
		if elem == 0x0010 {
			ts = strings.TrimRight(string(p[pos+hdr:pos+hdr+n]), "\x00 ")
		}
		pos += hdr + n
	}
	if ts == "" {
		return 0, "", fmt.Errorf("no transfer syntax in the file meta information: %w", errNotPart10)
	}
	return pos, ts, nil
}
