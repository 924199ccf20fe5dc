package dicomscan

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

// Transfer syntaxes the header reader must tell apart. Every other one
// (JPEG, RLE, ...) encodes its dataset as explicit VR little endian.
const (
	tsImplicitLE = "1.2.840.10008.1.2"
	tsExplicitLE = "1.2.840.10008.1.2.1"
	tsDeflated   = "1.2.840.10008.1.2.1.99"
	tsExplicitBE = "1.2.840.10008.1.2.2"
)

// ErrNotDICOM means the data is neither a DICOM Part 10 file nor a raw
// dataset that parses.
var ErrNotDICOM = errors.New("not a DICOM file")

// Header holds the attributes of one DICOM file that the index needs.
// Text values are UTF-8, decoded with the file's Specific Character Set;
// trailing padding is removed.
type Header struct {
	// Part10 is true when the file has the 128-byte preamble and "DICM".
	Part10 bool

	MediaStorageSOPClassUID    string
	MediaStorageSOPInstanceUID string
	TransferSyntaxUID          string

	CharacterSet       string
	SOPClassUID        string
	SOPInstanceUID     string
	StudyDate          string
	StudyTime          string
	AccessionNumber    string
	Modality           string
	ReferringPhysician string
	StudyDescription   string
	SeriesDescription  string
	PatientName        string
	PatientID          string
	PatientBirthDate   string
	PatientSex         string
	BodyPart           string
	StudyInstanceUID   string
	SeriesInstanceUID  string
	StudyID            string
	SeriesNumber       int
	InstanceNumber     int
}

// Tags the index reads, as group<<16|element.
const (
	tagMetaGroupLength      = 0x00020000
	tagMediaSOPClass        = 0x00020002
	tagMediaSOPInstance     = 0x00020003
	tagTransferSyntax       = 0x00020010
	tagSpecificCharacterSet = 0x00080005
	tagSOPClassUID          = 0x00080016
	tagSOPInstanceUID       = 0x00080018
	tagStudyDate            = 0x00080020
	tagStudyTime            = 0x00080030
	tagAccessionNumber      = 0x00080050
	tagModality             = 0x00080060
	tagReferringPhysician   = 0x00080090
	tagStudyDescription     = 0x00081030
	tagSeriesDescription    = 0x0008103E
	tagPatientName          = 0x00100010
	tagPatientID            = 0x00100020
	tagPatientBirthDate     = 0x00100030
	tagPatientSex           = 0x00100040
	tagBodyPart             = 0x00180015
	tagStudyInstanceUID     = 0x0020000D
	tagSeriesInstanceUID    = 0x0020000E
	tagStudyID              = 0x00200010
	tagSeriesNumber         = 0x00200011
	tagInstanceNumber       = 0x00200013
	tagPixelData            = 0x7FE00010

	tagItem          = 0xFFFEE000
	tagItemDelim     = 0xFFFEE00D
	tagSequenceDelim = 0xFFFEE0DD

	// lastHeaderTag: the header reader stops at the first top-level
	// element after it.
	lastHeaderTag = tagInstanceNumber
)

const undefinedLength = 0xFFFFFFFF

// maxDepth bounds sequence nesting; deeper data is treated as broken.
const maxDepth = 32

// decoder reads data elements in one encoding.
type decoder struct {
	r        *byteReader
	big      bool
	explicit bool
}

func (d *decoder) u16(p []byte) uint16 {
	if d.big {
		return binary.BigEndian.Uint16(p)
	}
	return binary.LittleEndian.Uint16(p)
}

func (d *decoder) u32(p []byte) uint32 {
	if d.big {
		return binary.BigEndian.Uint32(p)
	}
	return binary.LittleEndian.Uint32(p)
}

// element is the header of one data element.
type element struct {
	tag    uint32
	vr     string // "" for implicit VR and item tags
	length uint32
	offset int64 // absolute offset of the element's first byte
}

func isVR(p []byte) bool {
	return p[0] >= 'A' && p[0] <= 'Z' && p[1] >= 'A' && p[1] <= 'Z'
}

func (d *decoder) readTag() (uint32, error) {
	p, err := d.r.next(4)
	if err != nil {
		return 0, err
	}
	return uint32(d.u16(p[0:2]))<<16 | uint32(d.u16(p[2:4])), nil
}

