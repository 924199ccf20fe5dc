package dimse

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"
)

// Transfer syntaxes and SOP classes this package names.
const (
	ImplicitVRLittleEndian = "1.2.840.10008.1.2"
	ExplicitVRLittleEndian = "1.2.840.10008.1.2.1"
	ExplicitVRBigEndian    = "1.2.840.10008.1.2.2"
	DeflatedExplicitVRLE   = "1.2.840.10008.1.2.1.99"
	VerificationSOPClass   = "1.2.840.10008.1.1"
)

// Defaults for Config fields left zero.
const (
	DefaultMaxPDU         = 1 << 16
	DefaultConnectTimeout = 10 * time.Second
	DefaultARTIM          = 30 * time.Second
	DefaultReadTimeout    = 60 * time.Second
	DefaultWriteTimeout   = 60 * time.Second
	DefaultCalling        = "BILDBOTE"
	// maxSendPDU caps what we send when the SCP sets no limit (0).
	maxSendPDU = 1 << 20
)

// Config says where the SCP is and how long to wait. Every wait is bounded.
type Config struct {
	Addr    string // host:port
	Called  string // the SCP's AE title
	Calling string // ours; DefaultCalling when empty
	// MaxPDU is the largest P-DATA-TF we accept (our max length).
	MaxPDU uint32
	// ConnectTimeout bounds the TCP connect; ARTIM bounds the wait for
	// A-ASSOCIATE-AC/RJ and A-RELEASE-RP (PS3.8 §9.1.5); ReadTimeout bounds
	// the wait for each DIMSE response; WriteTimeout bounds each PDU write.
	ConnectTimeout, ARTIM, ReadTimeout, WriteTimeout time.Duration
	// Associations is the number of parallel associations StoreFiles
	// opens (default 1).
	Associations int
	// Dial replaces the TCP dialer (tests).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// TLS, when set, runs every association over DICOM TLS (see
	// TLSConfig); the handshake is bounded by ARTIM like the association
	// request.
	TLS *TLSConfig
}

