package dimse

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/bildbote/bildbote/internal/dicomvr"
	"github.com/bildbote/bildbote/internal/i18n"
)

// fakeSCP listens on 127.0.0.1 and hands each connection to serve.
func fakeSCP(t *testing.T, serve func(c net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				serve(c)
			}()
		}
	}()
	return l.Addr().String()
}

// acceptAll answers an A-ASSOCIATE-RQ with an AC that accepts every
// proposed context in its first transfer syntax.
func acceptAll(t *testing.T, c net.Conn) bool {
	typ, body, err := readPDU(c, 1<<20)
	if err != nil || typ != pduAssociateRQ {
		return false
	}
	var out bytes.Buffer
	out.Write(body[:68])
	eachItem(body[68:], func(typ byte, v []byte) error {
		switch typ {
		case itemAppContext:
			putItem(&out, typ, v)
		case itemPresContextRQ:
			var ts []byte
			eachItem(v[4:], func(t byte, s []byte) error {
				if t == itemTransferSyntax && ts == nil {
					ts = s
				}
				return nil
			})
			var sub bytes.Buffer
			sub.Write([]byte{v[0], 0, 0, 0})
			putItem(&sub, itemTransferSyntax, ts)
			putItem(&out, itemPresContextAC, sub.Bytes())
		}
		return nil
	})
	var ui bytes.Buffer
	putItem(&ui, itemMaxLength, binary.BigEndian.AppendUint32(nil, 16384))
	putItem(&out, itemUserInfo, ui.Bytes())
	_, err = c.Write(pduBytes(pduAssociateAC, out.Bytes()))
	return err == nil
}

func faultCfg(addr string) Config {
	return Config{Addr: addr, Called: "PACS", Calling: "BILDBOTE",
		ConnectTimeout: time.Second, ARTIM: 300 * time.Millisecond, ReadTimeout: 300 * time.Millisecond, WriteTimeout: 300 * time.Millisecond}
}

func wantKey(t *testing.T, err error, key string) *i18n.UserError {
	t.Helper()
	ue, ok := i18n.AsUserError(err)
	if !ok || ue.Key != key {
		t.Fatalf("err %v, want UserError %s", err, key)
	}
	return ue
}