// readElement reads the next element header.
func (d *decoder) readElement() (element, error) {
	if b := d.r; d.explicit && !d.big && b.end-b.start >= 12 {
		// The common case, explicit VR little endian with the header in
		// the buffer, without the calls.
		p := b.buf[b.start : b.start+12]
		tag := uint32(binary.LittleEndian.Uint16(p[0:2]))<<16 | uint32(binary.LittleEndian.Uint16(p[2:4]))
		if tag>>16 != 0xFFFE && isVR(p[4:6]) {
			e := element{tag: tag, offset: b.pos}
			i := vrIndex(p[4], p[5])
			e.vr = vrTable[i]
			n := 8
			if vrLong[i] {
				e.length = binary.LittleEndian.Uint32(p[8:12])
				n = 12
			} else {
				e.length = uint32(binary.LittleEndian.Uint16(p[6:8]))
			}
			b.start += n
			b.pos += int64(n)
			return e, nil
		}
	}
	e := element{offset: d.r.pos}
	tag, err := d.readTag()
	if err != nil {
		return e, err
	}
	e.tag = tag
	if tag>>16 == 0xFFFE || !d.explicit {
		p, err := d.r.next(4)
		if err != nil {
			return e, err
		}
		e.length = d.u32(p)
		return e, nil
	}
	p, err := d.r.next(4)
	if err != nil {
		return e, err
	}
	if !isVR(p[0:2]) {
		return e, fmt.Errorf("invalid VR %q in (%04X,%04X)", p[0:2], tag>>16, tag&0xFFFF)
	}
	e.vr = vrString(p[0], p[1])
	if dicomvr.LongLength(e.vr) {
		q, err := d.r.next(4)
		if err != nil {
			return e, err
		}
		e.length = d.u32(q)
	} else {
		e.length = uint32(d.u16(p[2:4]))
	}
	return e, nil
}

// vrTable maps the two letters of a VR to an interned string, so that
// reading a VR never allocates.
var vrTable = func() (t [26 * 26]string) {
	for a := byte('A'); a <= 'Z'; a++ {
		for b := byte('A'); b <= 'Z'; b++ {
			t[int(a-'A')*26+int(b-'A')] = string([]byte{a, b})
		}
	}
	return t
}()

// vrLong tells, by vrIndex, the VRs with a 4-byte length (dicomvr.LongLength).
var vrLong = func() (t [26 * 26]bool) {
	for i, vr := range vrTable {
		t[i] = dicomvr.LongLength(vr)
	}
	return t
}()

func vrIndex(a, b byte) int { return int(a-'A')*26 + int(b-'A') }

// vrString returns the VR for two upper-case letters (checked by isVR).
func vrString(a, b byte) string {
	return vrTable[vrIndex(a, b)]
}

// skipValue skips the value of e, walking undefined-length sequences and
// encapsulated data item by item.
func (d *decoder) skipValue(e element, depth int) error {
	if e.length != undefinedLength {
		return d.r.skip(int64(e.length))
	}
	return d.skipUndefined(e, depth)
}

// skipUndefined walks an undefined-length value: a sequence (SQ, or UN
// that holds implicit VR little endian data per PS3.5 6.2.2) or
// encapsulated pixel data; both are items up to a sequence delimiter.
func (d *decoder) skipUndefined(e element, depth int) error {
	if depth >= maxDepth {
		return fmt.Errorf("sequences nested deeper than %d", maxDepth)
	}
	inner := d
	if e.vr == "UN" {
		inner = &decoder{r: d.r, big: false, explicit: false}
	}
	for {
		item, err := inner.readElement()
		if err != nil {
			return err
		}
		switch item.tag {
		case tagSequenceDelim:
			return nil
		case tagItem:
			if item.length != undefinedLength {
				if err := d.r.skip(int64(item.length)); err != nil {
					return err
				}
				continue
			}
			if err := inner.skipItem(depth + 1); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unexpected (%04X,%04X) in a sequence", item.tag>>16, item.tag&0xFFFF)
		}
	}
}

