package safezip

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to start writing f out now, without
// waiting (git's "batch" fsync does the same): the one syncfs at the end
// then finds little left to do.
func startWriteback(f *os.File) {
	unix.SyncFileRange(int(f.Fd()), 0, 0, unix.SYNC_FILE_RANGE_WRITE)
}

// syncTree flushes what was written under dir: one syncfs for the whole
// file system instead of an fsync per file (each of which commits the
// journal), falling back to syncing each file where syncfs fails.
func syncTree(dir string, root *os.Root, files []string) error {
	d, err := os.Open(dir)
	if err == nil {
		err = unix.Syncfs(int(d.Fd()))
		d.Close()
	}
	if err == nil {
		return nil
	}
	return syncFiles(root, files)
}
