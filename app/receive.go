package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
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
	Portal string      `json:"portal"`
	Inbox  string      `json:"inbox"`
	Items  []InboxItem `json:"items"`
	ToDir  string      `json:"toDir,omitempty"`
	// StowURL is the one STOW-RS target of a job stored before PACS
	// targets existed; PACS are the targets (dicom://, http(s)://).
	StowURL string   `json:"stowURL,omitempty"`
	PACS    []string `json:"pacs,omitempty"`
	// PACSResults is each item's per-target, per-instance outcome, so a
	// resumed import sends nothing again that a PACS confirmed.
	PACSResults map[string]pacsRecord `json:"pacsResults,omitempty"`
	// PatientID (ImportRequest.PatientID) goes into every instance sent
	// to a PACS; PatientIDFrom is the original patient ID it replaced.
	PatientID     string                    `json:"patientId,omitempty"`
	PatientIDFrom string                    `json:"patientIdFrom,omitempty"`
	WorkDir       string                    `json:"workDir"`
	Results       map[string][]ImportResult `json:"results,omitempty"`
	// Failed holds items refused (tampered, not for us): kept on the
	// portal, never acknowledged.
	Failed map[string]*JobError `json:"failed,omitempty"`
	// Rejected are items the portal listed with an ID (or size, or
	// checksum) that breaks the protocol's grammar: never fetched, never
	// acknowledged, never a path; reported at the end (IDs quoted).
	Rejected []string `json:"rejected,omitempty"`
	// Quarantined are items that could not be opened (item ID →
	// quarantine ID): kept encrypted in the quarantine, acknowledged on
	// the portal as rejected.
	Quarantined map[string]string `json:"quarantined,omitempty"`
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
	items, _, err := c.inboxItems(ctx, root, inboxCode, apiKey)
	if err != nil {
		return nil, err
	}
	c.summarize(ctx, root, strings.TrimSpace(inboxCode), apiKey, items)
	return items, nil
}

// inboxItems is the portal's listing, without summaries: the items with
// a valid ID (see inbox.ValidID) and the ones rejected.
func (c *Core) inboxItems(ctx context.Context, root, inboxCode, apiKey string) ([]InboxItem, []*inbox.BadItemError, error) {
	if apiKey == "" {
		return nil, nil, i18n.NewError(i18n.KindInput, "app.api-key-needed").WithHint("app.api-key-wrong.hint")
	}
	l, err := c.inboxClient(root, apiKey, nil).Listing(ctx, strings.TrimSpace(inboxCode))
	if err != nil {
		return nil, nil, err
	}
	out := make([]InboxItem, len(l.Items))
	for i, it := range l.Items {
		out[i] = InboxItem{ID: it.ID, Size: it.Size, SHA256: it.SHA256, ReceivedAt: it.ReceivedAt}
	}
	return out, l.Rejected, nil
}

