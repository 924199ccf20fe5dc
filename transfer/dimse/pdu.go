package dimse

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
)

// PDU types (PS3.8 §9.3).
const (
	pduAssociateRQ = 0x01
	pduAssociateAC = 0x02
	pduAssociateRJ = 0x03
	pduPData       = 0x04
	pduReleaseRQ   = 0x05
	pduReleaseRP   = 0x06
	pduAbort       = 0x07
)

// Item types inside A-ASSOCIATE PDUs.
const (
	itemAppContext     = 0x10
	itemPresContextRQ  = 0x20
	itemPresContextAC  = 0x21
	itemAbstractSyntax = 0x30
	itemTransferSyntax = 0x40
	itemUserInfo       = 0x50
	itemMaxLength      = 0x51
	itemImplClassUID   = 0x52
	itemImplVersion    = 0x55
)

const applicationContext = "1.2.840.10008.3.1.1.1"

// ImplementationClassUID is Bildbote's (the one its DICOMDIR writer uses);
// ImplementationVersionName is sent alongside it.
const (
	ImplementationClassUID    = "2.25.163312069855286155530404436390486553101"
	ImplementationVersionName = "BILDBOTE"
)

// maxControlPDU bounds every PDU other than P-DATA-TF that we read: an
// A-ASSOCIATE-AC for 128 contexts is a few KiB.
const maxControlPDU = 1 << 20

// PresentationContext is one proposed context: an abstract syntax (SOP
// class) and the transfer syntaxes we can send it in, best first.
type PresentationContext struct {
	ID               byte
	AbstractSyntax   string
	TransferSyntaxes []string
}

// Presentation context results in an A-ASSOCIATE-AC (PS3.8 §9.3.3.2).
const (
	PCAccepted                  = 0
	PCUserRejection             = 1
	PCNoReason                  = 2
	PCAbstractSyntaxUnsupported = 3
	PCTransferSyntaxUnsupported = 4
)

// acceptedContext is the SCP's answer to one proposed context.
type acceptedContext struct {
	Result         byte
	TransferSyntax string
}

type associateRQ struct {
	Called, Calling string
	Contexts        []PresentationContext
	MaxLength       uint32
}

func aeField(ae string) []byte {
	b := bytes.Repeat([]byte{' '}, 16)
	copy(b, ae)
	return b
}

func putItem(buf *bytes.Buffer, typ byte, body []byte) {
	buf.WriteByte(typ)
	buf.WriteByte(0)
	binary.Write(buf, binary.BigEndian, uint16(len(body)))
	buf.Write(body)
}

func (rq *associateRQ) encode() []byte {
	var body bytes.Buffer
	body.Write([]byte{0x00, 0x01, 0x00, 0x00}) // protocol version 1, reserved
	body.Write(aeField(rq.Called))
	body.Write(aeField(rq.Calling))
	body.Write(make([]byte, 32))
	putItem(&body, itemAppContext, []byte(applicationContext))
	for _, pc := range rq.Contexts {
		var sub bytes.Buffer
		sub.Write([]byte{pc.ID, 0, 0, 0})
		putItem(&sub, itemAbstractSyntax, []byte(pc.AbstractSyntax))
		for _, ts := range pc.TransferSyntaxes {
			putItem(&sub, itemTransferSyntax, []byte(ts))
		}
		putItem(&body, itemPresContextRQ, sub.Bytes())
	}
	var ui bytes.Buffer
	ml := make([]byte, 4)
	binary.BigEndian.PutUint32(ml, rq.MaxLength)
	putItem(&ui, itemMaxLength, ml)
	putItem(&ui, itemImplClassUID, []byte(ImplementationClassUID))
	putItem(&ui, itemImplVersion, []byte(ImplementationVersionName))
	putItem(&body, itemUserInfo, ui.Bytes())
	return pduBytes(pduAssociateRQ, body.Bytes())
}

func pduBytes(typ byte, body []byte) []byte {
	out := make([]byte, 6+len(body))
	out[0] = typ
	binary.BigEndian.PutUint32(out[2:], uint32(len(body)))
	copy(out[6:], body)
	return out
}

