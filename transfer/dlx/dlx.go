// Package dlx is a client for DICOM Link Exchange v1 (DIN/TS 19455), the
// German download interface of imaging portals: redeem an access code
// (token) with its second-factor answers, list the data items, download
// them.
//
// Guarantees beyond the standard, which specifies neither resume nor a JWT
// lifetime: downloads resume with Range/If-Range where the server offers
// Accept-Ranges and an ETag, and restart cleanly where not; a 401 in the
// middle of a download (the JWT expired) re-runs the second-factor step
// with the answers, which are kept in memory only, and carries on; a 503
// waits timeOutInSeconds (10 s when absent; each wait capped by
// MaxBusyWait or Retry.MaxBusyEach, their total by Retry.MaxBusy);
// connection errors are retried with backoff within Retry's bound; each
// download is capped in bytes and time and cut when it stalls (Limits).
// When a bound ends the waits the error is a *transfer.GaveUpError that
// says why. A download is written to "<dst>.part" and renamed to dst only
// when complete; DownloadStream hands it to a consumer as it arrives
// instead (a ZIP extracted while it downloads), resuming the same way and
// telling the consumer when it must start over.
//
// Extension beyond the standard: the reference portal (bildbote-portal)
// adds the header "Bildbote-Code-Expires: <RFC 3339 UTC time>" to the 200
// answer of tokentfa, the access code's expiry. Authorize reads it into
// Session.Expires; other DLX portals do not send it, and then (or when it
// does not parse) Expires is the zero time.
//
// Never logged or put into errors: tokens, answers, JWTs.
package dlx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/wire"
	"github.com/bildbote/bildbote/transfer"
	"github.com/bildbote/bildbote/transfer/httpclient"
	"github.com/bildbote/bildbote/transfer/internal/retry"
	"github.com/bildbote/bildbote/transfer/ratelimit"
)

// Header must be present on token requests; its value is not evaluated.
const Header = "X-DICOM-LINK-EXCHANGE"

// BasePath is the DLX v1 base path below a portal's root.
const BasePath = "/dlx/v1"

// Question types and answer formats of DLX v1.
const (
	TypeBirthDate = "PAT_BIRTH_DATE"
	TypeStudyDate = "STUDY_DATE"
	TypePassword  = "PASSWORD"
	TypeCustom    = "CUSTOM"

	FormatDate   = "DATE"   // YYYYMMDD
	FormatString = "STRING" // anything
)

// APIInfo is a server's api_info.
type APIInfo struct {
	DLXVersion        string `json:"dlxVersion"`
	VendorInformation string `json:"vendorInformation,omitempty"`
	APIBasePath       string `json:"apiBasePath"`
}

// Question is a second-factor question.
type Question struct {
	ID     string
	Type   string // TypeBirthDate, ...
	Format string // FormatDate or FormatString
	// Texts maps ISO 639 language codes, as the server sent them, to the
	// question text.
	Texts map[string]string
}

// Text returns the question in lang, falling back to German, English,
// and then any language the server offered; "" when it sent none.
func (q Question) Text(lang i18n.Lang) string {
	for _, want := range []string{string(lang), string(i18n.DE), string(i18n.EN)} {
		for code, text := range q.Texts {
			if langMatches(code, want) && text != "" {
				return text
			}
		}
	}
	best := ""
	for code, text := range q.Texts {
		if text != "" && (best == "" || code < best) {
			best = code
		}
	}
	return q.Texts[best]
}

// langMatches compares an ISO 639-1 code with a server's code, which may
// be 639-1 ("de"), 639-2 ("deu", "ger", "eng") or a tag ("de-DE").
func langMatches(server, want string) bool {
	s := strings.ToLower(server)
	if i := strings.IndexAny(s, "-_"); i >= 0 {
		s = s[:i]
	}
	switch s {
	case "deu", "ger":
		s = "de"
	case "eng":
		s = "en"
	}
	return s == want
}

// Answer answers a question.
type Answer struct {
	QuestionID string `json:"questionId"`
	Answer     string `json:"answer"`
}

