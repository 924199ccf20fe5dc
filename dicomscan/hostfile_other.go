//go:build !unix

package dicomscan

import "io/fs"

// The fast paths of unix systems; elsewhere the scan lists folders and
// opens files through the medium's fs.FS.

type hostFolder struct{ fd int }

func openHostFolder(name string, follow bool) (*hostFolder, []fs.DirEntry, error) {
	panic("unreachable: hostFastPath is false")
}

func (d *hostFolder) close() {}

func readHostFile(name string, buf []byte, strs *interner) (size int64, h *Header, notRegular bool, err error) {
	panic("unreachable: hostFastPath is false")
}

func readHostFileAt(dirfd int, name string, buf []byte, strs *interner) (size int64, h *Header, notRegular bool, err error) {
	panic("unreachable: hostFastPath is false")
}

const hostFastPath = false

func (d *hostFolder) stat(name string) (size int64, regular bool, err error) {
	panic("unreachable: hostFastPath is false")
}
