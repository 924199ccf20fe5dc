package app

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/transfer/dimse"
	"github.com/bildbote/bildbote/transfer/envelope"
	"github.com/bildbote/bildbote/transfer/stow"
)

// PACSTarget is where received studies are imported, in Bildbote's one
// notation: dicom://CALLED@host:port[?calling=AE][&tls=1] for DIMSE
// (C-STORE through transfer/dimse; tls=1: DICOM TLS with the files of
// PACSTLS), http(s)://…/dicom-web for STOW-RS.
type PACSTarget struct {
	// Raw is the target as given (trimmed).
	Raw string
	// DIMSE is set for a dicom:// target.
	DIMSE *dimse.Config
	// StowURL is set for an http(s):// target: the DICOMweb root.
	StowURL string
}

// String is the target for a person: an http(s) URL with its password
// hidden.
func (t PACSTarget) String() string {
	if t.DIMSE != nil {
		return t.Raw
	}
	if u, err := url.Parse(t.Raw); err == nil {
		return u.Redacted()
	}
	return t.Raw
}

// ParsePACSTarget reads a PACS target. Errors are *i18n.UserError of
// KindInput naming what is wrong (German and English).
func ParsePACSTarget(s string) (PACSTarget, error) {
	s = strings.TrimSpace(s)
	lower := strings.ToLower(s)
	switch {
	case strings.HasPrefix(lower, "dicom://"):
		cfg, err := dimse.ParseTarget(s)
		if err != nil {
			return PACSTarget{}, err
		}
		return PACSTarget{Raw: s, DIMSE: &cfg}, nil
	case strings.HasPrefix(lower, "http://") || strings.HasPrefix(lower, "https://"):
		u, err := url.Parse(s)
		if err != nil || u.Host == "" || u.Hostname() == "" {
			return PACSTarget{}, i18n.NewError(i18n.KindInput, "app.pacs-target-invalid", s).WithHint("app.pacs-target-invalid.hint")
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return PACSTarget{}, i18n.NewError(i18n.KindInput, "app.pacs-target-query", s).WithHint("app.pacs-target-invalid.hint")
		}
		return PACSTarget{Raw: s, StowURL: strings.TrimRight(s, "/")}, nil
	}
	return PACSTarget{}, i18n.NewError(i18n.KindInput, "app.pacs-target-invalid", s).WithHint("app.pacs-target-invalid.hint")
}

// CheckPACSTarget is ParsePACSTarget for a caller that only validates
// ("" is allowed: no PACS).
func CheckPACSTarget(s string) error {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	_, err := ParsePACSTarget(s)
	return err
}

// PACSInstance is what one PACS said about one instance of a received
// envelope.
type PACSInstance struct {
	ItemID         string `json:"itemId"`
	StudyUID       string `json:"studyInstanceUID,omitempty"`
	Target         string `json:"target"`
	SOPInstanceUID string `json:"sopInstanceUID"`
	// Status is "success", "warning" (stored, with a warning code such as
	// B000 or B007), "failure" (the PACS refused it) or "not-sent" (the
	// connection failed before the PACS answered).
	Status string `json:"status"`
	// Code is the DIMSE status (hex, "0000", "B000", "A700") or, for
	// STOW-RS, the Failure Reason (0008,1197) or the HTTP status
	// ("HTTP 409"); "" when the PACS did not answer.
	Code    string `json:"code,omitempty"`
	Comment string `json:"comment,omitempty"`
	// Error is why it is not stored, in English; Reason the same for a
	// translated message (JobError.Message).
	Error  string    `json:"error,omitempty"`
	Reason *JobError `json:"reason,omitempty"`
	// Converted: sent re-encoded (explicit to implicit VR) because the
	// PACS accepted only that.
	Converted bool `json:"converted,omitempty"`
	// PatientID is the clinic's patient ID the instance was sent with
	// (the original then in Other Patient IDs Sequence); "" = unchanged.
	PatientID string `json:"patientId,omitempty"`
}

// patientMap is a job's patient-ID mapping: ID is the clinic's patient
// ID ("" = none), From the original patient ID the job mapped so far
// (kept in the job's params).
type patientMap struct {
	ID   string
	From *string
}

// anyTodo reports whether a target has not confirmed one of files.
func anyTodo(targets []string, rec pacsRecord, files []envelope.File) bool {
	for _, raw := range targets {
		for _, f := range files {
			if !rec[raw][f.SOPInstanceUID].Confirmed() {
				return true
			}
		}
	}
	return false
}

// Confirmed reports whether the PACS stored the instance.
func (pi PACSInstance) Confirmed() bool { return pi.Status == "success" || pi.Status == "warning" }

// Instance statuses.
const (
	PACSSuccess = "success"
	PACSWarning = "warning"
	PACSFailure = "failure"
	PACSNotSent = "not-sent"
)