// Item is a data item of /list.
type Item struct {
	ID                string  `json:"id"`
	MIMEType          string  `json:"mimeType"`
	Description       string  `json:"description"`
	StudyInstanceUID  string  `json:"studyInstanceUID,omitempty"`
	Date              string  `json:"date,omitempty"`
	Modalities        Strings `json:"modalities,omitempty"`
	PatientsName      string  `json:"patientsName,omitempty"`
	PatientsBirthdate string  `json:"patientsBirthdate,omitempty"`
	PatientsSex       string  `json:"patientsSex,omitempty"`
	FileCount         int     `json:"fileCount,omitempty"`
}

// Strings accepts a JSON string ("CT\\MR" or "CT,MR") or array of strings:
// servers differ in how they send modalities.
type Strings []string

// UnmarshalJSON implements json.Unmarshaler.
func (s *Strings) UnmarshalJSON(b []byte) error {
	var list []string
	if err := json.Unmarshal(b, &list); err == nil {
		*s = list
		return nil
	}
	var one string
	if err := json.Unmarshal(b, &one); err != nil {
		return err
	}
	*s = strings.FieldsFunc(one, func(r rune) bool { return r == '\\' || r == ',' || r == ' ' })
	return nil
}

// Client talks to one DLX server.
type Client struct {
	// Base is the DLX base URL, e.g. "https://portal.example/dlx/v1"
	// (see Resolve).
	Base string
	// HTTP is the client used (httpclient.Default() when nil).
	HTTP *http.Client
	// Progress receives download reports; may be nil.
	Progress transfer.Progress
	// Retry sets the waits after connection errors (1 s doubling to 30 s).
	Retry retry.Policy
	// Bandwidth limits downloads; nil is unlimited.
	Bandwidth *ratelimit.Bucket
	// Header is added to every request (e.g. User-Agent).
	Header http.Header
	// MaxBusyWait caps each wait a server asks for with 503 (0: the
	// retry policy's MaxBusyEach, 15 min); Retry.MaxBusy bounds their
	// total (default 4 h), then the download ends with a
	// *transfer.GaveUpError.
	MaxBusyWait time.Duration
	// Limits bound each download (byte cap, stalls, overall time); see
	// DownloadLimits. DLX lists no sizes: MaxBytes is a hard cap.
	Limits DownloadLimits
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return httpclient.Default()
}

func (c *Client) url(parts ...string) string {
	u := strings.TrimSuffix(c.Base, "/")
	for _, p := range parts {
		u += "/" + url.PathEscape(p)
	}
	return u
}

func (c *Client) newRequest(ctx context.Context, method, u string, body []byte) (*http.Request, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return nil, err
	}
	for k, v := range c.Header {
		req.Header[k] = v
	}
	return req, nil
}

// maxInternalErrors is how many 500 answers in a row are retried.
const maxInternalErrors = 4

// do sends a request built by build, retrying connection errors, 502/504
// and 503 (waiting timeOutInSeconds) within the retry bound, 500 a few
// times.
// Other statuses go back to the caller with the body unread.
func (c *Client) do(ctx context.Context, w *retry.Waiter, build func() (*http.Request, error)) (*http.Response, error) {
	internalErrors := 0
	for {
		req, err := build()
		if err != nil {
			return nil, err
		}
		resp, err := c.http().Do(req)
		if err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				ue.URL = redact(ue.URL) // the token rides in the path
			}
			if retry.Permanent(ctx, err) {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				var te *transfer.TLSError
				var ce *httpclient.CertError
				if transfer.IsTLS(err) && !errors.As(err, &te) && !errors.As(err, &ce) {
					return nil, &ConnectError{Err: err}
				}
				return nil, err // a refused redirect, a TLSError, a CertError: they say what to do
			}
			if werr := w.Wait(ctx, err); werr != nil {
				return nil, werr
			}
			continue
		}
		if resp.StatusCode == http.StatusServiceUnavailable {
			wait := busyWait(resp, c.stallWindow())
			if c.MaxBusyWait > 0 {
				wait = min(wait, c.MaxBusyWait)
			}
			resp.Body.Close()
			if werr := w.Busy(ctx, wait, &BusyError{Wait: wait}); werr != nil {
				return nil, werr
			}
			continue
		}
		if resp.StatusCode >= 500 {
			if resp.StatusCode == http.StatusInternalServerError || resp.StatusCode == http.StatusNotImplemented {
				// Possibly a bug or a broken item, not an outage: give
				// it a few tries, then report it.
				internalErrors++
				if internalErrors > maxInternalErrors {
					return resp, nil
				}
			}
			err := &StatusError{Op: "request", Status: resp.StatusCode}
			resp.Body.Close()
			if werr := w.Wait(ctx, err); werr != nil {
				return nil, werr
			}
			continue
		}
		return resp, nil
	}
}

