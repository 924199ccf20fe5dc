package app

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bildbote/bildbote/dicomscan"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/transfer"
)

// Causes a job's context is cancelled with.
var (
	errPaused   = errors.New("paused")
	errCanceled = errors.New("cancelled")
	errShutdown = errors.New("shutting down")
	errRetryNow = errors.New("retry now")
)

// kindSpec is how a job kind runs. run must be resumable: it reads its
// persisted params (jobRun.Params) and continues where they say. cleanup removes what a
// cancelled job leaves behind (spool files, partial downloads).
type kindSpec struct {
	run     func(ctx context.Context, r *jobRun) error
	cleanup func(j *Job)
}

// kinds is filled by the flow files' init functions.
var kinds = map[JobKind]kindSpec{}

// jobRun is a job while a goroutine works on it. The flow reports progress
// through it; the core's ticker turns that into throttled events.
type jobRun struct {
	core   *Core
	id     string
	kind   JobKind
	cancel context.CancelCauseFunc
	done   chan struct{}

	bytesDone, bytesTotal atomic.Int64
	itemsDone, itemsTotal atomic.Int64
	phase                 atomic.Value // string
	// retryAt is when a client waiting for the network tries again
	// (unix nanoseconds; 0: not waiting). See SetWait.
	retryAt atomic.Int64

	// attempt cancels the current attempt only (RetryNow); wake ends the
	// wait between two attempts.
	attemptMu sync.Mutex
	attempt   context.CancelCauseFunc
	wake      chan struct{}

	mu      sync.Mutex
	params  json.RawMessage
	receipt *Receipt

	// ticker state, guarded by tickMu (the ticker and the final flush)
	tickMu      sync.Mutex
	lastBytes   int64
	lastItems   int64
	lastPhase   string
	lastRetryAt int64
	lastPersist time.Time
	speed       float64
	lastTick    time.Time
	lastChange  time.Time
}

// SetPhase says what the job does now (see Job.Phase).
func (r *jobRun) SetPhase(p string) { r.phase.Store(p) }

func (r *jobRun) currentPhase() string {
	p, _ := r.phase.Load().(string)
	return p
}

// SetWait says that a client waits d before its next attempt (a
// transfer.Status in StateWaitingNetwork or StateWaitingServer carries
// it); 0 says it works again. Shown as "next try in …", and RetryNow
// cuts the wait short.
func (r *jobRun) SetWait(d time.Duration) {
	if d <= 0 {
		r.retryAt.Store(0)
		return
	}
	r.retryAt.Store(time.Now().Add(d).UnixNano())
}

func (r *jobRun) currentRetryAt() time.Time {
	if n := r.retryAt.Load(); n != 0 {
		return time.Unix(0, n).UTC()
	}
	return time.Time{}
}

// SetTotal sets the bytes the job will move.
func (r *jobRun) SetTotal(n int64) { r.bytesTotal.Store(n) }

// SetDone sets the bytes moved so far (for example a tus offset).
func (r *jobRun) SetDone(n int64) { r.bytesDone.Store(n) }

// Add counts n more bytes moved.
func (r *jobRun) Add(n int64) { r.bytesDone.Add(n) }

// SetItems sets done and total items.
func (r *jobRun) SetItems(done, total int) {
	r.itemsDone.Store(int64(done))
	r.itemsTotal.Store(int64(total))
}

// Params decodes the job's persisted parameters into v.
func (r *jobRun) Params(v any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return json.Unmarshal(r.params, v)
}

// SaveParams persists v as the job's parameters at once, so a kill right
// after (an upload URL just created) loses nothing.
func (r *jobRun) SaveParams(v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.params = data
	r.mu.Unlock()
	// Detail follows the params here, where they change: not on every
	// read or write of the job (progress ticks read it ten times a
	// second, and an import's params hold every instance's PACS result).
	return r.core.updateJob(r.id, func(j *Job) {
		j.params = data
		j.Detail = detailOf(j)
	})
}

// SetReceipt records what the job produced.
func (r *jobRun) SetReceipt(rc *Receipt) {
	r.mu.Lock()
	r.receipt = rc
	r.mu.Unlock()
}

// Job returns a snapshot of the job.
func (r *jobRun) Job() (*Job, error) { return r.core.jobs.get(r.id) }

// updateJob changes a stored job under the core's lock and returns the new
// snapshot.
func (c *Core) updateJob(id string, change func(*Job)) error {
	_, err := c.changeJob(id, change)
	return err
}

func (c *Core) changeJob(id string, change func(*Job)) (*Job, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	j, err := c.jobs.get(id)
	if err != nil {
		return nil, err
	}
	change(j)
	j.Updated = time.Now().UTC()
	if err := c.jobs.put(j); err != nil {
		return nil, err
	}
	return j, nil
}

// setState stores a state change and publishes it (and Finished/Failed).
func (c *Core) setState(id string, state JobState, change func(*Job)) *Job {
	j, err := c.changeJob(id, func(j *Job) {
		j.State = state
		if state != StateWaiting {
			j.RetryAt = time.Time{}
		}
		if change != nil {
			change(j)
		}
	})
	if err != nil {
		return nil
	}
	c.publish(Event{Type: EventJobState, Job: j})
	switch state {
	case StateDone:
		c.publish(Event{Type: EventJobFinished, Job: j})
	case StateFailed:
		c.publish(Event{Type: EventJobFailed, Job: j})
	}
	return j
}

