package dimse

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
)

// Command fields (PS3.7 §E.1).
const (
	cmdCStoreRQ  = 0x0001
	cmdCStoreRSP = 0x8001
	cmdCEchoRQ   = 0x0030
	cmdCEchoRSP  = 0x8030

	noDataSet = 0x0101
)

// Command set tags (group 0000), by element number.
const (
	tagAffectedSOPClass     = 0x0002
	tagCommandField         = 0x0100
	tagMessageID            = 0x0110
	tagMessageIDRespondedTo = 0x0120
	tagPriority             = 0x0700
	tagDataSetType          = 0x0800
	tagStatus               = 0x0900
	tagOffendingElement     = 0x0901
	tagErrorComment         = 0x0902
	tagAffectedSOPInstance  = 0x1000
)

// command is a DIMSE command set: element number → value bytes.
type command map[uint16][]byte

func us(v uint16) []byte { b := make([]byte, 2); binary.LittleEndian.PutUint16(b, v); return b }

func ui(uid string) []byte {
	b := []byte(uid)
	if len(b)%2 == 1 {
		b = append(b, 0)
	}
	return b
}

// encode writes the command set in implicit VR little endian, group length first.
func (c command) encode() []byte {
	keys := make([]int, 0, len(c))
	for k := range c {
		if k != 0 {
			keys = append(keys, int(k))
		}
	}
	sort.Ints(keys)
	var body bytes.Buffer
	for _, k := range keys {
		v := c[uint16(k)]
		binary.Write(&body, binary.LittleEndian, [2]uint16{0, uint16(k)})
		binary.Write(&body, binary.LittleEndian, uint32(len(v)))
		body.Write(v)
	}
	out := make([]byte, 12, 12+body.Len())
	binary.LittleEndian.PutUint32(out[4:], 4)
	binary.LittleEndian.PutUint32(out[8:], uint32(body.Len()))
	return append(out, body.Bytes()...)
}

func parseCommand(p []byte) (command, error) {
	c := command{}
	for len(p) > 0 {
		if len(p) < 8 {
			return nil, &ProtocolError{Msg: "command set: element header cut"}
		}
		g := binary.LittleEndian.Uint16(p)
		e := binary.LittleEndian.Uint16(p[2:])
		n := binary.LittleEndian.Uint32(p[4:])
		if g != 0 {
			return nil, &ProtocolError{Msg: fmt.Sprintf("command set: element (%04X,%04X) outside group 0000", g, e)}
		}
		if uint64(n) > uint64(len(p)-8) {
			return nil, &ProtocolError{Msg: fmt.Sprintf("command set: element (0000,%04X) length %d past the end", e, n)}
		}
		c[e] = p[8 : 8+n]
		p = p[8+n:]
	}
	return c, nil
}

func (c command) u16(e uint16) (uint16, bool) {
	v, ok := c[e]
	if !ok || len(v) != 2 {
		return 0, false
	}
	return binary.LittleEndian.Uint16(v), true
}

func (c command) str(e uint16) string { return strings.TrimRight(string(c[e]), "\x00 ") }

func (c command) hasDataSet() bool {
	v, ok := c.u16(tagDataSetType)
	return ok && v != noDataSet
}

func echoRQ(id uint16) command {
	return command{
		tagAffectedSOPClass: ui(VerificationSOPClass),
		tagCommandField:     us(cmdCEchoRQ),
		tagMessageID:        us(id),
		tagDataSetType:      us(noDataSet),
	}
}

func storeRQ(id uint16, class, instance string) command {
	return command{
		tagAffectedSOPClass:    ui(class),
		tagCommandField:        us(cmdCStoreRQ),
		tagMessageID:           us(id),
		tagPriority:            us(0),
		tagDataSetType:         us(0x0000),
		tagAffectedSOPInstance: ui(instance),
	}
}

// Status is a DIMSE status code (PS3.7 Annex C).
type Status uint16

// Some C-STORE statuses (PS3.4 §B.2.3).
const (
	StatusSuccess              Status = 0x0000
	StatusCoercionOfElements   Status = 0xB000
	StatusElementsDiscarded    Status = 0xB006
	StatusDataSetMismatch      Status = 0xB007
	StatusOutOfResources       Status = 0xA700
	StatusSOPClassNotSupported Status = 0x0122
	StatusCannotUnderstand     Status = 0xC000
)

// Severity sorts statuses.
type Severity int

const (
	Success Severity = iota
	Warning
	Failure
)

// Severity tells success, warning (0001, 0107, 0116, Bxxx) or failure.
func (s Status) Severity() Severity {
	switch {
	case s == 0:
		return Success
	case s == 0x0001 || s == 0x0107 || s == 0x0116 || s&0xF000 == 0xB000:
		return Warning
	default:
		return Failure
	}
}

func (s Status) String() string {
	names := map[Status]string{
		StatusSuccess: "success", StatusCoercionOfElements: "warning: coercion of data elements",
		StatusElementsDiscarded: "warning: elements discarded", StatusDataSetMismatch: "warning: data set does not match SOP class",
		StatusSOPClassNotSupported: "refused: SOP class not supported",
	}
	if n, ok := names[s]; ok {
		return fmt.Sprintf("0x%04X (%s)", uint16(s), n)
	}
	switch {
	case s&0xFF00 == 0xA700:
		return fmt.Sprintf("0x%04X (refused: out of resources)", uint16(s))
	case s&0xFF00 == 0xA900:
		return fmt.Sprintf("0x%04X (error: data set does not match SOP class)", uint16(s))
	case s&0xF000 == 0xC000:
		return fmt.Sprintf("0x%04X (error: cannot understand)", uint16(s))
	}
	return fmt.Sprintf("0x%04X", uint16(s))
}