func (c *Client) waiter(status func() transfer.Status) *retry.Waiter {
	return retry.New(c.Retry, c.Progress, status)
}

// APIInfo fetches the server's api_info.
func (c *Client) APIInfo(ctx context.Context) (*APIInfo, error) {
	w := c.waiter(nil)
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	resp, err := c.do(rctx, w, func() (*http.Request, error) { return c.newRequest(rctx, http.MethodGet, c.url("api_info"), nil) })
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &NotDLXError{URL: c.Base, Status: resp.StatusCode}
	}
	var info APIInfo
	if readErr, err := c.decodeAnswer(rctx, cancel, resp.Body, &info); readErr {
		return nil, err
	} else if err != nil || info.APIBasePath == "" {
		return nil, &NotDLXError{URL: c.Base, Status: resp.StatusCode, Err: err}
	}
	return &info, nil
}

// questionsJSON is the answer of token/{value}.
type questionsJSON struct {
	APIInfo     []APIInfo `json:"apiInfo"`
	TFAQuestion []struct {
		Question []struct {
			Text     string `json:"text"`
			Language string `json:"language"`
		} `json:"question"`
		QuestionID   string `json:"questionId"`
		QuestionType string `json:"questionType"`
		AnswerFormat string `json:"answerFormat"`
	} `json:"tfaQuestion"`
}

func (q *questionsJSON) questions() []Question {
	out := make([]Question, 0, len(q.TFAQuestion))
	for _, t := range q.TFAQuestion {
		qq := Question{ID: t.QuestionID, Type: t.QuestionType, Format: t.AnswerFormat, Texts: map[string]string{}}
		for _, txt := range t.Question {
			qq.Texts[txt.Language] = txt.Text
		}
		out = append(out, qq)
	}
	return out
}

// Questions asks which second-factor questions the token needs. A server
// answers an unknown token with questions too (so codes cannot be probed):
// only Authorize tells.
func (c *Client) Questions(ctx context.Context, token string) ([]Question, error) {
	q, err := c.fetchQuestions(ctx, c.url("token", token))
	if err != nil {
		return nil, err
	}
	return q.questions(), nil
}

func (c *Client) fetchQuestions(ctx context.Context, u string) (*questionsJSON, error) {
	w := c.waiter(nil)
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	resp, err := c.do(rctx, w, func() (*http.Request, error) {
		req, err := c.newRequest(rctx, http.MethodGet, u, nil)
		if err == nil {
			req.Header.Set(Header, "1")
			req.Header.Set("Accept", "application/json")
		}
		return req, err
	})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &NotDLXError{URL: redact(u), Status: resp.StatusCode}
	}
	var q questionsJSON
	if readErr, err := c.decodeAnswer(rctx, cancel, resp.Body, &q); readErr {
		return nil, err
	} else if err != nil {
		return nil, &NotDLXError{URL: redact(u), Status: resp.StatusCode, Err: err}
	}
	return &q, nil
}

// Session is a redeemed token: the JWT and, in memory only, the answers
// that renew it.
type Session struct {
	// Expires is when the access code expires, as the portal told in
	// wire.CodeExpiresHeader when the session was authorized; zero when the portal
	// did not say (DLX v1 itself carries no expiry). Read-only.
	Expires time.Time

	c       *Client
	token   string
	answers []Answer

	mu       sync.Mutex
	jwt      string
	renewals int
}

// Authorize sends the answers and returns a session. A wrong answer or an
// unknown token is *WrongAnswerError (401); an expired code with right
// answers is *ExpiredError (403).
func (c *Client) Authorize(ctx context.Context, token string, answers []Answer) (*Session, error) {
	s := &Session{c: c, token: token, answers: append([]Answer(nil), answers...)}
	expires, err := s.renew(ctx)
	if err != nil {
		return nil, err
	}
	s.Expires = expires
	return s, nil
}

