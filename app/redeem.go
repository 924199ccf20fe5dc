package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bildbote/bildbote/dicomscan"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/transfer"
	"github.com/bildbote/bildbote/transfer/diskspace"
	"github.com/bildbote/bildbote/transfer/dlx"
)

func init() {
	kinds[KindSave] = kindSpec{run: runSave, cleanup: cleanupSave}
}

// RedeemSession is one access code being redeemed. It holds the code and
// the answers in memory only (the DLX client renews its JWT with them);
// nothing of it is stored except the masked code (see Codes).
type RedeemSession struct {
	ID     string `json:"id"`
	Portal string `json:"portal"` // the DLX base URL
	Masked string `json:"masked"`
	// Questions are what the portal asks before it lists the items.
	Questions []Question `json:"questions"`
	// Items is filled by Answer.
	Items []Item `json:"items,omitempty"`
	// Expires is the code's expiry when known. DLX v1 does not carry it;
	// Answer takes it from the portal when the portal tells it (a Bildbote
	// extension, see transfer/dlx) and the user gave none, and SetExpiry
	// records the date from the code sheet, which always wins.
	Expires time.Time `json:"expires,omitzero"`

	mu     sync.Mutex
	core   *Core
	client *dlx.Client
	token  string
	sess   *dlx.Session
}

// RedeemStart asks the portal which questions guard a code. portalOrURL
// is a portal root, a DLX base (…/dlx/v1) or "" (the configured portal);
// code is the code as typed, a code URL (QR payload) or the path of a
// picture of the QR code.
//
// The look-up is bounded (Config.LookupTimeout): a portal that does not
// answer is a KindTransient "app.portal-no-answer" naming it, within
// seconds, not a wait of minutes.
func (c *Core) RedeemStart(ctx context.Context, portalOrURL, code string) (*RedeemSession, error) {
	lctx, cancel := c.lookupContext(ctx)
	defer cancel()
	s, err := c.redeemStart(lctx, portalOrURL, code)
	if err != nil {
		portal := strings.TrimSpace(portalOrURL)
		if u := strings.TrimSpace(code); portal == "" && (strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://")) {
			portal = u
		}
		return nil, c.lookupError(ctx, portal, err)
	}
	return s, nil
}

func (c *Core) redeemStart(ctx context.Context, portalOrURL, code string) (*RedeemSession, error) {
	input := strings.TrimSpace(code)
	if input == "" {
		return nil, i18n.NewError(i18n.KindInput, "app.code-missing")
	}
	if looksLikeImage(input) {
		payload, err := dlx.DecodeQRImage(input)
		if err != nil {
			return nil, err
		}
		input = payload
	}
	portal := strings.TrimSpace(portalOrURL)
	if portal == "" {
		portal = c.Settings().PortalURL
	}
	client := &dlx.Client{HTTP: c.client, Bandwidth: c.bandwidth(), MaxBusyWait: 5 * time.Minute}
	client.Retry.Initial = c.cfg.RetryInitial
	client.Retry.MaxElapsed, client.Retry.MaxBusy = c.networkBound(), c.busyBound()
	// A person waits for the look-up: few retries, then say so.
	look := *client
	look.Retry.MaxAttempts = 2
	target, err := dlx.Resolve(ctx, &look, input, portal)
	if err != nil {
		return nil, err
	}
	if _, err := c.portalRoot(target.Base); err != nil {
		return nil, err // not an allowed portal
	}
	if target.Token == "" {
		return nil, i18n.NewError(i18n.KindInput, "app.code-missing")
	}
	client.Base = target.Base
	qs := target.Questions
	if qs == nil {
		look.Base = target.Base
		if qs, err = look.Questions(ctx, target.Token); err != nil {
			return nil, err
		}
	}
	s := &RedeemSession{ID: newJobID(), Portal: target.Base, Masked: MaskCode(dlx.FormatToken(target.Token)),
		core: c, client: client, token: target.Token}
	lang := c.lang()
	for _, q := range qs {
		s.Questions = append(s.Questions, Question{ID: q.ID, Type: q.Type, Format: q.Format, Text: q.Text(lang), Texts: q.Texts})
	}
	c.mu.Lock()
	c.sessions[s.ID] = s
	c.mu.Unlock()
	return s, nil
}

