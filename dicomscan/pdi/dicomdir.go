package pdi

import "fmt"

// dirRecord is one directory record before layout. Leaf records reference
// a file; PATIENT, STUDY and SERIES records hold children.
type dirRecord struct {
	typ      string // Directory Record Type, e.g. "PATIENT", "IMAGE"
	keys     []key
	ref      *fileRef
	children []*dirRecord

	offset uint32 // assigned by layout: from the first byte of the file
}

// fileRef is what a leaf record says about its file.
type fileRef struct {
	fileID      []string // components, e.g. DICOM PAT00001 ... IMG00001
	sopClass    string
	sopInstance string
	ts          string
}

// elements returns the record's elements with next/lower as the offsets of
// the next sibling and the first child (0 when none).
func (r *dirRecord) elements(next, lower uint32) []element {
	els := []element{
		ulElement(tagNextRecord, next),
		usElement(tagRecordInUse, 0xFFFF),
		ulElement(tagLowerLevelEntity, lower),
		textElement(tagRecordType, "CS", []byte(r.typ)),
	}
	if r.ref != nil {
		els = append(els,
			textElement(tagReferencedFileID, "CS", []byte(joinFileID(r.ref.fileID))),
			uidElement(tagReferencedSOPClass, r.ref.sopClass),
			uidElement(tagReferencedSOPInstance, r.ref.sopInstance),
			uidElement(tagReferencedTransferSyn, r.ref.ts),
		)
	}
	els = append(els, recordElements(r.keys)...)
	sortElements(els)
	return els
}

// joinFileID joins File ID components with the DICOM value separator.
func joinFileID(parts []string) string {
	s := ""
	for i, p := range parts {
		if i > 0 {
			s += `\`
		}
		s += p
	}
	return s
}

// size is the encoded size of the record as an item (header included).
// Offsets do not change it: they are fixed-size UL values.
func (r *dirRecord) size() int { return 8 + elementsSize(r.elements(0, 0)) }

// encodeDICOMDIR lays out the records depth first (each PATIENT followed by
// its STUDY records, each STUDY by its SERIES, each SERIES by its leaf
// records) and encodes the Media Storage Directory with byte-exact offsets.
// It is two passes: sizes and offsets first, then the bytes.
func encodeDICOMDIR(fileSetID, uid string, roots []*dirRecord) ([]byte, error) {
	if len(roots) == 0 {
		return nil, fmt.Errorf("DICOMDIR: no records")
	}
	meta, err := newMeta(uidMediaStorageDirectory, uid, uidExplicitVRLE)
	if err != nil {
		return nil, err
	}
	head := []element{
		textElement(tagFileSetID, "CS", []byte(fileSetID)),
		ulElement(tagFirstRootRecord, 0),
		ulElement(tagLastRootRecord, 0),
		usElement(tagFileSetConsistencyFlag, 0),
	}
	const sqHeader = 12
	pos := uint32(len(meta) + elementsSize(head) + sqHeader)

	var flat []*dirRecord
	var place func(rs []*dirRecord)
	place = func(rs []*dirRecord) {
		for _, r := range rs {
			r.offset = pos
			pos += uint32(r.size())
			flat = append(flat, r)
			place(r.children)
		}
	}
	place(roots)

	items := make([][]element, 0, len(flat))
	var link func(rs []*dirRecord)
	link = func(rs []*dirRecord) {
		for i, r := range rs {
			var next, lower uint32
			if i+1 < len(rs) {
				next = rs[i+1].offset
			}
			if len(r.children) > 0 {
				lower = r.children[0].offset
			}
			items = append(items, r.elements(next, lower))
			link(r.children)
		}
	}
	link(roots)

	head[1] = ulElement(tagFirstRootRecord, roots[0].offset)
	head[2] = ulElement(tagLastRootRecord, roots[len(roots)-1].offset)
	head = append(head, sqElement(tagDirectoryRecordSeq, items...))
	out, err := appendElements(meta, head)
	if err != nil {
		return nil, fmt.Errorf("DICOMDIR: %w", err)
	}
	if uint32(len(out)) != pos {
		return nil, fmt.Errorf("DICOMDIR: layout is %d bytes, encoding %d", pos, len(out))
	}
	return out, nil
}
