package dicomscan

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"
	"testing/fstest"
)

// rec is a directory record for buildDICOMDIR: its type, its attributes
// (already encoded elements) and the index of its first child.
type rec struct {
	typ   string
	attrs [][]byte
	lower int // index into the record list, -1 for none
	next  int
}

func ul(group, element uint16, v uint32) []byte {
	b := make([]byte, 4)
	binary.LittleEndian.PutUint32(b, v)
	return elem(group, element, "UL", b)
}

func pad(s string) []byte {
	if len(s)%2 == 1 {
		return []byte(s + " ")
	}
	return []byte(s)
}

// buildDICOMDIR writes a small explicit VR little endian DICOMDIR whose
// offsets are computed from the record list.
func buildDICOMDIR(recs []rec) []byte {
	head := explicitLE(tsExplicitLE, nil)
	// Fixed sizes first, so that offsets can be computed: each record holds
	// next, in-use, lower and type before its attributes.
	body := func(r rec, next, lower uint32) []byte {
		var b []byte
		b = append(b, ul(0x0004, 0x1400, next)...)
		b = append(b, elem(0x0004, 0x1410, "US", []byte{0xFF, 0xFF})...)
		b = append(b, ul(0x0004, 0x1420, lower)...)
		b = append(b, elem(0x0004, 0x1430, "CS", pad(r.typ))...)
		for _, a := range r.attrs {
			b = append(b, a...)
		}
		return b
	}
	start := len(head) + 12 /* first offset */ + 12 /* SQ header */
	offsets := make([]uint32, len(recs))
	at := start
	for i, r := range recs {
		offsets[i] = uint32(at)
		at += 8 + len(body(r, 0, 0))
	}
	off := func(i int) uint32 {
		if i < 0 {
			return 0
		}
		return offsets[i]
	}
	out := append([]byte{}, head...)
	out = append(out, ul(0x0004, 0x1200, off(0))...)
	out = append(out, 0x04, 0x00, 0x20, 0x12, 'S', 'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF)
	for _, r := range recs {
		b := body(r, off(r.next), off(r.lower))
		item := make([]byte, 8)
		binary.LittleEndian.PutUint16(item[0:], 0xFFFE)
		binary.LittleEndian.PutUint16(item[2:], 0xE000)
		binary.LittleEndian.PutUint32(item[4:], uint32(len(b)))
		out = append(out, item...)
		out = append(out, b...)
	}
	return append(out, 0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0)
}

// A record with its own Specific Character Set: the patient's Latin-1 name
// must come out as UTF-8 even though the DICOMDIR declares no set.
func TestDICOMDIRRecordCharset(t *testing.T) {
	recs := sampleRecords()
	dd := buildDICOMDIR(recs)
	image := explicitLE(tsExplicitLE, bytes.Join([][]byte{
		elem(0x0008, 0x0005, "CS", pad("ISO_IR 100")),
		elem(0x0008, 0x0018, "UI", pad("1.2.3.4.5")),
		elem(0x0010, 0x0010, "PN", pad("M\xfcller^J\xfcrgen")),
		elem(0x0020, 0x000D, "UI", pad("1.2.3")),
		elem(0x0020, 0x000E, "UI", pad("1.2.3.4")),
	}, nil))
	mfs := fstest.MapFS{"DICOMDIR": {Data: dd}, "DICOM/IM1": {Data: image}}
	ix, err := Scan(context.Background(), &Medium{FS: mfs}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ix.Method != MethodDICOMDIR {
		t.Fatalf("method %q, fallback %q", ix.Method, ix.FallbackReason)
	}
	if len(ix.Patients) != 1 || ix.Patients[0].Name != "Müller^Jürgen" {
		t.Fatalf("patients %+v", ix.Patients)
	}

	// Reversed on disk but linked by offsets (as pydicom's "reordered"):
	// the offsets are consistent, so the reader uses them.
	rev := []rec{recs[3], recs[2], recs[1], recs[0]}
	rev[0].lower, rev[1].lower, rev[2].lower, rev[3].lower = -1, 0, 1, 2
	ddRev := buildDICOMDIR(rev)
	// buildDICOMDIR starts at record 0; point the root at the patient.
	parsed, err := ReadDICOMDIR(bytes.NewReader(ddRev), int64(len(ddRev)))
	if err != nil {
		t.Fatal(err)
	}
	parsed.FirstRecordOffset = uint32(parsed.Records[3].Offset)
	roots, err := parsed.tree()
	if err != nil || len(roots) != 1 || roots[0].Type != "PATIENT" {
		t.Fatalf("reordered tree: %v %v", roots, err)
	}
}

// sampleRecords is one patient (Latin-1 name, its own character set), one
// study, one series, one image at DICOM/IM1.
func sampleRecords() []rec {
	return []rec{
		{"PATIENT", [][]byte{
			elem(0x0008, 0x0005, "CS", pad("ISO_IR 100")),
			elem(0x0010, 0x0010, "PN", pad("M\xfcller^J\xfcrgen")),
			elem(0x0010, 0x0020, "LO", pad("4711")),
		}, 1, -1},
		{"STUDY", [][]byte{elem(0x0020, 0x000D, "UI", pad("1.2.3"))}, 2, -1},
		{"SERIES", [][]byte{elem(0x0020, 0x000E, "UI", pad("1.2.3.4")), elem(0x0008, 0x0060, "CS", pad("CT"))}, 3, -1},
		{"IMAGE", [][]byte{elem(0x0004, 0x1500, "CS", pad(`DICOM\IM1`)), elem(0x0004, 0x1511, "UI", pad("1.2.3.4.5"))}, -1, -1},
	}
}
