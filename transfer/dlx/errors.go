package dlx

import (
	"fmt"
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
)

// WrongAnswerError: the server answered 401 to the second-factor answers —
// an unknown code or a wrong answer (DLX does not say which, on purpose).
type WrongAnswerError struct {
	RetryAfter string // the server's Retry-After, when it locked us out
}

func (e *WrongAnswerError) Error() string { return "dlx: unknown code or wrong answer" }

func (e *WrongAnswerError) Unwrap() error {
	return i18n.NewError(i18n.KindInput, "transfer.dlx.wrong_answer").WithHint("transfer.dlx.wrong_answer.hint")
}

// ExpiredError: the answers were right but the code expired (403).
type ExpiredError struct{}

func (e *ExpiredError) Error() string { return "dlx: the code has expired" }

func (e *ExpiredError) Unwrap() error {
	return i18n.NewError(i18n.KindRefused, "transfer.dlx.expired").WithHint("transfer.dlx.expired.hint")
}

// UnknownItemError: the server does not know the item (400).
type UnknownItemError struct{ ID string }

func (e *UnknownItemError) Error() string { return fmt.Sprintf("dlx: unknown item %q", e.ID) }

func (e *UnknownItemError) Unwrap() error {
	return i18n.NewError(i18n.KindRefused, "transfer.dlx.unknown_item")
}

// BusyError: the server is preparing the download (503); reported while
// waiting, never returned.
type BusyError struct{ Wait time.Duration }

// HTTPStatus is 503.
func (e *BusyError) HTTPStatus() int { return 503 }

func (e *BusyError) Error() string {
	return fmt.Sprintf("dlx: server busy preparing the download, retry in %v", e.Wait)
}

// NotDLXError: the address does not answer like a DLX server.
type NotDLXError struct {
	URL    string
	Status int
	Err    error
}

func (e *NotDLXError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("dlx: %s is not a DLX server (status %d): %v", e.URL, e.Status, e.Err)
	}
	return fmt.Sprintf("dlx: %s is not a DLX server (status %d)", e.URL, e.Status)
}

func (e *NotDLXError) Unwrap() error {
	return i18n.NewError(i18n.KindInput, "transfer.dlx.not_dlx", e.URL).WithHint("transfer.dlx.not_dlx.hint").Wrap(e.Err)
}

// StatusError: an answer the client cannot recover from.
type StatusError struct {
	Op     string
	Status int
}

func (e *StatusError) Error() string { return fmt.Sprintf("dlx %s: status %d", e.Op, e.Status) }

// HTTPStatus is the status, for transfer's classification of waits.
func (e *StatusError) HTTPStatus() int { return e.Status }

func (e *StatusError) Unwrap() error {
	return i18n.NewError(i18n.KindRefused, "transfer.dlx.refused", e.Status).WithHint("transfer.dlx.refused.hint")
}

// ConnectError: a connection failure that waiting cannot fix (an untrusted
// certificate).
type ConnectError struct{ Err error }

func (e *ConnectError) Error() string { return "dlx: " + e.Err.Error() }

func (e *ConnectError) Unwrap() error {
	return i18n.NewError(i18n.KindRefused, "transfer.dlx.connect").WithHint("transfer.dlx.connect.hint").Wrap(e.Err)
}
