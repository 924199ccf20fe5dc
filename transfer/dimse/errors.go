package dimse

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"

	"github.com/bildbote/bildbote/internal/i18n"
)

// A-ASSOCIATE-RJ result, source and reason values (PS3.8 §9.3.4).
const (
	RejectPermanent = 1
	RejectTransient = 2

	SourceServiceUser             = 1
	SourceServiceProviderACSE     = 2
	SourceServiceProviderPresentn = 3

	ReasonNoReason               = 1
	ReasonAppContextNotSupported = 2
	ReasonCallingAENotRecognized = 3
	ReasonCalledAENotRecognized  = 7
	// With source 3 (presentation): 1 temporary congestion, 2 local limit.
	ReasonTemporaryCongestion = 1
	ReasonLocalLimitExceeded  = 2
)

// RejectedError is an A-ASSOCIATE-RJ from the SCP.
type RejectedError struct {
	Result, Source, Reason byte
	Called, Calling        string
}

func (e *RejectedError) Error() string {
	what := fmt.Sprintf("result %d, source %d, reason %d", e.Result, e.Source, e.Reason)
	switch {
	case e.Source == SourceServiceUser && e.Reason == ReasonCallingAENotRecognized:
		what = "calling AE title " + e.Calling + " not recognized"
	case e.Source == SourceServiceUser && e.Reason == ReasonCalledAENotRecognized:
		what = "called AE title " + e.Called + " not recognized"
	case e.Source == SourceServiceUser && e.Reason == ReasonAppContextNotSupported:
		what = "application context not supported"
	case e.Source == SourceServiceProviderPresentn:
		what = "SCP congested or at its limit"
	}
	return "dimse: association rejected: " + what
}

// CallingAENotRecognized reports whether the SCP does not know our AE title.
func (e *RejectedError) CallingAENotRecognized() bool {
	return e.Source == SourceServiceUser && e.Reason == ReasonCallingAENotRecognized
}

// CalledAENotRecognized reports whether the SCP does not answer to the
// called AE title we used.
func (e *RejectedError) CalledAENotRecognized() bool {
	return e.Source == SourceServiceUser && e.Reason == ReasonCalledAENotRecognized
}

// AbortedError is an A-ABORT from the SCP (or the provider).
type AbortedError struct{ Source, Reason byte }

func (e *AbortedError) Error() string {
	return fmt.Sprintf("dimse: association aborted by the peer (source %d, reason %d)", e.Source, e.Reason)
}

// ProtocolError means the peer sent something PS3.8 does not allow.
type ProtocolError struct{ Msg string }

func (e *ProtocolError) Error() string { return "dimse: protocol error: " + e.Msg }

// ErrNoContext means the SCP accepted no context for the operation (Echo:
// the Verification SOP class).
var ErrNoContext = errors.New("dimse: no presentation context accepted")

// userError turns a network or association error into a UserError with the
// typed cause kept in its chain. addr is host:port as configured.
func userError(err error, addr, called, calling string) error {
	if err == nil {
		return nil
	}
	if _, ok := i18n.AsUserError(err); ok {
		return err
	}
	var te *TLSError
	if errors.As(err, &te) {
		return tlsUserError(te, addr)
	}
	var rj *RejectedError
	var ab *AbortedError
	var pe *ProtocolError
	var dnsErr *net.DNSError
	var ne net.Error
	switch {
	case errors.As(err, &rj):
		switch {
		case rj.CallingAENotRecognized():
			return i18n.NewError(i18n.KindRefused, "dimse.reject.calling", calling).WithHint("dimse.reject.calling.hint").Wrap(err)
		case rj.CalledAENotRecognized():
			return i18n.NewError(i18n.KindRefused, "dimse.reject.called", called).WithHint("dimse.reject.called.hint").Wrap(err)
		case rj.Result == RejectTransient || rj.Source == SourceServiceProviderPresentn:
			return i18n.NewError(i18n.KindTransient, "dimse.reject.busy").Wrap(err)
		default:
			return i18n.NewError(i18n.KindRefused, "dimse.reject.other", int(rj.Result), int(rj.Source), int(rj.Reason)).WithHint("dimse.reject.other.hint").Wrap(err)
		}
	case errors.As(err, new(*EchoStatusError)):
		var se *EchoStatusError
		errors.As(err, &se)
		return i18n.NewError(i18n.KindRefused, "dimse.echo_failed", uint16(se.Status)).Wrap(err)
	case errors.Is(err, ErrNoContext):
		return i18n.NewError(i18n.KindRefused, "dimse.no_context").Wrap(err)
	case errors.As(err, &ab):
		return i18n.NewError(i18n.KindTransient, "dimse.aborted", int(ab.Source), int(ab.Reason)).Wrap(err)
	case errors.As(err, &pe):
		return i18n.NewError(i18n.KindRefused, "dimse.protocol", pe.Msg).Wrap(err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return i18n.NewError(i18n.KindTransient, "dimse.refused", addr).Wrap(err)
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return i18n.NewError(i18n.KindInput, "dimse.unknown_host", dnsErr.Name).Wrap(err)
	case errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return i18n.NewError(i18n.KindTransient, "dimse.timeout", addr).WithHint("dimse.timeout.hint").Wrap(err)
	case errors.As(err, new(*unansweredError)):
		return i18n.NewError(i18n.KindTransient, "dimse.closed_unanswered", addr).WithHint("dimse.closed_unanswered.hint").Wrap(err)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE):
		return i18n.NewError(i18n.KindTransient, "dimse.closed").Wrap(err)
	default:
		return i18n.NewError(i18n.KindTransient, "dimse.network", addr).Wrap(err)
	}
}
