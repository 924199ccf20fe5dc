package dimse

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
)

// TLSConfig asks for DICOM TLS (PS3.15 Annex B, the secure transport
// connection profiles; BCP 195): the association runs over TLS 1.2 or
// 1.3 on the TCP connection, and the PACS's certificate must chain to the
// OS trust store or to a certificate in CAFile and name the host of
// Config.Addr (a DNS name, or an IP address in its IP SANs). A dicom://
// target with tls=1 sets an empty one; the caller fills in the files.
type TLSConfig struct {
	// CAFile is a PEM file with one or more certificates trusted on top
	// of the OS trust store: the PACS's own CA (or its self-signed
	// certificate), which a clinic's PACS usually has.
	CAFile string
	// CertFile and KeyFile are our client certificate (PEM, the chain
	// after the leaf) and its private key (PEM, unencrypted), for a PACS
	// that wants to know its peers by certificate (mutual TLS). Both or
	// neither.
	CertFile, KeyFile string
	// Roots replaces the OS trust store (tests: a machine's store must
	// not make a test pass); CAFile is added to it.
	Roots *x509.CertPool
}

// TLS problems (TLSError.Problem).
const (
	TLSUntrusted          = "untrusted"            // the PACS's certificate chains to no trusted CA
	TLSNameMismatch       = "name-mismatch"        // valid, but for other names than the address's host
	TLSExpired            = "expired"              // outside its validity period (or its chain's)
	TLSClientCertRequired = "client-cert-required" // the PACS wants a client certificate; we have none
	TLSClientCertRefused  = "client-cert-refused"  // the PACS does not accept our client certificate
	TLSPlainPort          = "plain-port"           // tls=1, but the port speaks DICOM without TLS
	TLSExpected           = "tls-port"             // no tls=1, but the port speaks TLS
	TLSNoCommon           = "no-common"            // no TLS version or cipher suite both sides speak
	TLSClosed             = "closed"               // closed during the handshake, and the port is not plain DICOM either
	TLSAlert              = "alert"                // the PACS ended the handshake with another alert
	TLSOther              = "other"                // any other TLS failure
)

// TLSError is a failed DICOM TLS connection, with what the certificate
// said where that matters to the person who fixes it.
type TLSError struct {
	Problem string
	// Subject and Issuer of the PACS's certificate (untrusted, name
	// mismatch, expired).
	Subject, Issuer string
	// Fingerprint is the certificate's SHA-256, to compare with what the
	// PACS's administrators see (Fingerprint256).
	Fingerprint string
	// Host is the name we connected to; Names those the certificate is
	// for (name mismatch).
	Host  string
	Names []string
	// NotBefore and NotAfter bound the certificate's validity (expired).
	NotBefore, NotAfter time.Time
	// Alert is the TLS alert the PACS sent (0: none).
	Alert uint8
	Err   error
}