// pacsRecord is an item's per-target, per-instance outcome (target raw →
// SOP Instance UID → result), kept in the job's params so a resumed import
// does not send again what a PACS confirmed.
type pacsRecord map[string]map[string]PACSInstance

// importTargets are the job's PACS targets: the old single StowURL of a
// job stored before targets existed, then PACS.
func (p *importParams) importTargets() []string {
	var out []string
	if p.StowURL != "" {
		out = append(out, p.StowURL)
	}
	return append(out, p.PACS...)
}

// storePACS imports every DICOM instance of an opened envelope into each
// target, skipping what a target confirmed before (a resumed job), and
// saves the outcome in p after each target. It fills in results'
// Stored/Warnings/Failed counts per study (summed over the targets) and
// their per-instance results. A transport error (nobody listens, the
// association broke) is returned as it is (transient: the job waits and
// resumes); instances a PACS refused fail the import (KindRefused): the
// envelope is then not acknowledged and stays on the portal.
func (c *Core) storePACS(ctx context.Context, r *jobRun, p *importParams, itemID, filesDir string, m *envelope.Manifest, results []ImportResult) error {
	if p.PACSResults == nil {
		p.PACSResults = map[string]pacsRecord{}
	}
	rec := p.PACSResults[itemID]
	if rec == nil {
		rec = pacsRecord{}
		p.PACSResults[itemID] = rec
	}
	return c.storeFilesPACS(ctx, p.importTargets(), patientMap{p.PatientID, &p.PatientIDFrom}, rec, func() error { return r.SaveParams(*p) }, itemID, filesDir, m.Files, results)
}

// storeFilesPACS is storePACS for any job: files (relative to filesDir,
// slash-separated; those without a SOP Instance UID are skipped) go into
// each target; rec holds what each target said before and gets what it
// says now; save persists rec after each target. A file whose study is
// not among results counts for results[0] when there is only one. With
// pm.ID the PACS gets copies with that patient ID (mapPatientID); the
// files themselves stay as they are.
func (c *Core) storeFilesPACS(ctx context.Context, targets []string, pm patientMap, rec pacsRecord, save func() error, itemID, filesDir string, files []envelope.File, results []ImportResult) error {
	study := map[string]string{}
	var all []envelope.File
	for _, f := range files {
		if f.SOPInstanceUID == "" {
			continue // a document, not an instance
		}
		all = append(all, f)
		study[f.SOPInstanceUID] = f.StudyUID
	}
	if len(all) == 0 {
		return nil
	}
	if pm.ID != "" && anyTodo(targets, rec, all) {
		dir, mapped, err := c.mapPatientID(ctx, pm.ID, filesDir, all, pm.From)
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		filesDir, all = dir, mapped
	}
	var refused []string
	refusedN := 0
	for _, raw := range targets {
		t, err := ParsePACSTarget(raw)
		if err != nil {
			return err
		}
		got := rec[raw]
		if got == nil {
			got = map[string]PACSInstance{}
			rec[raw] = got
		}
		var todo []envelope.File
		for _, f := range all {
			if !got[f.SOPInstanceUID].Confirmed() {
				todo = append(todo, f)
			}
		}
		var sendErr error
		if len(todo) > 0 {
			var out []PACSInstance
			if t.DIMSE != nil {
				out, sendErr = c.storeDIMSE(ctx, t, filesDir, todo)
			} else {
				out, sendErr = c.storeSTOW(ctx, t, filesDir, todo)
			}
			for _, pi := range out {
				pi.ItemID, pi.Target, pi.StudyUID, pi.PatientID = itemID, t.String(), study[pi.SOPInstanceUID], pm.ID
				got[pi.SOPInstanceUID] = pi
			}
			if err := save(); err != nil {
				return err
			}
		}
		if sendErr != nil {
			return sendErr
		}
		n := 0
		for _, f := range all {
			if got[f.SOPInstanceUID].Status == PACSFailure || got[f.SOPInstanceUID].Status == PACSNotSent {
				n++
			}
		}
		if n > 0 {
			refused = append(refused, t.String())
			refusedN += n
		}
	}
	idx := map[string]int{}
	for i, res := range results {
		idx[res.StudyUID] = i
	}
	for _, raw := range targets {
		for _, f := range all {
			pi := rec[raw][f.SOPInstanceUID]
			i, ok := idx[f.StudyUID]
			if !ok && len(results) == 1 {
				i, ok = 0, true
			}
			if !ok {
				continue
			}
			switch pi.Status {
			case PACSSuccess:
				results[i].Stored++
			case PACSWarning:
				results[i].Stored++
				results[i].Warnings++
			default:
				results[i].Failed++
			}
			results[i].PACS = append(results[i].PACS, pi)
		}
	}
	if refusedN > 0 {
		return i18n.NewError(i18n.KindRefused, "app.pacs-failed", refusedN, len(all), strings.Join(refused, ", ")).WithHint("app.stow-failed.hint")
	}
	return nil
}

