package app

import (
	"context"
	"errors"
	"time"

	"github.com/bildbote/bildbote/dicomscan"
	"github.com/bildbote/bildbote/transfer/dlx"
)

// --- Scan ---------------------------------------------------------------

// Scan finds the DICOM studies in paths (folders, ZIPs, ISOs, files).
// progress, when not nil, is called at most ~10 times a second; the same
// reports go out as EventScanProgress.
func (c *Core) Scan(ctx context.Context, paths []string, progress func(ScanProgress)) (*dicomscan.Index, error) {
	return c.scan(ctx, paths, progress)
}

// --- Send ---------------------------------------------------------------

// Community is a clinic's inbox as the portal describes it, with the
// local pin status of its key.
type Community struct {
	Portal string `json:"portal"`
	Code   string `json:"code"`
	Name   string `json:"name"`
	// Recipients are the age public keys envelopes are sealed to.
	Recipients []Recipient `json:"recipients"`
	// Fingerprint is the community's fingerprint as pinned (see
	// crypto.CommunityFingerprint); read it out to the clinic by phone.
	Fingerprint      string `json:"fingerprint"`
	MaxUploadBytes   int64  `json:"maxUploadBytes,omitempty"`
	PasswordRequired bool   `json:"passwordRequired,omitempty"`
	// Pin is how the key compares with the local pin.
	Pin PinStatus `json:"pin"`
	// PinnedFingerprint is the fingerprint pinned before (for PinChanged).
	PinnedFingerprint string `json:"pinnedFingerprint,omitempty"`
}

// Recipient is one age public key and its fingerprint.
type Recipient struct {
	Recipient   string `json:"recipient"`
	Fingerprint string `json:"fingerprint"`
}

// PinStatus compares a community's key with what was pinned.
type PinStatus string

// The pin states.
const (
	PinNew     PinStatus = "new"     // never seen: it will be pinned on first send (TOFU)
	PinMatch   PinStatus = "match"   // same as pinned (by use or by policy)
	PinChanged PinStatus = "changed" // differs: sending is refused unless the user accepts the new key
)

// SendRequest is everything a send needs.
type SendRequest struct {
	// Portal is a portal root URL ("" = the configured portal).
	Portal string
	// Inbox is the community code, e.g. "bM1X".
	Inbox string
	// Index is the scanned medium; Studies picks studies by Study
	// Instance UID (empty = all).
	Index   *dicomscan.Index
	Studies []string
	Sender  Sender
	// Patient is an optional note about the patient for the clinic; the
	// studies' own patient data travels inside the envelope anyway.
	Patient  string
	Referrer string
	Message  string
	// Password is the inbox password when the community requires one.
	Password string
	// AcceptNewKey: the user checked a changed community key with the
	// clinic and accepts it (re-pins). Without it a changed key is refused.
	AcceptNewKey bool
	// Deidentify, when set, sends the studies de-identified under a
	// pseudonym (app/deid.go); a policy may require it for the inbox.
	Deidentify *Deidentify
}

// Sender says who sends (remembered in Settings between sessions).
type Sender struct {
	Name    string `json:"name"`
	Contact string `json:"contact,omitempty"`
}

// --- Redeem -------------------------------------------------------------

// Question is one second-factor question of a code.
type Question struct {
	ID string `json:"id"`
	// Type is PAT_BIRTH_DATE, STUDY_DATE, PASSWORD or CUSTOM.
	Type string `json:"type"`
	// Format is DATE (answer YYYYMMDD; NormalizeDate accepts more) or STRING.
	Format string `json:"format"`
	// Text is the portal's wording in the best available language;
	// Texts has all of them by ISO 639 code.
	Text  string            `json:"text"`
	Texts map[string]string `json:"texts,omitempty"`
}

// AsksDate reports whether the answer is a date (DLX's DATE format:
// YYYYMMDD on the wire): a screen offers a date field and checks it.
func (q Question) AsksDate() bool { return q.Format == dlx.FormatDate }

// AsksSecret reports whether the answer is a secret (DLX's PASSWORD
// question): a screen masks it, and it is never shown or logged.
func (q Question) AsksSecret() bool { return q.Type == dlx.TypePassword }

// AsksBirthDate reports whether the question is the patient's date of
// birth (which a CLI flag such as --dob answers).
func (q Question) AsksBirthDate() bool { return q.Type == dlx.TypeBirthDate }

// Item is one thing a redeemed code offers (a study, a PDF report).
type Item struct {
	ID          string    `json:"id"`
	MIMEType    string    `json:"mimeType"`
	Description string    `json:"description"`
	StudyUID    string    `json:"studyInstanceUID,omitempty"`
	Date        string    `json:"date,omitempty"`
	Modalities  []string  `json:"modalities,omitempty"`
	PatientName string    `json:"patientName,omitempty"`
	BirthDate   string    `json:"-"` // memory only
	FileCount   int       `json:"fileCount,omitempty"`
	Size        int64     `json:"size,omitempty"`
	Updated     time.Time `json:"-"`
}

// --- Receive ------------------------------------------------------------

// InboxItem is one envelope waiting in a community inbox.
type InboxItem struct {
	ID         string    `json:"id"`
	Size       int64     `json:"size"`
	SHA256     string    `json:"sha256"`
	ReceivedAt time.Time `json:"receivedAt"`
	// Summary is read from the sealed manifest by InboxList (nil when the
	// clinic key cannot open it); never stored with a job.
	Summary *InboxSummary `json:"summary,omitempty"`
}

// ImportRequest is everything an import needs.
type ImportRequest struct {
	// Portal root ("" = the configured portal), inbox code and its API key.
	// The key is kept in memory only (for resuming) and never logged.
	Portal string
	Inbox  string
	APIKey string
	// ItemIDs picks envelopes (empty = every item in the inbox now).
	ItemIDs []string
	// ToDir writes the studies as folders here; PACS imports them into
	// each PACS target (ParsePACSTarget: dicom://… or http(s)://…);
	// StowURL is one more target (the older name). At least one
	// destination is needed (none = the policy's/settings' PACS target,
	// pacs_stow_url).
	ToDir   string
	StowURL string
	PACS    []string
	// PatientID (optional, CheckPatientID) is the clinic's patient ID:
	// every instance sent to a PACS gets it in Patient ID (0010,0020),
	// the original kept in Other Patient IDs Sequence (0010,1002); files
	// written to ToDir keep the original. Only for an import that holds
	// one patient.
	PatientID string
}

// ErrNoDestination: an import with neither a folder nor a PACS.
var ErrNoDestination = errors.New("import needs a folder or a PACS target")

// ImportInbox is the inbox code of an import job ("" for other kinds), so
// a front end can ask for the right API key before resuming it.
func ImportInbox(j *Job) string {
	if j.Kind != KindImport {
		return ""
	}
	var p struct {
		Inbox string `json:"inbox"`
	}
	if jsonUnmarshal(j.params, &p) != nil {
		return ""
	}
	return p.Inbox
}

// ImportItems lists the inbox item IDs an import job works on.
func ImportItems(j *Job) []string {
	if j.Kind != KindImport {
		return nil
	}
	var p importParams
	if jsonUnmarshal(j.params, &p) != nil {
		return nil
	}
	ids := make([]string, len(p.Items))
	for i, it := range p.Items {
		ids[i] = it.ID
	}
	return ids
}
