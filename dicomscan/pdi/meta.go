package pdi

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/bildbote/bildbote/internal/dicomvr"
)

// Limits for reading a source file's File Meta Information: real meta
// groups are a few hundred bytes.
const (
	maxMetaBytes   = 64 << 10
	maxMetaElement = 16 << 10
)

// errNotDICOM is returned for a file that neither has a DICM prefix nor
// starts like a data set (an executable, a picture, a ZIP...).
var errNotDICOM = errors.New("not a DICOM file")

// sourceMeta is what a source file's header says, and where its data set
// starts.
type sourceMeta struct {
	hadPreamble bool  // 128 bytes + "DICM" were present
	dataStart   int64 // offset of the first data set element
	sopClass    string
	sopInstance string
	ts          string
}

// readSourceMeta reads the preamble and File Meta Information of a source
// file through r, leaving r positioned at the first data set element.
// Three layouts are accepted: preamble + DICM + meta (PS3.10), a meta group
// without preamble, and a bare data set (old files, no_meta).
func readSourceMeta(r *bufio.Reader) (sourceMeta, error) {
	var m sourceMeta
	head, _ := r.Peek(132)
	if len(head) == 132 && string(head[128:]) == "DICM" {
		m.hadPreamble = true
		m.dataStart = 132
		if _, err := r.Discard(132); err != nil {
			return m, err
		}
	} else if len(head) >= 8 && binary.LittleEndian.Uint16(head) == 0x0002 {
		// meta group without preamble: parsed below
	} else {
		if !looksLikeDataSet(head) {
			return m, errNotDICOM
		}
		m.ts = sniffTransferSyntax(head)
		return m, nil
	}
	if err := m.readMetaGroup(r); err != nil {
		return m, err
	}
	return m, nil
}

// readMetaGroup consumes group 0002 elements (explicit VR, or implicit VR as
// some old writers did) and remembers the UIDs.
func (m *sourceMeta) readMetaGroup(r *bufio.Reader) error {
	for {
		hdr, err := r.Peek(8)
		if len(hdr) < 8 {
			if err == io.EOF || err == nil {
				return fmt.Errorf("meta information: %w", io.ErrUnexpectedEOF)
			}
			return fmt.Errorf("meta information: %w", err)
		}
		if binary.LittleEndian.Uint16(hdr) != 0x0002 {
			return nil
		}
		t := tag(uint32(binary.LittleEndian.Uint16(hdr))<<16 | uint32(binary.LittleEndian.Uint16(hdr[2:])))
		vr := string(hdr[4:6])
		var headerLen int
		var length uint32
		switch {
		case !isVR(vr): // implicit VR meta (non-conformant, but seen)
			headerLen, length = 8, binary.LittleEndian.Uint32(hdr[4:])
		case dicomvr.LongLength(vr):
			h12, err := r.Peek(12)
			if len(h12) < 12 {
				return fmt.Errorf("meta information %v: %w", t, errOr(err))
			}
			headerLen, length = 12, binary.LittleEndian.Uint32(h12[8:])
		default:
			headerLen, length = 8, uint32(binary.LittleEndian.Uint16(hdr[6:]))
		}
		if length > maxMetaElement || m.dataStart+int64(headerLen)+int64(length) > maxMetaBytes {
			return fmt.Errorf("meta information %v: implausible length %d", t, length)
		}
		if _, err := r.Discard(headerLen); err != nil {
			return fmt.Errorf("meta information %v: %w", t, err)
		}
		value := make([]byte, length)
		if _, err := io.ReadFull(r, value); err != nil {
			return fmt.Errorf("meta information %v: %w", t, err)
		}
		m.dataStart += int64(headerLen) + int64(length)
		switch t {
		case tagMediaStorageSOPClass:
			m.sopClass = trimUID(value)
		case tagMediaStorageSOPInst:
			m.sopInstance = trimUID(value)
		case tagTransferSyntax:
			m.ts = trimUID(value)
		}
	}
}

func errOr(err error) error {
	if err == nil || err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func trimUID(v []byte) string {
	return strings.TrimRight(string(bytes.TrimRight(v, "\x00 ")), "\x00 ")
}

func isVR(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}

// looksLikeDataSet reports whether head plausibly starts a data set without
// meta information: an even group of the command or identifying groups
// (0000-0008), little or big endian. Executables ("MZ", ELF, "#!"), ZIPs
// and pictures all fail this.
func looksLikeDataSet(head []byte) bool {
	if len(head) < 8 {
		return false
	}
	le := binary.LittleEndian.Uint16(head)
	be := binary.BigEndian.Uint16(head)
	return le <= 0x0008 && le%2 == 0 || be <= 0x0008 && be%2 == 0 && be != 0
}

// sniffTransferSyntax guesses the transfer syntax of a bare data set.
func sniffTransferSyntax(head []byte) string {
	le := binary.LittleEndian.Uint16(head)
	switch {
	case le > 0x0008 && binary.BigEndian.Uint16(head) <= 0x0008:
		return uidExplicitVRBE
	case isVR(string(head[4:6])):
		return uidExplicitVRLE
	default:
		return uidImplicitVRLE
	}
}

// newMeta encodes a fresh preamble (128 zero bytes), "DICM" and File Meta
// Information group for an instance.
func newMeta(sopClass, sopInstance, ts string) ([]byte, error) {
	els := []element{
		obElement(tagMetaVersion, []byte{0, 1}),
		uidElement(tagMediaStorageSOPClass, sopClass),
		uidElement(tagMediaStorageSOPInst, sopInstance),
		uidElement(tagTransferSyntax, ts),
		uidElement(tagImplementationClass, implementationClassUID),
		textElement(tagImplementationVersion, "SH", []byte(implementationVersion)),
	}
	els = append(els, ulElement(tagMetaGroupLength, uint32(elementsSize(els))))
	b := make([]byte, 128, 128+4+256)
	b = append(b, "DICM"...)
	return appendElements(b, els)
}
