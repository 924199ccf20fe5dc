package transfer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"syscall"
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
)

// Class says whether waiting can make an error go away.
type Class int

const (
	// Transient: network or server trouble (a timeout, a reset or refused
	// connection, DNS, 5xx, 503/429 busy). Worth retrying, within a bound.
	Transient Class = iota + 1
	// Permanent: retrying the same request will not help (an untrusted
	// certificate, a redirect the policy refuses, 4xx other than 408/429,
	// a protocol violation, a cancelled context, waits that ran out).
	Permanent
)

func (c Class) String() string {
	switch c {
	case Transient:
		return "transient"
	case Permanent:
		return "permanent"
	}
	return "none"
}

// Reasons, the keys of Verdict.Reason. Each transient one has a catalog
// entry "transfer.net.gave_up.<reason>", the message when the waits end.
const (
	ReasonCanceled = "canceled"
	ReasonGaveUp   = "gave-up"
	ReasonTLS      = "tls"
	ReasonRedirect = "redirect"
	ReasonRefused  = "refused"  // a 4xx answer
	ReasonProtocol = "protocol" // wrong sizes, bad JSON, not DICOM, an unexpected status
	ReasonTimeout  = "timeout"
	ReasonStalled  = "stalled"
	ReasonReset    = "reset"
	ReasonConnRef  = "connection-refused"
	ReasonDNS      = "dns"
	ReasonNetwork  = "network"
	ReasonServer   = "server" // 5xx
	ReasonBusy     = "busy"   // 503 with a wait, 429, 423
	ReasonLocal    = "local"  // a local error (disk, files): not the network's
)

// Verdict is Classify's answer.
type Verdict struct {
	Class  Class
	Reason string
}

// Permanent reports whether the verdict is Permanent.
func (v Verdict) Permanent() bool { return v.Class == Permanent }

// Transient reports whether the verdict is Transient.
func (v Verdict) Transient() bool { return v.Class == Transient }

// Classifier is implemented by errors that know their class (a redirect
// refused by policy, a size violation, an HTTP status, a give-up).
// Classify finds it anywhere in the chain.
type Classifier interface {
	Classification() Verdict
}

// StatusCoder is implemented by the clients' status errors (tus, DLX,
// inbox, STOW-RS): the HTTP status of the answer.
type StatusCoder interface {
	HTTPStatus() int
}

// Classify is the client's one error classification, used by every retry
// loop (tus, inbox, DLX, STOW) and by the job runner. The first rule that
// matches wins:
//
//   - nil: the zero Verdict;
//   - context.Canceled: Permanent "canceled";
//   - an error implementing Classifier: its verdict;
//   - certificate and TLS handshake errors: Permanent "tls";
//   - bad JSON: Permanent "protocol";
//   - an *i18n.UserError: Transient for KindTransient, else Permanent
//     ("refused");
//   - timeouts (context.DeadlineExceeded included), refused and reset
//     connections, DNS failures, a cut body (io.ErrUnexpectedEOF):
//     Transient;
//   - any other error of http.Client.Do (*url.Error): Transient "network";
//   - anything else: Permanent "local".
func Classify(err error) Verdict {
	if err == nil {
		return Verdict{}
	}
	if errors.Is(err, context.Canceled) {
		return Verdict{Permanent, ReasonCanceled}
	}
	var c Classifier
	if errors.As(err, &c) {
		return c.Classification()
	}
	if isTLS(err) {
		return Verdict{Permanent, ReasonTLS}
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	if errors.As(err, &syn) || errors.As(err, &typ) {
		return Verdict{Permanent, ReasonProtocol}
	}
	if ue, ok := i18n.AsUserError(err); ok {
		if ue.Kind == i18n.KindTransient {
			return Verdict{Transient, ReasonNetwork}
		}
		return Verdict{Permanent, ReasonRefused}
	}
	var dns *net.DNSError
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return Verdict{Transient, ReasonConnRef}
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return Verdict{Transient, ReasonReset}
	case errors.As(err, &dns):
		return Verdict{Transient, ReasonDNS}
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return Verdict{Transient, ReasonTimeout}
	}
	var ue *url.Error
	var oe *net.OpError
	if errors.As(err, &ue) || errors.As(err, &oe) || errors.Is(err, io.EOF) {
		return Verdict{Transient, ReasonNetwork}
	}
	return Verdict{Permanent, ReasonLocal}
}

