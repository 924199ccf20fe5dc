// Package stow stores DICOM instances in a PACS with DICOMweb STOW-RS
// (PS3.18 §10.5): POST {base}/studies, multipart/related;
// type="application/dicom", one part per instance.
//
// Guarantees: requests are batched (by count and bytes) and their bodies
// streamed from the files (io.Pipe), so memory stays bounded whatever the
// study size. The response (application/dicom+json) is read into one
// Result per instance: stored (ReferencedSOPSequence 0008,1199) or failed
// with its FailureReason (0008,1197 in FailedSOPSequence 0008,1198).
// Instances that failed, or that the answer does not mention, are sent
// once more in a batch of their own; what still fails is reported, not
// retried forever. Connection errors and 503 are retried with backoff
// within the retry policy's bound, then a *transfer.GaveUpError (storing
// an instance twice is harmless: the PACS keeps one); an untrusted
// certificate or a refused redirect is not retried. Statuses a person must fix (wrong URL, no access, a PACS
// that refuses the media type) are typed errors.
package stow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/transfer"
	"github.com/bildbote/bildbote/transfer/envelope"
	"github.com/bildbote/bildbote/transfer/httpclient"
	"github.com/bildbote/bildbote/transfer/internal/retry"
	"github.com/bildbote/bildbote/transfer/internal/stall"
)

// Client stores into one DICOMweb service.
type Client struct {
	// Base is the DICOMweb root, e.g. "http://pacs.local:8042/dicom-web".
	Base string
	// HTTP is the client used (httpclient.Default() when nil).
	HTTP *http.Client
	// BatchFiles and BatchBytes bound one request (defaults 100 files,
	// 128 MiB; a batch holds at least one instance).
	BatchFiles int
	BatchBytes int64
	Progress   transfer.Progress
	Retry      retry.Policy
	// Header is added to every request (e.g. Authorization for a PACS
	// behind a proxy).
	Header http.Header
	// StallTimeout and MinBytes: a request body or an answer moving fewer
	// than MinBytes (default 64 KiB) per StallTimeout (default 2 min) is
	// cut and retried.
	StallTimeout time.Duration
	MinBytes     int64
}

// Instance is one DICOM file to store.
type Instance struct {
	Path           string // file on disk
	Size           int64
	SOPInstanceUID string // to match the PACS's answer
}

// Result is what the PACS said about one instance.
type Result struct {
	Instance
	Stored bool
	// FailureReason is the PACS's 0008,1197 code (e.g. 0xA700 out of
	// resources, 0xC000 cannot understand, 0x0110 processing failure);
	// 0 when stored or when the answer did not mention the instance.
	FailureReason int
	// HTTPStatus is set when the PACS refused the request holding the
	// instance as a whole (400, 409).
	HTTPStatus int
	Retried    bool
}

// Report sums up a Store.
type Report struct {
	Results        []Result
	Stored, Failed int
	Requests       int
}

// StatusError: the PACS refused a request as a whole.
type StatusError struct {
	Status  int
	Message string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("STOW-RS: status %d: %s", e.Status, e.Message)
}

// HTTPStatus is the status, for transfer's classification of waits.
func (e *StatusError) HTTPStatus() int { return e.Status }

// Unwrap maps what a person can fix to user errors.
func (e *StatusError) Unwrap() error {
	switch e.Status {
	case http.StatusUnauthorized, http.StatusForbidden:
		return i18n.NewError(i18n.KindRefused, "transfer.stow.auth").WithHint("transfer.stow.config.hint")
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		return i18n.NewError(i18n.KindInput, "transfer.stow.not_found").WithHint("transfer.stow.config.hint")
	case http.StatusUnsupportedMediaType, http.StatusNotAcceptable:
		return i18n.NewError(i18n.KindRefused, "transfer.stow.unsupported").WithHint("transfer.stow.config.hint")
	case http.StatusRequestEntityTooLarge:
		return i18n.NewError(i18n.KindRefused, "transfer.stow.too_large")
	}
	return i18n.NewError(i18n.KindRefused, "transfer.stow.refused", e.Status).WithHint("transfer.stow.refused.hint")
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return httpclient.Default()
}

