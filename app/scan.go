package app

import (
	"context"

	"github.com/bildbote/bildbote/dicomscan"
)

func (c *Core) scan(ctx context.Context, paths []string, progress func(ScanProgress)) (*dicomscan.Index, error) {
	return nil, errNotReady
}
