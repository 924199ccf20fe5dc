// Package tus is a client for the tus 1.0 resumable upload protocol
// (https://tus.io/protocols/resumable-upload), core protocol plus the
// creation and termination extensions, on net/http.
//
// Guarantees: an upload survives cut connections, server restarts and
// program restarts. Before every PATCH after a failure the client asks
// the server for its offset (HEAD), so at most one chunk is sent twice.
// While the network is away it waits with exponential backoff (capped at
// 30 s), reporting transfer.StateWaitingNetwork with the last error. The upload
// URL is handed to the caller (Job.OnURL) before the first byte is sent,
// so a job store can persist it and Resume after a reboot. The waits are
// bounded (retry.Policy): a network away for longer ends with a
// *transfer.GaveUpError, resumable later from the persisted URL.
//
// The upload URL must stay on the creation endpoint's origin: a Location
// (or a stored URL) on another scheme, host or port is an *OriginError
// and nothing — no byte, no password — goes there.
//
// Bildbote's portal returns a creator secret with a new upload
// (wire.UploadSecretHeader); the client sends it on every HEAD, PATCH and DELETE of
// that upload, and hands it to Job.OnCreated with the URL so that a job
// store can resume after a reboot. A server without secrets works as
// before.
//
// Errors a person can act on unwrap to *i18n.UserError: the server's
// checksum verdict (*ChecksumError, status 460), a size limit or the
// sender's quota (413), a full inbox or portal disk (507), a refused
// password (403), an unknown inbox (404 at creation). The limits are
// named with the figures the portal gives ("limit", "held") and the
// upload's size. 413 and 507 end the upload at once, permanently: an
// inbox stays full until its clinic collects, a disk until the operator
// acts (the job stays resumable). A lock-out or too many unfinished
// uploads (429) are waited out like a busy server.
//
// Body limits between client and portal (a clinic's proxy, an nginx in
// front of the portal): a 413 to a PATCH without the portal's JSON, or a
// PATCH cut (connection reset, EOF) twice in a row at the same server
// offset with a chunk larger than the last one that passed, halves the
// chunk and goes on from the server's offset, down to MinChunkSize; a
// limit below that is a permanent *BodyLimitError naming the size. The
// working size is remembered per portal origin (Client.Chunks) for the
// next upload.
//
// Retry-After (seconds or an HTTP date) on a 429 or 503 is the wait,
// reported as transfer.StateWaitingServer with Status.Wait and bounded by
// the retry policy's MaxBusyEach and what is left of MaxBusy.
package tus

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/wire"
	"github.com/bildbote/bildbote/transfer"
	"github.com/bildbote/bildbote/transfer/httpclient"
	"github.com/bildbote/bildbote/transfer/internal/retry"
	"github.com/bildbote/bildbote/transfer/ratelimit"
)

// Version is the tus protocol version spoken.
const Version = "1.0.0"

// DefaultChunkSize is the PATCH size when Client.ChunkSize is 0.
const DefaultChunkSize = 8 << 20

// MinChunkSize is the smallest chunk the client halves down to when a
// proxy refuses or cuts bodies; a limit below it is a *BodyLimitError.
const MinChunkSize = 256 << 10

// ChunkMemory remembers the chunk size that passed per portal origin
// ("https://host:port"). ChunkFile is the JSON-file implementation.
type ChunkMemory interface {
	// ChunkSize is the remembered size; 0 when there is none.
	ChunkSize(origin string) int64
	// SetChunkSize remembers size for origin.
	SetChunkSize(origin string, size int64) error
}

// Client uploads with tus. The zero value works; fields are options.
type Client struct {
	// HTTP is the client used; httpclient.Default() when nil. Do not set a
	// Timeout on it: StallTimeout handles hung connections.
	HTTP *http.Client
	// ChunkSize is the body size of one PATCH (default 8 MiB).
	ChunkSize int64
	// Bandwidth limits the upload (shared with other transfers); nil is
	// unlimited. See ratelimit.New.
	Bandwidth *ratelimit.Bucket
	// Progress receives reports; may be nil.
	Progress transfer.Progress
	// Retry sets the waits between attempts (1 s doubling to 30 s).
	Retry retry.Policy
	// StallTimeout aborts a request when in this long (default 2 minutes)
	// fewer than MinBytes of its body moved (default 64 KiB), or no answer
	// came after the body was sent, to retry it.
	StallTimeout time.Duration
	MinBytes     int64
	// StallBudget ends the upload with a *transfer.GaveUpError when the
	// server confirms no MinBytes of new data for this long (default 10
	// min), however many PATCHes were tried.
	StallBudget time.Duration
	// Header is added to every request (e.g. User-Agent).
	Header http.Header
	// Chunks, when set, gives the first chunk size for a portal (when
	// smaller than ChunkSize) and keeps the size that passed after the
	// client had to halve it.
	Chunks ChunkMemory
}

