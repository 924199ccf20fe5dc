package dlx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/bildbote/bildbote/transfer"
	"github.com/bildbote/bildbote/transfer/diskspace"
	"github.com/bildbote/bildbote/transfer/internal/retry"
)

// DefaultBusyWait is how long to wait after a 503 without timeOutInSeconds.
const DefaultBusyWait = 10 * time.Second

// StallTimeout aborts a download attempt when no byte arrives for this long.
var StallTimeout = 2 * time.Minute

// DownloadResult describes a finished download.
type DownloadResult struct {
	Path     string
	Size     int64
	MIMEType string
	// Resumed counts attempts that continued with Range; Restarted those
	// that had to start from byte 0 again.
	Resumed, Restarted int
}

// Download fetches data item id into the file dst (replaced when done).
func (s *Session) Download(ctx context.Context, id, dst string) (*DownloadResult, error) {
	return s.fetch(ctx, s.c.url("download", id), id, dst)
}

// DownloadAll fetches every item as one IHE PDI ZIP into dst.
func (s *Session) DownloadAll(ctx context.Context, dst string) (*DownloadResult, error) {
	return s.fetch(ctx, s.c.url("downloadall"), "all", dst)
}

// partial is the state of a download in progress.
type partial struct {
	file      *os.File
	offset    int64
	total     int64 // -1 when unknown
	etag      string
	rangeable bool
	mime      string
}

func (s *Session) fetch(ctx context.Context, u, item, dst string) (*DownloadResult, error) {
	part := dst + ".part"
	f, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("dlx download: %w", diskspace.Map(filepath.Dir(dst), err))
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(part)
		}
	}()
	p := &partial{file: f, total: -1}
	res := &DownloadResult{Path: dst}
	status := func() transfer.Status {
		return transfer.Status{State: transfer.StateDownloading, Item: item, Done: p.offset, Total: max(p.total, 0)}
	}
	w := s.c.waiter(status)
	for {
		done, err := s.attempt(ctx, w, u, item, p, res, status)
		if err != nil {
			return nil, err
		}
		if done {
			break
		}
	}
	if err := f.Sync(); err != nil {
		return nil, diskspace.Map(filepath.Dir(dst), err)
	}
	if err := f.Close(); err != nil {
		return nil, diskspace.Map(filepath.Dir(dst), err)
	}
	if err := os.Rename(part, dst); err != nil {
		return nil, fmt.Errorf("dlx download: %w", err)
	}
	ok = true
	res.Size, res.MIMEType = p.offset, p.mime
	transfer.Report(s.c.Progress, transfer.Status{State: transfer.StateDone, Item: item, Done: p.offset, Total: p.offset})
	return res, nil
}

// attempt runs one GET. done is true when the file is complete; a nil
// error with done false means: try again (after waiting, already done).
func (s *Session) attempt(ctx context.Context, w *retry.Waiter, u, item string, p *partial, res *DownloadResult, status func() transfer.Status) (done bool, err error) {
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	resumeAt := int64(0)
	if p.offset > 0 && p.rangeable {
		resumeAt = p.offset
	}
	resp, err := s.authorized(rctx, w, func() (*http.Request, error) {
		req, err := s.c.newRequest(rctx, http.MethodGet, u, nil)
		if err == nil && resumeAt > 0 {
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-", resumeAt))
			req.Header.Set("If-Range", p.etag)
		}
		return req, err
	})
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		if p.offset > 0 {
			res.Restarted++
		}
		if err := p.restart(resp); err != nil {
			return false, err
		}
	case http.StatusPartialContent:
		start, total, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || start != p.offset || resumeAt == 0 {
			p.rangeable = false // a server we do not understand: start over
			return false, nil
		}
		p.total = total
		res.Resumed++
	case http.StatusRequestedRangeNotSatisfiable:
		p.rangeable = false
		return false, nil
	case http.StatusBadRequest, http.StatusNotFound:
		return false, &UnknownItemError{ID: item}
	case http.StatusUnauthorized:
		return false, &WrongAnswerError{}
	case http.StatusForbidden:
		return false, &ExpiredError{}
	default:
		return false, &StatusError{Op: "download", Status: resp.StatusCode}
	}
	if p.total > 0 {
		if err := diskspace.Check(filepath.Dir(p.file.Name()), p.total-p.offset); err != nil {
			return false, err
		}
	}
	copyErr := s.copyBody(rctx, cancel, resp.Body, p, status)
	if copyErr == nil {
		if p.total >= 0 && p.offset != p.total {
			copyErr = &SizeError{Want: p.total, Got: p.offset}
		} else {
			w.Reset()
			return true, nil
		}
	}
	if diskspace.IsFull(copyErr) {
		return false, diskspace.Map(filepath.Dir(p.file.Name()), copyErr)
	}
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if !p.rangeable {
		p.offset = 0 // cannot resume: the next attempt starts over
	}
	return false, w.Wait(ctx, copyErr)
}

// restart prepares the file for a full (200) answer.
func (p *partial) restart(resp *http.Response) error {
	if err := p.file.Truncate(0); err != nil {
		return err
	}
	if _, err := p.file.Seek(0, io.SeekStart); err != nil {
		return err
	}
	p.offset = 0
	p.total = resp.ContentLength
	p.etag = resp.Header.Get("ETag")
	// If-Range needs a strong validator; a weak one would make every
	// resume a full restart anyway.
	p.rangeable = strings.Contains(resp.Header.Get("Accept-Ranges"), "bytes") && p.etag != "" && !strings.HasPrefix(p.etag, "W/")
	p.mime = resp.Header.Get("Content-Type")
	return nil
}

// copyBody appends the body to the file, advancing p.offset by what was
// written; a stall cancels the request.
func (s *Session) copyBody(ctx context.Context, cancel context.CancelCauseFunc, body io.Reader, p *partial, status func() transfer.Status) error {
	if _, err := p.file.Seek(p.offset, io.SeekStart); err != nil {
		return err
	}
	timer := time.AfterFunc(StallTimeout, func() { cancel(errors.New("download stalled")) })
	defer timer.Stop()
	r := s.c.Bandwidth.Reader(ctx, body)
	buf := make([]byte, 256<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			timer.Reset(StallTimeout)
			if _, werr := p.file.Write(buf[:n]); werr != nil {
				return werr
			}
			p.offset += int64(n)
			transfer.Report(s.c.Progress, status())
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if cause := context.Cause(ctx); cause != nil && ctx.Err() != nil {
				return fmt.Errorf("%w (%v)", err, cause)
			}
			return err
		}
	}
}

// parseContentRange reads "bytes START-END/TOTAL" (TOTAL may be "*").
func parseContentRange(v string) (start, total int64, ok bool) {
	rest, found := strings.CutPrefix(v, "bytes ")
	if !found {
		return 0, 0, false
	}
	rng, tot, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, false
	}
	first, _, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, false
	}
	start, err := strconv.ParseInt(first, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	total = -1
	if tot != "*" {
		if total, err = strconv.ParseInt(tot, 10, 64); err != nil {
			return 0, 0, false
		}
	}
	return start, total, true
}

// busyWait reads a 503's {"timeOutInSeconds": N} (or Retry-After).
func busyWait(resp *http.Response) time.Duration {
	var body struct {
		TimeOutInSeconds int `json:"timeOutInSeconds"`
	}
	if decodeJSON(resp.Body, &body) == nil && body.TimeOutInSeconds > 0 {
		return time.Duration(body.TimeOutInSeconds) * time.Second
	}
	if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	return DefaultBusyWait
}
