package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/bildbote/bildbote/dicomscan"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/transfer"
	"github.com/bildbote/bildbote/transfer/envelope"
	"github.com/bildbote/bildbote/transfer/inbox"
)

func init() {
	kinds[KindImport] = kindSpec{run: runImport, cleanup: cleanupImport}
}

// importParams is an import job's resumable state; the API key is not in
// it (SetInboxKey).
type importParams struct {
	Portal  string                    `json:"portal"`
	Inbox   string                    `json:"inbox"`
	Items   []InboxItem               `json:"items"`
	ToDir   string                    `json:"toDir,omitempty"`
	StowURL string                    `json:"stowURL,omitempty"`
	WorkDir string                    `json:"workDir"`
	Results map[string][]ImportResult `json:"results,omitempty"`
	// Failed holds items refused (tampered, not for us): kept on the
	// portal, never acknowledged.
	Failed map[string]*JobError `json:"failed,omitempty"`
}

// InboxList lists the envelopes waiting in a community inbox.
func (c *Core) InboxList(ctx context.Context, portal, inboxCode, apiKey string) ([]InboxItem, error) {
	root, err := c.portalRoot(portal)
	if err != nil {
		return nil, err
	}
	if apiKey == "" {
		return nil, i18n.NewError(i18n.KindInput, "app.api-key-needed").WithHint("app.api-key-wrong.hint")
	}
	items, err := c.inboxItems(ctx, root, inboxCode, apiKey)
	if err != nil {
		return nil, err
	}
	c.summarize(ctx, root, strings.TrimSpace(inboxCode), apiKey, items)
	return items, nil
}

// inboxItems is the portal's listing, without summaries.
func (c *Core) inboxItems(ctx context.Context, root, inboxCode, apiKey string) ([]InboxItem, error) {
	if apiKey == "" {
		return nil, i18n.NewError(i18n.KindInput, "app.api-key-needed").WithHint("app.api-key-wrong.hint")
	}
	items, err := c.inboxClient(root, apiKey, nil).List(ctx, strings.TrimSpace(inboxCode))
	if err != nil {
		return nil, err
	}
	out := make([]InboxItem, len(items))
	for i, it := range items {
		out[i] = InboxItem{ID: it.ID, Size: it.Size, SHA256: it.SHA256, ReceivedAt: it.ReceivedAt}
	}
	return out, nil
}

// StartImport downloads, decrypts, verifies and stores envelopes as a job,
// and acknowledges each on the portal only after it was stored.
//
// With no ItemIDs every item listed now is imported; with nothing to
// import it returns (nil, nil).
func (c *Core) StartImport(req ImportRequest) (*Job, error) {
	ctx, cancel := context.WithTimeout(c.ctx, 2*time.Minute)
	defer cancel()
	root, err := c.portalRoot(req.Portal)
	if err != nil {
		return nil, err
	}
	if req.StowURL == "" && req.ToDir == "" {
		req.StowURL = c.Settings().PACSStowURL
	}
	if req.StowURL == "" && req.ToDir == "" {
		return nil, i18n.NewError(i18n.KindInput, "app.import-no-destination").WithHint("app.import-no-destination.hint").Wrap(ErrNoDestination)
	}
	if _, _, err := c.clinicIdentity(); err != nil {
		return nil, err
	}
	all, err := c.inboxItems(ctx, root, req.Inbox, req.APIKey)
	if err != nil {
		return nil, err
	}
	items := all
	if len(req.ItemIDs) > 0 {
		byID := map[string]InboxItem{}
		for _, it := range all {
			byID[it.ID] = it
		}
		items = nil
		for _, id := range req.ItemIDs {
			it, ok := byID[id]
			if !ok {
				return nil, i18n.NewError(i18n.KindInput, "app.inbox-item-unknown", id)
			}
			items = append(items, it)
		}
	}
	if len(items) == 0 {
		return nil, nil
	}
	c.SetInboxKey(req.Inbox, req.APIKey)
	if req.ToDir != "" {
		if req.ToDir, err = filepath.Abs(req.ToDir); err != nil {
			return nil, err
		}
	}
	id := newJobID()
	p := importParams{Portal: root, Inbox: strings.TrimSpace(req.Inbox), Items: items, ToDir: req.ToDir,
		StowURL: req.StowURL, WorkDir: filepath.Join(c.stateDir, "inbox", id)}
	var total int64
	for _, it := range items {
		total += it.Size
	}
	title := titled("app.job.title.import", p.Inbox, strconv.Itoa(len(items)))
	return c.addJobWithID(id, KindImport, title, p, func(r *jobRun) { r.bytesTotal.Store(total) }, nil)
}