func (c Config) withDefaults() Config {
	if c.Calling == "" {
		c.Calling = DefaultCalling
	}
	if c.MaxPDU == 0 {
		c.MaxPDU = DefaultMaxPDU
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.ARTIM == 0 {
		c.ARTIM = DefaultARTIM
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	return c
}

// ValidAETitle reports whether ae is 1-16 characters of printable ASCII
// without backslash and not all spaces (PS3.5 AE).
func ValidAETitle(ae string) bool {
	if len(ae) == 0 || len(ae) > 16 || strings.TrimSpace(ae) == "" {
		return false
	}
	for _, r := range ae {
		if r < 0x20 || r > 0x7e || r == '\\' {
			return false
		}
	}
	return true
}

// Association is an established association to an SCP. It is not safe
// for concurrent use: one DIMSE operation at a time.
type Association struct {
	cfg      Config
	ctx      context.Context
	conn     net.Conn // the association's stream: raw, or TLS over raw
	raw      net.Conn // the TCP connection (QUICKACK, deadlines on cancel)
	r        *bufio.Reader
	w        *bufio.Writer
	sendMax  uint32 // largest P-DATA-TF body we may send
	contexts map[byte]acceptedContext
	proposed map[byte]PresentationContext
	msgID    uint16
	stop     func() bool
	closeMu  sync.Once
	broken   error // set once the association can no longer be used
	tlsInfo  *TLSInfo
	// PeerImplementation is the SCP's implementation class UID and version.
	PeerImplementation string
}

// Dial connects and negotiates the association with the given contexts
// (IDs are assigned here: 1, 3, 5, ...; at most 128). Errors are
// *i18n.UserError wrapping *RejectedError, *AbortedError, *ProtocolError
// or the network error.
func Dial(ctx context.Context, cfg Config, contexts []PresentationContext) (*Association, error) {
	cfg = cfg.withDefaults()
	a, err := dial(ctx, cfg, contexts)
	if err != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("dimse: %w", ctx.Err())
	}
	return a, userError(err, cfg.Addr, cfg.Called, cfg.Calling)
}

// userErr is userError for this association; a cancelled context is
// returned as such (errors.Is(err, context.Canceled)).
func (a *Association) userErr(err error) error {
	if err != nil && a.ctx.Err() != nil {
		return fmt.Errorf("dimse: %w", a.ctx.Err())
	}
	return userError(err, a.cfg.Addr, a.cfg.Called, a.cfg.Calling)
}

func dial(ctx context.Context, cfg Config, contexts []PresentationContext) (*Association, error) {
	if !ValidAETitle(cfg.Called) || !ValidAETitle(cfg.Calling) {
		return nil, fmt.Errorf("dimse: invalid AE title (called %q, calling %q)", cfg.Called, cfg.Calling)
	}
	if len(contexts) == 0 || len(contexts) > 128 {
		return nil, fmt.Errorf("dimse: %d presentation contexts (1..128)", len(contexts))
	}
	var tconf *tls.Config
	var probe *tlsProbe
	if cfg.TLS != nil {
		// The files first: a CA file that cannot be read stops us before
		// anything goes on the wire.
		var err error
		if tconf, probe, err = cfg.TLS.clientConfig(tlsHost(cfg.Addr)); err != nil {
			return nil, err
		}
	}
	dctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	dialFn := cfg.Dial
	if dialFn == nil {
		dialFn = (&net.Dialer{}).DialContext
	}
	raw, err := dialFn(dctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, err
	}
	a := &Association{
		cfg:      cfg,
		ctx:      ctx,
		conn:     raw,
		raw:      raw,
		proposed: map[byte]PresentationContext{},
	}
	// Cancelling ctx unblocks any read or write at once (TLS's too: its
	// deadlines are the TCP connection's).
	a.stop = context.AfterFunc(ctx, func() { raw.SetDeadline(time.Unix(1, 0)) })
	if cfg.TLS != nil {
		tc, err := startTLS(ctx, cfg, tconf, probe, raw)
		if err != nil {
			a.closeConn()
			return nil, err
		}
		a.conn = tc
		a.tlsInfo = newTLSInfo(tc.ConnectionState(), probe)
		// ackConn beneath TLS acknowledges each TCP read.
		a.r = bufio.NewReaderSize(tc, 64<<10)
	} else {
		a.r = bufio.NewReaderSize(ackReader{raw}, 64<<10)
	}
	a, err = a.associate(contexts)
	var ue *unansweredError
	if errors.As(err, &ue) && cfg.TLS == nil && speaksTLS(ctx, cfg) {
		return nil, &TLSError{Problem: TLSExpected, Err: err}
	}
	if err != nil && cfg.TLS != nil {
		// TLS 1.3: the PACS judges our certificate (or its absence) after
		// our half of the handshake; its alert arrives here.
		err = classifyTLS(err, tconf.ServerName, probe, false)
	}
	return a, err
}

// associate sends A-ASSOCIATE-RQ and reads the answer.
func (a *Association) associate(contexts []PresentationContext) (*Association, error) {
	cfg, conn := a.cfg, a.conn
	rq := &associateRQ{Called: cfg.Called, Calling: cfg.Calling, MaxLength: cfg.MaxPDU}
	for i, pc := range contexts {
		pc.ID = byte(2*i + 1)
		rq.Contexts = append(rq.Contexts, pc)
		a.proposed[pc.ID] = pc
	}
	if err := a.writeRaw(rq.encode()); err != nil {
		if cfg.TLS != nil {
			// TLS 1.3: a PACS that refused our certificate sent its alert
			// and hung up; our request then meets the reset. The alert
			// says more than the reset, and it is still to be read.
			a.raw.SetReadDeadline(time.Now().Add(min(cfg.ARTIM, time.Second)))
			if _, rerr := a.r.Peek(1); rerr != nil {
				if _, ok := remoteAlert(rerr); ok {
					err = rerr
				}
			}
		}
		a.closeConn()
		return nil, err
	}
	conn.SetReadDeadline(time.Now().Add(cfg.ARTIM))
	if b, err := a.r.Peek(2); cfg.TLS == nil && err == nil && looksLikeTLS(b) {
		// A TLS alert or handshake record answers our PDU: the port
		// speaks DICOM TLS only.
		a.closeConn()
		return nil, &TLSError{Problem: TLSExpected, Err: fmt.Errorf("TLS record 0x%02x%02x in answer to A-ASSOCIATE-RQ", b[0], b[1])}
	} else if len(b) == 0 && isClosed(err) {
		// Not a byte in answer: a filter for unknown peers, or a TLS
		// port (OpenSSL closes on "wrong version number" without an
		// alert); dial tells them apart.
		a.closeConn()
		return nil, &unansweredError{err}
	}
	typ, body, err := readPDU(a.r, cfg.MaxPDU)
	if err != nil {
		a.closeConn()
		return nil, err
	}
	switch typ {
	case pduAssociateAC:
		ac, err := parseAssociateAC(body)
		if err != nil {
			a.abort()
			return nil, &ProtocolError{Msg: err.Error()}
		}
		a.contexts = ac.Contexts
		a.sendMax = ac.MaxLength
		if a.sendMax == 0 || a.sendMax > maxSendPDU {
			a.sendMax = maxSendPDU
		}
		if a.sendMax < 128 {
			a.abort()
			return nil, &ProtocolError{Msg: fmt.Sprintf("maximum PDU length %d is too small", ac.MaxLength)}
		}
		a.PeerImplementation = strings.TrimSpace(ac.ImplClassUID + " " + ac.ImplVersion)
		a.w = bufio.NewWriterSize(deadlineWriter{conn, cfg.WriteTimeout}, int(a.sendMax)+6)
		// An association without an accepted context is still one: each
		// operation reports its refused context (Echo: ErrNoContext, Store:
		// the instance's Result).
		return a, nil
	case pduAssociateRJ:
		a.closeConn()
		if len(body) < 4 {
			return nil, &ProtocolError{Msg: "A-ASSOCIATE-RJ too short"}
		}
		return nil, &RejectedError{Result: body[1], Source: body[2], Reason: body[3], Called: cfg.Called, Calling: cfg.Calling}
	case pduAbort:
		a.closeConn()
		return nil, abortError(body)
	default:
		a.abort()
		return nil, &ProtocolError{Msg: fmt.Sprintf("PDU type 0x%02x instead of A-ASSOCIATE-AC", typ)}
	}
}

func abortError(body []byte) error {
	if len(body) < 4 {
		return &AbortedError{}
	}
	return &AbortedError{Source: body[2], Reason: body[3]}
}

// deadlineWriter sets the write deadline before every write, so a peer
// that stops reading ends the transfer after d instead of never.
type deadlineWriter struct {
	c net.Conn
	d time.Duration
}

func (w deadlineWriter) Write(p []byte) (int, error) {
	w.c.SetWriteDeadline(time.Now().Add(w.d))
	return w.c.Write(p)
}

// ackReader reads from the connection and acknowledges what it read at
// once (quickAck), so a peer with Nagle's algorithm on does not hold the
// rest of its response until our delayed ACK.
type ackReader struct{ c net.Conn }

func (r ackReader) Read(p []byte) (int, error) {
	n, err := r.c.Read(p)
	if n > 0 {
		quickAck(r.c)
	}
	return n, err
}

func (a *Association) writeRaw(p []byte) error {
	a.conn.SetWriteDeadline(time.Now().Add(a.cfg.WriteTimeout))
	_, err := a.conn.Write(p)
	return err
}

func (a *Association) closeConn() {
	a.closeMu.Do(func() {
		if a.stop != nil {
			a.stop()
		}
		a.conn.Close()
	})
}

// abort sends A-ABORT (source 0, service user) and closes.
func (a *Association) abort() {
	a.conn.SetWriteDeadline(time.Now().Add(time.Second))
	a.conn.Write(pduBytes(pduAbort, []byte{0, 0, 0, 0}))
	a.closeConn()
}

// Abort ends the association at once with an A-ABORT.
func (a *Association) Abort() {
	if a.broken == nil {
		a.broken = errors.New("dimse: association aborted by us")
	}
	a.abort()
}

// Release ends the association in order (A-RELEASE-RQ, wait up to ARTIM
// for A-RELEASE-RP) and closes the connection.
func (a *Association) Release() error {
	defer a.closeConn()
	if a.broken != nil {
		return nil
	}
	a.broken = errors.New("dimse: association released")
	if err := a.writeRaw(pduBytes(pduReleaseRQ, []byte{0, 0, 0, 0})); err != nil {
		return err
	}
	a.conn.SetReadDeadline(time.Now().Add(a.cfg.ARTIM))
	for {
		typ, body, err := readPDU(a.r, a.cfg.MaxPDU)
		if err != nil {
			return err
		}
		switch typ {
		case pduReleaseRP:
			return nil
		case pduAbort:
			return abortError(body)
		case pduPData:
			continue // a late response; PS3.8 lets it arrive
		default:
			return &ProtocolError{Msg: fmt.Sprintf("PDU type 0x%02x instead of A-RELEASE-RP", typ)}
		}
	}
}

// AcceptedSyntax returns the transfer syntax the SCP accepted for the
// proposed context, or "" with the result code when it refused it.
func (a *Association) acceptedSyntax(id byte) (string, byte) {
	c, ok := a.contexts[id]
	if !ok {
		return "", PCNoReason
	}
	if c.Result != PCAccepted {
		return "", c.Result
	}
	return c.TransferSyntax, PCAccepted
}

func (a *Association) nextID() uint16 {
	a.msgID++
	if a.msgID == 0 {
		a.msgID = 1
	}
	return a.msgID
}

// writeMessage sends the command and the data set (n bytes from data, or
// none) in P-DATA-TF PDUs no larger than the SCP's maximum.
func (a *Association) writeMessage(pcID byte, cmd []byte, data io.Reader, n int64) error {
	if err := a.writeFragments(pcID, true, bytesReader(cmd), int64(len(cmd))); err != nil {
		return err
	}
	if data != nil {
		if err := a.writeFragments(pcID, false, data, n); err != nil {
			return err
		}
	}
	return a.w.Flush()
}

func (a *Association) writeFragments(pcID byte, isCmd bool, r io.Reader, n int64) error {
	chunk := int64(a.sendMax) - 6
	var hdr [12]byte
	for first := true; first || n > 0; first = false {
		k := min(chunk, n)
		ctl := byte(0)
		if isCmd {
			ctl |= 1
		}
		if k == n {
			ctl |= 2
		}
		hdr[0] = pduPData
		hdr[1] = 0
		binary.BigEndian.PutUint32(hdr[2:], uint32(k+6))
		binary.BigEndian.PutUint32(hdr[6:], uint32(k+2))
		hdr[10] = pcID
		hdr[11] = ctl
		if _, err := a.w.Write(hdr[:]); err != nil {
			return err
		}
		if _, err := io.CopyN(a.w, r, k); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// readResponse reads the next DIMSE message's command set (and drops a
// data set that follows it), waiting at most ReadTimeout for each PDU.
func (a *Association) readResponse() (command, byte, error) {
	var cmdBuf []byte
	var pcID byte
	haveCmd := false
	for {
		a.conn.SetReadDeadline(time.Now().Add(a.cfg.ReadTimeout))
		typ, body, err := readPDU(a.r, a.cfg.MaxPDU)
		if err != nil {
			return nil, 0, err
		}
		switch typ {
		case pduPData:
		case pduAbort:
			return nil, 0, abortError(body)
		case pduReleaseRQ:
			// The SCP wants to end: answer, it is over for us too.
			a.writeRaw(pduBytes(pduReleaseRP, []byte{0, 0, 0, 0}))
			return nil, 0, &ProtocolError{Msg: "the SCP released the association while we waited for a response"}
		default:
			return nil, 0, &ProtocolError{Msg: fmt.Sprintf("PDU type 0x%02x while waiting for a response", typ)}
		}
		pdvs, err := parsePData(body)
		if err != nil {
			return nil, 0, err
		}
		for _, v := range pdvs {
			if !v.Command {
				continue // a response data set: not used by C-ECHO/C-STORE
			}
			if len(cmdBuf)+len(v.Data) > 1<<20 {
				return nil, 0, &ProtocolError{Msg: "response command set over 1 MiB"}
			}
			cmdBuf = append(cmdBuf, v.Data...)
			pcID = v.ContextID
			if v.Last {
				haveCmd = true
			}
		}
		if haveCmd {
			c, err := parseCommand(cmdBuf)
			if err != nil {
				return nil, 0, err
			}
			if c.hasDataSet() {
				if err := a.skipDataSet(); err != nil {
					return nil, 0, err
				}
			}
			return c, pcID, nil
		}
	}
}

func (a *Association) skipDataSet() error {
	for {
		a.conn.SetReadDeadline(time.Now().Add(a.cfg.ReadTimeout))
		typ, body, err := readPDU(a.r, a.cfg.MaxPDU)
		if err != nil {
			return err
		}
		if typ != pduPData {
			if typ == pduAbort {
				return abortError(body)
			}
			return &ProtocolError{Msg: fmt.Sprintf("PDU type 0x%02x inside a data set", typ)}
		}
		pdvs, err := parsePData(body)
		if err != nil {
			return err
		}
		for _, v := range pdvs {
			if !v.Command && v.Last {
				return nil
			}
		}
	}
}

// roundTrip sends one request and returns the matching response. Any
// error leaves the association unusable (it is aborted).
func (a *Association) roundTrip(pcID byte, rq command, wantField uint16, data io.Reader, n int64) (command, error) {
	if a.broken != nil {
		return nil, a.broken
	}
	id, _ := rq.u16(tagMessageID)
	err := a.writeMessage(pcID, rq.encode(), data, n)
	var rsp command
	if err == nil {
		quickAck(a.raw)
		rsp, _, err = a.readResponse()
	}
	if err == nil {
		f, _ := rsp.u16(tagCommandField)
		to, _ := rsp.u16(tagMessageIDRespondedTo)
		if f != wantField || to != id {
			err = &ProtocolError{Msg: fmt.Sprintf("response 0x%04X to message %d, want 0x%04X to %d", f, to, wantField, id)}
		} else if _, ok := rsp.u16(tagStatus); !ok {
			err = &ProtocolError{Msg: "response without status"}
		}
	}
	if err != nil {
		a.broken = err
		var ab *AbortedError
		if !errors.As(err, &ab) {
			a.abort()
		} else {
			a.closeConn()
		}
		return nil, err
	}
	return rsp, nil
}

// Echo sends C-ECHO-RQ on a Verification context (it must have been
// proposed) and checks the status.
func (a *Association) Echo() error {
	return a.userErr(a.echo())
}

func (a *Association) echo() error {
	for id, pc := range a.proposed {
		if pc.AbstractSyntax != VerificationSOPClass {
			continue
		}
		if ts, _ := a.acceptedSyntax(id); ts == "" {
			continue
		}
		rsp, err := a.roundTrip(id, echoRQ(a.nextID()), cmdCEchoRSP, nil, 0)
		if err != nil {
			return err
		}
		if st, _ := rsp.u16(tagStatus); st != 0 {
			return &EchoStatusError{Status: Status(st)}
		}
		return nil
	}
	return ErrNoContext
}

// EchoStatusError is a C-ECHO-RSP with a status other than success.
type EchoStatusError struct{ Status Status }

func (e *EchoStatusError) Error() string { return "dimse: C-ECHO status " + e.Status.String() }

// Echo opens an association with only the Verification context, sends
// C-ECHO and releases: the "is the PACS there and does it know us" test.
func Echo(ctx context.Context, cfg Config) error {
	_, err := EchoInfo(ctx, cfg)
	return err
}

// EchoInfo is Echo that also says what DICOM TLS negotiated (nil without
// TLS): for a connection test that shows clinic IT the certificate.
func EchoInfo(ctx context.Context, cfg Config) (*TLSInfo, error) {
	a, err := Dial(ctx, cfg, []PresentationContext{{AbstractSyntax: VerificationSOPClass, TransferSyntaxes: []string{ImplicitVRLittleEndian}}})
	if err != nil {
		return nil, err
	}
	if err := a.Echo(); err != nil {
		a.Abort()
		return nil, err
	}
	return a.tlsInfo, a.userErr(a.Release())
}

// TLS is what DICOM TLS negotiated on this association (nil without TLS).
func (a *Association) TLS() *TLSInfo { return a.tlsInfo }
