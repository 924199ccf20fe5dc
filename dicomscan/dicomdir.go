package dicomscan

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// DICOMDIR tags.
const (
	tagFirstRecordOffset  = 0x00041200
	tagRecordSequence     = 0x00041220
	tagNextRecordOffset   = 0x00041400
	tagRecordInUse        = 0x00041410
	tagLowerRecordOffset  = 0x00041420
	tagRecordType         = 0x00041430
	tagReferencedFileID   = 0x00041500
	tagRefSOPClassInFile  = 0x00041510
	tagRefSOPInstInFile   = 0x00041511
	tagRefTransferSyntax  = 0x00041512
	maxDICOMDIRRecords    = 1 << 20
	maxDICOMDIRSize       = 256 << 20
	dicomdirInactiveValue = 0
)

// DICOMDIR is a parsed DICOMDIR: its records in file order, each with the
// attributes the index needs, decoded with the record's own Specific
// Character Set (or the one it inherits from the DICOMDIR).
type DICOMDIR struct {
	TransferSyntaxUID string
	FirstRecordOffset uint32
	Records           []*Record
}

// Record is one directory record.
type Record struct {
	// Offset is where the record's item starts in the file (what the
	// offsets of other records point at).
	Offset int64
	Type   string // PATIENT, STUDY, SERIES, IMAGE, ...
	// Next and Lower are the offsets as written; 0 means none. The reader
	// uses them only when they form a consistent tree.
	Next, Lower uint32
	Inactive    bool
	// FileID is the Referenced File ID, one entry per path component.
	FileID []string
	// Header holds the record's attributes; for leaf records the
	// Referenced SOP Class/Instance/Transfer Syntax UIDs in File are
	// stored as SOPClassUID, SOPInstanceUID and TransferSyntaxUID.
	Header

	hasNext, hasLower bool
	children          []*Record
}

// ReadDICOMDIR parses a DICOMDIR. It reads records sequentially and does
// not follow offsets; size bounds every declared length as in ReadHeader.
func ReadDICOMDIR(r io.Reader, size int64) (*DICOMDIR, error) {
	if size > maxDICOMDIRSize {
		return nil, fmt.Errorf("DICOMDIR of %d bytes is larger than %d", size, maxDICOMDIRSize)
	}
	br := newByteReader(r, size, nil)
	h := &Header{}
	d, err := openDataset(br, h, nil)
	if err != nil {
		return nil, err
	}
	if h.MediaStorageSOPClassUID != "" && h.MediaStorageSOPClassUID != sopClassDICOMDIR {
		return nil, fmt.Errorf("not a DICOMDIR (media storage SOP class %s)", h.MediaStorageSOPClassUID)
	}
	dd := &DICOMDIR{TransferSyntaxUID: h.TransferSyntaxUID}
	cs := newCharset("")
	strs := newInterner()
	charsetValue := ""
	sawSequence := false
	for !d.r.atEOF() {
		e, err := d.readElement()
		if err != nil {
			return nil, err
		}
		switch e.tag {
		case tagRecordSequence:
			sawSequence = true
			if err := d.readRecords(e, dd, cs, charsetValue, strs); err != nil {
				return nil, fmt.Errorf("directory record sequence: %w", err)
			}
			continue
		case tagSpecificCharacterSet, tagFirstRecordOffset:
			v, err := d.readValue(e, 0)
			if err != nil {
				return nil, err
			}
			if e.tag == tagSpecificCharacterSet {
				charsetValue = asciiValue(v)
				cs = newCharset(charsetValue)
			} else if len(v) == 4 {
				dd.FirstRecordOffset = d.u32(v)
			}
			continue
		}
		if err := d.skipValue(e, 0); err != nil {
			return nil, err
		}
	}
	if !sawSequence {
		return nil, errors.New("no directory record sequence (0004,1220)")
	}
	return dd, nil
}

// readRecords reads the items of the directory record sequence.
func (d *decoder) readRecords(seq element, dd *DICOMDIR, cs charset, csValue string, strs *interner) error {
	end := int64(-1)
	if seq.length != undefinedLength {
		end = d.r.pos + int64(seq.length)
		if rem := d.r.remaining(); rem >= 0 && int64(seq.length) > rem {
			return errTooLong
		}
	}
	for end < 0 || d.r.pos < end {
		item, err := d.readElement()
		if err != nil {
			return err
		}
		if item.tag == tagSequenceDelim {
			if end >= 0 {
				return errors.New("sequence delimiter in a sequence of defined length")
			}
			return nil
		}
		if item.tag != tagItem {
			return fmt.Errorf("unexpected (%04X,%04X) instead of a record", item.tag>>16, item.tag&0xFFFF)
		}
		if len(dd.Records) >= maxDICOMDIRRecords {
			return fmt.Errorf("more than %d records", maxDICOMDIRRecords)
		}
		rec, err := d.readRecord(item, cs, csValue, strs)
		if err != nil {
			return fmt.Errorf("record %d: %w", len(dd.Records)+1, err)
		}
		dd.Records = append(dd.Records, rec)
	}
	if d.r.pos != end {
		return errors.New("records overrun the sequence length")
	}
	return nil
}

