package app

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/bildbote/bildbote/dicomscan"
	"github.com/bildbote/bildbote/dicomscan/deid"
	"github.com/bildbote/bildbote/dicomscan/pdi"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/workpool"
	"github.com/bildbote/bildbote/transfer/diskspace"
	"github.com/bildbote/bildbote/transfer/envelope"
)

// De-identified sending (issue 19). With SendRequest.Deidentify set, the
// sealing step rewrites every chosen instance through one deid.Session
// (DICOM PS3.15 Annex E; one consistent UID map and date offset for the
// whole send) into the job's work folder beside the spool — never onto the
// source — lays the results out as an IHE PDI file-set with a DICOMDIR
// built from the new UIDs and the pseudonym (package pdi), and seals that
// instead: the manifest names only the pseudonym and the new UIDs. The
// mapping from the pseudonym back to the patient stays on this computer
// (<state>/deid/<job>-<pseudonym>.json, 0600) and is never put into the
// envelope. Documents of the medium (PDF reports, pictures) are left out:
// they cannot be de-identified.

// Date handling of a de-identified send (Deidentify.Dates).
const (
	DatesRemove = ""      // dates removed or emptied (the profile's default)
	DatesKeep   = "keep"  // Retain Longitudinal Temporal Information, full dates
	DatesShift  = "shift" // ... with a per-patient offset
)

// Deidentify is how a send is de-identified. It holds no patient data
// (the pseudonym is what the clinic sees) and is kept in the job's state.
type Deidentify struct {
	// Pseudonym becomes Patient's Name and Patient ID; "" is refused by
	// StartSend (NewPseudonym proposes one).
	Pseudonym string `json:"pseudonym"`
	// Dates is DatesRemove, DatesKeep or DatesShift.
	Dates                      string `json:"dates,omitempty"`
	KeepPatientCharacteristics bool   `json:"keepPatientCharacteristics,omitempty"`
	KeepDeviceIdentity         bool   `json:"keepDeviceIdentity,omitempty"`
	CleanDescriptors           bool   `json:"cleanDescriptors,omitempty"`
	KeepUIDs                   bool   `json:"keepUIDs,omitempty"`
	// AcceptBurnedIn: the sender saw that some images may show the
	// patient in their pixels (BurnedInError) and sends anyway.
	AcceptBurnedIn bool `json:"acceptBurnedIn,omitempty"`
}

func (d Deidentify) options() (deid.Options, error) {
	o := deid.Options{Pseudonym: d.Pseudonym, KeepPatientCharacteristics: d.KeepPatientCharacteristics,
		KeepDeviceIdentity: d.KeepDeviceIdentity, CleanDescriptors: d.CleanDescriptors, KeepUIDs: d.KeepUIDs}
	switch d.Dates {
	case DatesRemove:
		o.Dates = deid.DatesRemove
	case DatesKeep:
		o.Dates = deid.DatesKeep
	case DatesShift:
		o.Dates = deid.DatesShift
	default:
		return o, fmt.Errorf("deidentify: unknown date handling %q", d.Dates)
	}
	return o, nil
}

// MaxPseudonymLen: Patient ID is an LO (64 characters), and the pseudonym
// is part of the mapping file's name.
const MaxPseudonymLen = 64

// CheckPseudonym accepts 1-64 characters of A-Z, a-z, 0-9, space, '-',
// '_' and '.': what a PACS takes as a Patient ID and every file system as
// a name, and nothing that could be a real name's umlaut by accident.
func CheckPseudonym(s string) error {
	if strings.TrimSpace(s) == "" {
		return i18n.NewError(i18n.KindInput, "app.deid.pseudonym-empty").WithHint("app.deid.pseudonym.hint")
	}
	if len(s) > MaxPseudonymLen {
		return i18n.NewError(i18n.KindInput, "app.deid.pseudonym-long", len(s), MaxPseudonymLen).WithHint("app.deid.pseudonym.hint")
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune(" -_.", r)) {
			return i18n.NewError(i18n.KindInput, "app.deid.pseudonym-char", string(r)).WithHint("app.deid.pseudonym.hint")
		}
	}
	if s != strings.TrimSpace(s) || strings.HasPrefix(s, ".") {
		return i18n.NewError(i18n.KindInput, "app.deid.pseudonym-char", s[:1]).WithHint("app.deid.pseudonym.hint")
	}
	return nil
}

