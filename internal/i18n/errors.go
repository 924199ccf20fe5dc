package i18n

import (
	"errors"
	"fmt"
)

// Kind sorts user-facing errors by what the user can do about them. The CLI
// maps each kind to its own exit code.
type Kind int

const (
	// KindInput: the user gave something wrong (a mistyped code, a wrong
	// date of birth, a missing file). Fix the input and try again.
	KindInput Kind = iota + 1
	// KindRefused: the other side or a policy refused (expired code,
	// changed key, size limit). Retrying the same thing will not help.
	KindRefused
	// KindTransient: network or server trouble. The same call may succeed later.
	KindTransient
)

// UserError is an error a person can act on: a translated message, an
// optional translated hint saying what to do next, and the wrapped cause
// for logs and errors.Is. Message and hint are catalog keys.
type UserError struct {
	Kind    Kind
	Key     string
	Args    []any
	HintKey string
	Err     error
}

// NewError returns a UserError of kind with message key and arguments.
func NewError(kind Kind, key string, args ...any) *UserError {
	return &UserError{Kind: kind, Key: key, Args: args}
}

// WithHint sets the hint key and returns e.
func (e *UserError) WithHint(key string) *UserError { e.HintKey = key; return e }

// Wrap sets the cause and returns e.
func (e *UserError) Wrap(err error) *UserError { e.Err = err; return e }

// Error is the English message, with the cause.
func (e *UserError) Error() string {
	msg := T(EN, e.Key, e.Args...)
	if e.Err != nil {
		return fmt.Sprintf("%s: %v", msg, e.Err)
	}
	return msg
}

func (e *UserError) Unwrap() error { return e.Err }

// Message is the translated message without the cause.
func (e *UserError) Message(lang Lang) string { return T(lang, e.Key, e.Args...) }

// Hint is the translated hint, or "" when there is none.
func (e *UserError) Hint(lang Lang) string {
	if e.HintKey == "" {
		return ""
	}
	return T(lang, e.HintKey)
}

// AsUserError finds the first UserError in err's chain.
func AsUserError(err error) (*UserError, bool) {
	var ue *UserError
	ok := errors.As(err, &ue)
	return ue, ok
}

// Localize renders err for a person: the translated message and hint of a
// UserError, or the generic "unexpected error" text with the error itself.
func Localize(lang Lang, err error) (msg, hint string) {
	if ue, ok := AsUserError(err); ok {
		return ue.Message(lang), ue.Hint(lang)
	}
	return T(lang, "common.unexpected", err.Error()), ""
}