// Job is one upload.
type Job struct {
	// Endpoint is the creation URL, e.g. "https://portal/api/v1/uploads/".
	Endpoint string
	// Metadata goes into Upload-Metadata at creation.
	Metadata map[string]string
	// File is the data, Size its length (the sealed spool file).
	File io.ReaderAt
	Size int64
	// URL is the upload's URL from an earlier run; empty creates one.
	URL string
	// Secret is the upload's creator secret from an earlier run (see
	// wire.UploadSecretHeader); it goes with URL.
	Secret string
	// OnURL is called with the upload URL as soon as it is known (after
	// creation, or a re-creation after the server lost the upload),
	// before any byte is sent. Persist it; an error aborts the upload.
	OnURL func(uploadURL string) error
	// OnCreated, when set, is called instead of OnURL with the URL and
	// the creator secret the portal returned ("" from a server without
	// them). Persist both, to resume after a restart; the secret is a
	// credential for this upload: never log it.
	OnCreated func(uploadURL, secret string) error
}

// Result is a finished upload.
type Result struct {
	URL    string // the upload URL
	ID     string // its last path segment (the portal's receipt id)
	Secret string // its creator secret (Terminate needs it)
	// Receipt is the portal's receipt path from the final PATCH's
	// Bildbote-Receipt header; empty when that answer was lost.
	Receipt string
	Size    int64
}

// ErrUploadGone: the server no longer knows the upload (404/410), e.g. it
// was abandoned. Upload starts over on it; Resume returns it.
var ErrUploadGone = errors.New("tus: upload no longer exists on the server")

// ChecksumError: the server received all bytes but their checksum did not
// match (status 460); it discarded the upload. Retrying the same bytes
// will not help: the spool file is damaged.
type ChecksumError struct{ Message string }

func (e *ChecksumError) Error() string { return "tus: checksum mismatch: " + e.Message }

func (e *ChecksumError) Unwrap() error {
	return i18n.NewError(i18n.KindRefused, "transfer.tus.checksum").WithHint("transfer.tus.checksum.hint")
}

// StatusError is an answer the client cannot recover from.
type StatusError struct {
	Op      string // "create", "head", "patch"
	Status  int
	Code    string // the portal's machine code ("too-large", ...), if any
	Message string // the server's English message, if any
	// Limit and Held are the portal's figures of a refused limit, in
	// bytes ("limit", "held"; 0 when not given); Size is the upload's.
	Limit, Held, Size int64
}

func (e *StatusError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("tus %s: %d %s", e.Op, e.Status, msg)
}

