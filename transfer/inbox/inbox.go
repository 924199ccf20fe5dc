// Package inbox is the client of a Bildbote portal's community API: find a
// clinic's inbox (its code, name and age recipients), fetch an upload's
// receipt, and — for the clinic, with its API key — list, download and
// acknowledge the envelopes waiting in its inbox.
//
// Guarantees: every recipient's fingerprint as the portal shows it is
// checked against crypto.Fingerprint of the recipient (a portal that
// mislabels keys is refused); downloads resume with Range (the portal's
// ETag is the envelope's SHA-256) and the finished file's SHA-256 is
// checked against the inbox listing, and no download grows past the size
// the listing gives; connection errors, 429 and 502–504 are retried with
// backoff within the retry policy's bound (then a *transfer.GaveUpError). The API key is sent only as a bearer
// token and never appears in errors.
//
// Every ID in a listing is untrusted: Listing returns only items whose ID
// has the grammar of ValidID, whose size is not negative and whose
// SHA-256 is empty or 64 hex digits; any other item comes back as a
// *BadItemError and is never downloaded or acknowledged (Download and Ack
// refuse such an ID too). Callers must still not use an ID as a file name.
package inbox

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/bildbote/bildbote/crypto"
	"github.com/bildbote/bildbote/internal/fileutil"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/wire"
	"github.com/bildbote/bildbote/transfer"
	"github.com/bildbote/bildbote/transfer/httpclient"
	"github.com/bildbote/bildbote/transfer/internal/fetch"
	"github.com/bildbote/bildbote/transfer/internal/retry"
	"github.com/bildbote/bildbote/transfer/internal/stall"
	"github.com/bildbote/bildbote/transfer/ratelimit"
)

// Client talks to one portal.
type Client struct {
	// Portal is the portal's root URL, e.g. "https://portal.example".
	Portal string
	// APIKey is the clinic's key for its inbox (List, Download, Ack).
	APIKey string
	// HTTP is the client used (httpclient.Default() when nil).
	HTTP      *http.Client
	Progress  transfer.Progress
	Retry     retry.Policy
	Bandwidth *ratelimit.Bucket
	Header    http.Header
	// Limits bound each download; MaxBytes is the listed item size when
	// the listing gives one (a longer body is refused).
	Limits fetch.Limits
}

// Community is a clinic's inbox as the portal describes it; Lookup
// resolves its UploadURL against the portal's root.
type Community = wire.Community

// Recipient is an age recipient with its fingerprint.
type Recipient = wire.Recipient

// Receipt confirms an upload was filed into an inbox.
type Receipt = wire.Receipt

// Item is an envelope waiting in an inbox.
type Item = wire.InboxItem

// MaxIDLen is the longest item ID ValidID accepts.
const MaxIDLen = 64

