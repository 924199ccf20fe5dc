package portal

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/version"
	"github.com/bildbote/bildbote/internal/wire"
	"github.com/bildbote/bildbote/portal/accesscode"
)

// DLX v1 JSON shapes (dicomLinkExchange.yaml, components/schemas).
type (
	apiInfo struct {
		DLXVersion        string `json:"dlxVersion"`
		VendorInformation string `json:"vendorInformation,omitempty"`
		APIBasePath       string `json:"apiBasePath"`
	}
	tfaQuestions struct {
		APIInfo     []apiInfo     `json:"apiInfo"`
		TFAQuestion []tfaQuestion `json:"tfaQuestion"`
	}
	tfaQuestion struct {
		Question     []questionText `json:"question"`
		QuestionID   string         `json:"questionId"`
		QuestionType string         `json:"questionType"`
		AnswerFormat string         `json:"answerFormat"`
	}
	questionText struct {
		Text     string `json:"text"`
		Language string `json:"language"`
	}
	tfaAnswers struct {
		TFAAnswer []tfaAnswer `json:"tfaAnswer"`
	}
	tfaAnswer struct {
		QuestionID lenientString `json:"questionId"`
		Answer     lenientString `json:"answer"`
	}
	dataItems struct {
		DataItem []dataItem `json:"dataItem"`
	}
	dataItem struct {
		ID                string `json:"id"`
		MIMEType          string `json:"mimeType"`
		Description       string `json:"description"`
		StudyInstanceUID  string `json:"studyInstanceUID,omitempty"`
		Date              string `json:"date,omitempty"`
		Modalities        string `json:"modalities,omitempty"`
		PatientsName      string `json:"patientsName,omitempty"`
		PatientsBirthdate string `json:"patientsBirthdate,omitempty"`
		PatientsSex       string `json:"patientsSex,omitempty"`
		FileCount         int    `json:"fileCount,omitempty"`
	}
	comebackLater struct {
		TimeOutInSeconds int `json:"timeOutInSeconds"`
	}
)

// lenientString is a JSON string that also accepts a number: the spec's
// own examples write questionId: 1 and answer: 19700101 unquoted, so
// clients may send numbers.
type lenientString string

func (l *lenientString) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*l = lenientString(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*l = lenientString(n.String())
	return nil
}

// DLXBasePath is where the DLX v1 API is mounted.
const DLXBasePath = "/dlx/v1"

// DLXHeader must be present on token requests (its value is not read).
const DLXHeader = "X-DICOM-LINK-EXCHANGE"

func (s *Server) apiInfo(r *http.Request) apiInfo {
	return apiInfo{DLXVersion: "v1", VendorInformation: "Bildbote portal " + version.Version, APIBasePath: s.publicBase(r) + DLXBasePath}
}

func (s *Server) handleAPIInfo(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.apiInfo(r))
}

// handleToken answers with the second-factor questions of a code. An
// unknown or malformed code gets the default question (date of birth),
// indistinguishable from a real one, which can never be answered right.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if _, ok := r.Header[http.CanonicalHeaderKey(DLXHeader)]; !ok {
		writeError(w, http.StatusBadRequest, "missing-dlx-header", "the X-DICOM-LINK-EXCHANGE header is required")
		return
	}
	s.writeQuestions(w, r, r.PathValue("value"))
}

func (s *Server) writeQuestions(w http.ResponseWriter, r *http.Request, value string) {
	questions := defaultQuestions
	if code, ok := accesscode.Normalize(value); ok {
		if rec, err := s.store.codeByValue(code); err == nil {
			questions = rec.Questions
		}
	}
	out := tfaQuestions{APIInfo: []apiInfo{s.apiInfo(r)}, TFAQuestion: []tfaQuestion{}}
	for _, q := range questions {
		out.TFAQuestion = append(out.TFAQuestion, dlxQuestion(q))
	}
	writeJSON(w, http.StatusOK, out)
}

// defaultQuestions is what an unknown code is asked: the same as a real
// code issued with only a date of birth.
var defaultQuestions = []question{{ID: "1", Type: QuestionBirthDate, Format: FormatDate}}

func dlxQuestion(q question) tfaQuestion {
	out := tfaQuestion{QuestionID: q.ID, QuestionType: q.Type, AnswerFormat: q.Format}
	for _, lang := range i18n.Langs {
		text := q.Texts[string(lang)]
		if text == "" {
			text = i18n.T(lang, "portal.question."+strings.ToLower(q.Type))
		}
		out.Question = append(out.Question, questionText{Text: text, Language: string(lang)})
	}
	return out
}