func (e *TLSError) Error() string {
	s := "dimse: TLS: " + e.Problem
	if e.Subject != "" {
		s += " (certificate " + e.Subject + ", issued by " + e.Issuer + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *TLSError) Unwrap() error { return e.Err }

// testMaxTLSVersion caps the TLS version in tests (TLS 1.2's alerts come
// in the handshake, TLS 1.3's after it); 0: crypto/tls's newest.
var testMaxTLSVersion uint16

// clientConfig builds the crypto/tls configuration for host. Problems
// with the files are *i18n.UserError of KindInput naming the file.
func (t *TLSConfig) clientConfig(host string) (*tls.Config, *tlsProbe, error) {
	roots := t.Roots
	if roots == nil {
		sys, err := x509.SystemCertPool()
		if err != nil || sys == nil {
			sys = x509.NewCertPool() // Windows/macOS verify through the OS anyway
		}
		roots = sys
	} else {
		roots = roots.Clone()
	}
	if t.CAFile != "" {
		b, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, nil, i18n.NewError(i18n.KindInput, "dimse.tls.ca_unreadable", t.CAFile).WithHint("dimse.tls.ca.hint").Wrap(err)
		}
		if n := addPEMCerts(roots, b); n == 0 {
			return nil, nil, i18n.NewError(i18n.KindInput, "dimse.tls.ca_empty", t.CAFile).WithHint("dimse.tls.ca.hint")
		}
	}
	probe := &tlsProbe{}
	conf := &tls.Config{
		MinVersion: tls.VersionTLS12,
		MaxVersion: testMaxTLSVersion,
		ServerName: host,
		RootCAs:    roots,
	}
	switch {
	case t.CertFile != "" && t.KeyFile != "":
		pair, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, nil, i18n.NewError(i18n.KindInput, "dimse.tls.cert_unusable", t.CertFile, t.KeyFile).WithHint("dimse.tls.cert.hint").Wrap(err)
		}
		probe.haveCert = true
		conf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			probe.asked = true
			return &pair, nil
		}
	case t.CertFile != "" || t.KeyFile != "":
		return nil, nil, i18n.NewError(i18n.KindInput, "dimse.tls.cert_half").WithHint("dimse.tls.cert.hint")
	default:
		conf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			probe.asked = true
			return &tls.Certificate{}, nil // none: the PACS decides
		}
	}
	return conf, probe, nil
}

// addPEMCerts adds every CERTIFICATE block of b to pool and returns how
// many were usable.
func addPEMCerts(pool *x509.CertPool, b []byte) int {
	n := 0
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return n
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			continue
		}
		pool.AddCert(c)
		n++
	}
}

// TLSInfo is what a DICOM TLS connection negotiated, for a person
// checking it.
type TLSInfo struct {
	Version     string // "TLS 1.3"
	CipherSuite string
	// Subject, Issuer, NotAfter and Fingerprint (SHA-256) are the PACS's
	// certificate's.
	Subject, Issuer string
	NotAfter        time.Time
	Fingerprint     string
	// ClientCert: the PACS asked for our certificate and got it.
	ClientCert bool
}

func newTLSInfo(st tls.ConnectionState, probe *tlsProbe) *TLSInfo {
	info := &TLSInfo{Version: tls.VersionName(st.Version), CipherSuite: tls.CipherSuiteName(st.CipherSuite)}
	if len(st.PeerCertificates) > 0 {
		c := st.PeerCertificates[0]
		info.Subject, info.Issuer, info.NotAfter, info.Fingerprint = c.Subject.String(), c.Issuer.String(), c.NotAfter, Fingerprint256(c)
	}
	if probe != nil {
		info.ClientCert = probe.asked && probe.haveCert
	}
	return info
}

// tlsProbe records what happened in a handshake that the errors alone do
// not say: whether the PACS asked for a client certificate, and whether
// we had one to give.
type tlsProbe struct {
	asked, haveCert bool
}

// startTLS runs the TLS handshake on raw within cfg.ARTIM (cancelling
// ctx ends it at once). Reads of the TCP connection beneath TLS go
// through ackConn, so QUICKACK applies to the socket as without TLS.
func startTLS(ctx context.Context, cfg Config, conf *tls.Config, probe *tlsProbe, raw net.Conn) (*tls.Conn, error) {
	tc := tls.Client(ackConn{raw}, conf)
	raw.SetDeadline(time.Now().Add(cfg.ARTIM))
	if err := tc.HandshakeContext(ctx); err != nil {
		err = classifyTLS(err, conf.ServerName, probe, true)
		var te *TLSError
		if errors.As(err, &te) && te.Problem == TLSPlainPort && isClosed(te.Err) && ctx.Err() == nil && !speaksDICOM(ctx, cfg) {
			// Closed on our ClientHello, but no DICOM SCP either: a
			// filter for unknown peers, or a TLS server that hung up.
			te.Problem = TLSClosed
		}
		return nil, err
	}
	return tc, nil
}

