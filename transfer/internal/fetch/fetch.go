// Package fetch downloads one HTTP resource into a file, resuming with
// Range and If-Range where the server offers Accept-Ranges and a strong
// ETag and restarting from byte 0 where not, retrying connection errors
// with the caller's waiter. The file is written as "<dst>.part" and
// renamed to dst when complete; on error nothing is left.
//
// Limits (Options.Limits) hold against a broken or hostile server: the
// body never grows past MaxBytes (the listed size when the caller knows
// one, else a hard cap) — an endless chunked body ends there with a
// *transfer.ProtocolError; an announced Content-Length above MaxBytes is
// refused before a byte is written; a server that ends short of its
// Content-Length at the same offset MaxShort times is a
// *transfer.ProtocolError, not a network hiccup retried forever; an
// attempt that moves fewer than MinBytes in StallWindow is cut (a drip
// of 1 byte / 5 s), and a download without MinBytes of new data for
// StallBudget, or running longer than MaxDuration in all, ends with a
// *transfer.GaveUpError.
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
	"sync"
	"sync/atomic"
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/transfer"
	"github.com/bildbote/bildbote/transfer/diskspace"
	"github.com/bildbote/bildbote/transfer/internal/retry"
	"github.com/bildbote/bildbote/transfer/ratelimit"
)

// Defaults of Limits.
const (
	DefaultMaxBytes    = 32 << 30 // when no size is listed
	DefaultStallWindow = 2 * time.Minute
	DefaultMinBytes    = 64 << 10
	DefaultStallBudget = 10 * time.Minute
	DefaultMaxDuration = 48 * time.Hour
	DefaultMaxShort    = 3
)

// Limits bound one download; zero fields take the defaults.
type Limits struct {
	// MaxBytes caps the body: the size the listing gives when there is
	// one, else a hard cap (default DefaultMaxBytes).
	MaxBytes int64
	// An attempt that moves fewer than MinBytes (default 64 KiB) in a
	// StallWindow (default 2 min) is cut and retried.
	StallWindow time.Duration
	MinBytes    int64
	// StallBudget ends the download when no MinBytes of new data arrived
	// for this long, over all attempts (default 10 min).
	StallBudget time.Duration
	// MaxDuration ends the download after this long in all (default 48 h).
	MaxDuration time.Duration
	// MaxShort: attempts ending short of the announced length at the same
	// offset before the server counts as broken (default 3).
	MaxShort int
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.StallWindow <= 0 {
		l.StallWindow = DefaultStallWindow
	}
	if l.MinBytes <= 0 {
		l.MinBytes = DefaultMinBytes
	}
	if l.StallBudget <= 0 {
		l.StallBudget = DefaultStallBudget
	}
	if l.MaxDuration <= 0 {
		l.MaxDuration = DefaultMaxDuration
	}
	if l.MaxShort <= 0 {
		l.MaxShort = DefaultMaxShort
	}
	return l
}

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
	Limits  Limits
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
	stream    Stream // instead of file (ToStream)
	sent      int64  // bytes written to stream since its last Restart
	dir       string // where the bytes go, for disk-space checks
	offset    int64
	total     int64 // -1 when unknown
	etag      string
	rangeable bool
	mime      string

	lim      Limits
	start    time.Time
	mark     int64     // the high-water offset when progress was last seen
	markTime time.Time // when
	high     int64     // the highest offset reached
	// shortAt/shorts: where attempts ended short of the announced length.
	shortAt, shortTotal int64
	shorts              int
	attempts            int
}

// errStalled and errTooLong cut an attempt.
var (
	errStalled = &stallError{}
	errTooLong = &stallError{overall: true}
)

type stallError struct{ overall bool }

func (e *stallError) Error() string {
	if e.overall {
		return "download took longer than its bound"
	}
	return "download stalled"
}

