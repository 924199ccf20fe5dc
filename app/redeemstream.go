package app

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"

	"github.com/bildbote/bildbote/transfer"
	"github.com/bildbote/bildbote/transfer/dlx"
	"github.com/bildbote/bildbote/transfer/safezip"
)

// saveConcurrency is how many items a save job downloads at once: a
// portal prepares and serves several ZIPs in parallel, and one stream
// rarely fills both the link and the CPU that inflates it.
const saveConcurrency = 3

// errRestartStream ends an extraction whose download starts over.
var errRestartStream = errors.New("download starts over")

// zipStream extracts a study ZIP while it downloads: the download writes
// into a pipe, safezip.ExtractStream reads from it into a staging folder.
// When the download must start over, the extraction so far is dropped
// (safezip leaves nothing) and a new one begins.
type zipStream struct {
	ctx  context.Context
	dst  string
	opts safezip.StreamOptions

	pw     *io.PipeWriter
	done   chan streamResult
	result *streamResult // the current extraction's, once it ended
}

type streamResult struct {
	res *safezip.Result
	err error
}

func newZipStream(ctx context.Context, dst string, opts safezip.StreamOptions) *zipStream {
	z := &zipStream{ctx: ctx, dst: dst, opts: opts}
	z.start()
	return z
}

func (z *zipStream) start() {
	pr, pw := io.Pipe()
	z.pw, z.done, z.result = pw, make(chan streamResult, 1), nil
	done := z.done
	go func() {
		res, err := safezip.ExtractStream(z.ctx, pr, z.dst, safezip.Limits{}, z.opts)
		if err != nil {
			pr.CloseWithError(err) // the download's next Write returns err
		} else {
			pr.Close()
		}
		done <- streamResult{res, err}
	}()
}

func (z *zipStream) Write(p []byte) (int, error) { return z.pw.Write(p) }

// wait is the current extraction's result.
func (z *zipStream) wait() streamResult {
	if z.result == nil {
		r := <-z.done
		z.result = &r
	}
	return *z.result
}

func (z *zipStream) Restart() error {
	z.pw.CloseWithError(errRestartStream)
	if r := z.wait(); r.err != nil && !errors.Is(r.err, errRestartStream) {
		return r.err // it had failed already
	}
	z.start()
	return nil
}

// finish ends the stream with the download's outcome and returns the
// extraction's.
func (z *zipStream) finish(dlErr error) (*safezip.Result, error) {
	if dlErr != nil {
		z.pw.CloseWithError(dlErr)
	} else {
		z.pw.Close()
	}
	r := z.wait()
	if dlErr != nil {
		if r.err == nil {
			os.RemoveAll(z.dst) // cannot happen: the extraction needs the whole stream
		}
		return nil, dlErr
	}
	return r.res, r.err
}

// streamStudy downloads item id and extracts it into the new folder dst
// as it arrives; sync flushes the files before dst appears. A ZIP that
// cannot be read front to back is downloaded into a file beside dst and
// extracted from there.
func streamStudy(ctx context.Context, sess *dlx.Session, id, dst, work string, progress transfer.Progress, sync bool) (*safezip.Result, *dlx.DownloadResult, error) {
	z := newZipStream(ctx, dst, safezip.StreamOptions{Sync: sync})
	dl, err := sess.DownloadStream(ctx, id, z, work, progress)
	res, err := z.finish(err)
	if errors.Is(err, safezip.ErrNeedsRandomAccess) {
		file := dst + ".download"
		if dl, err = sess.DownloadFile(ctx, id, file, progress); err != nil {
			return nil, nil, err
		}
		defer os.Remove(file)
		transfer.Report(progress, transfer.Status{State: "unpacking"})
		res, err = safezip.ExtractFile(ctx, file, dst, safezip.Limits{}, nil)
	}
	if err != nil {
		return nil, nil, err
	}
	return res, dl, nil
}

// saveProgress sums the reports of the downloads running side by side
// into the job's progress.
type saveProgress struct {
	mu          sync.Mutex
	r           *jobRun
	base        int64 // bytes of finished items
	done, total map[int]int64
	finished    int
	items       int
}

func newSaveProgress(r *jobRun, base int64, items int) *saveProgress {
	return &saveProgress{r: r, base: base, done: map[int]int64{}, total: map[int]int64{}, items: items}
}

func (sp *saveProgress) item(i int) transfer.Progress {
	return transfer.ProgressFunc(func(st transfer.Status) {
		sp.mu.Lock()
		defer sp.mu.Unlock()
		if st.State != transfer.StateDone {
			sp.r.SetPhase(string(st.State))
		}
		sp.r.SetWait(st.Wait) // set while waiting for the network: "next try in …"
		if st.Total > 0 {
			sp.total[i] = st.Total
		}
		if st.Done > 0 || st.State == transfer.StateDownloading {
			sp.done[i] = st.Done
		}
		sp.report()
	})
}

func (sp *saveProgress) report() {
	done, total := sp.base, sp.base
	for k, d := range sp.done {
		done += d
		total += max(sp.total[k], d)
	}
	if total > sp.base {
		sp.r.SetTotal(max(sp.r.bytesTotal.Load(), total))
	}
	sp.r.SetDone(done)
}

// finish moves item i's bytes into the base.
func (sp *saveProgress) finish(i int, bytes int64) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	delete(sp.done, i)
	delete(sp.total, i)
	sp.base += bytes
	sp.finished++
	sp.r.SetItems(sp.finished, sp.items)
	sp.report()
}