// NewPseudonym proposes a pseudonym: "Pseudonym-" and 8 random hex digits.
func NewPseudonym() string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return "Pseudonym-" + strings.ToUpper(hex.EncodeToString(b[:]))
}

// DeidentifyRequired reports whether the policy (deidentify_inboxes)
// forces de-identification for sends to the inbox code ("*" in the list:
// every inbox).
func (s Settings) DeidentifyRequired(code string) bool {
	code = strings.TrimSpace(code)
	for _, c := range s.DeidentifyInboxes {
		if c == "*" || (code != "" && c == code) {
			return true
		}
	}
	return false
}

// deidFor checks a send's de-identification against the policy and the
// pseudonym rules: nil for a plain send.
func (c *Core) deidFor(code string, d *Deidentify) (*Deidentify, error) {
	if d == nil {
		if c.Settings().DeidentifyRequired(code) {
			return nil, i18n.NewError(i18n.KindRefused, "app.deid.required", code).WithHint("app.deid.required.hint")
		}
		return nil, nil
	}
	dd := *d
	dd.Pseudonym = strings.TrimSpace(dd.Pseudonym)
	if err := CheckPseudonym(dd.Pseudonym); err != nil {
		return nil, err
	}
	if _, err := dd.options(); err != nil {
		return nil, i18n.NewError(i18n.KindInput, "app.deid.bad-dates", dd.Dates).Wrap(err)
	}
	return &dd, nil
}

// Burned-in annotation warnings (deid.Warning codes).
const (
	BurnedInAnnotation = "burned-in-annotation" // Burned In Annotation (0028,0301) = YES
	BurnedInModality   = "burned-in-modality"   // US, SC, some XA: text often in the pixels
)

// BurnedIn says which chosen files may show the patient in their pixels,
// which de-identification does not touch.
type BurnedIn struct {
	Files  int `json:"files"`
	Series int `json:"series"`
	// Reasons are the warning codes found (BurnedInAnnotation,
	// BurnedInModality), sorted.
	Reasons []string `json:"reasons"`
	// Modalities of the series concerned, sorted.
	Modalities []string `json:"modalities,omitempty"`
}

// BurnedInError refuses a de-identified send with burned-in warnings the
// sender has not accepted (Deidentify.AcceptBurnedIn). It comes wrapped in
// an *i18n.UserError of KindInput.
type BurnedInError struct{ BurnedIn }

func (e *BurnedInError) Error() string {
	return fmt.Sprintf("%d files may show patient data in their pixels (%s)", e.Files, strings.Join(e.Reasons, ", "))
}

func burnedInError(b BurnedIn) error {
	return i18n.NewError(i18n.KindInput, "app.deid.burned-in", b.Files, b.Series, reasonWords(b.Reasons, b.Modalities)).
		WithHint("app.deid.burned-in.hint").Wrap(&BurnedInError{b})
}

// reasonWords is the English list the messages name; the translated words
// are in the catalog under app.deid.reason.<code>.
func reasonWords(reasons, modalities []string) string {
	var out []string
	for _, r := range reasons {
		w := reasonWord(i18n.EN, r)
		if r == BurnedInModality && len(modalities) > 0 {
			w += " (" + strings.Join(modalities, ", ") + ")"
		}
		out = append(out, w)
	}
	return strings.Join(out, "; ")
}

// reasonWord translates a warning code; a code the catalog does not know
// yet (a newer engine) is shown as it is.
func reasonWord(lang i18n.Lang, code string) string {
	if k := "app.deid.reason." + code; i18n.Has(lang, k) {
		return i18n.T(lang, k)
	}
	return code
}

// ReasonWord is reasonWord for the faces.
func ReasonWord(lang i18n.Lang, code string) string { return reasonWord(lang, code) }