// associateAC is the parsed A-ASSOCIATE-AC.
type associateAC struct {
	Contexts       map[byte]acceptedContext
	MaxLength      uint32 // 0: the SCP sets no limit
	ImplClassUID   string
	ImplVersion    string
	CalledEchoed   string
	CallingEchoed  string
	AppContextSeen bool
}

func trimUID(b []byte) string { return strings.TrimRight(string(b), "\x00 ") }

func parseAssociateAC(body []byte) (*associateAC, error) {
	if len(body) < 68 {
		return nil, fmt.Errorf("A-ASSOCIATE-AC: %d bytes, want at least 68", len(body))
	}
	ac := &associateAC{Contexts: map[byte]acceptedContext{}}
	ac.CalledEchoed = strings.TrimSpace(string(body[4:20]))
	ac.CallingEchoed = strings.TrimSpace(string(body[20:36]))
	err := eachItem(body[68:], func(typ byte, v []byte) error {
		switch typ {
		case itemAppContext:
			ac.AppContextSeen = true
		case itemPresContextAC:
			if len(v) < 4 {
				return fmt.Errorf("presentation context item: %d bytes", len(v))
			}
			c := acceptedContext{Result: v[2]}
			if err := eachItem(v[4:], func(t byte, s []byte) error {
				if t == itemTransferSyntax {
					c.TransferSyntax = trimUID(s)
				}
				return nil
			}); err != nil {
				return err
			}
			ac.Contexts[v[0]] = c
		case itemUserInfo:
			return eachItem(v, func(t byte, s []byte) error {
				switch t {
				case itemMaxLength:
					if len(s) != 4 {
						return fmt.Errorf("maximum length item: %d bytes", len(s))
					}
					ac.MaxLength = binary.BigEndian.Uint32(s)
				case itemImplClassUID:
					ac.ImplClassUID = trimUID(s)
				case itemImplVersion:
					ac.ImplVersion = strings.TrimSpace(string(s))
				}
				return nil
			})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("A-ASSOCIATE-AC: %w", err)
	}
	return ac, nil
}

// eachItem walks type(1) reserved(1) length(2, big endian) items.
func eachItem(p []byte, f func(typ byte, v []byte) error) error {
	for len(p) > 0 {
		if len(p) < 4 {
			return fmt.Errorf("item header cut after %d bytes", len(p))
		}
		n := int(binary.BigEndian.Uint16(p[2:4]))
		if 4+n > len(p) {
			return fmt.Errorf("item 0x%02x: length %d past the end (%d left)", p[0], n, len(p)-4)
		}
		if err := f(p[0], p[4:4+n]); err != nil {
			return err
		}
		p = p[4+n:]
	}
	return nil
}

// readPDU reads one PDU: its type and body. Bodies longer than limit are
// refused without being read.
func readPDU(r io.Reader, limit uint32) (byte, []byte, error) {
	var h [6]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[2:])
	lim := limit
	if h[0] != pduPData {
		lim = maxControlPDU
	}
	if n > lim {
		return h[0], nil, &ProtocolError{Msg: fmt.Sprintf("PDU type 0x%02x of %d bytes exceeds the limit of %d", h[0], n, lim)}
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return h[0], nil, err
	}
	return h[0], body, nil
}

// pdv is one presentation data value of a P-DATA-TF.
type pdv struct {
	ContextID byte
	Command   bool
	Last      bool
	Data      []byte
}

func parsePData(body []byte) ([]pdv, error) {
	var out []pdv
	for len(body) > 0 {
		if len(body) < 6 {
			return nil, &ProtocolError{Msg: "P-DATA-TF: PDV header cut"}
		}
		n := binary.BigEndian.Uint32(body[:4])
		if n < 2 || uint64(n) > uint64(len(body)-4) {
			return nil, &ProtocolError{Msg: fmt.Sprintf("P-DATA-TF: PDV length %d does not fit (%d left)", n, len(body)-4)}
		}
		h := body[5]
		out = append(out, pdv{ContextID: body[4], Command: h&1 != 0, Last: h&2 != 0, Data: body[6 : 4+n]})
		body = body[4+n:]
	}
	return out, nil
}
