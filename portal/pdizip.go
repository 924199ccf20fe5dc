package portal

import (
	"context"
	"errors"
	"io"

	"github.com/bildbote/bildbote/dicomscan"
)

// writePDIZip writes idx as an IHE PDI file-set ZIP (DICOMDIR at the root).
// TEMPORARY until dicomscan/pdi.WriteZip lands (teammate H3).
func writePDIZip(ctx context.Context, w io.Writer, idx *dicomscan.Index) error {
	return errors.New("pdi writer not available yet")
}