// speaksDICOM reports whether the port answers a plain A-ASSOCIATE-RQ
// (Verification only) with a DICOM PDU (AC, RJ or A-ABORT); the
// association is aborted at once. At most 3 s.
func speaksDICOM(ctx context.Context, cfg Config) bool {
	d := min(cfg.ARTIM, cfg.ConnectTimeout, 3*time.Second)
	pctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	dialFn := cfg.Dial
	if dialFn == nil {
		dialFn = (&net.Dialer{}).DialContext
	}
	raw, err := dialFn(pctx, "tcp", cfg.Addr)
	if err != nil {
		return false
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(d))
	rq := &associateRQ{Called: cfg.Called, Calling: cfg.Calling, MaxLength: cfg.MaxPDU,
		Contexts: []PresentationContext{{ID: 1, AbstractSyntax: VerificationSOPClass, TransferSyntaxes: []string{ImplicitVRLittleEndian}}}}
	if _, err := raw.Write(rq.encode()); err != nil {
		return false
	}
	var b [2]byte
	if _, err := io.ReadFull(raw, b[:]); err != nil {
		return false
	}
	if b[0] == pduAssociateAC {
		raw.Write(pduBytes(pduAbort, []byte{0, 0, 0, 0}))
	}
	return (b[0] == pduAssociateAC || b[0] == pduAssociateRJ || b[0] == pduAbort) && b[1] == 0
}

// tlsHost is the name the PACS's certificate must be for: the host of
// addr.
func tlsHost(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return host
}

// ackConn is the TCP connection with quickAck after every read that
// returned data (see ackReader): TLS reads its records through it.
type ackConn struct{ net.Conn }

func (c ackConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		quickAck(c.Conn)
	}
	return n, err
}

// remoteAlert returns the TLS alert the peer sent, if err is one.
// crypto/tls reports a received alert as a *net.OpError with Op "remote
// error" around its unexported alert type (a uint8).
func remoteAlert(err error) (uint8, bool) {
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "remote error" || op.Err == nil {
		return 0, false
	}
	v := reflect.ValueOf(op.Err)
	if v.Kind() != reflect.Uint8 {
		return 0, false
	}
	return uint8(v.Uint()), true
}

// TLS alerts (RFC 8446 §6) this package tells apart.
const (
	alertHandshakeFailure   = 40
	alertBadCertificate     = 42
	alertUnsupportedCert    = 43
	alertCertificateRevoked = 44
	alertCertificateExpired = 45
	alertCertificateUnknown = 46
	alertUnknownCA          = 48
	alertAccessDenied       = 49
	alertProtocolVersion    = 70
	alertInsufficientSec    = 71
	alertCertificateReq     = 116
)

