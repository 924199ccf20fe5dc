package app

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/transfer/dimse"
	"github.com/bildbote/bildbote/transfer/envelope"
)

// CheckPatientID validates a patient ID the clinic typed for an import
// into the PACS and returns it trimmed (leading and trailing spaces mean
// nothing in an LO value). It must be 1 to 64 characters of printable
// ASCII without a backslash: ASCII reads the same under every Specific
// Character Set an instance may declare, the backslash separates values.
// Errors are *i18n.UserError of KindInput (German and English).
func CheckPatientID(id string) (string, error) {
	id = strings.TrimSpace(id)
	switch {
	case id == "":
		return "", i18n.NewError(i18n.KindInput, "app.patient-id-empty").WithHint("app.patient-id.hint")
	case len([]rune(id)) > dimse.MaxPatientIDLength:
		return "", i18n.NewError(i18n.KindInput, "app.patient-id-too-long", len([]rune(id)), dimse.MaxPatientIDLength).WithHint("app.patient-id.hint")
	}
	for _, r := range id {
		if r < 0x20 || r > 0x7E || r == '\\' {
			return "", i18n.NewError(i18n.KindInput, "app.patient-id-char", string(r)).WithHint("app.patient-id.hint")
		}
	}
	return id, nil
}

// tooManyPatients is the error for a patient ID given to an import of n
// patients.
func tooManyPatients(n int) error {
	return i18n.NewError(i18n.KindInput, "app.patient-id-patients", n).WithHint("app.patient-id-patients.hint")
}

// mapPatientID writes a copy of each file (relative to filesDir) with the
// patient ID id into a new folder under the state folder, and returns
// that folder (the caller removes it) and the files as copied (their new
// sizes). The originals are not touched: a copy saved to a folder keeps
// the patient ID it came with. from is the original patient ID the job
// mapped before ("" = none yet); every instance must carry that one, so
// one job never merges two patients into one; it is set to the original
// seen. A file that cannot be rewritten fails the import (KindRefused).
func (c *Core) mapPatientID(ctx context.Context, id, filesDir string, files []envelope.File, from *string) (string, []envelope.File, error) {
	if err := os.MkdirAll(filepath.Join(c.stateDir, "pacs-mapped"), 0o700); err != nil {
		return "", nil, err
	}
	dir, err := os.MkdirTemp(filepath.Join(c.stateDir, "pacs-mapped"), "map-")
	if err != nil {
		return "", nil, err
	}
	seen := map[string]bool{}
	if *from != "" {
		seen[*from] = true
	}
	out := make([]envelope.File, len(files))
	for i, f := range files {
		if err := ctx.Err(); err != nil {
			os.RemoveAll(dir)
			return "", nil, err
		}
		name := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(name), 0o700); err != nil {
			os.RemoveAll(dir)
			return "", nil, err
		}
		res, err := dimse.RewritePatientIDFile(filepath.Join(filesDir, filepath.FromSlash(f.Path)), name, id)
		if err != nil {
			os.RemoveAll(dir)
			key := "app.patient-id-unreadable"
			if errors.Is(err, dimse.ErrDeflated) {
				key = "app.patient-id-deflated"
			}
			return "", nil, i18n.NewError(i18n.KindRefused, key, f.Path).WithHint("app.patient-id-file.hint").Wrap(err)
		}
		if res.Original != "" && res.Original != id {
			seen[res.Original] = true
		}
		fi, err := os.Stat(name)
		if err != nil {
			os.RemoveAll(dir)
			return "", nil, err
		}
		out[i] = f
		out[i].Size = fi.Size()
	}
	if len(seen) > 1 {
		os.RemoveAll(dir)
		return "", nil, tooManyPatients(len(seen))
	}
	for orig := range seen {
		*from = orig
	}
	return dir, out, nil
}

// patientCount is how many patients the items' summaries name: an
// envelope's own count, and the distinct patients (name and birth date)
// over several envelopes. Items without a summary do not count.
func patientCount(items []InboxItem) int {
	seen := map[string]bool{}
	n := 0
	for _, it := range items {
		if it.Summary == nil {
			continue
		}
		n = max(n, it.Summary.Patients)
		if it.Summary.Patient != "" || it.Summary.BirthDate != "" {
			seen[it.Summary.Patient+"\x00"+it.Summary.BirthDate] = true
		}
	}
	return max(n, len(seen))
}
