// Package fetch downloads one HTTP resource into a file, resuming with
// Range and If-Range where the server offers Accept-Ranges and a strong
// ETag and restarting from byte 0 where not, retrying connection errors
// with the caller's waiter. The file is written as "<dst>.part" and
// renamed to dst when complete; on error nothing is left.
package fetch

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
	"github.com/bildbote/bildbote/transfer/ratelimit"
)

// StallTimeout aborts an attempt when no byte arrives for this long.
var StallTimeout = 2 * time.Minute

// Options describe one download.
type Options struct {
	Item      string // for progress reports
	Progress  transfer.Progress
	Bandwidth *ratelimit.Bucket
	Retry     retry.Policy
	// Send sends the GET with ctx, after calling prepare on the request
	// (it sets Range headers). Retrying connection errors (with w) and
	// renewing credentials are its business; it returns the final
	// response.
	Send func(ctx context.Context, w *retry.Waiter, prepare func(*http.Request)) (*http.Response, error)
	// Refused maps an answer other than 200, 206 and 416 to an error.
	Refused func(resp *http.Response) error
}

// Result describes a finished download.
type Result struct {
	Path     string
	Size     int64
	MIMEType string
	ETag     string
	// Resumed counts attempts that continued with Range; Restarted those
	// that had to start from byte 0 again.
	Resumed, Restarted int
}

// SizeError: the server sent fewer or more bytes than it announced.
type SizeError struct{ Want, Got int64 }

func (e *SizeError) Error() string {
	return fmt.Sprintf("download has %d bytes, server announced %d", e.Got, e.Want)
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

// ToFile downloads into dst.
func ToFile(ctx context.Context, dst string, o Options) (*Result, error) {
	part := dst + ".part"
	f, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("download: %w", diskspace.Map(filepath.Dir(dst), err))
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(part)
		}
	}()
	p := &partial{file: f, total: -1}
	res := &Result{Path: dst}
	w := retry.New(o.Retry, o.Progress, func() transfer.Status { return p.status(o.Item) })
	for {
		done, err := attempt(ctx, o, w, p, res)
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
		return nil, fmt.Errorf("download: %w", err)
	}
	ok = true
	res.Size, res.MIMEType, res.ETag = p.offset, p.mime, p.etag
	transfer.Report(o.Progress, transfer.Status{State: transfer.StateDone, Item: o.Item, Done: p.offset, Total: p.offset})
	return res, nil
}

func (p *partial) status(item string) transfer.Status {
	return transfer.Status{State: transfer.StateDownloading, Item: item, Done: p.offset, Total: max(p.total, 0)}
}

// attempt runs one GET. done is true when the file is complete; a nil
// error with done false means: try again (the wait, if any, is over).
func attempt(ctx context.Context, o Options, w *retry.Waiter, p *partial, res *Result) (done bool, err error) {
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	resumeAt := int64(0)
	if p.offset > 0 && p.rangeable {
		resumeAt = p.offset
	}
	resp, err := o.Send(rctx, w, func(req *http.Request) {
		if resumeAt > 0 {
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-", resumeAt))
			req.Header.Set("If-Range", p.etag)
		}
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
	default:
		return false, o.Refused(resp)
	}
	if p.total > 0 {
		if err := diskspace.Check(filepath.Dir(p.file.Name()), p.total-p.offset); err != nil {
			return false, err
		}
	}
	copyErr := copyBody(rctx, cancel, resp.Body, p, o)
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
	if !p.rangeable && p.offset > 0 {
		p.offset = 0 // cannot resume: the next attempt starts over
		res.Restarted++
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
func copyBody(ctx context.Context, cancel context.CancelCauseFunc, body io.Reader, p *partial, o Options) error {
	if _, err := p.file.Seek(p.offset, io.SeekStart); err != nil {
		return err
	}
	timer := time.AfterFunc(StallTimeout, func() { cancel(errors.New("download stalled")) })
	defer timer.Stop()
	r := o.Bandwidth.Reader(ctx, body)
	buf := make([]byte, 256<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			timer.Reset(StallTimeout)
			if _, werr := p.file.Write(buf[:n]); werr != nil {
				return werr
			}
			p.offset += int64(n)
			transfer.Report(o.Progress, p.status(o.Item))
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