// readRecord reads one record item. The record's own Specific Character
// Set replaces the inherited one for its values.
func (d *decoder) readRecord(item element, cs charset, csValue string, strs *interner) (*Record, error) {
	rec := &Record{Offset: item.offset}
	rec.CharacterSet = csValue
	end := int64(-1)
	if item.length != undefinedLength {
		end = d.r.pos + int64(item.length)
		if rem := d.r.remaining(); rem >= 0 && int64(item.length) > rem {
			// The last record's length was not updated after an edit
			// (pydicom's DICOMDIR-nooffset): read its elements to the end
			// of the file; a cut element is still an error.
			end = d.r.pos + rem
		}
	}
	for end < 0 || d.r.pos < end {
		e, err := d.readElement()
		if err != nil {
			return nil, err
		}
		if e.tag == tagItemDelim {
			if end >= 0 {
				return nil, errors.New("item delimiter in an item of defined length")
			}
			return rec, nil
		}
		if e.tag == tagSequenceDelim || e.tag == tagItem {
			return nil, fmt.Errorf("unexpected (%04X,%04X) inside a record", e.tag>>16, e.tag&0xFFFF)
		}
		if !wantRecordTag(e.tag) {
			if err := d.skipValue(e, 1); err != nil {
				return nil, err
			}
			continue
		}
		v, err := d.readValue(e, 1)
		if err != nil {
			return nil, err
		}
		rec.set(d, e.tag, v, &cs, strs)
	}
	if d.r.pos != end {
		return nil, errors.New("elements overrun the record length")
	}
	return rec, nil
}

func wantRecordTag(tag uint32) bool {
	switch tag {
	case tagNextRecordOffset, tagRecordInUse, tagLowerRecordOffset, tagRecordType,
		tagReferencedFileID, tagRefSOPClassInFile, tagRefSOPInstInFile, tagRefTransferSyntax:
		return true
	}
	return wantHeaderTag(tag)
}

func (rec *Record) set(d *decoder, tag uint32, v []byte, cs *charset, strs *interner) {
	switch tag {
	case tagNextRecordOffset:
		if len(v) == 4 {
			rec.Next, rec.hasNext = d.u32(v), true
		}
	case tagLowerRecordOffset:
		if len(v) == 4 {
			rec.Lower, rec.hasLower = d.u32(v), true
		}
	case tagRecordInUse:
		rec.Inactive = len(v) == 2 && d.u16(v) == dicomdirInactiveValue
	case tagRecordType:
		rec.Type = strings.ToUpper(strs.of(asciiBytes(v)))
	case tagReferencedFileID:
		// The folders repeat from record to record; the file name is new.
		v = asciiBytes(v)
		rec.FileID = make([]string, 0, bytes.Count(v, []byte{'\\'})+1)
		for {
			part, rest, more := bytes.Cut(v, []byte{'\\'})
			if !more {
				rec.FileID = append(rec.FileID, string(bytes.TrimSpace(part)))
				break
			}
			rec.FileID = append(rec.FileID, strs.of(bytes.TrimSpace(part)))
			v = rest
		}
	case tagRefSOPClassInFile:
		rec.SOPClassUID = strs.of(uidBytes(v))
	case tagRefSOPInstInFile:
		rec.SOPInstanceUID = uidValue(v)
	case tagRefTransferSyntax:
		rec.TransferSyntaxUID = strs.of(uidBytes(v))
	default:
		rec.Header.set(tag, v, cs, strs)
	}
}

// Record levels of the patient → study → series → instance hierarchy.
const (
	levelPatient = iota
	levelStudy
	levelSeries
	levelInstance
	levelOther // private and non-image records the index ignores
)

func (rec *Record) level() int {
	switch rec.Type {
	case "PATIENT":
		return levelPatient
	case "STUDY":
		return levelStudy
	case "SERIES":
		return levelSeries
	}
	if len(rec.FileID) > 0 {
		return levelInstance
	}
	return levelOther
}

// tree arranges the records as patients with their children: by the
// offsets when they form a consistent tree, otherwise by the order of the
// records in the file (depth first, as every writer emits them).
func (dd *DICOMDIR) tree() ([]*Record, error) {
	if roots, ok := dd.treeByOffsets(); ok {
		if err := checkTree(roots); err == nil {
			return roots, nil
		}
	}
	for _, r := range dd.Records {
		r.children = nil
	}
	roots, err := dd.treeByOrder()
	if err != nil {
		return nil, err
	}
	return roots, checkTree(roots)
}