// classifyTLS turns a handshake error (or the error of the first read
// after it: in TLS 1.3 the PACS judges our certificate only after our
// side of the handshake is done) into a *TLSError. inHandshake says the
// error came from the handshake itself.
func classifyTLS(err error, host string, probe *tlsProbe, inHandshake bool) error {
	if err == nil {
		return nil
	}
	if _, ok := i18n.AsUserError(err); ok {
		return err
	}
	te := &TLSError{Host: host, Err: err}
	var cve *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var rh tls.RecordHeaderError
	leaf := func(c *x509.Certificate) {
		if c != nil {
			te.Subject, te.Issuer, te.Fingerprint = c.Subject.String(), c.Issuer.String(), Fingerprint256(c)
			te.NotBefore, te.NotAfter = c.NotBefore, c.NotAfter
		}
	}
	if errors.As(err, &cve) && len(cve.UnverifiedCertificates) > 0 {
		leaf(cve.UnverifiedCertificates[0])
	}
	alert, isAlert := remoteAlert(err)
	switch {
	case errors.As(err, &hostErr):
		te.Problem = TLSNameMismatch
		leaf(hostErr.Certificate)
		te.Names = certNames(hostErr.Certificate)
	case errors.As(err, &unknown):
		te.Problem = TLSUntrusted
		if te.Subject == "" {
			leaf(unknown.Cert)
		}
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		te.Problem = TLSExpired
		leaf(invalid.Cert)
	case errors.As(err, &invalid):
		te.Problem = TLSUntrusted
		leaf(invalid.Cert)
	case isAlert:
		te.Alert = alert
		switch {
		case alert == alertCertificateReq || probe != nil && probe.asked && !probe.haveCert && (alert == alertHandshakeFailure || alert == alertBadCertificate || alert == alertAccessDenied):
			te.Problem = TLSClientCertRequired
		case probe != nil && probe.asked && probe.haveCert && slices.Contains([]uint8{alertBadCertificate, alertUnsupportedCert, alertCertificateRevoked, alertCertificateExpired, alertCertificateUnknown, alertUnknownCA, alertAccessDenied, alertHandshakeFailure}, alert):
			te.Problem = TLSClientCertRefused
		case alert == alertProtocolVersion || alert == alertInsufficientSec || alert == alertHandshakeFailure:
			te.Problem = TLSNoCommon
		default:
			te.Problem = TLSAlert
		}
	case errors.As(err, &rh) && inHandshake:
		// Not a TLS record: a PDU type (A-ABORT, A-ASSOCIATE-RJ) is
		// plain DICOM answering our ClientHello.
		te.Problem = TLSPlainPort
	case inHandshake && isClosed(err):
		// Closed without a word of TLS: an SCP reading our ClientHello as
		// a DICOM PDU it does not know.
		te.Problem = TLSPlainPort
	case inHandshake && isTimeout(err):
		// Waiting for the rest of a "PDU" our ClientHello seemed to
		// start: plain DICOM again. Reported as the timeout it is, with
		// the TLS hint (userError).
		te.Problem = TLSPlainPort
	case strings.Contains(err.Error(), "protocol version") || strings.Contains(err.Error(), "no cipher suite") || strings.Contains(err.Error(), "unsupported protocol version"):
		te.Problem = TLSNoCommon
	default:
		if !inHandshake {
			return err // an ordinary network error after the handshake
		}
		te.Problem = TLSOther
	}
	return te
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// Fingerprint256 is a certificate's SHA-256 as colon-separated hex, the
// form OpenSSL and browsers show (openssl x509 -fingerprint -sha256).
func Fingerprint256(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	var b strings.Builder
	for i, x := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", x)
	}
	return b.String()
}

// certNames lists the DNS names and IP addresses a certificate is for
// (its common name only when it has no SAN, as old certificates do).
func certNames(c *x509.Certificate) []string {
	if c == nil {
		return nil
	}
	var out []string
	out = append(out, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		out = append(out, ip.String())
	}
	if len(out) == 0 && c.Subject.CommonName != "" {
		out = append(out, c.Subject.CommonName)
	}
	return out
}

// unansweredError: the SCP closed the connection without a byte in
// answer to our A-ASSOCIATE-RQ.
type unansweredError struct{ err error }

func (e *unansweredError) Error() string {
	return "dimse: closed without answering the association request: " + e.err.Error()
}

func (e *unansweredError) Unwrap() error { return e.err }

func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// speaksTLS reports whether the SCP at cfg.Addr answers a TLS
// ClientHello as a TLS server (a ServerHello, or an alert). Only to tell
// a TLS port from one that closes on unknown peers: the certificate is
// not checked (nothing is sent over it), and the wait is at most 3 s.
func speaksTLS(ctx context.Context, cfg Config) bool {
	d := min(cfg.ARTIM, cfg.ConnectTimeout, 3*time.Second)
	pctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	dialFn := cfg.Dial
	if dialFn == nil {
		dialFn = (&net.Dialer{}).DialContext
	}
	raw, err := dialFn(pctx, "tcp", cfg.Addr)
	if err != nil {
		return false
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(d))
	tc := tls.Client(raw, &tls.Config{
		ServerName: tlsHost(cfg.Addr),
		// Detection only: no DICOM goes over this connection.
		InsecureSkipVerify: true, //nolint:gosec
		MinVersion:         tls.VersionTLS10,
	})
	err = tc.HandshakeContext(pctx)
	if err == nil {
		tc.Close()
		return true
	}
	_, alert := remoteAlert(err)
	return alert
}