func looksLikeImage(s string) bool {
	ext := strings.ToLower(filepath.Ext(s))
	switch ext {
	case ".png", ".jpg", ".jpeg", ".gif", ".bmp":
	default:
		return false
	}
	_, err := os.Stat(s)
	return err == nil
}

// NormalizeDate turns a date as people type it (YYYY-MM-DD, DD.MM.YYYY,
// YYYYMMDD) into DLX's YYYYMMDD.
func NormalizeDate(s string) (string, bool) { return dlx.NormalizeDate(s) }

// Answer sends the answers (question ID → answer; DATE answers in any
// form NormalizeDate accepts) and lists the items. A wrong answer or an
// unknown code is KindInput; an expired code KindRefused. The code is
// recorded, masked, for Codes, with the expiry the portal told when no
// SetExpiry came first.
//
// Answer is bounded like RedeemStart; a portal that locked the code after
// too many wrong answers is "app.code-locked" with the time to try again.
// The portal is kept as the portal setting when none was set.
func (s *RedeemSession) Answer(ctx context.Context, answers map[string]string) ([]Item, error) {
	lctx, cancel := context.WithTimeout(ctx, 2*s.core.lookupTimeout())
	defer cancel()
	items, err := s.answer(lctx, answers)
	if err != nil {
		return nil, s.core.lookupError(ctx, s.Portal, err)
	}
	return items, nil
}

func (s *RedeemSession) answer(ctx context.Context, answers map[string]string) ([]Item, error) {
	var as []dlx.Answer
	for _, q := range s.Questions {
		a, ok := answers[q.ID]
		if !ok {
			return nil, i18n.NewError(i18n.KindInput, "app.answer-missing", q.Text)
		}
		if q.AsksDate() {
			d, ok := dlx.NormalizeDate(a)
			if !ok {
				return nil, i18n.NewError(i18n.KindInput, "app.answer-date", a).WithHint("app.answer-date.hint")
			}
			a = d
		}
		as = append(as, dlx.Answer{QuestionID: q.ID, Answer: a})
	}
	sess, err := s.client.Authorize(ctx, s.token, as)
	if err != nil {
		return nil, err
	}
	list, err := sess.List(ctx)
	if err != nil {
		return nil, err
	}
	items := make([]Item, 0, len(list))
	var descs []string
	for _, it := range list {
		items = append(items, Item{ID: it.ID, MIMEType: it.MIMEType, Description: it.Description,
			StudyUID: it.StudyInstanceUID, Date: it.Date, Modalities: it.Modalities,
			PatientName: it.PatientsName, BirthDate: it.PatientsBirthdate, FileCount: it.FileCount})
		descs = append(descs, it.Description)
	}
	s.mu.Lock()
	s.sess, s.Items = sess, items
	if s.Expires.IsZero() {
		s.Expires = sess.Expires // zero when the portal did not say
	}
	s.mu.Unlock()
	root, _ := s.core.portalRoot(s.Portal)
	s.core.rememberPortal(root)
	err = s.core.putCode(&RedeemedCode{ID: s.ID, Masked: s.Masked, Portal: root, RedeemedAt: time.Now().UTC(),
		Expires: s.Expires, Items: descs})
	return items, err
}

// SetExpiry records the code's expiry (from the code sheet) so the core
// reminds the user a week before.
func (s *RedeemSession) SetExpiry(t time.Time) error {
	s.Expires = t
	return s.core.updateCode(s.ID, func(rc *RedeemedCode) { rc.Expires = t })
}

// saveParams is a save job's state: where each item goes. The session
// (code, answers, JWT) is in memory only: after a restart the code must
// be redeemed again.
type saveParams struct {
	Session string     `json:"session"`
	CodeID  string     `json:"codeId"`
	Items   []saveItem `json:"items"`
	WorkDir string     `json:"workDir"`
	// Dir is the folder everything is saved under (the library or the
	// chosen folder); every file operation is rooted there. Jobs stored
	// before it existed have their WorkDir directly inside it.
	Dir string `json:"dir,omitempty"`
	// PACS are targets every study goes into (StartSaveWith); with
	// NoCopy nothing stays in Dir. PACSResults: per item, per target,
	// per instance, so a resumed job sends nothing twice.
	PACS        []string              `json:"pacs,omitempty"`
	NoCopy      bool                  `json:"noCopy,omitempty"`
	PACSResults map[string]pacsRecord `json:"pacsResults,omitempty"`
	// PatientID (SaveOptions.PatientID) goes into every instance sent to
	// a PACS; PatientIDFrom is the original patient ID it replaced.
	PatientID     string `json:"patientId,omitempty"`
	PatientIDFrom string `json:"patientIdFrom,omitempty"`
}

