package app

import (
	"context"
	"path/filepath"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/transfer/envelope"
	"github.com/bildbote/bildbote/transfer/stow"
)

// stowStudies stores every DICOM instance of an opened envelope in the
// PACS by STOW-RS and fills in results' Stored/Failed counts per study.
// Any instance the PACS refused fails the import: the envelope is then
// not acknowledged and stays on the portal.
func (c *Core) stowStudies(ctx context.Context, filesDir string, m *envelope.Manifest, stowURL string, results []ImportResult) error {
	var insts []stow.Instance
	study := map[string]string{}
	for _, f := range m.Files {
		if f.SOPInstanceUID == "" {
			continue // a document, not an instance
		}
		insts = append(insts, stow.Instance{Path: filepath.Join(filesDir, filepath.FromSlash(f.Path)), Size: f.Size, SOPInstanceUID: f.SOPInstanceUID})
		study[f.SOPInstanceUID] = f.StudyUID
	}
	if len(insts) == 0 {
		return nil
	}
	client := &stow.Client{Base: stowURL, HTTP: c.client}
	client.Retry.Initial = c.cfg.RetryInitial
	client.Retry.MaxElapsed, client.Retry.MaxBusy = c.networkBound(), c.busyBound()
	rep, err := client.Store(ctx, insts)
	if err != nil {
		return err
	}
	idx := map[string]int{}
	for i, r := range results {
		idx[r.StudyUID] = i
	}
	for _, r := range rep.Results {
		i, ok := idx[study[r.SOPInstanceUID]]
		if !ok {
			continue
		}
		if r.Stored {
			results[i].Stored++
		} else {
			results[i].Failed++
		}
	}
	if rep.Failed > 0 {
		return i18n.NewError(i18n.KindRefused, "app.stow-failed", rep.Failed, len(insts)).WithHint("app.stow-failed.hint")
	}
	return nil
}