// Unwrap maps the statuses a person can act on to user errors.
func (e *StatusError) Unwrap() error {
	size, limit, held := i18n.Bytes(e.Size), i18n.Bytes(e.Limit), i18n.Bytes(e.Held)
	switch {
	case e.Status == http.StatusRequestEntityTooLarge && e.Code == "client-quota" && e.Limit > 0:
		return i18n.NewError(i18n.KindRefused, "transfer.tus.client_quota", held, limit, size).WithHint("transfer.tus.quota.hint")
	case e.Status == http.StatusRequestEntityTooLarge && e.Code == "metadata-too-large":
		return i18n.NewError(i18n.KindRefused, "transfer.tus.metadata_too_large").WithHint("transfer.tus.metadata_too_large.hint")
	case e.Status == http.StatusRequestEntityTooLarge && e.Limit > 0:
		return i18n.NewError(i18n.KindRefused, "transfer.tus.too_large_limit", size, limit).WithHint("transfer.tus.too_large.hint")
	case e.Status == http.StatusRequestEntityTooLarge:
		return i18n.NewError(i18n.KindRefused, "transfer.tus.too_large", size).WithHint("transfer.tus.too_large.hint")
	case e.Status == http.StatusInsufficientStorage && e.Code == "inbox-quota" && e.Limit > 0:
		return i18n.NewError(i18n.KindRefused, "transfer.tus.inbox_quota", held, limit, size).WithHint("transfer.tus.quota.hint")
	case e.Status == http.StatusInsufficientStorage:
		return i18n.NewError(i18n.KindRefused, "transfer.tus.portal_full").WithHint("transfer.tus.portal_full.hint")
	case e.Status == http.StatusTooManyRequests && e.Code == "too-many-uploads":
		return i18n.NewError(i18n.KindTransient, "transfer.tus.too_many_uploads").WithHint("transfer.tus.too_many_uploads.hint")
	case e.Status < 400:
		// A success or redirect where tus expects another answer.
		return i18n.NewError(i18n.KindRefused, "transfer.net.protocol.status", e.Status).WithHint("transfer.tus.protocol.hint")
	case e.Status == http.StatusForbidden:
		return i18n.NewError(i18n.KindInput, "transfer.tus.password").WithHint("transfer.tus.password.hint")
	case e.Status == http.StatusNotFound && e.Op == "create":
		return i18n.NewError(i18n.KindInput, "transfer.tus.unknown_inbox").WithHint("transfer.tus.unknown_inbox.hint")
	}
	return i18n.NewError(i18n.KindRefused, "transfer.tus.refused", e.Status).WithHint("transfer.tus.refused.hint")
}

// HTTPStatus is the status, for transfer's classification of waits.
func (e *StatusError) HTTPStatus() int { return e.Status }

// Classification implements transfer.Classifier: transfer.ClassifyStatus,
// except that a 507 is Permanent "refused" (a full inbox or portal disk
// does not empty by waiting; see the package doc).
func (e *StatusError) Classification() transfer.Verdict {
	if e.Status == http.StatusInsufficientStorage {
		return transfer.Verdict{Class: transfer.Permanent, Reason: transfer.ReasonRefused}
	}
	return transfer.ClassifyStatus(e.Status)
}

// BodyLimitError: something between client and portal (a proxy, a
// filter) refuses or cuts request bodies even of MinChunkSize: the upload
// cannot go on until clinic IT raises that limit. Size is the smallest
// chunk tried.
type BodyLimitError struct {
	Size int64
	Err  error // the last refusal (a 413 or a cut connection)
}

func (e *BodyLimitError) Error() string {
	return fmt.Sprintf("tus patch: request bodies of %d bytes are refused on the way to the portal (proxy body limit): %v", e.Size, e.Err)
}

// Classification implements transfer.Classifier: Permanent "refused".
func (e *BodyLimitError) Classification() transfer.Verdict {
	return transfer.Verdict{Class: transfer.Permanent, Reason: transfer.ReasonRefused}
}

// Unwrap is the translated message.
func (e *BodyLimitError) Unwrap() error {
	return i18n.NewError(i18n.KindRefused, "transfer.tus.body_limit", i18n.Bytes(e.Size)).WithHint("transfer.tus.body_limit.hint")
}

// MismatchError: the upload URL belongs to an upload of another length:
// the job store handed the wrong file.
type MismatchError struct{ Server, Local int64 }

func (e *MismatchError) Error() string {
	return fmt.Sprintf("tus: server upload has length %d, local file %d", e.Server, e.Local)
}

// Classification implements transfer.Classifier: Permanent "protocol".
func (e *MismatchError) Classification() transfer.Verdict {
	return transfer.Verdict{Class: transfer.Permanent, Reason: transfer.ReasonProtocol}
}

// Unwrap is the translated message.
func (e *MismatchError) Unwrap() error {
	return i18n.NewError(i18n.KindRefused, "transfer.tus.mismatch", e.Server, e.Local).WithHint("transfer.tus.protocol.hint")
}

// headerError: the server's answer lacks a tus header or has one that
// does not parse (Location, Upload-Offset). The message names the header,
// never the server's text.
func headerError(op, name, value string) *transfer.ProtocolError {
	return &transfer.ProtocolError{Op: "tus " + op, What: "header", Detail: fmt.Sprintf("bad %s %q", name, value), Args: []any{name}}
}