// addJob stores a new queued job and starts it.
func (c *Core) addJob(kind JobKind, title string, params any) (*Job, error) {
	return c.addJobWithID(newJobID(), kind, jobTitle{plain: title}, params, nil, nil)
}

// addJobWithID is addJob with a chosen ID, an optional set-up of the run
// (initial totals) and an optional scanned index for the job to use.
func (c *Core) addJobWithID(id string, kind JobKind, title jobTitle, params any, setup func(*jobRun), ix *dicomscan.Index) (*Job, error) {
	data, err := json.Marshal(params)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	j := &Job{ID: id, Kind: kind, State: StateQueued, Title: title.plain, TitleKey: title.key, TitleArgs: title.args,
		Created: now, Updated: now, params: data}
	j.Detail = detailOf(j)
	if title.key != "" {
		j.Title = j.LocalTitle(i18n.EN)
	}
	if setup != nil {
		r := &jobRun{}
		setup(r)
		j.BytesTotal, j.BytesDone = r.bytesTotal.Load(), r.bytesDone.Load()
	}
	if ix != nil {
		c.mu.Lock()
		c.jobIndexes[id] = ix
		c.mu.Unlock()
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, errors.New("core is closed")
	}
	err = c.jobs.put(j)
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	c.publish(Event{Type: EventJobAdded, Job: j})
	if err := c.launch(j); err != nil {
		return nil, err
	}
	return j, nil
}

// launch starts a goroutine working on j unless one already does.
func (c *Core) launch(j *Job) error {
	spec, ok := kinds[j.Kind]
	if !ok {
		return errors.New("unknown job kind " + string(j.Kind))
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return errors.New("core is closed")
	}
	if _, busy := c.running[j.ID]; busy {
		c.mu.Unlock()
		return nil
	}
	ctx, cancel := context.WithCancelCause(c.ctx)
	r := &jobRun{core: c, id: j.ID, kind: j.Kind, cancel: cancel, done: make(chan struct{}), params: j.params,
		wake: make(chan struct{}, 1)}
	r.bytesDone.Store(j.BytesDone)
	r.bytesTotal.Store(j.BytesTotal)
	r.itemsDone.Store(int64(j.ItemsDone))
	r.itemsTotal.Store(int64(j.ItemsTotal))
	c.running[j.ID] = r
	c.mu.Unlock()
	go c.work(ctx, r, spec)
	return nil
}

// work runs a job to an end state, pausing or retrying on the way.
func (c *Core) work(ctx context.Context, r *jobRun, spec kindSpec) {
	defer func() {
		c.mu.Lock()
		delete(c.running, r.id)
		c.mu.Unlock()
		close(r.done)
	}()
	select {
	case c.sem <- struct{}{}:
		defer func() { <-c.sem }()
	case <-ctx.Done():
		c.stopped(ctx, r, spec)
		return
	}
	retry := newRetryDelay(c.cfg.RetryInitial)
	lastProgress := time.Now()
	for {
		c.setState(r.id, StateRunning, func(j *Job) { j.Error = nil; j.Interrupted = false; j.RetryAt = time.Time{} })
		before := r.bytesDone.Load()
		actx, acancel := context.WithCancelCause(ctx)
		r.attemptMu.Lock()
		r.attempt = acancel
		r.attemptMu.Unlock()
		err := spec.run(actx, r)
		r.attemptMu.Lock()
		r.attempt = nil
		r.attemptMu.Unlock()
		retryNow := ctx.Err() == nil && context.Cause(actx) == errRetryNow
		acancel(nil)
		r.SetWait(0)
		c.flushProgress(r)
		if retryNow {
			// The user pressed "try now" while a client waited for the
			// network: start the (resumable) run over at once.
			retry = newRetryDelay(c.cfg.RetryInitial)
			continue
		}
		if err == nil {
			r.mu.Lock()
			rc := r.receipt
			r.mu.Unlock()
			c.setState(r.id, StateDone, func(j *Job) { j.Receipt = rc; j.ETA = 0; j.Phase = "" })
			return
		}
		if ctx.Err() != nil {
			c.stopped(ctx, r, spec)
			return
		}
		if !IsTransient(err) {
			// A partial receipt (the envelopes imported before one was
			// refused) is kept: the user must see what did arrive.
			r.mu.Lock()
			rc := r.receipt
			r.mu.Unlock()
			c.setState(r.id, StateFailed, func(j *Job) { j.Error = jobErrorFrom(err); j.Receipt = rc })
			return
		}
		if r.bytesDone.Load() > before {
			lastProgress = time.Now()
			retry = newRetryDelay(c.cfg.RetryInitial)
		}
		if bound := c.networkBound(); bound > 0 && time.Since(lastProgress) > bound {
			gave := &transfer.GaveUpError{After: time.Since(lastProgress), Reason: transfer.Classify(err).Reason, Err: err}
			c.setState(r.id, StateFailed, func(j *Job) { j.Error = jobErrorFrom(gave) })
			return
		}
		wait := retry.next()
		c.setState(r.id, StateWaiting, func(j *Job) { j.Error = jobErrorFrom(err); j.RetryAt = time.Now().Add(wait).UTC() })
		select {
		case <-r.wake:
			retry = newRetryDelay(c.cfg.RetryInitial)
		case <-time.After(wait):
		case <-ctx.Done():
			c.stopped(ctx, r, spec)
			return
		}
	}
}