// localName is the file name an inbox item gets on this computer: derived
// from its ID, never the ID itself (the ID comes from the portal).
func localName(itemID string) string {
	h := sha256.Sum256([]byte(itemID))
	return "item-" + hex.EncodeToString(h[:10])
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
	var targets []string
	for _, t := range append([]string{req.StowURL}, req.PACS...) {
		if t = strings.TrimSpace(t); t != "" {
			targets = append(targets, t)
		}
	}
	if len(targets) == 0 && req.ToDir == "" {
		if t := strings.TrimSpace(c.Settings().PACSStowURL); t != "" {
			targets = []string{t}
		}
	}
	if len(targets) == 0 && req.ToDir == "" {
		return nil, i18n.NewError(i18n.KindInput, "app.import-no-destination").WithHint("app.import-no-destination.hint").Wrap(ErrNoDestination)
	}
	seen := map[string]bool{}
	var uniq []string
	for _, t := range targets {
		if _, err := ParsePACSTarget(t); err != nil {
			return nil, err
		}
		if !seen[t] {
			seen[t] = true
			uniq = append(uniq, t)
		}
	}
	targets = uniq
	if req.PatientID != "" {
		if req.PatientID, err = CheckPatientID(req.PatientID); err != nil {
			return nil, err
		}
		if len(targets) == 0 {
			return nil, i18n.NewError(i18n.KindInput, "app.patient-id-no-pacs").WithHint("app.patient-id.hint")
		}
	}
	if _, _, err := c.clinicIdentity(); err != nil {
		return nil, err
	}
	all, rejected, err := c.inboxItems(ctx, root, req.Inbox, req.APIKey)
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
	if len(req.ItemIDs) > 0 {
		rejected = nil // the caller chose; the rejected ones were not among them
	}
	if len(items) == 0 {
		if len(rejected) > 0 {
			return nil, rejected[0]
		}
		return nil, nil
	}
	if req.PatientID != "" {
		// Counted from the sealed manifests; an envelope the key cannot
		// read is refused by the import anyway, and the instances' own
		// patient IDs are checked again when they are rewritten.
		c.summarize(ctx, root, strings.TrimSpace(req.Inbox), req.APIKey, items)
		n := patientCount(items)
		for i := range items {
			items[i].Summary = nil // never stored with the job
		}
		if n > 1 {
			return nil, tooManyPatients(n)
		}
	}
	c.SetInboxKey(req.Inbox, req.APIKey)
	if req.ToDir != "" {
		if req.ToDir, err = filepath.Abs(req.ToDir); err != nil {
			return nil, err
		}
	}
	id := newJobID()
	p := importParams{Portal: root, Inbox: strings.TrimSpace(req.Inbox), Items: items, ToDir: req.ToDir,
		PACS: targets, PatientID: req.PatientID, WorkDir: filepath.Join(c.stateDir, "inbox", id)}
	for _, bad := range rejected {
		p.Rejected = append(p.Rejected, bad.Quoted())
	}
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
	work, err := os.OpenRoot(p.WorkDir)
	if err != nil {
		return err
	}
	defer work.Close()
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
	if p.Quarantined == nil {
		p.Quarantined = map[string]string{}
	}
	var refused error
	var quarantined []*QuarantinedItem
	for _, it := range p.Items {
		r.SetItems(len(p.Results), len(p.Items))
		if _, ok := p.Results[it.ID]; ok {
			continue
		}
		if _, ok := p.Failed[it.ID]; ok {
			continue
		}
		var res []ImportResult
		var err error
		if _, ok := p.Quarantined[it.ID]; !ok {
			res, err = c.importItem(ctx, r, &p, work, id, apiKey, it, done)
		}
		var oe *openError
		if reason := quarantineReason(err); (errors.As(err, &oe) && reason != "") || p.Quarantined[it.ID] != "" {
			// It cannot be opened (not for our key, damaged, hostile):
			// keep it encrypted in the quarantine, reject it on the
			// portal so the inbox drains.
			p.Quarantined[it.ID] = quarantineID(p.Portal, p.Inbox, it.ID)
			q, qerr := c.quarantine(ctx, &p, apiKey, it, reason)
			if serr := r.SaveParams(p); serr != nil {
				return serr
			}
			if qerr == nil {
				quarantined = append(quarantined, q)
				done += it.Size
				r.SetDone(done)
				continue
			}
			err = qerr
		}
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
			work.Remove(localName(it.ID) + ".age")
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
		if _, ok := p.Results[it.ID]; ok {
			continue
		}
		for _, raw := range p.importTargets() {
			for _, f := range sortedPACS(p.PACSResults[it.ID][raw]) {
				if !f.Confirmed() {
					rc.PACSRefused = append(rc.PACSRefused, f)
				}
			}
		}
	}
	for _, q := range quarantined {
		rc.Quarantined = append(rc.Quarantined, *q)
	}
	r.SetReceipt(&rc)
	work.Close()
	os.RemoveAll(p.WorkDir)
	if refused == nil && len(quarantined) > 0 {
		refused = quarantinedError(quarantined)
	}
	if refused == nil && len(p.Rejected) > 0 {
		refused = i18n.NewError(i18n.KindRefused, "transfer.inbox.bad_item", strings.Join(p.Rejected, ", ")).WithHint("transfer.inbox.bad_item.hint")
	}
	return refused
}