// transientStatus: the server is restarting, overloaded or still holds
// the lock of a cut request (423). Not 507: a full inbox or disk stays
// full until someone acts.
func transientStatus(code int) bool {
	switch code {
	case http.StatusLocked, http.StatusTooManyRequests, http.StatusRequestTimeout,
		http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return httpclient.Default()
}

func (c *Client) chunk() int64 {
	if c.ChunkSize > 0 {
		return c.ChunkSize
	}
	return DefaultChunkSize
}

func (c *Client) stall() time.Duration {
	if c.StallTimeout > 0 {
		return c.StallTimeout
	}
	return 2 * time.Minute
}

// upload is the state of one running upload.
type upload struct {
	c       *Client
	job     *Job
	url     string
	secret  string // the creator secret of url
	offset  int64
	sent    atomic.Int64 // bytes confirmed plus in flight, for progress
	waiter  *retry.Waiter
	receipt string

	chunk    int64 // the current PATCH size
	passed   int64 // the largest PATCH body that got through
	saved    int64 // the size last handed to Chunks
	cutAt    int64 // server offset of the last cut PATCH; -1: none
	cuts     int   // cut PATCHes in a row at cutAt
	lastSize int64 // the body size of the last PATCH
}

// origin is the upload's "scheme://host[:port]", the key of Chunks.
func (u *upload) origin() string {
	s := u.url
	if s == "" {
		s = u.job.Endpoint
	}
	l, err := url.Parse(s)
	if err != nil || l.Host == "" {
		return ""
	}
	return l.Scheme + "://" + l.Host
}

func (u *upload) status(state transfer.State) transfer.Status {
	return transfer.Status{State: state, Item: path.Base(u.url), Done: u.sent.Load(), Total: u.job.Size}
}

// Upload runs job to completion: it creates the upload when job.URL is
// empty or the server lost it, and otherwise resumes it.
func (c *Client) Upload(ctx context.Context, job Job) (*Result, error) {
	if job.File == nil || job.Size < 0 {
		return nil, errors.New("tus: job without file")
	}
	if job.URL != "" && job.Endpoint != "" {
		if err := checkOrigin(job.Endpoint, job.URL); err != nil {
			return nil, err
		}
	}
	u := &upload{c: c, job: &job, url: job.URL, secret: job.Secret, chunk: c.chunk(), cutAt: -1}
	if c.Chunks != nil {
		if o := u.origin(); o != "" {
			if n := c.Chunks.ChunkSize(o); n >= MinChunkSize && n < u.chunk {
				u.chunk, u.saved = n, n
			}
		}
	}
	u.waiter = retry.New(c.Retry, c.Progress, func() transfer.Status { return u.status(transfer.StateUploading) })
	for {
		if u.url == "" {
			if err := u.create(ctx); err != nil {
				return nil, err
			}
		}
		err := u.run(ctx)
		if errors.Is(err, ErrUploadGone) && job.Endpoint != "" {
			u.url = "" // start over
			continue
		}
		if err != nil {
			return nil, err
		}
		transfer.Report(c.Progress, u.status(transfer.StateDone))
		return &Result{URL: u.url, ID: path.Base(u.url), Secret: u.secret, Receipt: u.receipt, Size: job.Size}, nil
	}
}

// Resume continues the upload at uploadURL with file (size bytes). It
// returns ErrUploadGone when the server no longer has it; Upload with an
// Endpoint starts over instead.
func (c *Client) Resume(ctx context.Context, uploadURL, secret string, file io.ReaderAt, size int64) (*Result, error) {
	return c.Upload(ctx, Job{URL: uploadURL, Secret: secret, File: file, Size: size})
}

// create POSTs a new upload and hands its URL to OnURL.
func (u *upload) create(ctx context.Context) error {
	transfer.Report(u.c.Progress, u.status(transfer.StateConnecting))
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.job.Endpoint, nil)
		if err != nil {
			return fmt.Errorf("tus create: %w", err)
		}
		u.c.setHeaders(req)
		req.Header.Set("Upload-Length", strconv.FormatInt(u.job.Size, 10))
		if md := encodeMetadata(u.job.Metadata); md != "" {
			req.Header.Set("Upload-Metadata", md)
		}
		resp, err := u.c.http().Do(req)
		if err != nil {
			if retry.Permanent(ctx, err) {
				return fmt.Errorf("tus create: %w", err)
			}
			if werr := u.waiter.Wait(ctx, err); werr != nil {
				return werr
			}
			continue
		}
		loc := resp.Header.Get("Location")
		serr := u.statusError("create", resp)
		if resp.StatusCode == http.StatusCreated && loc == "" {
			resp.Body.Close()
			return headerError("create", "Location", "")
		}
		if resp.StatusCode == http.StatusCreated {
			abs, err := resolve(u.job.Endpoint, loc)
			if err != nil {
				resp.Body.Close()
				return headerError("create", "Location", loc)
			}
			if err := checkOrigin(u.job.Endpoint, abs); err != nil {
				resp.Body.Close()
				return err
			}
			u.url, u.offset = abs, 0
			u.secret = resp.Header.Get(wire.UploadSecretHeader)
			resp.Body.Close()
			u.sent.Store(0)
			u.waiter.Reset()
			if u.job.OnCreated != nil {
				if err := u.job.OnCreated(abs, u.secret); err != nil {
					return fmt.Errorf("tus: persist upload URL: %w", err)
				}
			} else if u.job.OnURL != nil {
				if err := u.job.OnURL(abs); err != nil {
					return fmt.Errorf("tus: persist upload URL: %w", err)
				}
			}
			return nil
		}
		if !transientStatus(resp.StatusCode) {
			return serr
		}
		if werr := u.wait(ctx, serr, retryAfter(resp, time.Now())); werr != nil {
			return werr
		}
	}
}

