package envelope

import (
	"fmt"
	"strings"

	"github.com/bildbote/bildbote/internal/i18n"
)

// NotForUsError: none of the identities can decrypt the envelope (it was
// sealed to another community's key).
type NotForUsError struct{ Err error }

func (e *NotForUsError) Error() string {
	return "envelope not encrypted to any of our keys: " + e.Err.Error()
}

// Unwrap gives the user error, which wraps the age error.
func (e *NotForUsError) Unwrap() error {
	return i18n.NewError(i18n.KindRefused, "transfer.envelope.not_for_us").WithHint("transfer.envelope.not_for_us.hint").Wrap(e.Err)
}

// CorruptError: the envelope failed authentication (a flipped or missing
// byte), or its decrypted contents break the format.
type CorruptError struct {
	Reason string
	Err    error
}

func (e *CorruptError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("envelope damaged or tampered with: %s: %v", e.Reason, e.Err)
	}
	return "envelope damaged or tampered with: " + e.Reason
}

func (e *CorruptError) Unwrap() error {
	return i18n.NewError(i18n.KindRefused, "transfer.envelope.corrupt").WithHint("transfer.envelope.corrupt.hint").Wrap(e.Err)
}

// VerifyError: a file did not match the manifest.
type VerifyError struct {
	Path    string
	Problem string // "hash", "size", "missing", "extra", "duplicate"
}

func (e *VerifyError) Error() string {
	return fmt.Sprintf("envelope file %q: %s does not match the manifest", e.Path, e.Problem)
}

func (e *VerifyError) Unwrap() error {
	return i18n.NewError(i18n.KindRefused, "transfer.envelope.verify", i18n.Quote(e.Path), i18n.Phrase("transfer.envelope.problem."+e.Problem)).WithHint("transfer.envelope.corrupt.hint")
}

// VersionError: the envelope uses a format version this program cannot read.
type VersionError struct{ Version int }

func (e *VersionError) Error() string {
	return fmt.Sprintf("envelope format version %d not supported (this program reads %d)", e.Version, FormatVersion)
}

func (e *VersionError) Unwrap() error {
	return i18n.NewError(i18n.KindRefused, "transfer.envelope.version", e.Version).WithHint("transfer.envelope.version.hint")
}

// LimitError: the envelope exceeds a limit of Open.
type LimitError struct {
	What       string
	Limit, Got int64
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("envelope exceeds the %s limit (%d > %d)", e.What, e.Got, e.Limit)
}

// Unwrap is the translated message with the limit and the envelope's
// figure.
func (e *LimitError) Unwrap() error {
	switch e.What {
	case "files":
		return i18n.NewError(i18n.KindRefused, "transfer.envelope.limit.files", e.Got, e.Limit).WithHint("transfer.envelope.limit.hint")
	case "file size", "total size", "manifest size":
		return i18n.NewError(i18n.KindRefused, "transfer.envelope.limit."+strings.TrimSuffix(e.What, " size"), i18n.Bytes(e.Got), i18n.Bytes(e.Limit)).WithHint("transfer.envelope.limit.hint")
	}
	return i18n.NewError(i18n.KindRefused, "transfer.envelope.limit").WithHint("transfer.envelope.limit.hint")
}

// SourceChangedError: a source file changed between hashing and sealing
// (or the medium returned different bytes).
type SourceChangedError struct{ Path string }

func (e *SourceChangedError) Error() string {
	return fmt.Sprintf("source file %q changed while sealing", e.Path)
}

func (e *SourceChangedError) Unwrap() error {
	return i18n.NewError(i18n.KindTransient, "transfer.envelope.source_changed", e.Path).WithHint("transfer.envelope.source_changed.hint")
}
