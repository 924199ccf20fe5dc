package dimse

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/bildbote/bildbote/dicomscan"
	"github.com/bildbote/bildbote/internal/dicomvr"
)

// Instance is one DICOM Part 10 file to send: its UIDs, its transfer
// syntax (as the data is actually written) and where its data set starts.
type Instance struct {
	Path           string
	SOPClassUID    string
	SOPInstanceUID string
	// TransferSyntax is that of the data set. A file whose meta says
	// explicit VR little endian but whose data is implicit (they exist) is
	// taken as implicit.
	TransferSyntax string
	// DataOffset is where the data set begins (after the meta group);
	// DataLength is its length in bytes.
	DataOffset, DataLength int64
}

// maxMeta bounds the file meta group we read.
const maxMeta = 64 << 10

// errNotPart10 means the file lacks a preamble, "DICM" or a transfer syntax.
var errNotPart10 = errors.New("not a DICOM Part 10 file")

func isVRBytes(p []byte) bool {
	return len(p) >= 2 && p[0] >= 'A' && p[0] <= 'Z' && p[1] >= 'A' && p[1] <= 'Z'
}

// OpenInstance reads the file meta information of path, and the SOP class
// and instance UIDs from the data set (through dicomscan's header reader;
// the meta group's copies only where the data set has none).
func OpenInstance(path string) (*Instance, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	head := make([]byte, min(st.Size(), maxMeta))
	if _, err := io.ReadFull(f, head); err != nil {
		return nil, err
	}
	inst := &Instance{Path: path}
	if len(head) < 132 || string(head[128:132]) != "DICM" {
		return nil, fmt.Errorf("%s: %w", path, errNotPart10)
	}
	pos := 132
	for pos+8 <= len(head) && binary.LittleEndian.Uint16(head[pos:]) == 0x0002 {
		elem := binary.LittleEndian.Uint16(head[pos+2:])
		vr := string(head[pos+4 : pos+6])
		var n, hdr int
		if !isVRBytes(head[pos+4:]) {
			return nil, fmt.Errorf("%s: file meta information not in explicit VR: %w", path, errNotPart10)
		}
		if dicomvr.LongLength(vr) {
			if pos+12 > len(head) {
				break
			}
			n, hdr = int(binary.LittleEndian.Uint32(head[pos+8:])), 12
		} else {
			n, hdr = int(binary.LittleEndian.Uint16(head[pos+6:])), 8
		}
		if n < 0 || pos+hdr+n > len(head) {
			return nil, fmt.Errorf("%s: file meta element (0002,%04X) runs past the meta group: %w", path, elem, errNotPart10)
		}
		v := strings.TrimRight(string(head[pos+hdr:pos+hdr+n]), "\x00 ")
		switch elem {
		case 0x0002:
			inst.SOPClassUID = v
		case 0x0003:
			inst.SOPInstanceUID = v
		case 0x0010:
			inst.TransferSyntax = v
		}
		pos += hdr + n
	}
	if inst.TransferSyntax == "" {
		return nil, fmt.Errorf("%s: no transfer syntax in the file meta information: %w", path, errNotPart10)
	}
	inst.DataOffset = int64(pos)
	inst.DataLength = st.Size() - int64(pos)
	if inst.TransferSyntax == ExplicitVRLittleEndian && pos+6 <= len(head) && !isVRBytes(head[pos+4:]) {
		inst.TransferSyntax = ImplicitVRLittleEndian
	}
	// The data set's SOP class and instance UIDs go into the C-STORE-RQ:
	// the meta group's copies can disagree (pydicom's rtplan.dcm), and a
	// PACS such as Orthanc then refuses the instance (0xA900).
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	if h, err := dicomscan.ReadHeader(f, st.Size()); err == nil {
		if h.SOPClassUID != "" {
			inst.SOPClassUID = h.SOPClassUID
		}
		if h.SOPInstanceUID != "" {
			inst.SOPInstanceUID = h.SOPInstanceUID
		}
	}
	if inst.SOPClassUID == "" || inst.SOPInstanceUID == "" {
		return nil, fmt.Errorf("%s: no SOP class or instance UID: %w", path, errNotPart10)
	}
	return inst, nil
}