// skipItem skips the elements of an undefined-length item up to its delimiter.
func (d *decoder) skipItem(depth int) error {
	for {
		e, err := d.readElement()
		if err != nil {
			return err
		}
		if e.tag == tagItemDelim {
			return nil
		}
		if e.tag == tagSequenceDelim {
			return errors.New("sequence delimiter inside an item")
		}
		if err := d.skipValue(e, depth); err != nil {
			return err
		}
	}
}

// readValue returns the value of e when it is short enough to keep, or
// skips it and returns nil.
func (d *decoder) readValue(e element, depth int) ([]byte, error) {
	if e.length == undefinedLength || e.length > maxKeptValue {
		return nil, d.skipValue(e, depth)
	}
	return d.r.next(int(e.length))
}

// ReadHeader reads the attributes the index needs from the start of a DICOM
// file and stops before the rest: it never reads pixel data. size is the
// file size (-1 when unknown); a declared length beyond it is an error, so
// the reader never allocates or skips more than the file holds.
// ReadHeader returns ErrNotDICOM (wrapped) for data that is not DICOM.
func ReadHeader(r io.Reader, size int64) (*Header, error) {
	return readHeader(r, size, nil)
}

func readHeader(r io.Reader, size int64, buf []byte) (*Header, error) {
	return readHeaderInterned(r, size, buf, nil)
}

// readHeaderInterned is readHeader with the repeating values taken from
// strs (nil: none).
func readHeaderInterned(r io.Reader, size int64, buf []byte, strs *interner) (*Header, error) {
	br := newByteReader(r, size, buf)
	h := &Header{}
	d, err := openDataset(br, h, strs)
	if err != nil {
		return nil, err
	}
	cs := charset{}
	stop, stopped, err := d.walk(lastHeaderTag, wantHeaderTag, func(tag uint32, v []byte) {
		h.set(tag, v, &cs, strs)
	})
	if err == nil && stopped {
		err = d.checkRest(stop)
	}
	if err != nil {
		// The header found so far comes back with the error, so that a
		// caller can say which study a damaged file belonged to.
		return h, err
	}
	return h, nil
}

func wantHeaderTag(tag uint32) bool {
	switch tag {
	case tagSpecificCharacterSet, tagSOPClassUID, tagSOPInstanceUID, tagStudyDate,
		tagStudyTime, tagAccessionNumber, tagModality, tagReferringPhysician,
		tagStudyDescription, tagSeriesDescription, tagPatientName, tagPatientID,
		tagPatientBirthDate, tagPatientSex, tagBodyPart, tagStudyInstanceUID,
		tagSeriesInstanceUID, tagStudyID, tagSeriesNumber, tagInstanceNumber:
		return true
	}
	return false
}

// set stores one header attribute. Values that repeat from file to file
// (everything but the SOP Instance UID and the numbers) come from strs,
// which may be nil.
func (h *Header) set(tag uint32, v []byte, cs *charset, strs *interner) {
	switch tag {
	case tagSpecificCharacterSet:
		h.CharacterSet = strs.of(asciiBytes(v))
		*cs = newCharset(h.CharacterSet)
	case tagSOPClassUID:
		h.SOPClassUID = strs.of(uidBytes(v))
	case tagSOPInstanceUID:
		h.SOPInstanceUID = uidValue(v)
	case tagStudyDate:
		h.StudyDate = strs.of(asciiBytes(v))
	case tagStudyTime:
		h.StudyTime = strs.of(asciiBytes(v))
	case tagAccessionNumber:
		h.AccessionNumber = cs.textIn(v, strs)
	case tagModality:
		h.Modality = strs.of(asciiBytes(v))
	case tagReferringPhysician:
		h.ReferringPhysician = cs.textIn(v, strs)
	case tagStudyDescription:
		h.StudyDescription = cs.textIn(v, strs)
	case tagSeriesDescription:
		h.SeriesDescription = cs.textIn(v, strs)
	case tagPatientName:
		h.PatientName = cs.textIn(v, strs)
	case tagPatientID:
		h.PatientID = cs.textIn(v, strs)
	case tagPatientBirthDate:
		h.PatientBirthDate = strs.of(asciiBytes(v))
	case tagPatientSex:
		h.PatientSex = strs.of(asciiBytes(v))
	case tagBodyPart:
		h.BodyPart = strs.of(asciiBytes(v))
	case tagStudyInstanceUID:
		h.StudyInstanceUID = strs.of(uidBytes(v))
	case tagSeriesInstanceUID:
		h.SeriesInstanceUID = strs.of(uidBytes(v))
	case tagStudyID:
		h.StudyID = cs.textIn(v, strs)
	case tagSeriesNumber:
		h.SeriesNumber = intValue(v)
	case tagInstanceNumber:
		h.InstanceNumber = intValue(v)
	}
}