// handleTokenTFA checks the answers and issues a JWT: 200 with the JWT
// (and the code's expiry in wire.CodeExpiresHeader), 401 for anything wrong
// (unknown code, wrong answer, revoked; locked out with Retry-After), 403
// only when everything is right but the code expired, 503 with
// timeOutInSeconds beyond the global budget (see AnswerLimits). Whether
// a code exists changes neither the answer nor its time: locks are kept
// per token value for unknown values too, and every attempt that reaches
// the hashing spends the same work.
func (s *Server) handleTokenTFA(w http.ResponseWriter, r *http.Request) {
	now := s.cfg.Now()
	addr := throttleKey(requestClient(r))
	var body tfaAnswers
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&body); err != nil {
		writeError(w, http.StatusUnauthorized, "bad-request", "answers must be JSON tfaAnswers")
		return
	}
	value := r.PathValue("value")
	key := s.tokenKey(value)
	v, wait := s.guard.begin(addr, key, now)
	switch v {
	case overBudget:
		writeBusy(w, wait)
		return
	case lockedAddr:
		writeLocked(w, wait)
		return
	}
	// Bound parallel argon2id runs (19 MiB each): one pool with the
	// upload passwords, and a bounded wait for a slot (then 503).
	release, err := s.hashSlot(r.Context())
	if err != nil {
		if err == errBusy {
			writeBusy(w, s.cfg.Limits.HashWait)
		}
		return
	}
	defer release()
	code, ok := accesscode.Normalize(value)
	var rec *codeRecord
	if ok {
		rec, _ = s.store.codeByValue(code)
	}
	questions := defaultQuestions
	if rec != nil {
		questions = rec.Questions
	}
	if v == lockedCode {
		spendChecks(code, questions)
		writeLocked(w, wait)
		return
	}
	if rec == nil {
		// The same hashing work as a known code with the default
		// question: the code's hash and one answer's.
		spendChecks(code, questions)
		writeError(w, http.StatusUnauthorized, "unauthorized", "unknown code or wrong answer")
		return
	}
	if !rec.Code.matches(code) || !answersMatch(rec.Questions, body.TFAAnswer) {
		writeError(w, http.StatusUnauthorized, "unauthorized", "unknown code or wrong answer")
		return
	}
	s.guard.succeed(addr, key)
	if rec.Revoked {
		writeError(w, http.StatusUnauthorized, "unauthorized", "unknown code or wrong answer")
		return
	}
	if !now.Before(rec.ExpiresAt) {
		writeError(w, http.StatusForbidden, "expired", "the code has expired; ask the issuer to extend it")
		return
	}
	token, err := signJWT(s.store.jwtKey, claims{
		Subject: rec.ID, Audience: jwtAudience, IssuedAt: now.Unix(),
		ExpiresAt: now.Add(s.cfg.JWTLifetime).Unix(), ID: newID(12),
	})
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "cannot sign token")
		return
	}
	w.Header().Set("Content-Type", "application/jwt")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set(wire.CodeExpiresHeader, rec.ExpiresAt.UTC().Format(time.RFC3339))
	io.WriteString(w, token)
}

// answersMatch checks every question of a code against the answers; all
// are verified even after a mismatch so the time does not tell which.
func answersMatch(questions []question, answers []tfaAnswer) bool {
	byID := map[string]string{}
	for _, a := range answers {
		byID[string(a.QuestionID)] = string(a.Answer)
	}
	ok := true
	for _, q := range questions {
		given, present := byID[q.ID]
		norm, valid := normalizeAnswer(q.Type, given)
		if !present || !valid {
			dummyHash.matches(given)
			ok = false
			continue
		}
		if !q.Answer.matches(norm) {
			ok = false
		}
	}
	return ok
}