// stopped records why a job's context ended: pause, cancel or shutdown.
func (c *Core) stopped(ctx context.Context, r *jobRun, spec kindSpec) {
	switch context.Cause(ctx) {
	case errCanceled:
		j := c.setState(r.id, StateCanceled, nil)
		if spec.cleanup != nil && j != nil {
			spec.cleanup(j)
		}
	case errPaused:
		c.setState(r.id, StatePaused, nil)
	default: // shutdown: resumable, and resumed by ResumeInterrupted
		c.setState(r.id, StatePaused, func(j *Job) { j.Interrupted = true })
	}
}

// retryDelay grows from 1 s to 1 min with jitter-free doubling; simple on
// purpose: the transfer clients do their own fine-grained retries.
type retryDelay struct{ d time.Duration }

func newRetryDelay(initial time.Duration) *retryDelay {
	if initial <= 0 {
		initial = time.Second
	}
	return &retryDelay{d: initial / 2}
}

func (r *retryDelay) next() time.Duration {
	r.d *= 2
	if r.d > time.Minute {
		r.d = time.Minute
	}
	return r.d
}

// progressTicker is the one ticker that turns counters into progress
// events, at most 10 a second per job, and persists progress every 2 s.
func (c *Core) progressTicker() {
	defer c.wg.Done()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
		c.mu.Lock()
		runs := make([]*jobRun, 0, len(c.running))
		for _, r := range c.running {
			runs = append(runs, r)
		}
		c.mu.Unlock()
		for _, r := range runs {
			c.tick(r, false)
		}
	}
}

// flushProgress stores the final counters of a run.
func (c *Core) flushProgress(r *jobRun) { c.tick(r, true) }

func (c *Core) tick(r *jobRun, force bool) {
	r.tickMu.Lock()
	defer r.tickMu.Unlock()
	now := time.Now()
	done, items, phase := r.bytesDone.Load(), r.itemsDone.Load(), r.currentPhase()
	if r.lastTick.IsZero() {
		// first tick: no speed yet, but report where the job stands
		r.lastTick, r.lastChange = now, now
		r.lastBytes, r.lastItems = done, -1
	}
	dt := now.Sub(r.lastTick).Seconds()
	changed := done != r.lastBytes || items != r.lastItems || phase != r.lastPhase || r.retryAt.Load() != r.lastRetryAt
	if dt > 0 {
		inst := float64(done-r.lastBytes) / dt
		if inst < 0 {
			inst = 0
		}
		if r.speed == 0 {
			r.speed = inst
		} else {
			r.speed = 0.8*r.speed + 0.2*inst // smooth over ~0.5 s
		}
	}
	r.lastTick = now
	if !changed && !force {
		return
	}
	r.lastBytes, r.lastItems, r.lastPhase, r.lastChange = done, items, phase, now
	r.lastRetryAt = r.retryAt.Load()
	total := r.bytesTotal.Load()
	var eta time.Duration
	if r.speed > 0 && total > done {
		eta = time.Duration(float64(total-done) / r.speed * float64(time.Second))
	}
	retryAt := r.currentRetryAt()
	if !retryAt.IsZero() {
		// Waiting for the network: no speed, no time left to show.
		r.speed, eta = 0, 0
	}
	snap := func(j *Job) {
		j.BytesDone, j.BytesTotal = done, total
		j.ItemsDone, j.ItemsTotal = int(items), int(r.itemsTotal.Load())
		j.Speed, j.ETA, j.Phase = r.speed, eta, phase
		if j.State == StateRunning {
			j.RetryAt = retryAt
		}
	}
	var j *Job
	if force || now.Sub(r.lastPersist) > 2*time.Second {
		r.lastPersist = now
		j, _ = c.changeJob(r.id, snap)
	} else {
		c.mu.Lock()
		j, _ = c.jobs.get(r.id)
		c.mu.Unlock()
		if j != nil {
			snap(j)
		}
	}
	if j != nil {
		c.publish(Event{Type: EventJobProgress, Job: j})
	}
}

// markInterrupted turns jobs a previous process left unfinished into
// paused, interrupted jobs.
func (c *Core) markInterrupted() error {
	jobs, err := c.jobs.list()
	if err != nil {
		return err
	}
	for _, j := range jobs {
		if j.State == StateRunning || j.State == StateQueued || j.State == StateWaiting {
			j.State, j.Interrupted, j.Speed, j.ETA, j.RetryAt = StatePaused, true, 0, 0, time.Time{}
			if err := c.jobs.put(j); err != nil {
				return err
			}
		}
	}
	return nil
}