// wait is the waiter's backoff, or the server's Retry-After (d > 0)
// bounded by the busy policy.
func (u *upload) wait(ctx context.Context, err error, d time.Duration) error {
	if d > 0 {
		return u.waiter.Busy(ctx, d, err)
	}
	return u.waiter.Wait(ctx, err)
}

// retryAfter is a 429's or 503's Retry-After (delta-seconds or an HTTP
// date); 0 when absent, unreadable, in the past, or on another status.
func retryAfter(resp *http.Response, now time.Time) time.Duration {
	if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable {
		return 0
	}
	d, _ := httpclient.RetryAfter(resp.Header.Get("Retry-After"), now)
	return d
}

// run HEADs and PATCHes until the server has every byte.
func (u *upload) run(ctx context.Context) error {
	needHead := true
	mark, markTime := int64(-1), time.Now()
	for {
		if needHead {
			done, err := u.head(ctx)
			if err != nil {
				return err
			}
			if done {
				return nil
			}
			needHead = false
			// Progress the server confirms, even from cut PATCHes, starts
			// a new streak; none for StallBudget ends the upload.
			if mark < 0 || u.offset >= mark+min(u.c.minBytes(), u.job.Size-mark) {
				if mark >= 0 {
					u.waiter.Reset()
				}
				mark, markTime = u.offset, time.Now()
			} else if since := time.Since(markTime); since > u.c.stallBudget() {
				return &transfer.GaveUpError{After: since, Reason: transfer.ReasonStalled, Err: errStalled}
			}
		}
		transfer.Report(u.c.Progress, u.status(transfer.StateUploading))
		start := u.offset
		complete, err := u.patch(ctx)
		if err == nil {
			u.waiter.Reset()
			u.cutAt, u.cuts = -1, 0
			u.passed = max(u.passed, u.lastSize)
			u.remember()
			if complete {
				return nil
			}
			continue
		}
		var te *transientError
		if !errors.As(err, &te) {
			return err
		}
		needHead = true
		if te.tooLarge {
			if err := u.halve(te.err); err != nil {
				return err
			}
			continue // nothing to wait for: ask the offset, send smaller
		}
		if te.conflict {
			continue // 409: our offset was wrong, ask at once
		}
		if te.cut && u.lastSize > u.passed {
			if u.cutAt != start {
				u.cutAt, u.cuts = start, 0
			}
			u.cuts++
		} else {
			u.cutAt, u.cuts = -1, 0
		}
		if werr := u.wait(ctx, te.err, te.retryAfter); werr != nil {
			return werr
		}
		if u.cuts >= 2 {
			// A fixed-size cut: does the server still stand where both
			// PATCHes started? Then halve.
			done, err := u.head(ctx)
			if err != nil {
				return err
			}
			if done {
				return nil
			}
			needHead = false
			if u.offset == u.cutAt && u.lastSize > MinChunkSize {
				if err := u.halve(te.err); err != nil {
					return err
				}
			}
			u.cutAt, u.cuts = -1, 0
		}
	}
}

