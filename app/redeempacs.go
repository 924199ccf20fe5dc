package app

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/bildbote/bildbote/dicomscan"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/transfer"
	"github.com/bildbote/bildbote/transfer/envelope"
)

// SaveOptions say where a redeemed code's studies go besides (or instead
// of) a folder.
type SaveOptions struct {
	// PACS are PACS targets (ParsePACSTarget) every study is imported
	// into, with the same code as a received envelope's.
	PACS []string
	// NoCopy (with PACS) keeps no copy on this computer: the studies go
	// into the PACS only, documents (a PDF report, no DICOM) are left
	// out.
	NoCopy bool
	// PatientID (optional, CheckPatientID) is the clinic's patient ID:
	// every instance sent to a PACS gets it in Patient ID (0010,0020),
	// the original kept in Other Patient IDs Sequence (0010,1002). A
	// copy saved to the folder keeps the original. Only for studies of
	// one patient.
	PatientID string
}

// StartSaveWith is StartSave with PACS targets: each study is downloaded,
// unpacked and verified, imported into every target (a resumed job does
// not send again what a target confirmed), and then saved into dir
// unless opt.NoCopy.
func (c *Core) StartSaveWith(s *RedeemSession, itemIDs []string, dir string, opt SaveOptions) (*Job, error) {
	var targets []string
	seen := map[string]bool{}
	for _, t := range opt.PACS {
		t = strings.TrimSpace(t)
		if t == "" || seen[t] {
			continue
		}
		if _, err := ParsePACSTarget(t); err != nil {
			return nil, err
		}
		seen[t] = true
		targets = append(targets, t)
	}
	if opt.PatientID != "" {
		id, err := CheckPatientID(opt.PatientID)
		if err != nil {
			return nil, err
		}
		if len(targets) == 0 {
			return nil, i18n.NewError(i18n.KindInput, "app.patient-id-no-pacs").WithHint("app.patient-id.hint")
		}
		opt.PatientID = id
	}
	if opt.NoCopy && len(targets) == 0 {
		return nil, i18n.NewError(i18n.KindInput, "app.import-no-destination").WithHint("app.import-no-destination.hint").Wrap(ErrNoDestination)
	}
	if opt.NoCopy {
		// Unpacked only to be sent: in the state folder, removed after.
		dir = filepath.Join(c.stateDir, "redeem")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
	}
	return c.startSave(s, itemIDs, dir, targets, opt.NoCopy, opt.PatientID)
}

// storeSavedPACS imports the DICOM files of an unpacked item (dir) into
// the save job's PACS targets and records the outcome in p.
func (c *Core) storeSavedPACS(ctx context.Context, r *jobRun, p *saveParams, it *saveItem, dir string) error {
	var files []envelope.File
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || strings.EqualFold(d.Name(), "DICOMDIR") {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		h, herr := dicomscan.ReadHeader(f, fi.Size())
		f.Close()
		if herr != nil || h.SOPInstanceUID == "" {
			return nil // not DICOM: not for the PACS
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		files = append(files, envelope.File{Path: filepath.ToSlash(rel), Size: fi.Size(), SOPInstanceUID: h.SOPInstanceUID, StudyUID: h.StudyInstanceUID})
		return nil
	})
	if err != nil {
		return err
	}
	if p.PACSResults == nil {
		p.PACSResults = map[string]pacsRecord{}
	}
	rec := p.PACSResults[it.ID]
	if rec == nil {
		rec = pacsRecord{}
		p.PACSResults[it.ID] = rec
	}
	r.SetPhase(string(transfer.StateStoring))
	results := []ImportResult{{ItemID: it.ID}}
	err = c.storeFilesPACS(ctx, p.PACS, patientMap{p.PatientID, &p.PatientIDFrom}, rec, func() error { return r.SaveParams(*p) }, it.ID, dir, files, results)
	it.Stored, it.Warnings, it.Failed = results[0].Stored, results[0].Warnings, results[0].Failed
	return err
}

// savedPACS is what the targets said about one item of a save job, in
// target order.
func (p *saveParams) savedPACS(itemID string) []PACSInstance {
	var out []PACSInstance
	for _, t := range p.PACS {
		out = append(out, sortedPACS(p.PACSResults[itemID][t])...)
	}
	return out
}
