package portal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/bildbote/bildbote/crypto"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/wire"
)

// AdminAPI is what the admin commands do to a data dir. *Store implements
// it directly; DialAdmin returns an implementation that forwards the calls
// to a running server over its admin socket (see the package doc).
type AdminAPI interface {
	IssueCode(ctx context.Context, req IssueRequest) (IssueResult, error)
	ListCodes(ctx context.Context) ([]CodeInfo, error)
	ExtendCode(ctx context.Context, req ExtendRequest) (CodeInfo, error)
	RevokeCode(ctx context.Context, req RevokeRequest) (CodeInfo, error)
	AddCommunity(ctx context.Context, req AddCommunityRequest) (AddCommunityResult, error)
	ListCommunities(ctx context.Context) ([]CommunityInfo, error)
}

// IssueRequest asks for a new access code for the items staged under
// codes/<RecordID>/ of the data dir (see StageItems).
type IssueRequest struct {
	RecordID  string         `json:"recordId"`
	Items     []Item         `json:"items"`
	Questions []QuestionSpec `json:"questions"`
	ExpiresAt time.Time      `json:"expiresAt"`
}

// QuestionSpec is a second factor with its answer in clear; the store
// keeps only the answer's hash.
type QuestionSpec struct {
	Type   string            `json:"type"`
	Answer string            `json:"answer"`
	Texts  map[string]string `json:"texts,omitempty"` // CUSTOM: language → question
}