// BurnedInLocal is the translated reason list of b, for faces that show it
// apart from the error.
func (b BurnedIn) Local(lang i18n.Lang) string {
	var out []string
	for _, r := range b.Reasons {
		w := reasonWord(lang, r)
		if r == BurnedInModality && len(b.Modalities) > 0 {
			w += " (" + strings.Join(b.Modalities, ", ") + ")"
		}
		out = append(out, w)
	}
	return strings.Join(out, "; ")
}

// CheckBurnedIn looks at the first instance of every chosen series (the
// engine's Preview: Burned In Annotation and the modality) and returns
// what may carry burned-in patient data; nil when nothing does. The
// sealing step checks every file again and refuses the ones a series'
// first file did not announce.
func (c *Core) CheckBurnedIn(ctx context.Context, ix *dicomscan.Index, studies []string, d Deidentify) (*BurnedIn, error) {
	opts, err := d.options()
	if err != nil {
		return nil, err
	}
	if opts.Pseudonym == "" {
		opts.Pseudonym = "PREVIEW"
	}
	src := c.fileSource(ix)
	defer src.close()
	want := map[string]bool{}
	for _, u := range studies {
		want[u] = true
	}
	b := BurnedIn{}
	reasons, mods := map[string]bool{}, map[string]bool{}
	for _, pa := range ix.Patients {
		for _, st := range pa.Studies {
			if len(want) > 0 && !want[st.InstanceUID] {
				continue
			}
			for _, se := range st.Series {
				if len(se.Instances) == 0 {
					continue
				}
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				res, err := src.preview(se.Instances[0], opts)
				if err != nil {
					return nil, fmt.Errorf("deidentify: preview %s: %w", se.Instances[0].Path, err)
				}
				if len(res.Warnings) == 0 {
					continue
				}
				b.Series++
				b.Files += len(se.Instances)
				for _, w := range res.Warnings {
					reasons[w.Code] = true
					if w.Code == BurnedInModality && se.Modality != "" {
						mods[se.Modality] = true
					}
				}
			}
		}
	}
	if b.Files == 0 {
		return nil, nil
	}
	b.Reasons, b.Modalities = sortedKeys(reasons), sortedKeys(mods)
	return &b, nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// DeidChange is one attribute a de-identification changes (for the
// preview; Old is patient data and is only ever shown, never logged).
type DeidChange struct {
	Tag     string `json:"tag"` // "(0010,0010)"
	Keyword string `json:"keyword,omitempty"`
	Action  string `json:"action"` // the profile's action code: D, Z, X, K, C, U …
	Old     string `json:"old,omitempty"`
	New     string `json:"new,omitempty"`
}

// DeidPreview is what de-identifying one file changes.
type DeidPreview struct {
	// Path is the file, relative to the medium (or as given).
	Path     string       `json:"path"`
	Changes  []DeidChange `json:"changes"`
	BurnedIn []string     `json:"burnedIn,omitempty"` // warning codes
	Warnings []string     `json:"warnings,omitempty"` // their English detail
}

func previewOf(p string, res deid.Result) *DeidPreview {
	out := &DeidPreview{Path: p, Changes: []DeidChange{}}
	for _, ch := range res.Changes {
		tag := fmt.Sprintf("(%04X,%04X)", ch.Tag>>16, ch.Tag&0xffff)
		kw := ch.Keyword
		if strings.HasSuffix(kw, tag) && !strings.Contains(kw, ">") {
			kw = "" // the engine names an attribute it has no keyword for by its tag
		}
		out.Changes = append(out.Changes, DeidChange{Tag: tag, Keyword: kw, Action: ch.Action, Old: ch.Old, New: ch.New})
	}
	for _, w := range res.Warnings {
		out.BurnedIn = append(out.BurnedIn, w.Code)
		out.Warnings = append(out.Warnings, w.Detail)
	}
	return out
}

// PreviewDeidentify shows what d changes in one instance of ix: the one
// at path (relative to the medium), or with path "" the first instance of
// the chosen studies. Nothing is written.
func (c *Core) PreviewDeidentify(ix *dicomscan.Index, studies []string, p string, d Deidentify) (*DeidPreview, error) {
	opts, err := d.options()
	if err != nil {
		return nil, err
	}
	if opts.Pseudonym == "" {
		opts.Pseudonym = "PREVIEW"
	}
	var inst *dicomscan.Instance
	for _, ch := range selectedInstances(ix, studies) {
		if p == "" || ch.inst.Path == p {
			inst = ch.inst
			break
		}
	}
	if inst == nil {
		return nil, i18n.NewError(i18n.KindInput, "app.send-nothing")
	}
	src := c.fileSource(ix)
	defer src.close()
	res, err := src.preview(inst, opts)
	if err != nil {
		return nil, i18n.NewError(i18n.KindInput, "app.deid.preview-failed", inst.Path).Wrap(err)
	}
	return previewOf(inst.Path, res), nil
}

// PreviewDeidentifyFile shows what d changes in the DICOM file at a host
// path (bildbote-cli deid preview FILE).
func PreviewDeidentifyFile(file string, d Deidentify) (*DeidPreview, error) {
	opts, err := d.options()
	if err != nil {
		return nil, err
	}
	if opts.Pseudonym == "" {
		opts.Pseudonym = "PREVIEW"
	}
	if _, err := os.Stat(file); err != nil {
		return nil, i18n.NewError(i18n.KindInput, "scan.error.not-found", file).WithHint("scan.hint.not-found").Wrap(err)
	}
	res, err := deid.Preview(file, opts)
	if err != nil {
		return nil, i18n.NewError(i18n.KindInput, "app.deid.preview-failed", file).Wrap(err)
	}
	return previewOf(file, res), nil
}

// chosen is one instance of a send, with its series.
type chosen struct {
	inst *dicomscan.Instance
	se   *dicomscan.Series
	pa   *dicomscan.Patient
}

func selectedInstances(ix *dicomscan.Index, studies []string) []chosen {
	want := map[string]bool{}
	for _, u := range studies {
		want[u] = true
	}
	var out []chosen
	for _, pa := range ix.Patients {
		for _, st := range pa.Studies {
			if len(want) > 0 && !want[st.InstanceUID] {
				continue
			}
			for _, se := range st.Series {
				for _, in := range se.Instances {
					out = append(out, chosen{in, se, pa})
				}
			}
		}
	}
	return out
}

// fileSource gives the engine the medium's instances: straight from a
// scanned folder (the engine reads the host file), else (ZIP, ISO,
// dropped files) read through the medium into memory.
type fileSource struct {
	fsys fs.FS
	root string // host folder of the medium, "" when it is none
}

func (c *Core) fileSource(ix *dicomscan.Index) *fileSource {
	s := &fileSource{fsys: ix.FS()}
	if src := c.sourcesOf(ix); len(src) == 1 {
		if st, err := os.Stat(src[0]); err == nil && st.IsDir() {
			s.root = src[0]
		}
	}
	return s
}

// rewrite de-identifies inst through session into dst.
func (s *fileSource) rewrite(session *deid.Session, inst *dicomscan.Instance, dst io.Writer) (deid.Result, error) {
	if s.root != "" {
		host := filepath.Join(s.root, filepath.FromSlash(inst.Path))
		// The scan follows no symbolic links: neither does this.
		if st, err := os.Lstat(host); err == nil && st.Mode().IsRegular() && st.Size() == inst.Size {
			return session.Rewrite(host, dst)
		}
	}
	if s.fsys == nil {
		return deid.Result{}, errors.New("deidentify: the medium is closed")
	}
	b, err := fs.ReadFile(s.fsys, inst.Path)
	if err != nil {
		return deid.Result{}, err
	}
	return session.RewriteBytes(b, dst)
}

// preview is what de-identifying inst with opts would change.
func (s *fileSource) preview(inst *dicomscan.Instance, opts deid.Options) (deid.Result, error) {
	session, err := deid.NewSession(opts)
	if err != nil {
		return deid.Result{}, err
	}
	return s.rewrite(session, inst, io.Discard)
}

func (s *fileSource) close() {}

// deidWork is the job's work folder for the de-identified copies.
func deidWork(spool string) string { return spool + ".deid" }

// deidentify turns the seal input of a de-identified send into one over a
// de-identified IHE PDI file-set in the job's work folder. The returned
// function removes the work folder (call it after sealing).
func (c *Core) deidentify(ctx context.Context, r *jobRun, p *sendParams, in envelope.SealInput) (envelope.SealInput, func(), error) {
	nothing := func() {}
	d := p.Deid
	opts, err := d.options()
	if err != nil {
		return in, nothing, err
	}
	work := deidWork(p.Spool)
	os.RemoveAll(work) // a run cut short before: start again, with a new session
	flat := filepath.Join(work, "in")
	if err := os.MkdirAll(flat, 0o700); err != nil {
		return in, nothing, fmt.Errorf("deidentify: %w", err)
	}
	done := false
	var media []*dicomscan.Medium
	var removing sync.WaitGroup // the rewritten files go while sealing runs
	cleanup := func() {
		for _, m := range media {
			m.Close()
		}
		removing.Wait()
		os.RemoveAll(work)
	}
	defer func() {
		if !done {
			cleanup()
		}
	}()

	list := selectedInstances(in.Index, in.Studies)
	var total int64
	for _, ch := range list {
		total += ch.inst.Size
	}
	// Room for the copies (the rewritten files and their file-set exist
	// side by side for a moment) and the envelope after them.
	if err := diskspace.Check(filepath.Dir(p.Spool), 2*total+envelope.EstimateSize(total, len(list))); err != nil {
		return in, nothing, err
	}
	r.SetPhase(PhaseDeidentifying)
	r.SetTotal(total)
	r.SetDone(0)
	session, err := deid.NewSession(opts)
	if err != nil {
		return in, nothing, fmt.Errorf("deidentify: %w", err)
	}
	src := c.fileSource(in.Index)
	defer src.close()
	warned, err := rewriteAll(ctx, session, src, list, flat, r.Add)
	if err != nil {
		return in, nothing, err
	}
	if warned.Files > 0 && !d.AcceptBurnedIn {
		return in, nothing, burnedInError(warned)
	}
	if err := c.writeMapping(r.id, d.Pseudonym, session.Mapping()); err != nil {
		return in, nothing, err
	}

	// The new index, read back from the de-identified files, then the
	// file-set with its DICOMDIR for the new UIDs and the pseudonym.
	ix1, m1, err := scanWork(ctx, flat)
	if err != nil {
		return in, nothing, err
	}
	media = append(media, m1)
	if ix1.Files != len(list) {
		return in, nothing, fmt.Errorf("deidentify: %d of %d de-identified files read back", ix1.Files, len(list))
	}
	set := filepath.Join(work, "set")
	if err := layFileSet(ctx, ix1, flat, set); err != nil {
		return in, nothing, err
	}
	m1.Close()
	media = media[:0]
	removing.Add(1)
	go func() { defer removing.Done(); os.RemoveAll(flat) }()
	ix2, m2, err := scanWork(ctx, set)
	if err != nil {
		return in, nothing, err
	}
	media = append(media, m2)
	if ix2.Files != len(list) {
		return in, nothing, fmt.Errorf("deidentify: the file-set holds %d of %d files", ix2.Files, len(list))
	}
	st, err := os.Stat(filepath.Join(set, "DICOMDIR"))
	if err != nil {
		return in, nothing, fmt.Errorf("deidentify: %w", err)
	}
	ix2.Documents = []dicomscan.Document{{Path: "DICOMDIR", Size: st.Size(), MIMEType: "application/dicom"}}

	out := in
	out.Index, out.Studies, out.Documents = ix2, nil, []string{"DICOMDIR"}
	out.Patient = envelope.Patient{Name: d.Pseudonym, ID: d.Pseudonym}
	if len(ix2.Patients) > 0 {
		pa := ix2.Patients[0]
		out.Patient = envelope.Patient{Name: pa.Name, ID: pa.ID, BirthDate: pa.BirthDate, Sex: pa.Sex}
	}
	done = true
	return out, cleanup, nil
}

// layFileSet makes the IHE PDI file-set of the de-identified copies in
// flat: the plan and its DICOMDIR from pdi.Layout, then each copy renamed
// into its place — the copies are ours and on the same disk, so the
// file-set costs no second write of every byte (issue 19's benchmark:
// copying them had made a de-identified send 1.7x a plain one).
func layFileSet(ctx context.Context, ix *dicomscan.Index, flat, set string) error {
	res, rootFiles, err := pdi.Layout(ctx, ix, pdi.Options{FileSetID: "BILDBOTE", Time: time.Now()})
	if err != nil {
		return fmt.Errorf("deidentify: file-set: %w", err)
	}
	if len(res.Skipped) > 0 {
		return fmt.Errorf("deidentify: file-set: %d de-identified files left out (%s: %s)", len(res.Skipped), res.Skipped[0].Code, res.Skipped[0].Reason)
	}
	made := map[string]bool{}
	for _, e := range res.Written {
		to := filepath.Join(set, filepath.FromSlash(e.Path))
		if dir := filepath.Dir(to); !made[dir] {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return fmt.Errorf("deidentify: file-set: %w", err)
			}
			made[dir] = true
		}
		if err := os.Rename(filepath.Join(flat, filepath.FromSlash(e.Source)), to); err != nil {
			return fmt.Errorf("deidentify: file-set: %w", err)
		}
	}
	// DICOMDIR last: a file-set cut short has none
	for _, name := range []string{"README.TXT", "INDEX.HTM", "DICOMDIR"} {
		data, ok := rootFiles[name]
		if !ok {
			return fmt.Errorf("deidentify: file-set: no %s planned", name)
		}
		if err := os.WriteFile(filepath.Join(set, name), data, 0o600); err != nil {
			return fmt.Errorf("deidentify: file-set: %w", err)
		}
	}
	return nil
}