// authorize checks the bearer JWT and returns the code's record. It
// writes 401 and returns nil when the request may not proceed.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) *codeRecord {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	now := s.cfg.Now()
	var rec *codeRecord
	if ok {
		if c, err := verifyJWT(s.store.jwtKey.Public().(ed25519.PublicKey), strings.TrimSpace(token), now); err == nil {
			rec, _ = s.store.codeByID(c.Subject)
		}
	}
	if rec == nil || rec.Revoked || !now.Before(rec.ExpiresAt) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="dlx"`)
		writeError(w, http.StatusUnauthorized, "unauthorized", "a valid token from /tokentfa is required")
		return nil
	}
	return rec
}

func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	rec := s.authorize(w, r)
	if rec == nil {
		return
	}
	out := dataItems{DataItem: []dataItem{}}
	for _, it := range rec.Items {
		out.DataItem = append(out.DataItem, dataItem{
			ID: it.ID, MIMEType: it.MIMEType, Description: it.Description,
			StudyInstanceUID: it.StudyUID, Date: it.Date, Modalities: it.Modalities,
			PatientsName: it.PatientName, PatientsBirthdate: it.BirthDate, PatientsSex: it.Sex,
			FileCount: it.FileCount,
		})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleDownload(w http.ResponseWriter, r *http.Request) {
	rec := s.authorize(w, r)
	if rec == nil {
		return
	}
	id := r.PathValue("id")
	for _, it := range rec.Items {
		if it.ID != id {
			continue
		}
		if it.Kind == KindPDF {
			s.countDownload(r, rec)
			s.serveFile(w, r, filepath.Join(RecordDir(s.cfg.DataDir, rec.ID), "src", filepath.FromSlash(it.Path)), "application/pdf", "")
			return
		}
		s.serveZip(w, r, rec, it.ID)
		return
	}
	writeError(w, http.StatusBadRequest, "unknown-item", "no data item with this id")
}

func (s *Server) handleDownloadAll(w http.ResponseWriter, r *http.Request) {
	rec := s.authorize(w, r)
	if rec == nil {
		return
	}
	s.serveZip(w, r, rec, allItemsID)
}

// countDownload counts whole-file requests of a code for `code list` (a
// resumed download's ranges do not count again).
func (s *Server) countDownload(r *http.Request, rec *codeRecord) {
	if r.Method != http.MethodGet || r.Header.Get("Range") != "" {
		return
	}
	s.store.updateCode(rec.ID, func(c *codeRecord) error { c.Downloads++; return nil })
}

// serveZip serves a prepared ZIP, or starts preparing it and answers 503
// with a hint when to come back.
func (s *Server) serveZip(w http.ResponseWriter, r *http.Request, rec *codeRecord, itemID string) {
	path, wait, err := s.prep.ready(rec, itemID)
	switch {
	case err != nil:
		writeError(w, http.StatusInternalServerError, "prepare-failed", "the download could not be prepared")
	case path == "":
		w.Header().Set("Retry-After", fmt.Sprint(wait))
		writeJSON(w, http.StatusServiceUnavailable, comebackLater{TimeOutInSeconds: wait})
	default:
		s.countDownload(r, rec)
		name := "study-" + itemID + ".zip"
		if itemID == allItemsID {
			name = "all.zip"
		}
		s.serveFile(w, r, path, "application/zip", name)
	}
}

// serveFile serves a stored file with Content-Length, ETag, Accept-Ranges
// and Range support (http.ServeContent).
func (s *Server) serveFile(w http.ResponseWriter, r *http.Request, path, mimeType, downloadName string) {
	f, err := os.Open(path)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "missing-file", "stored file is missing")
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		writeError(w, http.StatusInternalServerError, "missing-file", "stored file is missing")
		return
	}
	w.Header().Set("Content-Type", mimeType)
	w.Header().Set("ETag", fmt.Sprintf(`"%x-%x"`, st.Size(), st.ModTime().UnixNano()))
	w.Header().Set("Accept-Ranges", "bytes")
	w.Header().Set("Cache-Control", "private, no-transform")
	if downloadName == "" {
		downloadName = filepath.Base(path)
	}
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename=%q`, downloadName))
	http.ServeContent(w, r, "", st.ModTime(), f)
}

// handleCodeURL is what the QR code on a code sheet links to. With the
// DLX header it answers like token/{value}; a browser gets a short page
// telling the patient how to use the code.
func (s *Server) handleCodeURL(w http.ResponseWriter, r *http.Request) {
	value := r.URL.Query().Get("token")
	if _, ok := r.Header[http.CanonicalHeaderKey(DLXHeader)]; ok {
		s.writeQuestions(w, r, value)
		return
	}
	lang := pageLang(r)
	display := ""
	if code, ok := accesscode.Normalize(value); ok {
		display = accesscode.Format(code)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	codePage.Execute(w, map[string]any{
		"Lang":  string(lang),
		"Title": i18n.T(lang, "portal.page.title"),
		"Intro": i18n.T(lang, "portal.page.intro"),
		"Steps": []string{i18n.T(lang, "portal.page.step1"), i18n.T(lang, "portal.page.step2"), i18n.T(lang, "portal.page.step3")},
		"Label": i18n.T(lang, "portal.page.code_label"),
		"Code":  display,
		"URL":   s.apiInfo(r).APIBasePath,
		"Note":  i18n.T(lang, "portal.page.note"),
	})
}

// pageLang picks German or English from Accept-Language (German default).
func pageLang(r *http.Request) i18n.Lang {
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		if l, ok := i18n.Parse(tag); ok {
			return l
		}
	}
	return i18n.DE
}

var codePage = template.Must(template.New("code").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>body{font-family:sans-serif;max-width:40em;margin:2em auto;padding:0 1em;line-height:1.5}code{font-size:1.6em;letter-spacing:.1em}</style>
</head><body>
<h1>{{.Title}}</h1>
<p>{{.Intro}}</p>
<ol>{{range .Steps}}<li>{{.}}</li>{{end}}</ol>
{{if .Code}}<p>{{.Label}}<br><code>{{.Code}}</code></p>{{end}}
<p><small>{{.Note}} DLX: {{.URL}}</small></p>
</body></html>
`))