// halve halves the chunk until it is smaller than the last PATCH, which
// was refused as too large (a last, short chunk halves the chunk once);
// at MinChunkSize already it is a *BodyLimitError.
func (u *upload) halve(cause error) error {
	if u.lastSize <= MinChunkSize {
		return &BodyLimitError{Size: u.lastSize, Err: cause}
	}
	for u.chunk >= u.lastSize && u.chunk > MinChunkSize {
		u.chunk /= 2
	}
	u.chunk = max(u.chunk, MinChunkSize)
	return nil
}

// remember hands a chunk size that passed after halving to Chunks.
func (u *upload) remember() {
	if u.c.Chunks == nil || u.chunk >= u.c.chunk() || u.chunk == u.saved || u.lastSize < u.chunk {
		return
	}
	if o := u.origin(); o != "" && u.c.Chunks.SetChunkSize(o, u.chunk) == nil {
		u.saved = u.chunk
	}
}

// transientError marks a failed attempt worth repeating after a HEAD.
type transientError struct {
	err        error
	conflict   bool
	tooLarge   bool          // a 413 from something other than the portal
	cut        bool          // the connection broke off (reset, EOF)
	retryAfter time.Duration // the server's Retry-After on 429/503
}

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

// head asks the server for its offset, retrying while the network is away.
// done is true when the server has every byte.
func (u *upload) head(ctx context.Context) (done bool, err error) {
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodHead, u.url, nil)
		if err != nil {
			return false, fmt.Errorf("tus head: %w", err)
		}
		u.setHeaders(req)
		req.Header.Set("Cache-Control", "no-store")
		resp, err := u.c.doWithStall(ctx, req, nil)
		if err != nil {
			if retry.Permanent(ctx, err) {
				return false, fmt.Errorf("tus head: %w", err)
			}
			if werr := u.waiter.Wait(ctx, err); werr != nil {
				return false, werr
			}
			continue
		}
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusNoContent:
			off, err1 := strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
			length, err2 := strconv.ParseInt(resp.Header.Get("Upload-Length"), 10, 64)
			if err1 != nil || off < 0 {
				return false, headerError("head", "Upload-Offset", resp.Header.Get("Upload-Offset"))
			}
			if err2 == nil && length != u.job.Size {
				return false, &MismatchError{Server: length, Local: u.job.Size}
			}
			if off > u.job.Size {
				return false, &MismatchError{Server: off, Local: u.job.Size}
			}
			u.offset = off
			u.sent.Store(off)
			return off == u.job.Size, nil
		case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
			return false, ErrUploadGone
		case transientStatus(resp.StatusCode):
			if werr := u.wait(ctx, u.statusError("head", resp), retryAfter(resp, time.Now())); werr != nil {
				return false, werr
			}
		default:
			return false, u.statusError("head", resp)
		}
	}
}