func runImport(ctx context.Context, r *jobRun) error {
	c := r.core
	var p importParams
	if err := r.Params(&p); err != nil {
		return err
	}
	apiKey := c.inboxKey(p.Inbox)
	if apiKey == "" {
		return i18n.NewError(i18n.KindInput, "app.api-key-needed").WithHint("app.api-key-wrong.hint")
	}
	id, _, err := c.clinicIdentity()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(p.WorkDir, 0o700); err != nil {
		return err
	}
	if p.Results == nil {
		p.Results = map[string][]ImportResult{}
	}
	if p.Failed == nil {
		p.Failed = map[string]*JobError{}
	}
	var total, done int64
	for _, it := range p.Items {
		total += it.Size
		if _, ok := p.Results[it.ID]; ok {
			done += it.Size
		}
	}
	r.SetTotal(total)
	r.SetDone(done)
	var refused error
	for _, it := range p.Items {
		r.SetItems(len(p.Results), len(p.Items))
		if _, ok := p.Results[it.ID]; ok {
			continue
		}
		if _, ok := p.Failed[it.ID]; ok {
			continue
		}
		res, err := c.importItem(ctx, r, &p, id, apiKey, it, done)
		if err != nil {
			if ctx.Err() != nil || IsTransient(err) || IsGaveUp(err) {
				return err
			}
			// Refused (tampered, not for us, disk full…): keep it on
			// the portal, go on with the others, fail at the end.
			p.Failed[it.ID] = jobErrorFrom(err)
			if refused == nil {
				refused = err
			}
			os.Remove(filepath.Join(p.WorkDir, it.ID+".age"))
		} else {
			p.Results[it.ID] = res
		}
		done += it.Size
		r.SetDone(done)
		if err := r.SaveParams(p); err != nil {
			return err
		}
	}
	r.SetItems(len(p.Results), len(p.Items))
	var rc Receipt
	for _, it := range p.Items {
		rc.Imported = append(rc.Imported, p.Results[it.ID]...)
	}
	r.SetReceipt(&rc)
	os.RemoveAll(p.WorkDir)
	return refused
}

// importItem downloads one envelope, checks its SHA-256 against the
// inbox listing, opens it (decrypt, verify every file), stores it, and
// acknowledges it.
func (c *Core) importItem(ctx context.Context, r *jobRun, p *importParams, id *age.X25519Identity, apiKey string, it InboxItem, base int64) ([]ImportResult, error) {
	env := filepath.Join(p.WorkDir, it.ID+".age")
	ic := c.inboxClient(p.Portal, apiKey, transfer.ProgressFunc(func(s transfer.Status) {
		if s.State != transfer.StateDone {
			r.SetPhase(string(s.State))
		}
		if s.State == transfer.StateDownloading || s.State == transfer.StateDone {
			r.SetDone(base + s.Done)
		}
	}))
	if _, err := os.Stat(env); err != nil {
		_, err := ic.Download(ctx, p.Inbox, inbox.Item{ID: it.ID, Size: it.Size, SHA256: it.SHA256, ReceivedAt: it.ReceivedAt}, env)
		var he *inbox.HashError
		if errors.As(err, &he) {
			// The stored envelope differs from what was uploaded: do not
			// import it, do not acknowledge it.
			return nil, i18n.NewError(i18n.KindRefused, "app.download-damaged").WithHint("app.download-damaged.hint").Wrap(err)
		}
		if err != nil {
			return nil, err
		}
	} else if err := checkSHA256(env, it.SHA256); err != nil {
		os.Remove(env)
		return nil, err
	}
	f, err := os.Open(env)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	parent := p.ToDir
	if parent == "" {
		parent = p.WorkDir
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, err
	}
	tmpDst := filepath.Join(parent, ".import-"+it.ID)
	os.RemoveAll(tmpDst) // a half-run Open leaves nothing, but a rename may have failed
	r.SetPhase(string(transfer.StateOpening))
	m, err := envelope.Open(ctx, f, []age.Identity{id}, tmpDst, envelope.Limits{}, transfer.ProgressFunc(func(transfer.Status) {}))
	if err != nil {
		return nil, err
	}
	results := studyResults(m, it.ID, tmpDst)
	if p.StowURL != "" {
		r.SetPhase(string(transfer.StateStoring))
		if err := c.stowStudies(ctx, filepath.Join(tmpDst, "files"), m, p.StowURL, results); err != nil {
			return nil, err
		}
	}
	if p.ToDir != "" {
		dirs, err := placeStudies(m, tmpDst, p.ToDir, it)
		if err != nil {
			return nil, fmt.Errorf("file the studies of %s: %w", it.ID, err)
		}
		for i := range results {
			results[i].Dir = dirs[results[i].StudyUID]
		}
	}
	if err := ic.Ack(ctx, p.Inbox, it.ID); err != nil {
		return nil, err
	}
	for i := range results {
		results[i].Acked = true
		if p.ToDir == "" {
			results[i].Dir = ""
		}
	}
	f.Close()
	os.Remove(env)
	os.RemoveAll(tmpDst)
	return results, nil
}