// Renewals is how often the JWT was renewed after a 401.
func (s *Session) Renewals() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.renewals
}

// renew runs the second-factor step again and keeps the new JWT. It
// returns the code's expiry from wire.CodeExpiresHeader (zero when absent).
func (s *Session) renew(ctx context.Context) (time.Time, error) {
	body, err := json.Marshal(struct {
		TFAAnswer []Answer `json:"tfaAnswer"`
	}{s.answers})
	if err != nil {
		return time.Time{}, err
	}
	w := s.c.waiter(nil)
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	resp, err := s.c.do(rctx, w, func() (*http.Request, error) {
		req, err := s.c.newRequest(rctx, http.MethodPost, s.c.url("tokentfa", s.token), body)
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set(Header, "1")
		}
		return req, err
	})
	if err != nil {
		return time.Time{}, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		data, err := s.c.readAnswer(rctx, cancel, resp.Body, 64<<10)
		if err != nil {
			return time.Time{}, err
		}
		jwt := strings.TrimSpace(string(data))
		if jwt == "" {
			return time.Time{}, &NotDLXError{URL: s.c.Base, Status: resp.StatusCode, Err: errors.New("empty JWT")}
		}
		s.mu.Lock()
		s.jwt = jwt
		s.mu.Unlock()
		return codeExpires(resp.Header), nil
	case http.StatusUnauthorized:
		return time.Time{}, &WrongAnswerError{RetryAfter: resp.Header.Get("Retry-After")}
	case http.StatusForbidden:
		return time.Time{}, &ExpiredError{}
	default:
		return time.Time{}, &StatusError{Op: "tokentfa", Status: resp.StatusCode}
	}
}

// codeExpires reads wire.CodeExpiresHeader; an absent or malformed value is the
// zero time, since the header is optional and only a hint for reminders.
func codeExpires(h http.Header) time.Time {
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(h.Get(wire.CodeExpiresHeader)))
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

func (s *Session) bearer() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return "Bearer " + s.jwt
}

// authorized sends a request with the JWT; on 401 it renews the JWT and
// sends the request again.
func (s *Session) authorized(ctx context.Context, w *retry.Waiter, build func() (*http.Request, error)) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		resp, err := s.c.do(ctx, w, func() (*http.Request, error) {
			req, err := build()
			if err == nil {
				req.Header.Set("Authorization", s.bearer())
			}
			return req, err
		})
		if err != nil {
			return nil, err
		}
		// Renew at most twice per request: on a slow machine a fresh
		// short-lived JWT can expire before the request arrives.
		if resp.StatusCode != http.StatusUnauthorized || attempt >= 2 {
			return resp, nil
		}
		resp.Body.Close()
		// Expires stays as Authorize read it: concurrent readers may
		// hold the session, and the code's expiry is not the JWT's.
		if _, err := s.renew(ctx); err != nil {
			return nil, err
		}
		s.mu.Lock()
		s.renewals++
		s.mu.Unlock()
	}
}

// List returns the data items. Items whose ID is not ValidID (or that
// repeat an ID) are left out; every text is cleaned of control characters
// and bidi overrides and cut to 1 KiB; a negative fileCount reads 0.
func (s *Session) List(ctx context.Context) ([]Item, error) {
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	resp, err := s.authorized(rctx, s.c.waiter(nil), func() (*http.Request, error) {
		return s.c.newRequest(rctx, http.MethodGet, s.c.url("list"), nil)
	})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &StatusError{Op: "list", Status: resp.StatusCode}
	}
	var out struct {
		DataItem []Item `json:"dataItem"`
	}
	if readErr, err := s.c.decodeAnswer(rctx, cancel, resp.Body, &out); readErr {
		return nil, err
	} else if err != nil {
		return nil, &NotDLXError{URL: s.c.Base, Status: resp.StatusCode, Err: err}
	}
	items, _ := checkItems(out.DataItem)
	return items, nil
}

func decodeJSON(r io.Reader, v any) error {
	return json.NewDecoder(io.LimitReader(r, 16<<20)).Decode(v)
}

// redact removes the query (a token) from a URL for error messages.
func redact(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i] + "?…"
	}
	if i := strings.Index(u, "/token/"); i >= 0 {
		return u[:i] + "/token/…"
	}
	return u
}