func bounded(t *testing.T, start time.Time) {
	t.Helper()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestFaultNoAnswerToAssociate(t *testing.T) {
	addr := fakeSCP(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	start := time.Now()
	err := Echo(context.Background(), faultCfg(addr))
	wantKey(t, err, "dimse.timeout")
	bounded(t, start)
}

func TestFaultClosedAfterRequest(t *testing.T) {
	addr := fakeSCP(t, func(c net.Conn) { readPDU(c, 1<<20) })
	start := time.Now()
	err := Echo(context.Background(), faultCfg(addr))
	// Not a TLS port either (the probe's ClientHello is closed too).
	wantKey(t, err, "dimse.closed_unanswered")
	bounded(t, start)
}

func TestFaultConnectionRefused(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	ue := wantKey(t, Echo(context.Background(), faultCfg(addr)), "dimse.refused")
	if ue.Kind != i18n.KindTransient {
		t.Errorf("kind %v", ue.Kind)
	}
}

func TestFaultCallingAERejected(t *testing.T) {
	addr := fakeSCP(t, func(c net.Conn) {
		readPDU(c, 1<<20)
		c.Write(pduBytes(pduAssociateRJ, []byte{0, RejectPermanent, SourceServiceUser, ReasonCallingAENotRecognized}))
	})
	err := Echo(context.Background(), faultCfg(addr))
	var rj *RejectedError
	if !errors.As(err, &rj) || !rj.CallingAENotRecognized() {
		t.Fatalf("err %v", err)
	}
	ue := wantKey(t, err, "dimse.reject.calling")
	if got, want := ue.Message(i18n.DE), "Das PACS lehnt den Aufrufer BILDBOTE ab – AE-Titel beim PACS eintragen lassen."; got != want {
		t.Errorf("de %q, want %q", got, want)
	}
	if got := ue.Message(i18n.EN); got != "The PACS refuses the caller BILDBOTE – ask for this AE title to be registered at the PACS." {
		t.Errorf("en %q", got)
	}
	if ue.Kind != i18n.KindRefused || ue.Hint(i18n.DE) == "" {
		t.Errorf("kind %v hint %q", ue.Kind, ue.Hint(i18n.DE))
	}
}

func TestFaultBusyIsTransient(t *testing.T) {
	addr := fakeSCP(t, func(c net.Conn) {
		readPDU(c, 1<<20)
		c.Write(pduBytes(pduAssociateRJ, []byte{0, RejectTransient, SourceServiceProviderPresentn, ReasonLocalLimitExceeded}))
	})
	ue := wantKey(t, Echo(context.Background(), faultCfg(addr)), "dimse.reject.busy")
	if ue.Kind != i18n.KindTransient {
		t.Errorf("kind %v", ue.Kind)
	}
}

// A peer announcing a 2 GiB PDU is refused before anything is allocated.
func TestFaultHugePDU(t *testing.T) {
	addr := fakeSCP(t, func(c net.Conn) {
		readPDU(c, 1<<20)
		c.Write([]byte{pduAssociateAC, 0, 0x7f, 0xff, 0xff, 0xff})
		io.Copy(io.Discard, c)
	})
	var pe *ProtocolError
	if err := Echo(context.Background(), faultCfg(addr)); !errors.As(err, &pe) {
		t.Fatalf("err %v, want ProtocolError", err)
	}
}

// The SCP accepts, then closes the connection in the middle of the first
// C-STORE: that instance fails, the others are reported as not sent,
// within the timeouts.
func TestFaultClosedMidStore(t *testing.T) {
	addr := fakeSCP(t, func(c net.Conn) {
		if acceptAll(t, c) {
			readPDU(c, 1<<20) // the command
			readPDU(c, 1<<20) // one data fragment
		}
	})
	paths := mixedFiles(t, "CT_small.dcm", "MR_small.dcm")
	start := time.Now()
	res, err := StoreFiles(context.Background(), faultCfg(addr), paths)
	if err == nil {
		t.Fatal("no error")
	}
	bounded(t, start)
	if res[0].Stored() || res[0].Err == nil || res[0].SentAs == "" {
		t.Errorf("first: %+v", res[0])
	}
	wantKey(t, res[1].Err, "dimse.instance.not_sent")
}

// The SCP takes the whole C-STORE and never answers: ReadTimeout.
func TestFaultStallAfterStore(t *testing.T) {
	addr := fakeSCP(t, func(c net.Conn) {
		if acceptAll(t, c) {
			io.Copy(io.Discard, c)
		}
	})
	start := time.Now()
	_, err := StoreFiles(context.Background(), faultCfg(addr), mixedFiles(t, "CT_small.dcm"))
	wantKey(t, err, "dimse.timeout")
	bounded(t, start)
}

// An SCP that stops reading (a full TCP window) ends the write after
// WriteTimeout, not never.
func TestFaultStopsReading(t *testing.T) {
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	addr := fakeSCP(t, func(c net.Conn) {
		if acceptAll(t, c) {
			<-block
		}
	})
	big := make([]byte, 64<<20)
	cfg := faultCfg(addr)
	a, err := Dial(context.Background(), cfg, []PresentationContext{{AbstractSyntax: "1.2.840.10008.5.1.4.1.1.7", TransferSyntaxes: []string{ImplicitVRLittleEndian}}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = a.roundTrip(1, storeRQ(1, "1.2.840.10008.5.1.4.1.1.7", "1.2.3"), cmdCStoreRSP, bytes.NewReader(big), int64(len(big)))
	if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("err %v, want a timeout", err)
	}
	bounded(t, start)
}

// The SCP answers the C-STORE with A-ABORT.
func TestFaultAbortInsteadOfResponse(t *testing.T) {
	addr := fakeSCP(t, func(c net.Conn) {
		if acceptAll(t, c) {
			for {
				_, body, err := readPDU(c, 1<<20)
				if err != nil {
					return
				}
				pdvs, _ := parsePData(body)
				if len(pdvs) > 0 && !pdvs[0].Command && pdvs[0].Last {
					c.Write(pduBytes(pduAbort, []byte{0, 0, 2, 6}))
					return
				}
			}
		}
	})
	_, err := StoreFiles(context.Background(), faultCfg(addr), mixedFiles(t, "CT_small.dcm"))
	var ab *AbortedError
	if !errors.As(err, &ab) || ab.Source != 2 || ab.Reason != 6 {
		t.Fatalf("err %v", err)
	}
	wantKey(t, err, "dimse.aborted")
}

// Cancelling the context ends a wait at once, whatever the timeouts.
func TestFaultContextCancel(t *testing.T) {
	addr := fakeSCP(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	cfg := faultCfg(addr)
	cfg.ARTIM = time.Minute
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	if err := Echo(ctx, cfg); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	bounded(t, start)
}

func TestCommandRoundTrip(t *testing.T) {
	c := storeRQ(7, "1.2.840.10008.5.1.4.1.1.2", "1.2.3.4")
	enc := c.encode()
	if binary.LittleEndian.Uint32(enc[8:]) != uint32(len(enc)-12) {
		t.Errorf("group length %d, want %d", binary.LittleEndian.Uint32(enc[8:]), len(enc)-12)
	}
	got, err := parseCommand(enc)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := got.u16(tagMessageID); id != 7 || got.str(tagAffectedSOPInstance) != "1.2.3.4" || !got.hasDataSet() {
		t.Errorf("parsed %v", got)
	}
	if _, err := parseCommand(enc[:len(enc)-3]); err == nil {
		t.Error("a cut command set parses")
	}
}

func TestStatusSeverity(t *testing.T) {
	for st, want := range map[Status]Severity{0: Success, 0xB000: Warning, 0xB007: Warning, 0x0107: Warning, 0xA700: Failure, 0xC000: Failure, 0x0122: Failure, 0xA900: Failure} {
		if st.Severity() != want {
			t.Errorf("%v: %v, want %v", st, st.Severity(), want)
		}
	}
}

func TestBatchesAt128Contexts(t *testing.T) {
	var insts []*Instance
	for i := range 130 {
		insts = append(insts, &Instance{SOPClassUID: "1.2." + strconv.Itoa(i), TransferSyntax: ExplicitVRLittleEndian})
		insts = append(insts, &Instance{SOPClassUID: "1.2." + strconv.Itoa(i), TransferSyntax: ExplicitVRLittleEndian})
	}
	b := batches(insts)
	if len(b) != 2 || len(b[0]) != 256 || len(ContextsFor(b[0])) != 128 || len(ContextsFor(b[1])) != 2 {
		t.Errorf("%d batches", len(b))
	}
}

// Group lengths and defined sequence/item lengths follow the shorter
// implicit headers.
func TestExplicitToImplicitLengths(t *testing.T) {
	el := func(g, e uint16, vr string, v []byte) []byte {
		b := binary.LittleEndian.AppendUint16(nil, g)
		b = binary.LittleEndian.AppendUint16(b, e)
		b = append(b, vr...)
		if dicomvr.LongLength(vr) {
			b = append(b, 0, 0)
			b = binary.LittleEndian.AppendUint32(b, uint32(len(v)))
		} else {
			b = binary.LittleEndian.AppendUint16(b, uint16(len(v)))
		}
		return append(b, v...)
	}
	item := func(v []byte) []byte {
		b := binary.LittleEndian.AppendUint16(nil, 0xFFFE)
		b = binary.LittleEndian.AppendUint16(b, 0xE000)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(v)))
		return append(b, v...)
	}
	inner := el(0x0008, 0x0100, "SH", []byte("T1"))
	sq := el(0x0008, 0x1140, "SQ", item(inner))
	ob := el(0x0009, 0x1001, "OB", []byte{1, 2})
	group8 := append(el(0x0008, 0x0060, "CS", []byte("CT")), sq...)
	in := append(el(0x0008, 0x0000, "UL", binary.LittleEndian.AppendUint32(nil, uint32(len(group8)))), group8...)
	in = append(in, ob...)
	out, err := ExplicitToImplicit(in)
	if err != nil {
		t.Fatal(err)
	}
	// implicit: (0008,0000) 4 + (0008,0060) 8+2 + SQ 8 + item 8 + (0008,0100) 8+2
	if gl := binary.LittleEndian.Uint32(out[8:]); gl != 10+8+8+10 {
		t.Errorf("group length %d", gl)
	}
	if n := binary.LittleEndian.Uint32(out[12+10+4:]); n != 8+10 {
		t.Errorf("sequence length %d", n)
	}
	if len(out) != 12+10+8+8+10+10 {
		t.Errorf("length %d", len(out))
	}
	if _, err := ExplicitToImplicit(in[:len(in)-1]); err == nil {
		t.Error("cut data converts")
	}
}

func FuzzExplicitToImplicit(f *testing.F) {
	f.Add([]byte{8, 0, 0x60, 0, 'C', 'S', 2, 0, 'C', 'T'})
	f.Fuzz(func(t *testing.T, p []byte) {
		ExplicitToImplicit(p) // must not panic or hang
		BigToLittle(p, true)
		BigToLittle(p, false)
	})
}

func FuzzParseAssociateAC(f *testing.F) {
	f.Add(make([]byte, 80))
	f.Fuzz(func(t *testing.T, p []byte) {
		parseAssociateAC(p)
		parsePData(p)
		parseCommand(p)
	})
}

// storeSCP answers each C-STORE with the next of statuses (and comment).
func storeSCP(t *testing.T, statuses []Status, comment string) string {
	return fakeSCP(t, func(c net.Conn) {
		if !acceptAll(t, c) {
			return
		}
		var cmd []byte
		var rq command
		n := 0
		for {
			typ, body, err := readPDU(c, 1<<20)
			if err != nil || typ != pduPData {
				if typ == pduReleaseRQ {
					c.Write(pduBytes(pduReleaseRP, []byte{0, 0, 0, 0}))
				}
				return
			}
			pdvs, _ := parsePData(body)
			for _, v := range pdvs {
				if v.Command {
					cmd = append(cmd, v.Data...)
					if v.Last {
						rq, _ = parseCommand(cmd)
						cmd = nil
					}
					continue
				}
				if !v.Last {
					continue
				}
				id, _ := rq.u16(tagMessageID)
				rsp := command{
					tagAffectedSOPClass:     ui(rq.str(tagAffectedSOPClass)),
					tagCommandField:         us(cmdCStoreRSP),
					tagMessageIDRespondedTo: us(id),
					tagDataSetType:          us(noDataSet),
					tagStatus:               us(uint16(statuses[n%len(statuses)])),
					tagAffectedSOPInstance:  ui(rq.str(tagAffectedSOPInstance)),
				}
				if statuses[n%len(statuses)] != 0 && comment != "" {
					rsp[tagErrorComment] = ui(comment)
				}
				n++
				enc := rsp.encode()
				var p bytes.Buffer
				binary.Write(&p, binary.BigEndian, uint32(len(enc)+2))
				p.Write([]byte{v.ContextID, 3})
				p.Write(enc)
				c.Write(pduBytes(pduPData, p.Bytes()))
			}
		}
	})
}

// Per-instance statuses: success, a warning (B007) that still counts as
// stored, and a failure (A700) with the SCP's Error Comment; the
// association goes on after the failure.
func TestPerInstanceStatus(t *testing.T) {
	addr := storeSCP(t, []Status{StatusSuccess, StatusDataSetMismatch, StatusOutOfResources, StatusSuccess}, "Speicher voll")
	res, err := StoreFiles(context.Background(), faultCfg(addr), mixedFiles(t, "CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "rtdose.dcm"))
	if err != nil {
		t.Fatal(err)
	}
	if !res[0].Stored() || res[0].Err != nil || res[0].Status != 0 {
		t.Errorf("0: %+v", res[0])
	}
	if !res[1].Stored() || res[1].Err != nil || res[1].Status != 0xB007 || res[1].Status.Severity() != Warning || res[1].ErrorComment != "Speicher voll" {
		t.Errorf("1: %+v", res[1])
	}
	if res[2].Stored() || res[2].Status != 0xA700 || res[2].ErrorComment != "Speicher voll" {
		t.Errorf("2: %+v", res[2])
	}
	ue := wantKey(t, res[2].Err, "dimse.instance.failed")
	if msg := ue.Message(i18n.DE); msg != "Das PACS hat das Bild nicht gespeichert (Status 0xA700: Speicher voll)." {
		t.Errorf("de %q", msg)
	}
	if !res[3].Stored() {
		t.Errorf("3: %+v", res[3])
	}
}
