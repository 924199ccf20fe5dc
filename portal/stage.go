package portal

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/bildbote/bildbote/dicomscan"
)

// StageOptions narrow what a code gives access to.
type StageOptions struct {
	// PatientID keeps only this patient's studies (a medium may hold
	// several); empty keeps all.
	PatientID string
}

// Staged is what StageItems copied into a record's folder.
type Staged struct {
	Items    []Item
	Index    *dicomscan.Index
	Patients []*dicomscan.Patient
}

// StageItems scans paths (folders, ZIPs, ISOs, files) and copies every
// DICOM instance and PDF report into codes/<recordID>/src/ of the data
// dir, with the scan as index.json, so the code keeps working when the
// originals are gone. It returns the DLX data items: one per study (an
// IHE PDI ZIP) and one per PDF.
func StageItems(ctx context.Context, dataDir, recordID string, paths []string, opts StageOptions) (*Staged, error) {
	if !validRecordID(recordID) {
		return nil, inputError("portal.err.record_id")
	}
	m, err := dicomscan.Open(paths...)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	idx, err := dicomscan.Scan(ctx, m, dicomscan.Options{})
	if err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	keepPatients(idx, opts.PatientID)
	var pdfs []dicomscan.Document
	for _, d := range idx.Documents {
		if d.MIMEType == "application/pdf" {
			pdfs = append(pdfs, d)
		}
	}
	idx.Documents = pdfs
	if len(idx.Patients) == 0 && len(pdfs) == 0 {
		return nil, inputError("portal.err.no_items")
	}
	src := filepath.Join(RecordDir(dataDir, recordID), "src")
	if err := os.MkdirAll(src, 0o700); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(src)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	var items []Item
	for _, p := range idx.Patients {
		for _, st := range p.Studies {
			for _, se := range st.Series {
				for _, in := range se.Instances {
					if err := copyInto(ctx, root, m.FS, in.Path); err != nil {
						return nil, err
					}
				}
			}
			items = append(items, studyItem(p, st))
		}
	}
	for _, d := range pdfs {
		if err := copyInto(ctx, root, m.FS, d.Path); err != nil {
			return nil, err
		}
		items = append(items, Item{
			ID: newID(8), Kind: KindPDF, MIMEType: "application/pdf",
			Description: path.Base(d.Path), Path: d.Path, Size: d.Size,
		})
	}
	idx.Skipped = nil // paths of clutter are of no use later
	data, err := json.Marshal(idx)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(RecordDir(dataDir, recordID), recordIndexFile), data, 0o600); err != nil {
		return nil, err
	}
	return &Staged{Items: items, Index: idx, Patients: idx.Patients}, nil
}

// keepPatients drops every patient but id (when id is set) and recounts.
func keepPatients(idx *dicomscan.Index, id string) {
	if id == "" {
		return
	}
	var kept []*dicomscan.Patient
	idx.Files, idx.Bytes = 0, 0
	for _, p := range idx.Patients {
		if p.ID == id {
			kept = append(kept, p)
			for _, st := range p.Studies {
				idx.Files += st.Files
				idx.Bytes += st.Bytes
			}
		}
	}
	idx.Patients = kept
}

func studyItem(p *dicomscan.Patient, st *dicomscan.Study) Item {
	desc := st.Description
	if desc == "" {
		desc = "DICOM study"
	}
	return Item{
		ID: newID(8), Kind: KindStudy, MIMEType: "application/zip", Description: desc,
		StudyUID: st.InstanceUID, Date: st.Date, Modalities: strings.Join(st.Modalities, `\`),
		PatientName: dlxName(p.Name), BirthDate: p.BirthDate, Sex: p.Sex,
		FileCount: st.Files, Size: st.Bytes,
	}
}

// dlxName shows a DICOM person name as the DLX examples do
// ("Mustermann^Max" → "Mustermann,Max").
func dlxName(pn string) string {
	return strings.ReplaceAll(strings.TrimRight(pn, "^ "), "^", ",")
}

// copyInto copies name from fsys to the same relative path under root
// (os.Root refuses paths that leave it).
func copyInto(ctx context.Context, root *os.Root, fsys fs.FS, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !fs.ValidPath(name) {
		return fmt.Errorf("stage %s: invalid path", name)
	}
	if dir := path.Dir(name); dir != "." {
		if err := root.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("stage %s: %w", name, err)
		}
	}
	in, err := fsys.Open(name)
	if err != nil {
		return fmt.Errorf("stage %s: %w", name, err)
	}
	defer in.Close()
	out, err := root.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("stage %s: %w", name, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("stage %s: %w", name, err)
	}
	return out.Close()
}