type saveItem struct {
	ID       string `json:"id"`
	MIMEType string `json:"mimeType"`
	Target   string `json:"target"` // folder for a study, file for a document
	Files    int    `json:"fileCount,omitempty"`
	Done     bool   `json:"done,omitempty"`
	Saved    string `json:"saved,omitempty"`
	Count    int    `json:"count,omitempty"`
	Bytes    int64  `json:"bytes,omitempty"`
	// Stored, Warnings, Failed: instances the PACS targets took (summed).
	Stored   int `json:"stored,omitempty"`
	Warnings int `json:"warnings,omitempty"`
	Failed   int `json:"failed,omitempty"`
}

// StartSave downloads the items (nil = all) into dir ("" = the library)
// as <dir>/<patient name> <birth date>/<study date> <description>/, each a
// complete IHE PDI file-set with its DICOMDIR; documents go beside it.
func (c *Core) StartSave(s *RedeemSession, itemIDs []string, dir string) (*Job, error) {
	return c.startSave(s, itemIDs, dir, nil, false, "")
}

func (c *Core) startSave(s *RedeemSession, itemIDs []string, dir string, pacs []string, noCopy bool, patientID string) (*Job, error) {
	s.mu.Lock()
	items, sess := s.Items, s.sess
	s.mu.Unlock()
	if sess == nil {
		return nil, i18n.NewError(i18n.KindInput, "app.redeem-again").WithHint("app.redeem-again.hint")
	}
	if dir == "" {
		dir = c.Settings().LibraryDir
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, id := range itemIDs {
		want[id] = true
	}
	id := newJobID()
	p := saveParams{Session: s.ID, CodeID: s.ID, WorkDir: filepath.Join(dir, ".bildbote-"+id), Dir: dir, PACS: pacs, NoCopy: noCopy, PatientID: patientID}
	owner := soleOwner(items)
	patients := map[string]bool{}
	for _, it := range items {
		if len(want) > 0 && !want[it.ID] {
			continue
		}
		if noCopy && it.MIMEType != "application/zip" {
			continue // a document: no DICOM for the PACS, and no copy wanted
		}
		if it.PatientName == "" && owner != nil {
			// A report without patient data belongs to the code's only patient.
			it.PatientName, it.BirthDate = owner.PatientName, owner.BirthDate
		}
		p.Items = append(p.Items, saveItem{ID: it.ID, MIMEType: it.MIMEType, Target: libraryPath(dir, it), Files: it.FileCount})
		if it.MIMEType == "application/zip" && it.PatientName != "" {
			patients[it.PatientName+"\x00"+it.BirthDate] = true
		}
	}
	if len(p.Items) == 0 {
		return nil, i18n.NewError(i18n.KindInput, "app.save-nothing")
	}
	if patientID != "" && len(patients) > 1 {
		return nil, tooManyPatients(len(patients))
	}
	title := titled("app.job.title.save", s.Masked, strconv.Itoa(len(p.Items)))
	return c.addJobWithID(id, KindSave, title, p, nil, nil)
}

// soleOwner is the item naming the only patient among items, or nil when
// they name none or several.
func soleOwner(items []Item) *Item {
	var owner *Item
	for i := range items {
		it := &items[i]
		if it.PatientName == "" {
			continue
		}
		if owner != nil && (owner.PatientName != it.PatientName || owner.BirthDate != it.BirthDate) {
			return nil
		}
		owner = it
	}
	return owner
}

// dlxPatientName turns a DLX patientsName into DICOM PN form: the DLX
// specification's example writes "Family,Given" where DICOM writes
// "Family^Given".
func dlxPatientName(s string) string {
	if !strings.Contains(s, "^") {
		s = strings.Replace(s, ",", "^", 1)
	}
	return s
}

// libraryPath is where an item goes in the library.
func libraryPath(lib string, it Item) string {
	patient := SanitizeName(strings.TrimSpace(dicomscan.FormatName(dlxPatientName(it.PatientName)) + " " + dicomscan.FormatDate(i18n.EN, it.BirthDate)))
	if it.PatientName == "" {
		patient = SanitizeName("Unbekannt")
	}
	study := SanitizeName(strings.TrimSpace(dicomscan.FormatDate(i18n.EN, it.Date) + " " + it.Description))
	if it.MIMEType != "application/zip" {
		ext := ".bin"
		if it.MIMEType == "application/pdf" {
			ext = ".pdf"
		}
		// "BEFUND.PDF" becomes "BEFUND.pdf", not "BEFUND.PDF.pdf".
		if strings.EqualFold(filepath.Ext(study), ext) {
			study = study[:len(study)-len(ext)]
		}
		return filepath.Join(lib, patient, study+ext)
	}
	return filepath.Join(lib, patient, study)
}

func runSave(ctx context.Context, r *jobRun) error {
	c := r.core
	var p saveParams
	if err := r.Params(&p); err != nil {
		return err
	}
	c.mu.Lock()
	s := c.sessions[p.Session]
	c.mu.Unlock()
	if s == nil || s.sess == nil {
		return i18n.NewError(i18n.KindInput, "app.redeem-again").WithHint("app.redeem-again.hint")
	}
	if p.Dir == "" {
		p.Dir = filepath.Dir(p.WorkDir)
	}
	if err := os.MkdirAll(p.WorkDir, 0o700); err != nil {
		return diskspace.Map(p.WorkDir, err)
	}
	root, err := os.OpenRoot(p.Dir)
	if err != nil {
		return diskspace.Map(p.Dir, err)
	}
	defer root.Close()
	var doneBytes int64
	finished := 0
	for _, it := range p.Items {
		doneBytes += it.Bytes
		if it.Done {
			finished++
		}
	}
	// Several items at once; one at a time into a PACS (its results are
	// recorded per item as they come).
	workers := saveConcurrency
	if len(p.PACS) > 0 {
		workers = 1
	}
	prog := newSaveProgress(r, doneBytes, len(p.Items))
	prog.finished = finished
	r.SetItems(finished, len(p.Items))
	var (
		mu       sync.Mutex // p, the renames into the library
		firstErr error
		wg       sync.WaitGroup
	)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				mu.Lock()
				it := p.Items[i]
				mu.Unlock()
				err := c.saveItem(wctx, r, s, &p, root, &it, prog.item(i), &mu)
				mu.Lock()
				if err != nil {
					if firstErr == nil || errors.Is(firstErr, context.Canceled) && ctx.Err() == nil {
						firstErr = err
					}
					mu.Unlock()
					cancel()
					continue
				}
				p.Items[i] = it
				err = r.SaveParams(p)
				mu.Unlock()
				if err != nil {
					if firstErr == nil {
						firstErr = err
					}
					cancel()
					continue
				}
				prog.finish(i, it.Bytes)
				if saved := it.Saved; saved != "" {
					c.updateCode(p.CodeID, func(rc *RedeemedCode) { rc.Saved = append(rc.Saved, saved) })
				}
			}
		}()
	}
