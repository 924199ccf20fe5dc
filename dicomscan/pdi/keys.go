package pdi

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/klauspost/compress/flate"

	"github.com/bildbote/bildbote/internal/dicomvr"
)

// Leaf records other than IMAGE need keys the Index does not hold (an SR's
// Completion Flag, an RT Plan's label...). They are read from the file's
// data set with the small reader below: top-level elements only, up to the
// last key tag, values of at most maxKeyValue bytes, nested sequences
// skipped (except the first item of the Concept Name Code Sequence).

const (
	maxKeyValue     = 16 << 10
	maxNesting      = 32
	undefinedLength = 0xFFFFFFFF
	lastKeyTag      = tagRTPlanTime
	maxInflated     = 8 << 20
)

// keyVR are the VRs of the tags read, for implicit VR data sets.
var keyVR = map[tag]string{
	tagSpecificCharacterSet: "CS", tagSOPClassUID: "UI", tagContentDate: "DA", tagContentTime: "TM",
	tagCodeValue: "SH", tagCodingSchemeDesig: "SH", tagCodingSchemeVersion: "SH", tagCodeMeaning: "LO",
	tagModality: "CS", tagInstanceNumber: "IS", tagDocumentTitle: "ST", tagMIMETypeEncapsulated: "LO",
	tagContentLabel: "CS", tagContentDescription: "LO", tagPresentationDate: "DA", tagPresentationTime: "TM",
	tagContentCreatorName: "PN", tagStructureSetLabel: "SH", tagStructureSetDate: "DA", tagStructureSetTime: "TM",
	tagDoseSummationType: "CS", tagRTPlanLabel: "SH", tagRTPlanDate: "DA", tagRTPlanTime: "TM",
	tagTreatmentDate: "DA", tagTreatmentTime: "TM", tagConceptNameCodeSeq: "SQ", tagCompletionFlag: "CS",
	tagVerificationFlag: "CS", tagVerificationDateTime: "DT", tagVerifyingObserverSeq: "SQ",
}

// datasetKeys are the values read: text as UTF-8, plus the first Concept
// Name Code item.
type datasetKeys struct {
	values      map[tag]string
	conceptName map[tag]string
}

type dsReader struct {
	r        io.Reader
	bo       binary.ByteOrder
	explicit bool
	pos      int64
	size     int64 // bytes available (the file size), a bound for lengths
	scratch  [8]byte
}

var errStop = errors.New("stop")

// readDatasetKeys reads the key tags from a data set in transfer syntax ts
// (r is positioned after the meta information; size bounds every length).
func readDatasetKeys(r *bufio.Reader, ts string, size int64) (*datasetKeys, error) {
	d := &dsReader{r: r, bo: binary.LittleEndian, explicit: true, size: size}
	switch ts {
	case uidImplicitVRLE:
		d.explicit = false
	case uidExplicitVRBE:
		d.bo = binary.BigEndian
	case uidDeflatedExplicitVRLE:
		fr := flate.NewReader(r)
		defer fr.Close()
		// a few bytes can inflate to gigabytes: the keys sit near the
		// start, so stop after maxInflated bytes
		d.r, d.size = fr, maxInflated
	}
	k := &datasetKeys{values: map[tag]string{}}
	raw := map[tag][]byte{}
	err := d.walk(func(t tag, vr string, length uint32) error {
		if t > lastKeyTag {
			return errStop
		}
		if t == tagConceptNameCodeSeq && k.conceptName == nil {
			items, err := d.readSequence(length)
			if err != nil {
				return err
			}
			if len(items) > 0 {
				k.conceptName = map[tag]string{}
				for it, v := range items[0] {
					k.conceptName[it] = string(v)
				}
			}
			return nil
		}
		if t == tagVerifyingObserverSeq {
			// the latest Verification DateTime of the observers (F.5.23)
			items, err := d.readSequence(length)
			for _, it := range items {
				if v := it[tagVerificationDateTime]; string(v) > string(raw[tagVerificationDateTime]) {
					raw[tagVerificationDateTime] = v
				}
			}
			return err
		}
		if _, want := keyVR[t]; want && length != undefinedLength && length <= maxKeyValue {
			v, err := d.next(int(length))
			raw[t] = v
			return err
		}
		return d.skipValue(length, 0)
	})
	if err != nil && err != errStop {
		return nil, err
	}
	cs := strings.TrimSpace(string(raw[tagSpecificCharacterSet]))
	for t, v := range raw {
		k.values[t] = decodeText(v, cs, keyVR[t])
	}
	for t, v := range k.conceptName {
		k.conceptName[t] = decodeText([]byte(v), cs, keyVR[t])
	}
	return k, nil
}

// walk calls fn for each top-level element header; fn must consume or
// skip the value.
func (d *dsReader) walk(fn func(t tag, vr string, length uint32) error) error {
	for {
		t, vr, length, err := d.header()
		if err == io.EOF {
			return nil // the data set ended cleanly
		}
		if err != nil {
			return err
		}
		if err := fn(t, vr, length); err != nil {
			return err
		}
	}
}