// importItem downloads one envelope, checks its SHA-256 against the
// inbox listing, opens it (decrypt, verify every file), stores it, and
// acknowledges it.
func (c *Core) importItem(ctx context.Context, r *jobRun, p *importParams, work *os.Root, id *age.X25519Identity, apiKey string, it InboxItem, base int64) ([]ImportResult, error) {
	if !inbox.ValidID(it.ID) {
		// A job stored before IDs were checked, or edited: never a path.
		return nil, &inbox.BadItemError{ID: it.ID, Reason: "id"}
	}
	local := localName(it.ID)
	env := filepath.Join(p.WorkDir, local+".age")
	ic := c.inboxClient(p.Portal, apiKey, transfer.ProgressFunc(func(s transfer.Status) {
		if s.State != transfer.StateDone {
			r.SetPhase(string(s.State))
		}
		r.SetWait(s.Wait) // set while waiting for the network: "next try in …"
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
		work.Remove(local + ".age")
		return nil, err
	}
	f, err := work.Open(local + ".age")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	parent, dest := p.ToDir, work
	if parent == "" {
		parent = p.WorkDir
	} else {
		if err := os.MkdirAll(parent, 0o755); err != nil {
			return nil, err
		}
		if dest, err = os.OpenRoot(parent); err != nil {
			return nil, err
		}
		defer dest.Close()
	}
	opened := ".import-" + local
	tmpDst := filepath.Join(parent, opened)
	dest.RemoveAll(opened) // a half-run Open leaves nothing, but a rename may have failed
	r.SetPhase(string(transfer.StateOpening))
	m, err := envelope.Open(ctx, f, []age.Identity{id}, tmpDst, envelope.Limits{}, transfer.ProgressFunc(func(transfer.Status) {}))
	if err != nil {
		return nil, &openError{err}
	}
	results := studyResults(m, it.ID, tmpDst)
	if len(p.importTargets()) > 0 {
		r.SetPhase(string(transfer.StateStoring))
		if err := c.storePACS(ctx, r, p, it.ID, filepath.Join(tmpDst, "files"), m, results); err != nil {
			return nil, err
		}
	}
	if p.ToDir != "" {
		dirs, dup, err := placeStudies(m, dest, opened, it)
		if err != nil {
			return nil, fmt.Errorf("file the studies of %s: %w", it.ID, err)
		}
		for i := range results {
			results[i].Dir = filepath.Join(p.ToDir, dirs[results[i].StudyUID])
			results[i].AlreadyImported = dup[results[i].StudyUID]
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
	work.Remove(local + ".age")
	dest.RemoveAll(opened)
	return results, nil
}

// placeStudies moves the files of an opened envelope (opened/files/…,
// opened relative to the root to, the target folder) to one folder per
// study, each under its own patient:
// <patient> <birth date>/<study date> <description>/files/<path>, with a
// copy of manifest.json. Every name it makes is SanitizeName'd and every
// file operation goes through the os.Root, so nothing outside the target
// folder can be touched whatever the envelope says. One envelope may hold
// several patients (a CD of a whole family, a mixed-up CD); each study
// goes to the patient its files name. Files of no study (a PDF report, the
// DICOMDIR) go with the first study of the envelope's patient; a DICOMDIR
// is dropped when the studies end up in several folders, its references
// would not resolve. It returns the folder of each study UID relative to
// the root ("" for an envelope without studies, which keeps the single
// folder <patient> <birth date> <received>).
//
// A study already in the folder — the same Study Instance UID with every
// SOP Instance UID of this one, in a manifest.json of the patient's
// folder (the same CD sent twice) — is not stored again as "… (2)": its
// folder is the one there, and dup says so.
func placeStudies(m *envelope.Manifest, to *os.Root, opened string, it InboxItem) (dirs map[string]string, dup map[string]bool, err error) {
	manifest, err := to.ReadFile(path.Join(opened, "manifest.json"))
	if err != nil {
		return nil, nil, err
	}
	dirs, dup = map[string]string{}, map[string]bool{}
	if len(m.Studies) == 0 {
		dir := uniqueRootDir(to, importFolderName(m, it))
		dirs[""] = dir
		return dirs, dup, to.Rename(opened, dir)
	}
	home := m.Studies[0].StudyInstanceUID
	for i := len(m.Studies) - 1; i >= 0; i-- {
		if st := m.Studies[i]; st.PatientID != "" && st.PatientID == m.Patient.ID {
			home = st.StudyInstanceUID
		}
	}
	for _, st := range m.Studies {
		patient := studyPatientFolder(m, st, to, opened)
		if dir := importedBefore(to, patient, st.StudyInstanceUID, sopUIDs(m, st.StudyInstanceUID)); dir != "" {
			dirs[st.StudyInstanceUID] = dir
			dup[st.StudyInstanceUID] = true
			continue
		}
		study := SanitizeName(strings.TrimSpace(dicomscan.FormatDate(i18n.EN, st.Date) + " " + st.Description))
		dir := uniqueRootDir(to, path.Join(patient, study))
		if err := to.MkdirAll(path.Join(dir, "files"), 0o755); err != nil {
			return nil, nil, err
		}
		if err := to.WriteFile(path.Join(dir, "manifest.json"), manifest, 0o644); err != nil {
			return nil, nil, err
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
		if dup[f.StudyUID] || (f.StudyUID == "" && dup[home]) {
			continue // there already; the opened copy is removed with the rest
		}
		src := path.Join(opened, "files", f.Path)
		dst := path.Join(dir, "files", f.Path)
		if err := to.MkdirAll(path.Dir(dst), 0o755); err != nil {
			return nil, nil, err
		}
		if err := to.Rename(src, dst); err != nil {
			return nil, nil, err
		}
	}
	for k, v := range dirs {
		dirs[k] = filepath.FromSlash(v)
	}
	return dirs, dup, nil
}

// sopUIDs are the SOP Instance UIDs of one study of m.
func sopUIDs(m *envelope.Manifest, studyUID string) []string {
	var out []string
	for _, f := range m.Files {
		if f.StudyUID == studyUID && f.SOPInstanceUID != "" {
			out = append(out, f.SOPInstanceUID)
		}
	}
	return out
}

// importedBefore is the folder under patient (relative to root) whose
// manifest.json holds study studyUID with every one of sops; "" if none.
func importedBefore(root *os.Root, patient, studyUID string, sops []string) string {
	entries, err := fs.ReadDir(root.FS(), patient)
	if err != nil || len(sops) == 0 {
		return ""
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := path.Join(patient, e.Name())
		data, err := root.ReadFile(path.Join(dir, "manifest.json"))
		if err != nil {
			continue
		}
		var old envelope.Manifest
		if json.Unmarshal(data, &old) != nil {
			continue
		}
		// Every study folder has the whole envelope's manifest: count only
		// the instances this folder holds.
		have := map[string]bool{}
		for _, f := range old.Files {
			if f.StudyUID != studyUID || f.SOPInstanceUID == "" {
				continue
			}
			if _, err := root.Stat(path.Join(dir, "files", f.Path)); err == nil {
				have[f.SOPInstanceUID] = true
			}
		}
		all := len(have) > 0
		for _, uid := range sops {
			if !have[uid] {
				all = false
				break
			}
		}
		if all {
			return dir
		}
	}
	return ""
}

// studyPatientFolder is "<patient> <birth date>" of one study. The
// manifest has the birth date of the envelope's patient only; for another
// patient it is read from the header of the study's first file.
func studyPatientFolder(m *envelope.Manifest, st envelope.Study, root *os.Root, opened string) string {
	name, birth := st.PatientName, ""
	if st.PatientID == m.Patient.ID || (st.PatientID == "" && st.PatientName == m.Patient.Name) {
		birth = m.Patient.BirthDate
		if name == "" {
			name = m.Patient.Name
		}
	} else if h := firstHeader(m, st.StudyInstanceUID, root, opened); h != nil {
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
func firstHeader(m *envelope.Manifest, studyUID string, root *os.Root, opened string) *dicomscan.Header {
	for _, f := range m.Files {
		if f.StudyUID != studyUID || f.SOPInstanceUID == "" {
			continue
		}
		fh, err := root.Open(path.Join(opened, "files", f.Path))
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

// uniqueRootDir is name inside root, with " (2)", " (3)"… appended
// while that exists (name slash-separated, relative to root).
func uniqueRootDir(root *os.Root, name string) string {
	if _, err := root.Lstat(name); errors.Is(err, os.ErrNotExist) {
		return name
	}
	for i := 2; ; i++ {
		q := fmt.Sprintf("%s (%d)", name, i)
		if _, err := root.Lstat(q); errors.Is(err, os.ErrNotExist) {
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
	if jsonUnmarshal(j.params, &p) == nil && p.WorkDir != "" {
		os.RemoveAll(p.WorkDir)
	}
}
