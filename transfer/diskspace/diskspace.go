// Package diskspace checks free space before large writes and turns a full
// disk into one typed error, so nothing is reported as saved that is not.
package diskspace

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/bildbote/bildbote/internal/i18n"
)

// FullError: the disk holding Path has no room (ENOSPC, or too little free
// space for an announced write). Unwraps to an *i18n.UserError.
type FullError struct {
	Path string
	Need int64 // bytes needed, 0 when unknown (a write failed with ENOSPC)
	Free int64 // bytes free at the check, 0 when unknown
	Err  error
}

func (e *FullError) Error() string {
	if e.Need > 0 {
		return fmt.Sprintf("not enough free disk space in %s: need %d bytes, %d free", e.Path, e.Need, e.Free)
	}
	return fmt.Sprintf("disk full in %s: %v", e.Path, e.Err)
}

// Unwrap returns the user error (which wraps the cause).
func (e *FullError) Unwrap() error {
	ue := i18n.NewError(i18n.KindRefused, "transfer.disk.full", e.Path).WithHint("transfer.disk.full.hint")
	if e.Need > 0 {
		ue = i18n.NewError(i18n.KindRefused, "transfer.disk.too_small", e.Path, MiB(e.Need), MiB(e.Free)).WithHint("transfer.disk.full.hint")
	}
	return ue.Wrap(e.Err)
}

// MiB rounds n bytes up to mebibytes, for messages.
func MiB(n int64) int64 { return (n + 1<<20 - 1) >> 20 }

// IsFull reports whether err is a disk-full error (ENOSPC or EDQUOT
// anywhere in its chain).
func IsFull(err error) bool {
	var fe *FullError
	return errors.As(err, &fe) || errors.Is(err, syscall.ENOSPC) || isQuota(err)
}

// Map returns a *FullError for a disk-full err while writing under path, and
// err unchanged otherwise.
func Map(path string, err error) error {
	if err == nil {
		return nil
	}
	var fe *FullError
	if errors.As(err, &fe) {
		return err
	}
	if errors.Is(err, syscall.ENOSPC) || isQuota(err) {
		return &FullError{Path: path, Err: err}
	}
	return err
}

// Check returns a *FullError when dir's file system has fewer than need
// bytes available to this user.
func Check(dir string, need int64) error {
	free, err := Free(dir)
	if err != nil {
		return fmt.Errorf("free space of %s: %w", dir, err)
	}
	if free < need {
		return &FullError{Path: dir, Need: need, Free: free}
	}
	return nil
}