// header reads an element or item header.
func (d *dsReader) header() (tag, string, uint32, error) {
	b, err := d.small(4)
	if err != nil {
		return 0, "", 0, err
	}
	t := tag(uint32(d.bo.Uint16(b))<<16 | uint32(d.bo.Uint16(b[2:])))
	if t.group() == 0xFFFE || !d.explicit {
		lb, err := d.small(4)
		if err != nil {
			return 0, "", 0, err
		}
		vr := keyVR[t]
		if vr == "" {
			vr = "UN"
		}
		return t, vr, d.bo.Uint32(lb), nil
	}
	vb, err := d.small(2)
	if err != nil {
		return 0, "", 0, err
	}
	vr := string(vb)
	if dicomvr.LongLength(vr) || !isVR(vr) {
		lb, err := d.small(6)
		if err != nil {
			return 0, "", 0, err
		}
		return t, vr, d.bo.Uint32(lb[2:]), nil
	}
	lb, err := d.small(2)
	if err != nil {
		return 0, "", 0, err
	}
	return t, vr, uint32(d.bo.Uint16(lb)), nil
}

// readSequence returns the simple values of each item of a sequence
// (nested sequences skipped).
func (d *dsReader) readSequence(length uint32) ([]map[tag][]byte, error) {
	end := d.pos + int64(length)
	var items []map[tag][]byte
	for length == undefinedLength || d.pos < end {
		t, _, ilen, err := d.header()
		if err != nil {
			return nil, err
		}
		if t == 0xFFFEE0DD {
			break
		}
		if t != 0xFFFEE000 {
			return nil, fmt.Errorf("sequence: %v where an item belongs", t)
		}
		item := map[tag][]byte{}
		iend := d.pos + int64(ilen)
		for ilen == undefinedLength || d.pos < iend {
			et, _, elen, err := d.header()
			if err != nil {
				return nil, err
			}
			if et == 0xFFFEE00D {
				break
			}
			if _, want := keyVR[et]; want && elen != undefinedLength && elen <= maxKeyValue {
				if item[et], err = d.next(int(elen)); err != nil {
					return nil, err
				}
				continue
			}
			if err := d.skipValue(elen, 1); err != nil {
				return nil, err
			}
		}
		items = append(items, item)
	}
	return items, nil
}

// skipValue skips a value; an undefined length is a sequence (or
// encapsulated pixel data) whose items are walked to find its end.
func (d *dsReader) skipValue(length uint32, depth int) error {
	if length != undefinedLength {
		return d.discard(int64(length))
	}
	if depth > maxNesting {
		return errors.New("sequences nested too deep")
	}
	for {
		t, _, ilen, err := d.header()
		if err != nil {
			return err
		}
		switch t {
		case 0xFFFEE0DD:
			return nil
		case 0xFFFEE000:
			if ilen != undefinedLength {
				if err := d.discard(int64(ilen)); err != nil {
					return err
				}
				continue
			}
			if err := d.skipItem(depth + 1); err != nil {
				return err
			}
		default:
			return fmt.Errorf("sequence: %v where an item belongs", t)
		}
	}
}

func (d *dsReader) skipItem(depth int) error {
	for {
		t, _, length, err := d.header()
		if err != nil {
			return err
		}
		if t == 0xFFFEE00D {
			return nil
		}
		if err := d.skipValue(length, depth); err != nil {
			return err
		}
	}
}

// small reads n <= 8 bytes into a scratch buffer (headers: no allocation).
func (d *dsReader) small(n int) ([]byte, error) {
	if d.pos == d.size {
		return nil, io.EOF
	}
	if int64(n) > d.size-d.pos {
		return nil, io.ErrUnexpectedEOF
	}
	b := d.scratch[:n]
	_, err := io.ReadFull(d.r, b)
	d.pos += int64(n)
	return b, err
}

func (d *dsReader) next(n int) ([]byte, error) {
	if d.pos == d.size {
		return nil, io.EOF
	}
	if int64(n) > d.size-d.pos {
		return nil, io.ErrUnexpectedEOF
	}
	b := make([]byte, n)
	_, err := io.ReadFull(d.r, b)
	d.pos += int64(n)
	return b, err
}

func (d *dsReader) discard(n int64) error {
	if n > d.size-d.pos {
		return io.ErrUnexpectedEOF
	}
	m, err := io.CopyN(io.Discard, d.r, n)
	d.pos += m
	return err
}

// decodeText turns a value into UTF-8: Latin-1 for ISO_IR 100, UTF-8 for
// ISO_IR 192; other character sets keep their ASCII and lose the rest.
func decodeText(v []byte, cs, vr string) string {
	s := strings.TrimRight(string(v), "\x00 ")
	if vr != "ST" && vr != "LT" {
		s = strings.TrimLeft(s, " ")
	}
	switch {
	case strings.Contains(cs, "192"):
		if utf8.ValidString(s) {
			return s
		}
	case strings.Contains(cs, "100") || cs == "":
		b := make([]rune, 0, len(s))
		for i := 0; i < len(s); i++ {
			b = append(b, rune(s[i]))
		}
		return string(b)
	}
	return strings.Map(func(r rune) rune {
		if r >= 0x80 {
			return '?'
		}
		return r
	}, s)
}
