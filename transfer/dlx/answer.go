package dlx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/transfer"
	"github.com/bildbote/bildbote/transfer/internal/fetch"
	"github.com/bildbote/bildbote/transfer/internal/stall"
)

// maxAnswer caps a small answer (JSON, a JWT).
const maxAnswer = 16 << 20

// readAnswer reads a small answer (the questions, a JWT, the list,
// api_info) from a response whose request ran under rctx (cancel is
// rctx's). Like a download it is cut when fewer than Limits.MinBytes
// arrive in a Limits.StallWindow, and after max(StallWindow, 5 min) in
// all: a server dripping its JSON one byte every few seconds held the
// redeem for days. A stalled answer is a *transfer.GaveUpError
// (translated, "try again later"), a cut one a *CutError (transient:
// a job tries again); the caller's own cancel stays context.Canceled.
// stallWindow is Limits.StallWindow or its default.
func (c *Client) stallWindow() time.Duration {
	if c.Limits.StallWindow > 0 {
		return c.Limits.StallWindow
	}
	return fetch.DefaultStallWindow
}

func (c *Client) readAnswer(rctx context.Context, cancel context.CancelCauseFunc, body io.Reader, limit int64) ([]byte, error) {
	window, minBytes := c.Limits.StallWindow, c.Limits.MinBytes
	if window <= 0 {
		window = fetch.DefaultStallWindow
	}
	if minBytes <= 0 {
		minBytes = fetch.DefaultMinBytes
	}
	start := time.Now()
	cause := &stall.Error{What: "DLX answer"}
	watch := stall.Start(window, minBytes, cancel, cause)
	defer watch.Stop()
	overall := time.AfterFunc(max(window, 5*time.Minute), func() { cancel(cause) })
	defer overall.Stop()
	data, err := io.ReadAll(watch.Reader(io.LimitReader(body, limit), nil))
	if err == nil {
		return data, nil
	}
	var se *stall.Error
	switch {
	case errors.As(context.Cause(rctx), &se):
		return nil, &transfer.GaveUpError{After: time.Since(start), Attempts: 1, Reason: transfer.ReasonStalled, Err: err}
	case rctx.Err() != nil:
		return nil, rctx.Err()
	}
	return nil, &CutError{Err: err}
}

// CutError: the connection broke off while the server sent a small
// answer. Transient "reset"; the message says so in the reader's words.
type CutError struct{ Err error }

func (e *CutError) Error() string { return "dlx: answer cut: " + e.Err.Error() }

// Classification implements transfer.Classifier.
func (e *CutError) Classification() transfer.Verdict {
	return transfer.Verdict{Class: transfer.Transient, Reason: transfer.ReasonReset}
}

// Unwrap is the translated message, wrapping the cause.
func (e *CutError) Unwrap() error {
	return i18n.NewError(i18n.KindTransient, "transfer.net.cut").WithHint("transfer.net.cut.hint").Wrap(e.Err)
}

// decodeAnswer is readAnswer and a JSON decode into v: a read error is
// returned as is (readErr true), a decode error for the caller to name.
func (c *Client) decodeAnswer(rctx context.Context, cancel context.CancelCauseFunc, body io.Reader, v any) (readErr bool, err error) {
	data, err := c.readAnswer(rctx, cancel, body, maxAnswer)
	if err != nil {
		return true, err
	}
	return false, json.NewDecoder(bytes.NewReader(data)).Decode(v)
}