feed:
	for i := range p.Items {
		if p.Items[i].Done {
			continue
		}
		select {
		case next <- i:
		case <-wctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		err := firstErr
		if len(p.PACS) > 0 && !IsTransient(err) && ctx.Err() == nil {
			// What the PACS refused, per instance.
			rc := &Receipt{}
			for _, it := range p.Items {
				if it.Done {
					continue
				}
				for _, pi := range p.savedPACS(it.ID) {
					if !pi.Confirmed() {
						rc.PACSRefused = append(rc.PACSRefused, pi)
					}
				}
			}
			r.SetReceipt(rc)
		}
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	r.SetItems(len(p.Items), len(p.Items))
	rc := &Receipt{}
	for _, it := range p.Items {
		rc.Saved = append(rc.Saved, SavedStudy{ItemID: it.ID, Dir: it.Saved, Files: it.Count, Bytes: it.Bytes,
			Stored: it.Stored, Warnings: it.Warnings, Failed: it.Failed, PACS: p.savedPACS(it.ID)})
	}
	r.SetReceipt(rc)
	os.RemoveAll(p.WorkDir)
	return nil
}

// saveItem downloads one item (resumable, JWT renewed by the session) and
// unpacks it; only a complete, verified extraction is moved into place.
// The item's ID names nothing on disk (the work files are named after its
// hash) and every move goes through root, the folder saved under: the
// target, made of SanitizeName'd components by libraryPath, must lie
// inside it.
func (c *Core) saveItem(ctx context.Context, r *jobRun, s *RedeemSession, p *saveParams, root *os.Root, it *saveItem, progress transfer.Progress, mu *sync.Mutex) error {
	target, err := filepath.Rel(p.Dir, it.Target)
	if err != nil || !filepath.IsLocal(target) {
		return fmt.Errorf("save target %q is outside %q", it.Target, p.Dir)
	}
	work, err := filepath.Rel(p.Dir, p.WorkDir)
	if err != nil || !filepath.IsLocal(work) {
		return fmt.Errorf("work dir %q is outside %q", p.WorkDir, p.Dir)
	}
	local := localName(it.ID)
	if it.MIMEType != "application/zip" {
		dl := filepath.Join(p.WorkDir, local+".download")
		res, err := s.sess.DownloadFile(ctx, it.ID, dl, progress)
		if err != nil {
			return err
		}
		defer os.Remove(dl)
		if err := root.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return diskspace.Map(filepath.Dir(it.Target), err)
		}
		mu.Lock()
		defer mu.Unlock()
		dst := uniqueRootFile(root, target)
		if err := root.Rename(filepath.Join(work, local+".download"), dst); err != nil {
			return diskspace.Map(it.Target, err)
		}
		syncDir(root, filepath.Dir(dst))
		it.Done, it.Saved, it.Count, it.Bytes = true, filepath.Join(p.Dir, dst), 1, res.Size
		return nil
	}
	// A study: extracted while it downloads into a staging folder, which
	// appears in the library only when complete, verified and on disk.
	tmp := filepath.Join(p.WorkDir, local)
	os.RemoveAll(tmp)
	zr, res, err := streamStudy(ctx, s.sess, it.ID, tmp, p.WorkDir, progress, !p.NoCopy)
	if err != nil {
		return err
	}
	if len(p.PACS) > 0 {
		if err := c.storeSavedPACS(ctx, r, p, it, tmp); err != nil {
			os.RemoveAll(tmp)
			return err
		}
	}
	if p.NoCopy {
		os.RemoveAll(tmp)
		it.Done, it.Count, it.Bytes = true, zr.Files, res.Size
		return nil
	}
	if err := root.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		os.RemoveAll(tmp)
		return diskspace.Map(filepath.Dir(it.Target), err)
	}
	mu.Lock()
	defer mu.Unlock()
	dst := uniqueRootDir(root, filepath.ToSlash(target))
	if err := root.Rename(filepath.Join(work, local), dst); err != nil {
		os.RemoveAll(tmp)
		return diskspace.Map(it.Target, err)
	}
	syncDir(root, filepath.Dir(filepath.FromSlash(dst)))
	it.Done, it.Saved, it.Count, it.Bytes = true, filepath.Join(p.Dir, filepath.FromSlash(dst)), zr.Files, res.Size
	return nil
}

// syncDir makes a rename into dir durable (where folders can be synced).
func syncDir(root *os.Root, dir string) {
	if f, err := root.Open(dir); err == nil {
		f.Sync()
		f.Close()
	}
}

// uniqueRootFile is uniqueFile inside a root.
func uniqueRootFile(root *os.Root, name string) string {
	if _, err := root.Lstat(name); errors.Is(err, os.ErrNotExist) {
		return name
	}
	ext := filepath.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	for i := 2; ; i++ {
		q := fmt.Sprintf("%s (%d)%s", stem, i, ext)
		if _, err := root.Lstat(q); errors.Is(err, os.ErrNotExist) {
			return q
		}
	}
}

func cleanupSave(j *Job) {
	var p saveParams
	if jsonUnmarshal(j.params, &p) == nil && p.WorkDir != "" {
		os.RemoveAll(p.WorkDir)
	}
}
