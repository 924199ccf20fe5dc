package dlx

import (
	"context"
	"io"
	"net/http"
	"time"

	"github.com/bildbote/bildbote/transfer"
	"github.com/bildbote/bildbote/transfer/httpclient"
	"github.com/bildbote/bildbote/transfer/internal/fetch"
	"github.com/bildbote/bildbote/transfer/internal/retry"
)

// DefaultBusyWait is how long to wait after a 503 without timeOutInSeconds.
const DefaultBusyWait = 10 * time.Second

// DownloadResult describes a finished download.
type DownloadResult = fetch.Result

// SizeError: the server sent fewer or more bytes than it announced.
type SizeError = fetch.SizeError

// DownloadLimits bound one download: a byte cap (MaxBytes, default 32
// GiB — DLX lists no sizes), a stall window and budget, an overall time
// and how often a server may end short of its Content-Length.
type DownloadLimits = fetch.Limits

// Download fetches data item id into the file dst (replaced when done).
// An id that is not ValidID is an *UnknownItemError, nothing is requested.
func (s *Session) Download(ctx context.Context, id, dst string) (*DownloadResult, error) {
	if !ValidID(id) {
		return nil, &UnknownItemError{ID: QuoteID(id)}
	}
	return s.fetch(ctx, s.c.url("download", id), id, dst)
}

// DownloadFile is Download reporting to progress (nil: Client.Progress),
// for downloads running side by side.
func (s *Session) DownloadFile(ctx context.Context, id, dst string, progress transfer.Progress) (*DownloadResult, error) {
	if !ValidID(id) {
		return nil, &UnknownItemError{ID: QuoteID(id)}
	}
	o := s.options(s.c.url("download", id), id)
	if progress != nil {
		o.Progress = progress
	}
	return fetch.ToFile(ctx, dst, o)
}

// Stream receives a download as it arrives (DownloadStream): each byte
// once, in order, and Restart when the server cannot resume and the
// download starts over.
type Stream = fetch.Stream

// DownloadStream fetches data item id into st as it arrives (an archive
// extracted while it downloads), with Download's retries, resumption,
// JWT renewal and limits. An error of st's Write or Restart ends the
// download and is returned as it is. dir is where st writes (for the
// free-space check; may be ""); progress, when not nil, receives this
// download's reports instead of Client.Progress (several downloads can
// run at once).
func (s *Session) DownloadStream(ctx context.Context, id string, st Stream, dir string, progress transfer.Progress) (*DownloadResult, error) {
	if !ValidID(id) {
		return nil, &UnknownItemError{ID: QuoteID(id)}
	}
	o := s.options(s.c.url("download", id), id)
	if progress != nil {
		o.Progress = progress
	}
	return fetch.ToStream(ctx, st, dir, o)
}

// DownloadAll fetches every item as one IHE PDI ZIP into dst.
func (s *Session) DownloadAll(ctx context.Context, dst string) (*DownloadResult, error) {
	return s.fetch(ctx, s.c.url("downloadall"), "all", dst)
}

func (s *Session) fetch(ctx context.Context, u, item, dst string) (*DownloadResult, error) {
	return fetch.ToFile(ctx, dst, s.options(u, item))
}

func (s *Session) options(u, item string) fetch.Options {
	return fetch.Options{
		Item: item, Progress: s.c.Progress, Bandwidth: s.c.Bandwidth, Retry: s.c.Retry, Limits: s.c.Limits,
		Send: func(rctx context.Context, w *retry.Waiter, prepare func(*http.Request)) (*http.Response, error) {
			return s.authorized(rctx, w, func() (*http.Request, error) {
				req, err := s.c.newRequest(rctx, http.MethodGet, u, nil)
				if err == nil {
					prepare(req)
				}
				return req, err
			})
		},
		Refused: func(resp *http.Response) error {
			switch resp.StatusCode {
			case http.StatusBadRequest, http.StatusNotFound:
				return &UnknownItemError{ID: item}
			case http.StatusUnauthorized:
				return &WrongAnswerError{}
			case http.StatusForbidden:
				return &ExpiredError{}
			}
			return &StatusError{Op: "download", Status: resp.StatusCode}
		},
	}
}

// busyWait reads a 503's {"timeOutInSeconds": N} (or Retry-After),
// giving the body at most limit (a 503 dripping its body held the client
// for hours per answer).
func busyWait(resp *http.Response, limit time.Duration) time.Duration {
	var body struct {
		TimeOutInSeconds int `json:"timeOutInSeconds"`
	}
	cut := time.AfterFunc(limit, func() { resp.Body.Close() })
	defer cut.Stop()
	// A year at most, so that a huge number cannot overflow into a
	// negative wait; the retry policy caps each wait far lower.
	const maxSeconds = 365 * 24 * 3600
	if decodeJSON(io.LimitReader(resp.Body, 4<<10), &body) == nil && body.TimeOutInSeconds > 0 {
		return time.Duration(min(body.TimeOutInSeconds, maxSeconds)) * time.Second
	}
	if d, ok := httpclient.RetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok && d > 0 {
		return d
	}
	return DefaultBusyWait
}