// IssueResult carries the new code, the only time it exists in clear.
type IssueResult struct {
	Code      string    `json:"code"` // normalised, see accesscode.Format
	RecordID  string    `json:"recordId"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// CodeInfo is what `code list` shows of an access code (never the code).
// Failures and LockedUntil are the running server's wrong answers on the
// code and its code-wide lock (zero when no server runs: locks live in
// its memory).
type CodeInfo struct {
	RecordID    string    `json:"recordId"`
	CreatedAt   time.Time `json:"createdAt"`
	ExpiresAt   time.Time `json:"expiresAt"`
	Revoked     bool      `json:"revoked"`
	Items       int       `json:"items"`
	Questions   []string  `json:"questions"`
	Failures    int       `json:"failures"`
	LockedUntil time.Time `json:"lockedUntil,omitzero"`
	Downloads   int       `json:"downloads"`
}

// ExtendRequest sets a new expiry (none when ExpiresAt is zero) and, with
// Unlock, lifts every lock-out of the code (see AnswerLimits); Ref is a
// record ID or the code itself.
type ExtendRequest struct {
	Ref       string    `json:"ref"`
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
	Unlock    bool      `json:"unlock,omitempty"`
}

// RevokeRequest withdraws a code; Ref is a record ID or the code itself.
type RevokeRequest struct {
	Ref string `json:"ref"`
}

// AddCommunityRequest registers a clinic's inbox.
type AddCommunityRequest struct {
	Code           string   `json:"code"`
	Name           string   `json:"name"`
	Recipients     []string `json:"recipients"`
	MaxUploadBytes int64    `json:"maxUploadBytes,omitempty"`
	Password       string   `json:"password,omitempty"`
}

// AddCommunityResult carries the clinic's API key, the only time it
// exists in clear.
type AddCommunityResult struct {
	Code        string `json:"code"`
	APIKey      string `json:"apiKey"`
	Fingerprint string `json:"fingerprint"`
}

// CommunityInfo is what `community list` shows.
type CommunityInfo struct {
	Code             string          `json:"code"`
	Name             string          `json:"name"`
	Recipients       []RecipientInfo `json:"recipients"`
	MaxUploadBytes   int64           `json:"maxUploadBytes"`
	PasswordRequired bool            `json:"passwordRequired"`
	Pending          int             `json:"pending"`
}

// RecipientInfo is an age recipient with its fingerprint (crypto.Fingerprint).
type RecipientInfo = wire.Recipient

// DefaultMaxUploadBytes is a community's upload limit unless set.
const DefaultMaxUploadBytes = 20 << 30

var communityCodeRE = regexp.MustCompile(`^[A-Za-z0-9]{2,32}$`)

func inputError(key string, args ...any) error {
	return i18n.NewError(i18n.KindInput, key, args...)
}

// IssueCode implements AdminAPI.
func (s *Store) IssueCode(_ context.Context, req IssueRequest) (IssueResult, error) {
	if !validRecordID(req.RecordID) {
		return IssueResult{}, inputError("portal.err.record_id")
	}
	if len(req.Items) == 0 {
		return IssueResult{}, inputError("portal.err.no_items")
	}
	if len(req.Questions) == 0 {
		return IssueResult{}, inputError("portal.err.no_question")
	}
	rec := &codeRecord{ID: req.RecordID, Items: req.Items, CreatedAt: time.Now().UTC(), ExpiresAt: req.ExpiresAt.UTC()}
	for i, q := range req.Questions {
		stored, err := newQuestion(fmt.Sprint(i+1), q)
		if err != nil {
			return IssueResult{}, err
		}
		rec.Questions = append(rec.Questions, stored)
	}
	code, err := s.insertCode(rec)
	if err != nil {
		return IssueResult{}, fmt.Errorf("issue code: %w", err)
	}
	return IssueResult{Code: code, RecordID: rec.ID, ExpiresAt: rec.ExpiresAt}, nil
}

func validRecordID(id string) bool {
	if len(id) < 8 || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// newQuestion checks a question and hashes its answer.
func newQuestion(id string, q QuestionSpec) (question, error) {
	out := question{ID: id, Type: q.Type}
	switch q.Type {
	case QuestionBirthDate, QuestionStudyDate:
		out.Format = FormatDate
	case QuestionPassword:
		out.Format = FormatString
	case QuestionCustom:
		out.Format = FormatString
		if strings.TrimSpace(q.Texts["de"]) == "" && strings.TrimSpace(q.Texts["en"]) == "" {
			return out, inputError("portal.err.custom_text")
		}
		out.Texts = q.Texts
	default:
		return out, inputError("portal.err.question_type", q.Type)
	}
	answer, ok := normalizeAnswer(out.Type, q.Answer)
	if !ok {
		return out, inputError("portal.err.answer", q.Type)
	}
	out.Answer = newSlowHash(answer)
	return out, nil
}

// normalizeAnswer maps an answer to the form that is hashed: dates to
// YYYYMMDD (accepting YYYY-MM-DD and DD.MM.YYYY as typed by people),
// passwords trimmed, custom answers trimmed, case-folded and with single
// spaces.
func normalizeAnswer(qtype, answer string) (string, bool) {
	answer = strings.TrimSpace(answer)
	switch qtype {
	case QuestionBirthDate, QuestionStudyDate:
		for _, layout := range []string{"20060102", "2006-01-02", "02.01.2006", "2.1.2006"} {
			if t, err := time.Parse(layout, answer); err == nil {
				return t.Format("20060102"), true
			}
		}
		return "", false
	case QuestionPassword:
		return answer, answer != ""
	default:
		answer = strings.Join(strings.Fields(strings.ToLower(answer)), " ")
		return answer, answer != ""
	}
}

func codeInfo(rec *codeRecord) CodeInfo {
	info := CodeInfo{
		RecordID: rec.ID, CreatedAt: rec.CreatedAt, ExpiresAt: rec.ExpiresAt, Revoked: rec.Revoked,
		Items: len(rec.Items), Downloads: rec.Downloads,
	}
	for _, q := range rec.Questions {
		info.Questions = append(info.Questions, q.Type)
	}
	return info
}

// ListCodes implements AdminAPI.
func (s *Store) ListCodes(context.Context) ([]CodeInfo, error) {
	recs, err := s.allCodes()
	if err != nil {
		return nil, err
	}
	out := make([]CodeInfo, 0, len(recs))
	for i := range recs {
		out = append(out, codeInfo(&recs[i]))
	}
	return out, nil
}

// ExtendCode implements AdminAPI. Lock-outs live in the running server
// (Server.extendCode lifts them); without one there are none.
func (s *Store) ExtendCode(_ context.Context, req ExtendRequest) (CodeInfo, error) {
	id, err := s.resolveCodeRef(req.Ref)
	if err != nil {
		return CodeInfo{}, inputError("portal.err.unknown_code")
	}
	rec, err := s.updateCode(id, func(r *codeRecord) error {
		if !req.ExpiresAt.IsZero() {
			r.ExpiresAt = req.ExpiresAt.UTC()
		}
		return nil
	})
	if err != nil {
		return CodeInfo{}, err
	}
	return codeInfo(rec), nil
}

// RevokeCode implements AdminAPI.
func (s *Store) RevokeCode(_ context.Context, req RevokeRequest) (CodeInfo, error) {
	id, err := s.resolveCodeRef(req.Ref)
	if err != nil {
		return CodeInfo{}, inputError("portal.err.unknown_code")
	}
	rec, err := s.updateCode(id, func(r *codeRecord) error {
		if !r.Revoked {
			r.Revoked, r.RevokedAt = true, time.Now().UTC()
		}
		return nil
	})
	if err != nil {
		return CodeInfo{}, err
	}
	return codeInfo(rec), nil
}

// AddCommunity implements AdminAPI.
func (s *Store) AddCommunity(_ context.Context, req AddCommunityRequest) (AddCommunityResult, error) {
	if !communityCodeRE.MatchString(req.Code) {
		return AddCommunityResult{}, inputError("portal.err.community_code", req.Code)
	}
	if strings.TrimSpace(req.Name) == "" {
		return AddCommunityResult{}, inputError("portal.err.community_name")
	}
	if len(req.Recipients) == 0 {
		return AddCommunityResult{}, inputError("portal.err.no_recipient")
	}
	for _, r := range req.Recipients {
		if _, err := age.ParseX25519Recipient(r); err != nil {
			return AddCommunityResult{}, inputError("portal.err.recipient", r)
		}
	}
	c := &community{
		Code: req.Code, Name: strings.TrimSpace(req.Name), Recipients: req.Recipients,
		MaxUploadBytes: req.MaxUploadBytes, CreatedAt: time.Now().UTC(),
	}
	if c.MaxUploadBytes <= 0 {
		c.MaxUploadBytes = DefaultMaxUploadBytes
	}
	if req.Password != "" {
		h := newSlowHash(req.Password)
		c.Password = &h
	}
	apiKey := "bbk_" + newID(32)
	c.APIKeyHash = apiKeyHash(apiKey)
	if err := s.insertCommunity(c); err != nil {
		if errors.Is(err, ErrExists) {
			return AddCommunityResult{}, inputError("portal.err.community_exists", req.Code)
		}
		return AddCommunityResult{}, fmt.Errorf("add community: %w", err)
	}
	return AddCommunityResult{Code: c.Code, APIKey: apiKey, Fingerprint: crypto.CommunityFingerprint(c.Recipients)}, nil
}

// ListCommunities implements AdminAPI.
func (s *Store) ListCommunities(context.Context) ([]CommunityInfo, error) {
	cs, err := s.allCommunities()
	if err != nil {
		return nil, err
	}
	out := make([]CommunityInfo, 0, len(cs))
	for i := range cs {
		info := communityInfo(&cs[i])
		items, err := s.inbox(cs[i].Code)
		if err != nil {
			return nil, err
		}
		info.Pending = len(items)
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].Code) < strings.ToLower(out[j].Code) })
	return out, nil
}

func communityInfo(c *community) CommunityInfo {
	info := CommunityInfo{Code: c.Code, Name: c.Name, MaxUploadBytes: c.MaxUploadBytes, PasswordRequired: c.Password != nil}
	for _, r := range c.Recipients {
		info.Recipients = append(info.Recipients, RecipientInfo{Recipient: r, Fingerprint: crypto.Fingerprint(r)})
	}
	return info
}

// RecordDir is where the files of an access code live inside the data dir.
func RecordDir(dataDir, recordID string) string {
	return filepath.Join(dataDir, codesDir, recordID)
}

// NewRecordID returns a fresh record ID for staging a new code's files.
func NewRecordID() string { return newID(10) }

// removeRecordFiles deletes everything stored for an access code.
func removeRecordFiles(dataDir, recordID string) error {
	if !validRecordID(recordID) {
		return fmt.Errorf("invalid record id")
	}
	return os.RemoveAll(RecordDir(dataDir, recordID))
}