// placeStudies moves the files of an opened envelope (opened/files/…) to
// one folder per study, each under its own patient:
// <to>/<patient> <birth date>/<study date> <description>/files/<path>, with
// a copy of manifest.json. One envelope may hold several patients (a CD
// of a whole family, a mixed-up CD); each study goes to the patient its
// files name. Files of no study (a PDF report, the DICOMDIR) go with the
// first study of the envelope's patient; a DICOMDIR is dropped when the
// studies end up in several folders, its references would not resolve.
// It returns the folder of each study UID ("" for an envelope without
// studies, which keeps the single folder <patient> <birth date> <received>).
func placeStudies(m *envelope.Manifest, opened, to string, it InboxItem) (map[string]string, error) {
	manifest, err := os.ReadFile(filepath.Join(opened, "manifest.json"))
	if err != nil {
		return nil, err
	}
	dirs := map[string]string{}
	if len(m.Studies) == 0 {
		dir := uniqueDir(filepath.Join(to, importFolderName(m, it)))
		dirs[""] = dir
		return dirs, os.Rename(opened, dir)
	}
	home := m.Studies[0].StudyInstanceUID
	for i := len(m.Studies) - 1; i >= 0; i-- {
		if st := m.Studies[i]; st.PatientID != "" && st.PatientID == m.Patient.ID {
			home = st.StudyInstanceUID
		}
	}
	for _, st := range m.Studies {
		patient := studyPatientFolder(m, st, opened)
		study := SanitizeName(strings.TrimSpace(dicomscan.FormatDate(i18n.EN, st.Date) + " " + st.Description))
		dir := uniqueDir(filepath.Join(to, patient, study))
		if err := os.MkdirAll(filepath.Join(dir, "files"), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, "manifest.json"), manifest, 0o644); err != nil {
			return nil, err
		}
		dirs[st.StudyInstanceUID] = dir
	}
	split := len(m.Studies) > 1
	for _, f := range m.Files {
		dir, ok := dirs[f.StudyUID]
		if !ok || f.StudyUID == "" {
			if split && strings.EqualFold(pathBase(f.Path), "DICOMDIR") {
				continue
			}
			dir = dirs[home]
		}
		src := filepath.Join(opened, "files", filepath.FromSlash(f.Path))
		dst := filepath.Join(dir, "files", filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, err
		}
		if err := os.Rename(src, dst); err != nil {
			return nil, err
		}
	}
	return dirs, nil
}

// studyPatientFolder is "<patient> <birth date>" of one study. The
// manifest has the birth date of the envelope's patient only; for another
// patient it is read from the header of the study's first file.
func studyPatientFolder(m *envelope.Manifest, st envelope.Study, opened string) string {
	name, birth := st.PatientName, ""
	if st.PatientID == m.Patient.ID || (st.PatientID == "" && st.PatientName == m.Patient.Name) {
		birth = m.Patient.BirthDate
		if name == "" {
			name = m.Patient.Name
		}
	} else if h := firstHeader(m, st.StudyInstanceUID, opened); h != nil {
		birth = h.PatientBirthDate
		if name == "" {
			name = h.PatientName
		}
	}
	if name == "" {
		return SanitizeName("Unbekannt")
	}
	return SanitizeName(strings.TrimSpace(dicomscan.FormatName(name) + " " + dicomscan.FormatDate(i18n.EN, birth)))
}