// openDataset reads the preamble and file meta information, if any, and
// returns a decoder positioned at the first element of the dataset.
func openDataset(br *byteReader, h *Header, strs *interner) (*decoder, error) {
	head, err := br.peek(132)
	if err == nil && string(head[128:132]) == "DICM" {
		h.Part10 = true
		if err := br.skip(132); err != nil {
			return nil, err
		}
		if err := readMeta(br, h, strs); err != nil {
			return nil, err
		}
		return datasetDecoder(br, h.TransferSyntaxUID)
	}
	if err != nil && err != errTruncated {
		return nil, err
	}
	// No preamble: a raw dataset, or meta information without preamble.
	start, err := br.peek(8)
	if err != nil {
		return nil, fmt.Errorf("%w: %d bytes", ErrNotDICOM, br.remaining())
	}
	if binary.LittleEndian.Uint16(start) == 0x0002 && isVR(start[4:6]) {
		if err := readMeta(br, h, strs); err != nil {
			return nil, err
		}
		return datasetDecoder(br, h.TransferSyntaxUID)
	}
	d, ok := guessEncoding(br, start)
	if !ok {
		return nil, ErrNotDICOM
	}
	return d, nil
}

// guessEncoding recognises a raw dataset by its first element: a group
// 0008 tag (every image starts with one) in little or big endian, with or
// without VR.
func guessEncoding(br *byteReader, p []byte) (*decoder, bool) {
	le := binary.LittleEndian.Uint16(p)
	be := binary.BigEndian.Uint16(p)
	switch {
	case le == 0x0008 && isVR(p[4:6]):
		return &decoder{r: br, explicit: true}, true
	case le == 0x0008:
		// Implicit VR: the length must fit in the file.
		n := binary.LittleEndian.Uint32(p[4:8])
		if rem := br.remaining(); rem >= 0 && int64(n) > rem {
			return nil, false
		}
		return &decoder{r: br}, true
	case be == 0x0008 && isVR(p[4:6]):
		return &decoder{r: br, big: true, explicit: true}, true
	}
	return nil, false
}

// readMeta reads group 0002, always explicit VR little endian, without
// trusting its group length.
func readMeta(br *byteReader, h *Header, strs *interner) error {
	meta := &decoder{r: br, explicit: true}
	for {
		p, err := br.peek(6)
		if err != nil {
			if err == errTruncated {
				return nil // a file of only meta information: nothing follows
			}
			return err
		}
		if binary.LittleEndian.Uint16(p) != 0x0002 {
			return nil
		}
		if !isVR(p[4:6]) {
			// Some writers put the meta group in implicit VR.
			meta.explicit = false
		}
		e, err := meta.readElement()
		if err != nil {
			return fmt.Errorf("file meta information: %w", err)
		}
		v, err := meta.readValue(e, 0)
		if err != nil {
			return fmt.Errorf("file meta information: %w", err)
		}
		switch e.tag {
		case tagMediaSOPClass:
			h.MediaStorageSOPClassUID = strs.of(uidBytes(v))
		case tagMediaSOPInstance:
			h.MediaStorageSOPInstanceUID = uidValue(v)
		case tagTransferSyntax:
			h.TransferSyntaxUID = strs.of(uidBytes(v))
		}
	}
}