// ValidID reports whether id has the grammar of an inbox item ID: 1 to
// MaxIDLen characters from A–Z, a–z, 0–9, "_" and "-". The reference
// portal's IDs are tusd's upload IDs, 32 lowercase hex digits; the grammar
// leaves room for other portals but never for a separator, a dot, a drive
// letter, a control character or anything beyond ASCII.
func ValidID(id string) bool {
	if len(id) == 0 || len(id) > MaxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

func validSHA256(s string) bool {
	if s == "" {
		return true
	}
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// BadItemError is an inbox item the portal listed that breaks the
// protocol's grammar (an ID that is not ValidID, a negative size, a
// malformed SHA-256). It is skipped: never downloaded, never acknowledged.
type BadItemError struct {
	// ID is the listed ID as the portal sent it (untrusted: show it only
	// through Quoted).
	ID     string
	Reason string // "id", "size" or "sha256"
}

// Quoted is the ID for messages: Go-quoted (control characters and
// non-ASCII escaped) and cut to 80 bytes.
func (e *BadItemError) Quoted() string { return QuoteID(e.ID) }

// QuoteID shows an untrusted ID safely in a message or log line.
func QuoteID(id string) string {
	if len(id) > 72 {
		id = id[:72]
		return strconv.QuoteToASCII(id) + "…"
	}
	return strconv.QuoteToASCII(id)
}

func (e *BadItemError) Error() string {
	return fmt.Sprintf("portal lists inbox item %s with an invalid %s; skipped", e.Quoted(), e.Reason)
}

func (e *BadItemError) Unwrap() error {
	return i18n.NewError(i18n.KindRefused, "transfer.inbox.bad_item", e.Quoted()).WithHint("transfer.inbox.bad_item.hint")
}

func checkItem(it Item) *BadItemError {
	switch {
	case !ValidID(it.ID):
		return &BadItemError{ID: it.ID, Reason: "id"}
	case it.Size < 0:
		return &BadItemError{ID: it.ID, Reason: "size"}
	case !validSHA256(it.SHA256):
		return &BadItemError{ID: it.ID, Reason: "sha256"}
	}
	return nil
}

// APIError is an error answer of the portal ({"error","message"}).
type APIError struct {
	Op      string
	Status  int
	Code    string // machine code, e.g. "unknown-community", "bad-api-key"
	Message string // the portal's English text
}

// HTTPStatus is the status, for transfer's classification of waits.
func (e *APIError) HTTPStatus() int { return e.Status }

func (e *APIError) Error() string {
	return fmt.Sprintf("portal %s: %d %s: %s", e.Op, e.Status, e.Code, e.Message)
}

// Unwrap maps what a person can fix to user errors.
func (e *APIError) Unwrap() error {
	switch {
	case e.Code == "unknown-community" || (e.Status == http.StatusNotFound && e.Op == "community"):
		return i18n.NewError(i18n.KindInput, "transfer.inbox.unknown_community").WithHint("transfer.inbox.unknown_community.hint")
	case e.Status == http.StatusUnauthorized:
		return i18n.NewError(i18n.KindInput, "transfer.inbox.bad_api_key").WithHint("transfer.inbox.bad_api_key.hint")
	case e.Status == http.StatusNotFound:
		return i18n.NewError(i18n.KindRefused, "transfer.inbox.unknown_item")
	}
	return i18n.NewError(i18n.KindRefused, "transfer.inbox.refused", e.Status).WithHint("transfer.inbox.refused.hint")
}

// FingerprintError: the portal shows a fingerprint that does not belong to
// the recipient it lists.
type FingerprintError struct {
	Community string
	Recipient string
}

func (e *FingerprintError) Error() string {
	return fmt.Sprintf("portal shows a wrong fingerprint for a key of community %s", e.Community)
}

// Unwrap is the translated message; the community's code comes from the
// portal, so it is quoted.
func (e *FingerprintError) Unwrap() error {
	return i18n.NewError(i18n.KindRefused, "transfer.inbox.bad_fingerprint", i18n.Quote(e.Community)).WithHint("transfer.inbox.bad_fingerprint.hint")
}

// HashError: a downloaded envelope does not hash like the inbox says.
type HashError struct{ ID, Want, Got string }

func (e *HashError) Error() string {
	return fmt.Sprintf("inbox item %s: SHA-256 %s, expected %s", e.ID, e.Got, e.Want)
}

func (e *HashError) Unwrap() error {
	return i18n.NewError(i18n.KindTransient, "transfer.inbox.hash").WithHint("transfer.inbox.hash.hint")
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return httpclient.Default()
}

func (c *Client) url(parts ...string) string {
	u := strings.TrimSuffix(c.Portal, "/") + wire.APIRoot
	for _, p := range parts {
		u += "/" + url.PathEscape(p)
	}
	return u
}

// send runs a request, retrying connection errors and 429/502/503/504
// within the Waiter's bounds, and a 500 (possibly a bug, not an outage)
// maxInternalErrors times; other answers go back to the caller.
func (c *Client) send(ctx context.Context, w *retry.Waiter, method, u string, auth bool, prepare func(*http.Request)) (*http.Response, error) {
	internalErrors := 0
	for {
		req, err := http.NewRequestWithContext(ctx, method, u, nil)
		if err != nil {
			return nil, err
		}
		for k, v := range c.Header {
			req.Header[k] = v
		}
		req.Header.Set("Accept", "application/json")
		if auth {
			req.Header.Set("Authorization", "Bearer "+c.APIKey)
		}
		if prepare != nil {
			prepare(req)
		}
		resp, err := c.http().Do(req)
		if err != nil {
			if retry.Permanent(ctx, err) {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				return nil, fmt.Errorf("portal: %w", err)
			}
			if werr := w.Wait(ctx, err); werr != nil {
				return nil, werr
			}
			continue
		}
		if resp.StatusCode == http.StatusInternalServerError && internalErrors < maxInternalErrors {
			internalErrors++
			resp.Body.Close()
			if werr := w.Wait(ctx, &APIError{Op: "request", Status: resp.StatusCode}); werr != nil {
				return nil, werr
			}
			continue
		}
		switch resp.StatusCode {
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout, http.StatusTooManyRequests:
			resp.Body.Close()
			if werr := w.Wait(ctx, &APIError{Op: "request", Status: resp.StatusCode}); werr != nil {
				return nil, werr
			}
			continue
		}
		return resp, nil
	}
}

// stallWindow is Limits.StallWindow or its default.
func (c *Client) stallWindow() time.Duration {
	if c.Limits.StallWindow > 0 {
		return c.Limits.StallWindow
	}
	return fetch.DefaultStallWindow
}

// maxInternalErrors is how many 500 answers in a row are retried (as in
// the DLX client).
const maxInternalErrors = 4

func (c *Client) getJSON(ctx context.Context, op, u string, auth bool, v any) error {
	w := retry.New(c.Retry, c.Progress, nil)
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	resp, err := c.send(rctx, w, http.MethodGet, u, auth, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return c.apiError(op, resp)
	}
	// An answer dripping slower than the stall limits, or taking longer
	// than 5 minutes in all, is cut (transient): JSON answers are small.
	lim := c.Limits
	window, minBytes := lim.StallWindow, lim.MinBytes
	if window <= 0 {
		window = 2 * time.Minute
	}
	if minBytes <= 0 {
		minBytes = 64 << 10
	}
	watch := stall.Start(window, minBytes, cancel, &stall.Error{What: "portal " + op})
	defer watch.Stop()
	overall := time.AfterFunc(max(window, 5*time.Minute), func() { cancel(&stall.Error{What: "portal " + op}) })
	defer overall.Stop()
	if err := json.NewDecoder(watch.Reader(io.LimitReader(resp.Body, 16<<20), nil)).Decode(v); err != nil {
		var se *stall.Error
		if cause := context.Cause(rctx); ctx.Err() == nil && errors.As(cause, &se) {
			return fmt.Errorf("portal %s: %w (%v)", op, cause, err)
		}
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		if errors.As(err, &syn) || errors.As(err, &typ) || errors.Is(err, io.EOF) {
			// Not the API's answer: say so in words, with the path asked
			// for (Go's decoder text is for the log only).
			path := u
			if pu, perr := url.Parse(u); perr == nil {
				path = pu.EscapedPath()
			}
			return &transfer.ProtocolError{Op: "portal " + op, What: "json", Detail: err.Error(), Args: []any{path}}
		}
		return fmt.Errorf("portal %s: %w", op, err)
	}
	return nil
}

func (c *Client) apiError(op string, resp *http.Response) *APIError {
	e := &APIError{Op: op, Status: resp.StatusCode}
	var body struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	// An error body that drips is cut after a stall window (what came
	// is used).
	if json.Unmarshal(httpclient.ReadBody(resp, 64<<10, c.stallWindow()), &body) == nil {
		e.Code, e.Message = body.Error, body.Message
	}
	return e
}

// Community looks up an inbox by its code.
func (c *Client) Community(ctx context.Context, code string) (*Community, error) {
	var cm Community
	if err := c.getJSON(ctx, "community", c.url("communities", strings.TrimSpace(code)), false, &cm); err != nil {
		return nil, err
	}
	if err := c.check(&cm); err != nil {
		var fe *FingerprintError
		if errors.As(err, &fe) {
			fe.Community = strings.TrimSpace(code) // the code asked for, not the portal's text
		}
		return nil, err
	}
	return &cm, nil
}

// Search finds inboxes whose name or code contains q.
func (c *Client) Search(ctx context.Context, q string) ([]Community, error) {
	var out struct {
		Communities []Community `json:"communities"`
	}
	if err := c.getJSON(ctx, "search", c.url("communities")+"?q="+url.QueryEscape(q), false, &out); err != nil {
		return nil, err
	}
	for i := range out.Communities {
		if err := c.check(&out.Communities[i]); err != nil {
			return nil, err
		}
	}
	return out.Communities, nil
}

// MaxNameLen is the longest community name kept (bytes; longer ones are
// cut).
const MaxNameLen = 200

// check verifies the fingerprints, cleans the name and code for display
// (transfer.CleanText: no control characters or bidi overrides from the
// portal reach a terminal or the window) and makes the upload URL
// absolute on the portal's own origin.
func (c *Client) check(cm *Community) error {
	cm.Name = transfer.CleanText(cm.Name, MaxNameLen)
	cm.Code = transfer.CleanText(cm.Code, 64)
	if len(cm.Recipients) == 0 {
		return &FingerprintError{Community: cm.Code}
	}
	for _, r := range cm.Recipients {
		if _, err := crypto.ParseRecipients([]string{r.Recipient}); err != nil || !crypto.FingerprintsEqual(r.Fingerprint, crypto.Fingerprint(r.Recipient)) {
			return &FingerprintError{Community: cm.Code, Recipient: r.Recipient}
		}
	}
	base, err := url.Parse(strings.TrimSuffix(c.Portal, "/") + "/")
	if err != nil {
		return err
	}
	up := cm.UploadURL
	if up == "" {
		up = wire.UploadsPath
	}
	ref, err := url.Parse(up)
	if err != nil {
		return &transfer.ProtocolError{Op: "portal community", What: "json", Detail: "bad uploadURL: " + err.Error(), Args: []any{"uploadURL"}}
	}
	abs := base.ResolveReference(ref)
	if !httpclient.SameOrUpgrade(base, abs) {
		return &UploadOriginError{Portal: httpclient.Redact(base), UploadURL: httpclient.Redact(abs)}
	}
	cm.UploadURL = abs.String()
	return nil
}

// UploadOriginError: the portal names an upload endpoint on another
// origin (scheme, host, port) than its own. The client sends no file and
// no inbox password there (as for a tus Location, tus.OriginError).
type UploadOriginError struct{ Portal, UploadURL string }

func (e *UploadOriginError) Error() string {
	return fmt.Sprintf("portal %s names the upload endpoint %s on another origin", e.Portal, e.UploadURL)
}

// Classification implements transfer.Classifier: Permanent "protocol".
func (e *UploadOriginError) Classification() transfer.Verdict {
	return transfer.Verdict{Class: transfer.Permanent, Reason: transfer.ReasonProtocol}
}

func (e *UploadOriginError) Unwrap() error {
	return i18n.NewError(i18n.KindRefused, "transfer.net.origin", e.UploadURL).WithHint("transfer.net.origin.hint")
}

// Receipt fetches the receipt of a finished upload (its id is the last
// path segment of the tus upload URL).
func (c *Client) Receipt(ctx context.Context, id string) (*Receipt, error) {
	var r Receipt
	if err := c.getJSON(ctx, "receipt", c.url("receipts", id), false, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Listing is an inbox as listed: the items that may be fetched and the
// ones refused for breaking the grammar (see BadItemError).
type Listing struct {
	Items    []Item
	Rejected []*BadItemError
}

// Listing returns the envelopes waiting in the inbox code, checked.
func (c *Client) Listing(ctx context.Context, code string) (*Listing, error) {
	var out struct {
		Items []Item `json:"items"`
	}
	if err := c.getJSON(ctx, "inbox", c.url("inbox", code), true, &out); err != nil {
		return nil, err
	}
	l := &Listing{}
	seen := map[string]bool{}
	for _, it := range out.Items {
		if bad := checkItem(it); bad != nil {
			l.Rejected = append(l.Rejected, bad)
			continue
		}
		if seen[it.ID] {
			continue // listed twice: fetch it once
		}
		seen[it.ID] = true
		l.Items = append(l.Items, it)
	}
	return l, nil
}

// List returns the valid envelopes waiting in the inbox code (Listing
// without the rejected ones).
func (c *Client) List(ctx context.Context, code string) ([]Item, error) {
	l, err := c.Listing(ctx, code)
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

// Download fetches envelope item of inbox code into dst (resuming with
// Range after connection errors) and checks its SHA-256 against item.
func (c *Client) Download(ctx context.Context, code string, item Item, dst string) (*fetch.Result, error) {
	if bad := checkItem(item); bad != nil {
		return nil, bad
	}
	u := c.url("inbox", code, item.ID)
	lim := c.Limits
	if item.Size > 0 {
		lim.MaxBytes = item.Size
	}
	res, err := fetch.ToFile(ctx, dst, fetch.Options{
		Item: item.ID, Progress: c.Progress, Bandwidth: c.Bandwidth, Retry: c.Retry, Limits: lim,
		Send: func(rctx context.Context, w *retry.Waiter, prepare func(*http.Request)) (*http.Response, error) {
			return c.send(rctx, w, http.MethodGet, u, true, prepare)
		},
		Refused: func(resp *http.Response) error { return c.apiError("download", resp) },
	})
	if err != nil {
		return nil, err
	}
	got, err := fileutil.SHA256(dst)
	if err != nil {
		return nil, err
	}
	if item.SHA256 != "" && !strings.EqualFold(got, item.SHA256) {
		os.Remove(dst)
		return nil, &HashError{ID: item.ID, Want: item.SHA256, Got: got}
	}
	return res, nil
}

// Ack acknowledges an imported envelope; the portal deletes it. An item
// already gone counts as acknowledged.
func (c *Client) Ack(ctx context.Context, code, id string) error {
	return c.ack(ctx, code, id, "")
}

// Reject acknowledges an envelope the clinic could not open (and keeps in
// its quarantine) as rejected, with reason (one of the portal's
// RejectReasons: "not-for-us", "corrupt", "verify", "limit", "other"); the
// portal deletes it and records the reason. A portal that does not know
// rejections takes it as a plain acknowledgement.
func (c *Client) Reject(ctx context.Context, code, id, reason string) error {
	if reason == "" {
		reason = "other"
	}
	return c.ack(ctx, code, id, reason)
}

func (c *Client) ack(ctx context.Context, code, id, rejected string) error {
	if !ValidID(id) {
		return &BadItemError{ID: id, Reason: "id"}
	}
	u := c.url("inbox", code, id)
	if rejected != "" {
		u += "?" + wire.RejectParam + "=" + url.QueryEscape(rejected)
	}
	w := retry.New(c.Retry, c.Progress, nil)
	resp, err := c.send(ctx, w, http.MethodDelete, u, true, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNoContent, http.StatusOK:
		return nil
	case http.StatusNotFound:
		e := c.apiError("ack", resp)
		if e.Code == "unknown-item" {
			return nil
		}
		return e
	}
	return c.apiError("ack", resp)
}