// treeByOffsets follows the offsets; ok is false when one points nowhere,
// a record is reached twice (a loop), or a record is never reached.
func (dd *DICOMDIR) treeByOffsets() ([]*Record, bool) {
	at := make(map[int64]*Record, len(dd.Records))
	for _, r := range dd.Records {
		r.children = nil
		at[r.Offset] = r
	}
	visited := make(map[*Record]bool, len(dd.Records))
	var chain func(off uint32) ([]*Record, bool)
	chain = func(off uint32) ([]*Record, bool) {
		var list []*Record
		for off != 0 {
			r := at[int64(off)]
			if r == nil || visited[r] || len(visited) > len(dd.Records) {
				return nil, false
			}
			visited[r] = true
			list = append(list, r)
			if r.Lower != 0 {
				kids, ok := chain(r.Lower)
				if !ok {
					return nil, false
				}
				r.children = kids
			}
			off = r.Next
		}
		return list, true
	}
	if len(dd.Records) == 0 {
		return nil, true
	}
	roots, ok := chain(dd.FirstRecordOffset)
	if !ok {
		return nil, false
	}
	for _, r := range dd.Records {
		if !r.Inactive && !visited[r] {
			return nil, false
		}
	}
	return roots, true
}

// treeByOrder nests each record under the last record of the level above.
func (dd *DICOMDIR) treeByOrder() ([]*Record, error) {
	var roots []*Record
	var current [levelInstance]*Record
	for _, r := range dd.Records {
		if r.Inactive {
			continue
		}
		lvl := r.level()
		if lvl == levelOther {
			continue
		}
		if lvl == levelPatient {
			roots = append(roots, r)
		} else {
			parent := current[lvl-1]
			if parent == nil {
				return nil, fmt.Errorf("%s record without a %s record before it", nameOr(r.Type), levelName(lvl-1))
			}
			parent.children = append(parent.children, r)
		}
		if lvl < levelInstance {
			current[lvl] = r
			for i := lvl + 1; i < levelInstance; i++ {
				current[i] = nil
			}
		}
	}
	return roots, nil
}

func levelName(lvl int) string {
	return [...]string{"PATIENT", "STUDY", "SERIES"}[lvl]
}

func nameOr(t string) string {
	if t == "" {
		return "untyped"
	}
	return t
}

// checkTree checks that patients hold studies, studies series, and series
// the instances; private and other non-image records are allowed anywhere.
func checkTree(roots []*Record) error {
	var walk func(list []*Record, want int) error
	walk = func(list []*Record, want int) error {
		for _, r := range list {
			if r.Inactive {
				continue
			}
			lvl := r.level()
			if lvl == levelOther && r.Type != "" && !isKnownRecordType(r.Type) {
				return fmt.Errorf("record of unknown type %q where a %s record belongs", r.Type, levelName(min(want, levelSeries)))
			}
			if lvl == levelOther {
				continue
			}
			if lvl != want {
				return fmt.Errorf("%s record where a %s record belongs", nameOr(r.Type), levelNameOrInstance(want))
			}
			if lvl < levelInstance {
				if err := walk(r.children, lvl+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(roots, levelPatient)
}

func levelNameOrInstance(lvl int) string {
	if lvl >= levelInstance {
		return "IMAGE"
	}
	return levelName(lvl)
}

// isKnownRecordType lists the record types of PS3.3 F.5 that carry no file
// the index wants (or may, but then they have a Referenced File ID).
func isKnownRecordType(t string) bool {
	switch t {
	case "PRIVATE", "HANGING PROTOCOL", "PALETTE", "IMPLANT", "IMPLANT ASSY",
		"IMPLANT GROUP", "TOPIC", "VISIT", "RESULTS", "INTERPRETATION", "STUDY COMPONENT",
		"MODALITY LUT", "VOI LUT", "CURVE", "OVERLAY", "FILM SESSION", "FILM BOX",
		"IMAGE BOX", "STORED PRINT", "HL7 STRUC DOC", "IMAGE", "RT DOSE",
		"RT STRUCTURE SET", "RT PLAN", "RT TREAT RECORD", "PRESENTATION", "WAVEFORM",
		"SR DOCUMENT", "KEY OBJECT DOC", "SPECTROSCOPY", "RAW DATA", "REGISTRATION",
		"FIDUCIAL", "ENCAP DOC", "VALUE MAP", "STEREOMETRIC", "MEASUREMENT", "SURFACE",
		"SURFACE SCAN", "TRACT", "ASSESSMENT", "RADIOTHERAPY", "PLAN", "ANNOTATION",
		"INVENTORY":
		return true
	}
	return false
}

// errDICOMDIRUnusable carries the English reason why a DICOMDIR was not used.
type errDICOMDIRUnusable struct{ reason string }

func (e errDICOMDIRUnusable) Error() string { return e.reason }

func unusable(format string, args ...any) error {
	return errDICOMDIRUnusable{reason: fmt.Sprintf(format, args...)}
}