// datasetDecoder returns the decoder for the dataset after the meta group.
// It checks the first element against the declared transfer syntax: files
// whose meta information says explicit VR but whose data is implicit (or the
// reverse) exist, and are read the way the data is written.
func datasetDecoder(br *byteReader, ts string) (*decoder, error) {
	d := &decoder{r: br, explicit: true}
	switch ts {
	case tsImplicitLE:
		d.explicit = false
	case tsExplicitBE:
		d.big = true
	case tsDeflated:
		rest := io.MultiReader(bytes.NewReader(append([]byte(nil), br.buf[br.start:br.end]...)), br.r)
		fr := flate.NewReader(rest)
		inflated := newByteReader(fr, -1, nil)
		inflated.pos = br.pos
		return &decoder{r: inflated, explicit: true}, nil
	}
	p, err := br.peek(6)
	if err != nil {
		return d, nil // empty dataset; walk reports it
	}
	if d.explicit != isVR(p[4:6]) {
		// Implicit data in an explicit file (or the reverse): trust the bytes
		// when the other reading gives a plausible first element.
		d.explicit = !d.explicit
	}
	return d, nil
}

// walk reads top-level elements until the first tag after stopAfter, the
// end of the data, or an error. Values of the wanted tags go to visit; the
// rest are skipped without being read. It returns the header of the element
// it stopped at (its value not yet consumed), or nil at the end of the data.
func (d *decoder) walk(stopAfter uint32, want func(uint32) bool, visit func(tag uint32, v []byte)) (stop element, stopped bool, err error) {
	for !d.r.atEOF() {
		e, err := d.readElement()
		if err != nil {
			return e, false, err
		}
		if e.tag > stopAfter {
			return e, true, nil
		}
		if !want(e.tag) {
			if err := d.skipValue(e, 0); err != nil {
				return e, false, err
			}
			continue
		}
		v, err := d.readValue(e, 0)
		if err != nil {
			return e, false, err
		}
		visit(e.tag, v)
	}
	return element{}, false, nil
}

// checkRest skips the elements after the header, without reading their
// values, to the pixel data, and checks that the pixel data fits in the
// file: a file cut off while being copied is caught here. Encapsulated
// pixel data is not walked (its fragments may be many); data of unknown
// size (deflated) is not checked.
func (d *decoder) checkRest(e element) error {
	if d.r.size < 0 {
		return nil
	}
	for {
		if e.tag == tagPixelData {
			if e.length == undefinedLength {
				return nil
			}
			if rem := d.r.remaining(); int64(e.length) > rem {
				return fmt.Errorf("pixel data is cut off (%d of %d bytes present)", rem, e.length)
			}
			return nil
		}
		if err := d.skipValue(e, 0); err != nil {
			return fmt.Errorf("(%04X,%04X): %w", e.tag>>16, e.tag&0xFFFF, err)
		}
		if d.r.atEOF() {
			return nil
		}
		var err error
		if e, err = d.readElement(); err != nil {
			return err
		}
	}
}

func trimValue(v []byte) []byte {
	return bytes.TrimRight(v, " \x00")
}

func asciiValue(v []byte) string {
	return string(asciiBytes(v))
}

// asciiBytes is v without padding and surrounding white space.
func asciiBytes(v []byte) []byte {
	return bytes.TrimSpace(trimValue(v))
}

// uidValue trims a UID (padded with NUL or, wrongly but often, spaces).
func uidValue(v []byte) string {
	return string(uidBytes(v))
}

func uidBytes(v []byte) []byte {
	return bytes.Trim(v, " \x00")
}

// interner hands out one string for equal values, so that the headers of
// a medium share their patient, study and series attributes instead of
// holding a copy per file, and reading them allocates only for a value not
// seen before. A nil *interner makes a new string every time. Not safe for
// concurrent use: the full scan keeps one per worker.
type interner struct {
	m map[string]string
	// text holds decoded non-ASCII text by character set and raw bytes,
	// nText values in all.
	text  map[string]map[string]string
	nText int
}

// maxInterned bounds an interner: values beyond it are copied, not kept
// (a hostile medium could make every value unique).
const maxInterned = 4096

func newInterner() *interner { return &interner{m: map[string]string{}} }

func (in *interner) of(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if in == nil {
		return string(b)
	}
	if s, ok := in.m[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(in.m) < maxInterned {
		in.m[s] = s
	}
	return s
}

func intValue(v []byte) int {
	s := asciiValue(v)
	if i := strings.IndexByte(s, '\\'); i >= 0 {
		s = s[:i]
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0
	}
	return n
}