// storeSTOW sends files by STOW-RS and says what the PACS said about each.
func (c *Core) storeSTOW(ctx context.Context, t PACSTarget, filesDir string, files []envelope.File) ([]PACSInstance, error) {
	insts := make([]stow.Instance, len(files))
	for i, f := range files {
		insts[i] = stow.Instance{Path: filepath.Join(filesDir, filepath.FromSlash(f.Path)), Size: f.Size, SOPInstanceUID: f.SOPInstanceUID}
	}
	client := &stow.Client{Base: t.StowURL, HTTP: c.client}
	client.Retry.Initial = c.cfg.RetryInitial
	client.Retry.MaxElapsed, client.Retry.MaxBusy = c.networkBound(), c.busyBound()
	rep, err := client.Store(ctx, insts)
	if err != nil {
		return nil, err
	}
	out := make([]PACSInstance, 0, len(rep.Results))
	for _, res := range rep.Results {
		pi := PACSInstance{SOPInstanceUID: res.SOPInstanceUID, Status: PACSSuccess}
		if !res.Stored {
			pi.Status = PACSFailure
			switch {
			case res.FailureReason != 0:
				pi.Code = fmt.Sprintf("%04X", res.FailureReason)
			case res.HTTPStatus != 0:
				pi.Code = fmt.Sprintf("HTTP %d", res.HTTPStatus)
			}
		}
		out = append(out, pi)
	}
	return out, nil
}

// storeDIMSE sends files by C-STORE. Instances the PACS did not answer
// for are "not-sent"; the error that ended an association is returned
// (with what was confirmed before it).
func (c *Core) storeDIMSE(ctx context.Context, t PACSTarget, filesDir string, files []envelope.File) ([]PACSInstance, error) {
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = filepath.Join(filesDir, filepath.FromSlash(f.Path))
	}
	results, err := dimse.StoreFiles(ctx, c.dimseConfig(t), paths)
	out := make([]PACSInstance, 0, len(results))
	for i, res := range results {
		pi := PACSInstance{SOPInstanceUID: files[i].SOPInstanceUID, Converted: res.Converted, Comment: res.ErrorComment}
		switch {
		case res.Responded:
			pi.Code = fmt.Sprintf("%04X", uint16(res.Status))
			switch res.Status.Severity() {
			case dimse.Failure:
				pi.Status = PACSFailure
			case dimse.Warning:
				pi.Status = PACSWarning
			default:
				pi.Status = PACSSuccess
			}
		case res.Err != nil && IsTransient(res.Err):
			pi.Status = PACSNotSent
		default:
			pi.Status = PACSFailure
		}
		switch {
		case !res.Responded && err != nil && IsTransient(res.Err):
			// Not sent because the association failed: say why it did
			// (refused, rejected AE title…), not only that it did.
			pi.Error, _ = i18n.Localize(i18n.EN, err)
			pi.Reason = jobErrorFrom(err)
		case res.Err != nil:
			pi.Error, _ = i18n.Localize(i18n.EN, res.Err)
			pi.Reason = jobErrorFrom(res.Err)
		}
		out = append(out, pi)
	}
	return out, err
}

// TestPACSTarget checks a PACS target of either kind: a C-ECHO for
// dicom:// (timeout bounds each step; 0 = dimse's defaults), a QIDO-RS
// search for http(s) (see TestPACS). Errors are *i18n.UserError with the
// diagnosis.
func (c *Core) TestPACSTarget(ctx context.Context, target string, timeout time.Duration) error {
	_, err := c.CheckPACSTarget(ctx, target, timeout)
	return err
}

// CheckPACSTarget is TestPACSTarget that also says what DICOM TLS
// negotiated with a dicom://…?tls=1 target (version, the PACS's
// certificate; nil otherwise).
func (c *Core) CheckPACSTarget(ctx context.Context, target string, timeout time.Duration) (*dimse.TLSInfo, error) {
	t, err := ParsePACSTarget(target)
	if err != nil {
		return nil, err
	}
	if t.DIMSE == nil {
		if timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		return nil, c.TestPACS(ctx, t.StowURL)
	}
	cfg := c.dimseConfig(t)
	if timeout > 0 {
		cfg.ConnectTimeout, cfg.ARTIM, cfg.ReadTimeout, cfg.WriteTimeout = timeout, timeout, timeout, timeout
	}
	return dimse.EchoInfo(ctx, cfg)
}

// sortedPACS is a target's results in SOP Instance UID order.
func sortedPACS(m map[string]PACSInstance) []PACSInstance {
	out := make([]PACSInstance, 0, len(m))
	for _, pi := range m {
		out = append(out, pi)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SOPInstanceUID < out[j].SOPInstanceUID })
	return out
}