func (c *Client) batches(insts []Instance) [][]Instance {
	maxFiles, maxBytes := c.BatchFiles, c.BatchBytes
	if maxFiles <= 0 {
		maxFiles = 100
	}
	if maxBytes <= 0 {
		maxBytes = 128 << 20
	}
	var out [][]Instance
	var cur []Instance
	var size int64
	for _, in := range insts {
		if len(cur) > 0 && (len(cur) >= maxFiles || size+in.Size > maxBytes) {
			out = append(out, cur)
			cur, size = nil, 0
		}
		cur = append(cur, in)
		size += in.Size
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// Store sends every instance and reports per instance.
func (c *Client) Store(ctx context.Context, insts []Instance) (*Report, error) {
	var total, done int64
	for _, in := range insts {
		total += in.Size
	}
	status := func() transfer.Status {
		return transfer.Status{State: transfer.StateStoring, Done: done, Total: total}
	}
	w := retry.New(c.Retry, c.Progress, status)
	rep := &Report{}
	var failed []Result
	for _, batch := range c.batches(insts) {
		results, err := c.storeBatch(ctx, w, batch, rep)
		if refused(err) {
			// One bad file can make a PACS refuse the whole request:
			// each instance gets its own try below.
			results, err = failAll(batch, err), nil
		}
		if err != nil {
			return nil, err
		}
		for _, r := range results {
			done += r.Size
			if r.Stored {
				rep.Results = append(rep.Results, r)
			} else {
				failed = append(failed, r)
			}
		}
		transfer.Report(c.Progress, status())
	}
	// One more try for each failure, alone: a batch-level hiccup (out of
	// resources) often passes the second time.
	for _, f := range failed {
		results, err := c.storeBatch(ctx, w, []Instance{f.Instance}, rep)
		if refused(err) {
			results, err = failAll([]Instance{f.Instance}, err), nil
		}
		if err != nil {
			return nil, err
		}
		r := results[0]
		r.Retried = true
		rep.Results = append(rep.Results, r)
	}
	for _, r := range rep.Results {
		if r.Stored {
			rep.Stored++
		} else {
			rep.Failed++
		}
	}
	transfer.Report(c.Progress, transfer.Status{State: transfer.StateDone, Done: total, Total: total})
	return rep, nil
}

// refused reports a PACS answer that refuses the content of a request
// (400 bad request, 409 nothing stored without details, 415/422): about
// the instances, not the connection or the configuration.
func refused(err error) bool {
	var se *StatusError
	if !errors.As(err, &se) {
		return false
	}
	switch se.Status {
	case http.StatusBadRequest, http.StatusConflict, http.StatusUnprocessableEntity:
		return true
	}
	return false
}

func failAll(batch []Instance, err error) []Result {
	var se *StatusError
	errors.As(err, &se)
	out := make([]Result, len(batch))
	for i, in := range batch {
		out[i] = Result{Instance: in, HTTPStatus: se.Status}
	}
	return out
}

// maxInternalErrors is how many 500 answers in a row are retried: a
// PACS restarting or briefly overloaded, or a bug that stays (then the
// 500 is reported).
const maxInternalErrors = 4

// storeBatch POSTs one batch, retrying transient trouble.
func (c *Client) storeBatch(ctx context.Context, w *retry.Waiter, batch []Instance, rep *Report) ([]Result, error) {
	internalErrors := 0
	for {
		rep.Requests++
		results, err := c.attempt(ctx, batch)
		var se *StatusError
		if err == nil || errors.As(err, &se) {
			if se != nil && se.Status == http.StatusInternalServerError && internalErrors < maxInternalErrors {
				internalErrors++
				if werr := w.Wait(ctx, err); werr != nil {
					return nil, werr
				}
				continue
			}
			if se != nil && transientStatus(se.Status) {
				if werr := w.Wait(ctx, err); werr != nil {
					return nil, werr
				}
				continue
			}
			if err == nil {
				w.Reset()
			}
			return results, err
		}
		if retry.Permanent(ctx, err) {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			var fe *fileError
			if errors.As(err, &fe) {
				return nil, fe.err
			}
			return nil, fmt.Errorf("STOW-RS: %w", err)
		}
		if werr := w.Wait(ctx, err); werr != nil {
			return nil, werr
		}
	}
}

// attempt sends one batch and reads the answer; a request body the PACS
// reads, or an answer it sends, slower than MinBytes per StallTimeout is
// cut (a *stall.Error, transient).
func (c *Client) attempt(ctx context.Context, batch []Instance) ([]Result, error) {
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	cut := func(err error) error {
		var se *stall.Error
		var pe *transfer.ProtocolError
		if errors.As(err, &pe) {
			return err // the answer itself was wrong, whatever the watch says
		}
		if cause := context.Cause(rctx); ctx.Err() == nil && errors.As(cause, &se) {
			return fmt.Errorf("%w (%v)", cause, err)
		}
		return err
	}
	resp, err := c.post(rctx, cancel, batch)
	if err != nil {
		return nil, cut(err)
	}
	defer resp.Body.Close()
	watch := stall.Start(c.stall(), c.minBytes(), cancel, &stall.Error{What: "STOW-RS answer"})
	defer watch.Stop()
	results, err := c.answer(watch.Reader(resp.Body, nil), resp.StatusCode, batch)
	if err != nil {
		return nil, cut(err)
	}
	return results, nil
}

func (c *Client) stall() time.Duration {
	if c.StallTimeout > 0 {
		return c.StallTimeout
	}
	return 2 * time.Minute
}

func (c *Client) minBytes() int64 {
	if c.MinBytes > 0 {
		return c.MinBytes
	}
	return 64 << 10
}

func transientStatus(code int) bool {
	switch code {
	case http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout, http.StatusTooManyRequests:
		return true
	}
	return false
}

// fileError marks a local read error (not worth retrying the network).
type fileError struct{ err error }

func (e *fileError) Error() string { return e.err.Error() }

// post streams the batch as multipart/related; a body the server reads
// too slowly is cut through cancel.
func (c *Client) post(ctx context.Context, cancel context.CancelCauseFunc, batch []Instance) (*http.Response, error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	readErr := make(chan error, 1)
	go func() {
		err := writeParts(mw, batch)
		if err == nil {
			err = mw.Close()
		}
		readErr <- err
		pw.CloseWithError(err)
	}()
	var body io.Reader = pr
	if cancel != nil {
		watch := stall.Start(c.stall(), c.minBytes(), cancel, &stall.Error{What: "STOW-RS request"})
		defer watch.Stop()
		body = watch.Reader(pr, watch.Stop) // sent: the answer's wait is ResponseHeaderTimeout's
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(c.Base, "/")+"/studies", body)
	if err != nil {
		pr.Close()
		return nil, err
	}
	for k, v := range c.Header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", fmt.Sprintf(`multipart/related; type="application/dicom"; boundary=%s`, mw.Boundary()))
	req.Header.Set("Accept", "application/dicom+json")
	resp, err := c.http().Do(req)
	pr.Close() // unblocks the writer if the server answered early
	if err != nil {
		if ferr := <-readErr; ferr != nil && !errors.Is(ferr, io.ErrClosedPipe) {
			var pe *os.PathError
			if errors.As(ferr, &pe) {
				return nil, &fileError{err: fmt.Errorf("STOW-RS: %w", ferr)}
			}
		}
		return nil, err
	}
	return resp, nil
}

func writeParts(mw *multipart.Writer, batch []Instance) error {
	for _, in := range batch {
		part, err := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"application/dicom"}})
		if err != nil {
			return err
		}
		f, err := os.Open(in.Path)
		if err != nil {
			return err
		}
		_, err = io.Copy(part, f)
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// Tags of the STOW-RS response (PS3.18 Table 10.5.3-1).
const (
	tagFailedSOPSequence     = "00081198"
	tagReferencedSOPSequence = "00081199"
	tagReferencedSOPInstance = "00081155"
	tagFailureReason         = "00081197"
)

type element struct {
	VR    string            `json:"vr"`
	Value []json.RawMessage `json:"Value"`
}

type dataset map[string]element

// answer maps the response to results in batch order. A cut answer is
// the read error (worth another try).
func (c *Client) answer(r io.Reader, status int, batch []Instance) ([]Result, error) {
	const maxAnswer = 32 << 20
	body, err := io.ReadAll(io.LimitReader(r, maxAnswer+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxAnswer {
		return nil, &transfer.ProtocolError{Op: "STOW-RS", What: "too-large", Detail: "answer larger than 32 MiB", Args: []any{i18n.Bytes(maxAnswer)}}
	}
	switch {
	case status >= 300 && status < 400:
		// A redirect not followed: the body was streamed and cannot be
		// sent twice, or the client's redirect policy refused it.
		return nil, &transfer.ProtocolError{Op: "STOW-RS", What: "status", Detail: fmt.Sprintf("unexpected status %d", status), Args: []any{status}}
	}
	switch status {
	case http.StatusOK, http.StatusAccepted:
	case http.StatusConflict:
		// Nothing stored; the failures may be listed.
		if !strings.Contains(string(body), tagFailedSOPSequence) {
			return nil, &StatusError{Status: status, Message: strings.TrimSpace(string(body[:min(len(body), 300)]))}
		}
	default:
		return nil, &StatusError{Status: status, Message: strings.TrimSpace(string(body[:min(len(body), 300)]))}
	}
	stored, failed, err := parseResponse(body)
	if err != nil {
		return nil, &transfer.ProtocolError{Op: "STOW-RS", What: "json", Detail: "unreadable answer: " + err.Error(), Args: []any{"STOW-RS"}}
	}
	out := make([]Result, len(batch))
	for i, in := range batch {
		out[i] = Result{Instance: in}
		if stored[in.SOPInstanceUID] {
			out[i].Stored = true
		} else if reason, ok := failed[in.SOPInstanceUID]; ok {
			out[i].FailureReason = reason
		}
	}
	return out, nil
}

// parseResponse reads the dicom+json answer (an object, or an array of
// one object as some servers send).
func parseResponse(body []byte) (stored map[string]bool, failed map[string]int, err error) {
	stored, failed = map[string]bool{}, map[string]int{}
	if len(strings.TrimSpace(string(body))) == 0 {
		return stored, failed, nil
	}
	var ds dataset
	if err := json.Unmarshal(body, &ds); err != nil {
		var list []dataset
		if err2 := json.Unmarshal(body, &list); err2 != nil || len(list) == 0 {
			return nil, nil, err
		}
		ds = list[0]
	}
	for _, item := range items(ds[tagReferencedSOPSequence]) {
		if uid := firstString(item[tagReferencedSOPInstance]); uid != "" {
			stored[uid] = true
		}
	}
	for _, item := range items(ds[tagFailedSOPSequence]) {
		if uid := firstString(item[tagReferencedSOPInstance]); uid != "" {
			failed[uid] = firstInt(item[tagFailureReason])
		}
	}
	return stored, failed, nil
}

func items(e element) []dataset {
	var out []dataset
	for _, raw := range e.Value {
		var ds dataset
		if json.Unmarshal(raw, &ds) == nil {
			out = append(out, ds)
		}
	}
	return out
}

func firstString(e element) string {
	if len(e.Value) == 0 {
		return ""
	}
	var s string
	json.Unmarshal(e.Value[0], &s)
	return s
}

func firstInt(e element) int {
	if len(e.Value) == 0 {
		return 0
	}
	var n int
	json.Unmarshal(e.Value[0], &n)
	return n
}

// InstancesFromManifest lists the DICOM instances of an opened envelope
// (envelope.Open extracted it into dir) for Store, skipping documents.
func InstancesFromManifest(dir string, m *envelope.Manifest) []Instance {
	var out []Instance
	for _, f := range m.Files {
		if f.SOPInstanceUID == "" {
			continue
		}
		out = append(out, Instance{
			Path:           filepath.Join(dir, filepath.FromSlash(envelope.FilesPrefix+f.Path)),
			Size:           f.Size,
			SOPInstanceUID: f.SOPInstanceUID,
		})
	}
	return out
}