// patch sends one chunk from u.offset. complete is true after the last one.
func (u *upload) patch(ctx context.Context) (complete bool, err error) {
	n := min(u.chunk, u.job.Size-u.offset)
	u.lastSize = n
	var body io.Reader = io.NewSectionReader(u.job.File, u.offset, n)
	body = u.c.Bandwidth.Reader(ctx, body)
	body = &countReader{r: body, n: &u.sent, progress: func() {
		transfer.Report(u.c.Progress, u.status(transfer.StateUploading))
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, u.url, nil)
	if err != nil {
		return false, fmt.Errorf("tus patch: %w", err)
	}
	u.setHeaders(req)
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	req.Header.Set("Upload-Offset", strconv.FormatInt(u.offset, 10))
	req.ContentLength = n
	resp, err := u.c.doWithStall(ctx, req, body)
	if err != nil {
		u.sent.Store(u.offset)
		if retry.Permanent(ctx, err) {
			return false, fmt.Errorf("tus patch: %w", err)
		}
		return false, &transientError{err: err, cut: brokeOff(err)}
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusOK:
		off, perr := strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
		if perr != nil || off < u.offset || off > u.job.Size {
			return false, &transientError{err: fmt.Errorf("tus patch: bad Upload-Offset %q", resp.Header.Get("Upload-Offset"))}
		}
		u.offset = off
		u.sent.Store(off)
		if r := resp.Header.Get(wire.ReceiptHeader); r != "" {
			u.receipt = r
		}
		return off == u.job.Size, nil
	case resp.StatusCode == http.StatusConflict:
		u.sent.Store(u.offset)
		return false, &transientError{err: u.statusError("patch", resp), conflict: true}
	case resp.StatusCode == wire.StatusChecksumMismatch:
		e := u.statusError("patch", resp)
		return false, &ChecksumError{Message: e.Message}
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return false, ErrUploadGone
	case transientStatus(resp.StatusCode):
		u.sent.Store(u.offset)
		return false, &transientError{err: u.statusError("patch", resp), retryAfter: retryAfter(resp, time.Now())}
	case resp.StatusCode == http.StatusRequestEntityTooLarge:
		se := u.statusError("patch", resp)
		if se.Code != "" {
			return false, se // the portal's own limit or quota: permanent
		}
		// Not the portal's JSON: a proxy's body limit.
		u.sent.Store(u.offset)
		return false, &transientError{err: se, tooLarge: true}
	default:
		se := u.statusError("patch", resp)
		if interrupted(se) {
			// tusd: another request for this upload (our own earlier,
			// cut one, still queued server-side) took the lock.
			u.sent.Store(u.offset)
			return false, &transientError{err: se}
		}
		return false, se
	}
}

// doWithStall sends req with body, cancelling it when in a StallTimeout
// the body moves fewer than MinBytes (a server reading one byte every few
// seconds), or no answer comes once the body is sent.
func (c *Client) doWithStall(ctx context.Context, req *http.Request, body io.Reader) (*http.Response, error) {
	rctx, cancel := context.WithCancelCause(ctx)
	stall := c.stall()
	var moved atomic.Int64
	var mu sync.Mutex
	var timer *time.Timer
	last := int64(0)
	check := func() {
		mu.Lock()
		defer mu.Unlock()
		now := moved.Load()
		if body == nil || now-last < c.minBytes() {
			cancel(errStalled)
			return
		}
		last = now
		timer.Reset(stall)
	}
	mu.Lock()
	timer = time.AfterFunc(stall, check)
	mu.Unlock()
	if body != nil {
		req.Body = io.NopCloser(&kickReader{r: body, kick: func(n int) { moved.Add(int64(n)) }})
		req.GetBody = nil
	}
	req = req.WithContext(rctx)
	resp, err := c.http().Do(req)
	timer.Stop()
	if err != nil {
		if context.Cause(rctx) == errStalled && ctx.Err() == nil {
			err = fmt.Errorf("%w: %v", errStalled, err)
		}
		cancel(nil)
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: func() { cancel(nil) }}
	return resp, nil
}

func (c *Client) stallBudget() time.Duration {
	if c.StallBudget > 0 {
		return c.StallBudget
	}
	return 10 * time.Minute
}

func (c *Client) minBytes() int64 {
	if c.MinBytes > 0 {
		return c.MinBytes
	}
	return 64 << 10
}

// brokeOff: the connection was reset or closed while the request was on
// its way (a proxy cutting the body at its limit does this), not a stall,
// a refused connection or a name that does not resolve.
func brokeOff(err error) bool {
	if errors.Is(err, errStalled) {
		return false
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed) {
		return true
	}
	// net/http does not always wrap the cause: "use of closed network
	// connection" is its writer noticing the reader saw the reset.
	msg := err.Error()
	return strings.Contains(msg, "connection reset") || strings.Contains(msg, "broken pipe") ||
		strings.Contains(msg, "server closed") || strings.Contains(msg, "EOF") ||
		strings.Contains(msg, "use of closed network connection")
}

// errStalled cuts a request that moved nothing for StallTimeout.
var errStalled error = stalledError{}

type stalledError struct{}

func (stalledError) Error() string { return "connection stalled" }

// Classification implements transfer.Classifier: worth another try.
func (stalledError) Classification() transfer.Verdict {
	return transfer.Verdict{Class: transfer.Transient, Reason: transfer.ReasonStalled}
}

// OriginError: the portal named an upload URL on another origin (scheme,
// host, port) than its creation endpoint. The client refuses to send the
// file — or the inbox password in its metadata — there.
type OriginError struct{ Endpoint, Location string }

func (e *OriginError) Error() string {
	return fmt.Sprintf("tus: upload URL %s is not on the portal's origin %s", e.Location, e.Endpoint)
}

// Classification implements transfer.Classifier: Permanent "protocol".
func (e *OriginError) Classification() transfer.Verdict {
	return transfer.Verdict{Class: transfer.Permanent, Reason: transfer.ReasonProtocol}
}

func (e *OriginError) Unwrap() error {
	return i18n.NewError(i18n.KindRefused, "transfer.net.origin", e.Location).WithHint("transfer.net.origin.hint")
}

// checkOrigin: an upload URL must stay on the endpoint's origin (or the
// same host upgraded from http to https).
func checkOrigin(endpoint, upload string) error {
	e, err1 := url.Parse(endpoint)
	l, err2 := url.Parse(upload)
	if err1 != nil || err2 != nil || !httpclient.SameOrUpgrade(e, l) {
		return &OriginError{Endpoint: httpclient.Redact(e), Location: httpclient.Redact(l)}
	}
	return nil
}

type kickReader struct {
	r    io.Reader
	kick func(n int)
}

func (k *kickReader) Read(p []byte) (int, error) {
	n, err := k.r.Read(p)
	if n > 0 {
		k.kick(n)
	}
	return n, err
}

type cancelOnClose struct {
	io.ReadCloser
	cancel func()
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

type countReader struct {
	r        io.Reader
	n        *atomic.Int64
	progress func()
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.n.Add(int64(n))
		c.progress()
	}
	return n, err
}

func (c *Client) setHeaders(req *http.Request) {
	for k, v := range c.Header {
		req.Header[k] = v
	}
	req.Header.Set("Tus-Resumable", Version)
}

// setHeaders adds the creator secret to a request for the upload itself.
func (u *upload) setHeaders(req *http.Request) {
	u.c.setHeaders(req)
	setSecret(req, u.secret)
}

func setSecret(req *http.Request, secret string) {
	if secret != "" {
		req.Header.Set(wire.UploadSecretHeader, secret)
	}
}

// Terminate deletes an upload (termination extension), e.g. when the user
// cancels a send. secret is the upload's creator secret (Result.Secret,
// or what OnCreated persisted).
func (c *Client) Terminate(ctx context.Context, uploadURL, secret string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, uploadURL, nil)
	if err != nil {
		return err
	}
	c.setHeaders(req)
	setSecret(req, secret)
	resp, err := c.http().Do(req)
	if err != nil {
		return fmt.Errorf("tus terminate: %w", err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNoContent, http.StatusOK, http.StatusNotFound, http.StatusGone:
		return nil
	}
	return statusError("terminate", resp)
}

// interrupted reports tusd's "ERR_UPLOAD_INTERRUPTED" (400): the PATCH
// lost the upload's lock to a newer request for the same upload.
func interrupted(e *StatusError) bool {
	return e.Status == http.StatusBadRequest && (e.Code == "ERR_UPLOAD_INTERRUPTED" || strings.HasPrefix(e.Message, "ERR_UPLOAD_INTERRUPTED"))
}

// statusError is statusError with the upload's size.
func (u *upload) statusError(op string, resp *http.Response) *StatusError {
	e := statusErrorWithin(op, resp, u.c.stall())
	e.Size = u.job.Size
	return e
}

// statusError reads the portal's JSON error body ({"error","message"}
// and a limit's "limit" and "held"), if any, into a StatusError.
func statusError(op string, resp *http.Response) *StatusError {
	return statusErrorWithin(op, resp, 2*time.Minute)
}

// statusErrorWithin is statusError giving the body at most d (a body
// dripping its bytes is cut; what came is used).
func statusErrorWithin(op string, resp *http.Response, d time.Duration) *StatusError {
	e := &StatusError{Op: op, Status: resp.StatusCode}
	data := httpclient.ReadBody(resp, 64<<10, d)
	var body wire.Error
	if json.Unmarshal(data, &body) == nil {
		e.Code, e.Message = body.Error, body.Message
		e.Limit, e.Held = max(body.Limit, 0), max(body.Held, 0)
	} else {
		e.Message = strings.TrimSpace(string(data))
	}
	return e
}

// encodeMetadata renders Upload-Metadata: "key base64(value)" pairs,
// comma separated, keys sorted for stable requests.
func encodeMetadata(md map[string]string) string {
	keys := make([]string, 0, len(md))
	for k := range md {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		if md[k] == "" {
			parts = append(parts, k) // the spec's form for an empty value
			continue
		}
		parts = append(parts, k+" "+base64.StdEncoding.EncodeToString([]byte(md[k])))
	}
	return strings.Join(parts, ",")
}

func resolve(base, ref string) (string, error) {
	b, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	r, err := url.Parse(ref)
	if err != nil {
		return "", err
	}
	return b.ResolveReference(r).String(), nil
}