// looksLikeTLS reports whether the first bytes of an answer to our plain
// A-ASSOCIATE-RQ are a TLS record (alert or handshake, version 3.x): the
// port expects DICOM TLS.
func looksLikeTLS(b []byte) bool {
	return len(b) >= 2 && (b[0] == 0x15 || b[0] == 0x16) && b[1] == 0x03
}

// tlsUserError is the translated message for a *TLSError.
func tlsUserError(te *TLSError, addr string) error {
	switch te.Problem {
	case TLSUntrusted:
		return i18n.NewError(i18n.KindRefused, "dimse.tls.untrusted", addr, te.Subject, te.Issuer, te.Fingerprint).WithHint("dimse.tls.untrusted.hint").Wrap(te)
	case TLSNameMismatch:
		return i18n.NewError(i18n.KindRefused, "dimse.tls.name", addr, te.Host, strings.Join(te.Names, ", ")).WithHint("dimse.tls.name.hint").Wrap(te)
	case TLSExpired:
		return i18n.NewError(i18n.KindRefused, "dimse.tls.expired", addr, te.Subject, te.NotBefore.UTC().Format("2006-01-02"), te.NotAfter.UTC().Format("2006-01-02")).WithHint("dimse.tls.expired.hint").Wrap(te)
	case TLSClientCertRequired:
		return i18n.NewError(i18n.KindRefused, "dimse.tls.client_cert_required", addr).WithHint("dimse.tls.client_cert_required.hint").Wrap(te)
	case TLSClientCertRefused:
		return i18n.NewError(i18n.KindRefused, "dimse.tls.client_cert_refused", addr, alertName(te.Alert)).WithHint("dimse.tls.client_cert_refused.hint").Wrap(te)
	case TLSPlainPort:
		if isTimeout(te.Err) {
			return i18n.NewError(i18n.KindTransient, "dimse.tls.plain_port_silent", addr).WithHint("dimse.tls.plain_port.hint").Wrap(te)
		}
		return i18n.NewError(i18n.KindRefused, "dimse.tls.plain_port", addr).WithHint("dimse.tls.plain_port.hint").Wrap(te)
	case TLSExpected:
		return i18n.NewError(i18n.KindRefused, "dimse.tls.tls_port", addr).WithHint("dimse.tls.tls_port.hint").Wrap(te)
	case TLSNoCommon:
		return i18n.NewError(i18n.KindRefused, "dimse.tls.no_common", addr).WithHint("dimse.tls.no_common.hint").Wrap(te)
	case TLSClosed:
		return i18n.NewError(i18n.KindTransient, "dimse.tls.closed", addr).WithHint("dimse.tls.closed.hint").Wrap(te)
	case TLSAlert:
		return i18n.NewError(i18n.KindRefused, "dimse.tls.alert", addr, alertName(te.Alert)).WithHint("dimse.tls.alert.hint").Wrap(te)
	default:
		return i18n.NewError(i18n.KindRefused, "dimse.tls.other", addr, te.Err.Error()).WithHint("dimse.tls.alert.hint").Wrap(te)
	}
}

// alertName is a TLS alert as RFC 8446 names it, with its number.
func alertName(a uint8) string {
	names := map[uint8]string{
		10: "unexpected_message", 20: "bad_record_mac", 40: "handshake_failure", 42: "bad_certificate",
		43: "unsupported_certificate", 44: "certificate_revoked", 45: "certificate_expired",
		46: "certificate_unknown", 47: "illegal_parameter", 48: "unknown_ca", 49: "access_denied",
		50: "decode_error", 51: "decrypt_error", 70: "protocol_version", 71: "insufficient_security",
		80: "internal_error", 86: "inappropriate_fallback", 90: "user_canceled", 109: "missing_extension",
		110: "unsupported_extension", 112: "unrecognized_name", 116: "certificate_required", 120: "no_application_protocol",
	}
	if n, ok := names[a]; ok {
		return fmt.Sprintf("%s (%d)", n, a)
	}
	return fmt.Sprintf("%d", a)
}
