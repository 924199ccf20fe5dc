package app

import (
	"context"

	"github.com/bildbote/bildbote/transfer/envelope"
)

// stowStudies stores every study's instances in the PACS by STOW-RS and
// fills in results' Stored/Failed counts.
func (c *Core) stowStudies(ctx context.Context, filesDir string, m *envelope.Manifest, stowURL string, results []ImportResult) error {
	return errNotReady
}
