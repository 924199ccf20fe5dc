//go:build unix

package diskspace

import (
	"errors"
	"syscall"

	"golang.org/x/sys/unix"
)

// Free returns the bytes available to an unprivileged user on dir's file
// system.
func Free(dir string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

func isQuota(err error) bool { return errors.Is(err, syscall.EDQUOT) }