// ClassifyStatus classifies an HTTP status: 408, 423, 425 and 429 are
// Transient "busy", 5xx Transient "server" (503 "busy"), other 4xx
// Permanent "refused", anything else (an unexpected 1xx/2xx/3xx)
// Permanent "protocol".
func ClassifyStatus(code int) Verdict {
	switch {
	case code == 408 || code == 423 || code == 425 || code == 429 || code == 503:
		return Verdict{Transient, ReasonBusy}
	case code >= 500 && code <= 599:
		return Verdict{Transient, ReasonServer}
	case code >= 400 && code <= 499:
		return Verdict{Permanent, ReasonRefused}
	}
	return Verdict{Permanent, ReasonProtocol}
}

func isTLS(err error) bool {
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var host x509.HostnameError
	var verify *tls.CertificateVerificationError
	var rec tls.RecordHeaderError
	var alert tls.AlertError
	var ech *tls.ECHRejectionError
	return errors.As(err, &unknown) || errors.As(err, &invalid) || errors.As(err, &host) ||
		errors.As(err, &verify) || errors.As(err, &rec) || errors.As(err, &alert) || errors.As(err, &ech)
}

// ProtocolError: the server broke the protocol in a way waiting will not
// fix (a body longer or shorter than announced, again and again; an
// answer that does not parse; a file that is not what it claims).
// Permanent "protocol". The message is "transfer.net.protocol.<What>"
// with Args.
type ProtocolError struct {
	Op     string // what was being done, e.g. "download"
	What   string // "short", "too-large", "json", "status", "not-dicom"
	Detail string // English, for logs: what the server did
	Args   []any
}

func (e *ProtocolError) Error() string { return fmt.Sprintf("%s: %s", e.Op, e.Detail) }

// Classification implements Classifier.
func (e *ProtocolError) Classification() Verdict { return Verdict{Permanent, ReasonProtocol} }

// Unwrap is the translated message with the hint.
func (e *ProtocolError) Unwrap() error {
	return i18n.NewError(i18n.KindRefused, "transfer.net.protocol."+e.What, e.Args...).WithHint("transfer.net.protocol.hint")
}

// GaveUpError: the client stopped waiting — the network stayed away, the
// server stayed busy, or a transfer made no progress — after the bound
// its policy sets. Nothing is lost: the job can be resumed later. It is
// Permanent for the retry loops (the waits are over) and unwraps to a
// KindTransient user error (exit code 5: try again later).
type GaveUpError struct {
	After    time.Duration // how long the client kept trying
	Attempts int
	Reason   string // the Reason of the last error
	Err      error  // the last error
}

func (e *GaveUpError) Error() string {
	return fmt.Sprintf("gave up after %v (%d attempts): %s: %v", e.After.Round(time.Second), e.Attempts, e.Reason, e.Err)
}

// Classification implements Classifier.
func (e *GaveUpError) Classification() Verdict { return Verdict{Permanent, ReasonGaveUp} }

// Unwrap is the translated "gave up after X: reason — what to do".
func (e *GaveUpError) Unwrap() error {
	key := "transfer.net.gave_up." + e.Reason
	if !i18n.Has(i18n.EN, key) {
		key = "transfer.net.gave_up." + ReasonNetwork
	}
	return i18n.NewError(i18n.KindTransient, key, FormatWait(e.After)).WithHint("transfer.net.gave_up.hint").Wrap(e.Err)
}

// FormatWait renders a duration for people: "0.3 s", "45 s", "12 min", "3 h 5 min".
func FormatWait(d time.Duration) string {
	switch {
	case d < 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Round(time.Second)/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Round(time.Minute)/time.Minute))
	}
	d = d.Round(time.Minute)
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	if m == 0 {
		return fmt.Sprintf("%d h", h)
	}
	return fmt.Sprintf("%d h %d min", h, m)
}

// TLSError: the server's certificate is not trusted, or the TLS handshake
// failed. Permanent "tls"; the message names the host and says what to do.
type TLSError struct {
	Host string
	Err  error
}

func (e *TLSError) Error() string { return fmt.Sprintf("TLS with %s: %v", e.Host, e.Err) }

// Classification implements Classifier.
func (e *TLSError) Classification() Verdict { return Verdict{Permanent, ReasonTLS} }

// Unwrap is the translated message with the hint, wrapping the cause.
func (e *TLSError) Unwrap() error {
	return i18n.NewError(i18n.KindRefused, "transfer.net.tls", e.Host).WithHint("transfer.net.tls.hint").Wrap(e.Err)
}

// IsTLS reports whether err is a certificate or TLS handshake failure.
func IsTLS(err error) bool { return isTLS(err) }