// PhaseDeidentifying is a send's phase while it de-identifies.
const PhaseDeidentifying = "deidentifying"

func scanWork(ctx context.Context, dir string) (*dicomscan.Index, *dicomscan.Medium, error) {
	m, err := dicomscan.Open(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("deidentify: %w", err)
	}
	ix, err := dicomscan.Scan(ctx, m, dicomscan.Options{})
	if err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("deidentify: read back: %w", err)
	}
	return ix, m, nil
}

// deidWorkers: the engine parses and writes; a few files at once keep
// both cores busy without making a CD drive seek.
func deidWorkers() int { return min(4, 2*runtime.GOMAXPROCS(0)) }

// rewriteAll de-identifies list into dir (one file per instance, named by
// its position) on a few goroutines and returns the burned-in warnings
// of all files.
func rewriteAll(ctx context.Context, s *deid.Session, src *fileSource, list []chosen, dir string, advance func(int64)) (BurnedIn, error) {
	type result struct{ warn []deid.Warning }
	results := make([]result, len(list))
	one := func(i int, buf *bufio.Writer) error {
		inst := list[i].inst
		var res deid.Result
		f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("%06d", i)), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			buf.Reset(f)
			res, err = src.rewrite(s, inst, buf)
			if err == nil {
				err = buf.Flush()
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			return i18n.NewError(i18n.KindInput, "app.deid.failed", inst.Path).WithHint("app.deid.failed.hint").Wrap(err)
		}
		results[i].warn = res.Warnings
		advance(inst.Size)
		return nil
	}
	// The first file of each patient first, one after the other: the
	// session names patients in the order it meets them (the pseudonym,
	// then pseudonym-2 ...), which is then the index's order, not the
	// workers' race.
	var rest []int
	seen := map[*dicomscan.Patient]bool{}
	buf0 := bufio.NewWriterSize(nil, 256<<10)
	for i, ch := range list {
		if seen[ch.pa] {
			rest = append(rest, i)
			continue
		}
		seen[ch.pa] = true
		if err := ctx.Err(); err != nil {
			return BurnedIn{}, err
		}
		if err := one(i, buf0); err != nil {
			return BurnedIn{}, err
		}
	}
	err := workpool.Run(ctx, len(rest), deidWorkers(), func() func(int) error {
		buf := bufio.NewWriterSize(nil, 256<<10)
		return func(k int) error { return one(rest[k], buf) }
	})
	if err != nil {
		return BurnedIn{}, err
	}
	var b BurnedIn
	reasons, mods := map[string]bool{}, map[string]bool{}
	series := map[*dicomscan.Series]bool{}
	for i, res := range results {
		if len(res.warn) == 0 {
			continue
		}
		b.Files++
		series[list[i].se] = true
		for _, w := range res.warn {
			reasons[w.Code] = true
			if w.Code == BurnedInModality && list[i].se.Modality != "" {
				mods[list[i].se.Modality] = true
			}
		}
	}
	b.Series = len(series)
	b.Reasons, b.Modalities = sortedKeys(reasons), sortedKeys(mods)
	return b, nil
}

