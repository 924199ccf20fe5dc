// Package stagedir creates a directory all at once, for extracting
// untrusted archives (transfer/envelope, transfer/safezip): the content is
// written into a hidden temporary directory beside the destination and
// renamed into place only when it is complete. On any error nothing is
// left behind, and a full disk is reported as *diskspace.FullError.
package stagedir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/bildbote/bildbote/transfer/diskspace"
)

// CheckAbsent fails when dst exists (or cannot be checked): a staged
// directory never replaces anything. op names the operation in errors.
func CheckAbsent(op, dst string) error {
	if _, err := os.Lstat(dst); err == nil {
		return fmt.Errorf("%s: %s already exists", op, dst)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// Create makes the new directory dst, whose parent must exist and have
// need bytes free. fill writes the content into a temporary directory
// beside dst (named ".<base>.partial-*"), which becomes dst when fill
// succeeds and is removed otherwise. op names the operation in errors.
func Create(op, dst string, need int64, fill func(tmp string) error) error {
	parent := filepath.Dir(dst)
	if err := diskspace.Check(parent, need); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dst)+".partial-")
	if err != nil {
		return diskspace.Map(parent, fmt.Errorf("%s: %w", op, err))
	}
	if err := fill(tmp); err != nil {
		os.RemoveAll(tmp)
		return diskspace.Map(parent, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}
