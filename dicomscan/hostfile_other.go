//go:build !unix

package dicomscan

// readHostFile is the fast path of unix systems; elsewhere the scan opens
// files through the medium's fs.FS.
func readHostFile(name string, buf []byte) (size int64, h *Header, notRegular bool, err error) {
	panic("unreachable: hostFastPath is false")
}

const hostFastPath = false