func (e *stallError) Classification() transfer.Verdict {
	return transfer.Verdict{Class: transfer.Transient, Reason: transfer.ReasonStalled}
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
	now := time.Now()
	p := &partial{file: f, dir: filepath.Dir(dst), total: -1, lim: o.Limits.withDefaults(), start: now, markTime: now}
	res := &Result{Path: dst}
	if err := run(ctx, o, p, res); err != nil {
		return nil, err
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

func run(ctx context.Context, o Options, p *partial, res *Result) error {
	w := retry.New(o.Retry, o.Progress, func() transfer.Status { return p.status(o.Item) })
	for {
		done, err := attempt(ctx, o, w, p, res)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}

// Stream receives a download as it arrives (ToStream).
type Stream interface {
	// Write takes the next bytes; an error ends the download with it
	// (no retry).
	Write(p []byte) (int, error)
	// Restart: the download starts over at byte 0 (the server cannot
	// resume where it broke off); drop everything written so far. An
	// error ends the download with it.
	Restart() error
}

// StreamError is an error of a Stream's Write or Restart.
type StreamError struct{ Err error }

func (e *StreamError) Error() string { return e.Err.Error() }
func (e *StreamError) Unwrap() error { return e.Err }

// ToStream downloads into s, resuming after a broken connection where the
// server allows (s sees each byte once, in order) and calling s.Restart
// where it must start over. Nothing is written to disk here; dir is where
// s writes, for the free-space check of an announced length (may be "").
func ToStream(ctx context.Context, s Stream, dir string, o Options) (*Result, error) {
	now := time.Now()
	p := &partial{stream: s, dir: dir, total: -1, lim: o.Limits.withDefaults(), start: now, markTime: now}
	res := &Result{}
	if err := run(ctx, o, p, res); err != nil {
		var se *StreamError
		if errors.As(err, &se) {
			return nil, se.Err
		}
		return nil, err
	}
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
	attemptStart := time.Now()
	p.attempts++
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
	if p.total > p.lim.MaxBytes {
		return false, tooLarge(o.Item, p.lim.MaxBytes, fmt.Sprintf("announces %d bytes", p.total))
	}
	if p.total > 0 && p.dir != "" {
		if err := diskspace.Check(p.dir, p.total-p.offset); err != nil {
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
	var pe *transfer.ProtocolError
	var se *StreamError
	if errors.As(copyErr, &pe) || errors.As(copyErr, &se) {
		return false, copyErr
	}
	if diskspace.IsFull(copyErr) {
		return false, diskspace.Map(p.dir, copyErr)
	}
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err := p.judge(o.Item, copyErr); err != nil {
		return false, err
	}
	if p.markTime.After(attemptStart) {
		w.Reset() // progress: a new streak of failures, not the old one
	}
	if !p.rangeable && p.offset > 0 {
		p.offset = 0 // cannot resume: the next attempt starts over
		res.Restarted++
	}
	return false, w.Wait(ctx, copyErr)
}

// judge decides after a failed attempt whether the download can go on:
// not when it made no progress for StallBudget, ran longer than
// MaxDuration, or ended short at the same offset MaxShort times.
func (p *partial) judge(item string, err error) error {
	now := time.Now()
	if p.total >= 0 && p.offset < p.total && serverEndedShort(err) {
		if p.offset == p.shortAt && p.total == p.shortTotal {
			p.shorts++
		} else {
			p.shortAt, p.shortTotal, p.shorts = p.offset, p.total, 1
		}
		if p.shorts >= p.lim.MaxShort {
			return &transfer.ProtocolError{Op: "download " + item, What: "short",
				Detail: fmt.Sprintf("announced %d bytes, sent %d, %d times", p.total, p.offset, p.shorts), Args: []any{i18n.Bytes(p.total), i18n.Bytes(p.offset)}}
		}
	}
	if errors.Is(err, errTooLong) || now.Sub(p.start) > p.lim.MaxDuration {
		return &transfer.GaveUpError{After: now.Sub(p.start), Attempts: p.attempts, Reason: transfer.ReasonStalled, Err: err}
	}
	if now.Sub(p.markTime) > p.lim.StallBudget {
		return &transfer.GaveUpError{After: now.Sub(p.markTime), Attempts: p.attempts, Reason: transfer.ReasonStalled, Err: err}
	}
	return nil
}

// serverEndedShort: the server closed the body cleanly before its
// Content-Length (a wrong length), not a reset or our own stall cut. A
// reset is the network or a proxy: it can end at the same offset every
// time (what the client had read when the RST dropped the rest, seen at
// 96 KiB three times in a row on a loaded machine), and is retried.
func serverEndedShort(err error) bool {
	var size *SizeError
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &size)
}

func tooLarge(item string, max int64, detail string) error {
	return &transfer.ProtocolError{Op: "download " + item, What: "too-large", Detail: fmt.Sprintf("%s, more than the %d allowed", detail, max), Args: []any{i18n.Bytes(max)}}
}

// restart prepares the file for a full (200) answer.
func (p *partial) restart(resp *http.Response) error {
	if p.stream != nil {
		if p.sent > 0 {
			if err := p.stream.Restart(); err != nil {
				return &StreamError{Err: err}
			}
			p.sent = 0
		}
	} else {
		if err := p.file.Truncate(0); err != nil {
			return err
		}
		if _, err := p.file.Seek(0, io.SeekStart); err != nil {
			return err
		}
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
// written, never past MaxBytes; fewer than MinBytes in a StallWindow, or
// the end of MaxDuration, cancels the request.
func copyBody(ctx context.Context, cancel context.CancelCauseFunc, body io.Reader, p *partial, o Options) error {
	if p.stream == nil {
		if _, err := p.file.Seek(p.offset, io.SeekStart); err != nil {
			return err
		}
	}
	var moved atomic.Int64
	var watch func()
	var timer *time.Timer
	var last int64
	var mu sync.Mutex
	watch = func() {
		mu.Lock()
		defer mu.Unlock()
		now := moved.Load()
		need := p.lim.MinBytes
		if time.Since(p.start) > p.lim.MaxDuration {
			cancel(errTooLong)
			return
		}
		if now-last < need {
			cancel(errStalled)
			return
		}
		last = now
		timer.Reset(p.lim.StallWindow)
	}
	mu.Lock()
	timer = time.AfterFunc(p.lim.StallWindow, watch)
	mu.Unlock()
	defer timer.Stop()
	r := o.Bandwidth.Reader(ctx, body)
	buf := make([]byte, 256<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if p.offset+int64(n) > p.lim.MaxBytes {
				return tooLarge(o.Item, p.lim.MaxBytes, "sends more")
			}
			if p.stream != nil {
				if _, werr := p.stream.Write(buf[:n]); werr != nil {
					return &StreamError{Err: werr}
				}
				p.sent += int64(n)
			} else if _, werr := p.file.Write(buf[:n]); werr != nil {
				return werr
			}
			p.offset += int64(n)
			moved.Add(int64(n))
			if p.offset > p.high {
				p.high = p.offset
			}
			if p.high-p.mark >= min(p.lim.MinBytes, max(p.total-p.mark, 1)) {
				p.mark, p.markTime = p.high, time.Now()
			}
			transfer.Report(o.Progress, p.status(o.Item))
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if cause := context.Cause(ctx); cause != nil && ctx.Err() != nil {
				var se *stallError
				if errors.As(cause, &se) {
					return fmt.Errorf("%w (%v)", cause, err)
				}
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