// deidDir is where the mapping files are: never uploaded, readable by the
// user only.
func (c *Core) deidDir() string { return filepath.Join(c.stateDir, "deid") }

func (c *Core) writeMapping(job, pseudonym string, m deid.Mapping) error {
	dir := c.deidDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("deidentify: mapping: %w", err)
	}
	if err := deid.WriteMapping(filepath.Join(dir, mappingName(job, pseudonym)), m); err != nil {
		return fmt.Errorf("deidentify: mapping: %w", err)
	}
	return nil
}

// mappingName is <job>-<pseudonym>.json; CheckPseudonym keeps the name
// safe (spaces become '_').
func mappingName(job, pseudonym string) string {
	return job + "-" + strings.ReplaceAll(pseudonym, " ", "_") + ".json"
}

// DeidRecord is one mapping file: which send used the pseudonym, and the
// engine's mapping back to the patient (patient data: shown to the sender
// on request only).
type DeidRecord struct {
	Job       string       `json:"job"`
	Pseudonym string       `json:"pseudonym"`
	Path      string       `json:"path"`
	Written   time.Time    `json:"written"`
	Mapping   deid.Mapping `json:"mapping"`
}

// DeidLookup finds the mapping files of a pseudonym, newest first (""
// lists every one).
func (c *Core) DeidLookup(pseudonym string) ([]DeidRecord, error) {
	entries, err := os.ReadDir(c.deidDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	want := strings.ReplaceAll(strings.TrimSpace(pseudonym), " ", "_")
	var out []DeidRecord
	for _, e := range entries {
		name := e.Name()
		job, rest, ok := strings.Cut(strings.TrimSuffix(name, ".json"), "-")
		if !ok || !strings.HasSuffix(name, ".json") || (want != "" && !strings.EqualFold(rest, want)) {
			continue
		}
		full := filepath.Join(c.deidDir(), name)
		m, err := deid.ReadMapping(full)
		if err != nil {
			return nil, fmt.Errorf("deidentify: %s: %w", full, err)
		}
		rec := DeidRecord{Job: job, Pseudonym: m.Pseudonym, Path: full, Mapping: m}
		if info, err := e.Info(); err == nil {
			rec.Written = info.ModTime()
		}
		out = append(out, rec)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Written.After(out[j].Written) })
	return out, nil
}

// startDeid is StartSend's de-identification step: the policy's
// deidentify_inboxes, the pseudonym, and the burned-in check over the
// chosen series (refused unless accepted). A de-identified send carries no
// patient note (req.Patient is dropped: it would name the patient).
func (c *Core) startDeid(ctx context.Context, code string, req *SendRequest) (*Deidentify, error) {
	d, err := c.deidFor(code, req.Deidentify)
	if err != nil || d == nil {
		return d, err
	}
	req.Patient = ""
	if !d.AcceptBurnedIn {
		b, err := c.CheckBurnedIn(ctx, req.Index, req.Studies, *d)
		if err != nil {
			return nil, i18n.NewError(i18n.KindInput, "app.deid.failed", "").WithHint("app.deid.failed.hint").Wrap(err)
		}
		if b != nil {
			return nil, burnedInError(*b)
		}
	}
	return d, nil
}