// firstHeader reads the DICOM header of the first file of a study.
func firstHeader(m *envelope.Manifest, studyUID, opened string) *dicomscan.Header {
	for _, f := range m.Files {
		if f.StudyUID != studyUID || f.SOPInstanceUID == "" {
			continue
		}
		fh, err := os.Open(filepath.Join(opened, "files", filepath.FromSlash(f.Path)))
		if err != nil {
			return nil
		}
		defer fh.Close()
		h, err := dicomscan.ReadHeader(fh, f.Size)
		if err != nil {
			return nil
		}
		return h
	}
	return nil
}

func pathBase(slashPath string) string {
	if i := strings.LastIndex(slashPath, "/"); i >= 0 {
		return slashPath[i+1:]
	}
	return slashPath
}

func studyResults(m *envelope.Manifest, itemID, dir string) []ImportResult {
	var out []ImportResult
	idx := map[string]int{}
	for _, st := range m.Studies {
		idx[st.StudyInstanceUID] = len(out)
		out = append(out, ImportResult{ItemID: itemID, StudyUID: st.StudyInstanceUID, Dir: dir})
	}
	for _, f := range m.Files {
		if i, ok := idx[f.StudyUID]; ok {
			out[i].Files++
		}
	}
	if len(out) == 0 {
		out = append(out, ImportResult{ItemID: itemID, Dir: dir, Files: len(m.Files)})
	}
	return out
}

// checkSHA256 compares a downloaded envelope with the portal's listing: a
// mismatch means it was damaged or swapped on the way.
func checkSHA256(path, want string) error {
	if want == "" {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); !strings.EqualFold(got, want) {
		// TCP does not flip bytes unnoticed: the stored envelope differs
		// from what was uploaded. Do not import it, do not acknowledge it.
		return i18n.NewError(i18n.KindRefused, "app.download-damaged").WithHint("app.download-damaged.hint").Wrap(fmt.Errorf("sha256 %s, listed %s", got, want))
	}
	return nil
}

// importFolderName is "<patient> <birth date> <received>" for a clinic's
// folder of received studies.
func importFolderName(m *envelope.Manifest, it InboxItem) string {
	name := dicomscan.FormatName(m.Patient.Name)
	parts := []string{name}
	if m.Patient.BirthDate != "" {
		parts = append(parts, dicomscan.FormatDate(i18n.EN, m.Patient.BirthDate))
	}
	parts = append(parts, it.ReceivedAt.Local().Format("2006-01-02 1504"))
	return SanitizeName(strings.Join(parts, " "))
}

// uniqueDir appends " (2)", " (3)"… while the path exists.
func uniqueDir(p string) string {
	if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
		return p
	}
	for i := 2; ; i++ {
		q := fmt.Sprintf("%s (%d)", p, i)
		if _, err := os.Lstat(q); errors.Is(err, os.ErrNotExist) {
			return q
		}
	}
}

// SanitizeName makes s safe as one folder name on Windows, macOS and
// Linux: no separators, reserved characters or control characters, no
// leading/trailing dots or spaces, no reserved device names, at most 100
// bytes. Umlauts stay.
func SanitizeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < 0x20 || r == 0x7f:
			b.WriteByte('_')
		case strings.ContainsRune(`/\:*?"<>|^`, r):
			b.WriteByte('_')
		default:
			b.WriteRune(r)
		}
	}
	out := strings.Trim(b.String(), " .")
	for len(out) > 100 {
		rs := []rune(out)
		out = strings.TrimRight(string(rs[:len(rs)-1]), " .")
	}
	switch strings.ToUpper(strings.SplitN(out, ".", 2)[0]) {
	case "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9",
		"LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9":
		out = "_" + out
	}
	if out == "" {
		out = "_"
	}
	return out
}

func cleanupImport(j *Job) {
	var p importParams
	if jsonUnmarshal(j.Params, &p) == nil && p.WorkDir != "" {
		os.RemoveAll(p.WorkDir)
	}
}
