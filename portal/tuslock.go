package portal

import (
	"context"
	"io"
	"sync"

	"github.com/tus/tusd/v2/pkg/filestore"
	tusd "github.com/tus/tusd/v2/pkg/handler"
	"github.com/tus/tusd/v2/pkg/memorylocker"
)

// tusd v2.10.0 has a data race between two goroutines of a PATCH whose
// upload lock another request asks to be released: the lock holder's
// handler sets its context's body (unrouted_handler.go, writeChunk) while
// the context's cancel goroutine reads it (context.go, newContext), with
// nothing ordering the two. `go test -race` catches it now and then
// (TestCreatorSecretAgainstPortal, 2 of 300 runs under load); without
// -race the effect is an interrupted PATCH that reads on instead of
// being closed at once.
//
// The fix here, short of a fork: a release request is passed on only
// after the holder has either reached the store's WriteChunk (which it
// calls after setting the body) or unlocked. Both are signalled through
// a channel closed by the holder's goroutine, so the body's write
// happens before the cancel that makes the other goroutine read it. The
// delay is at most the time from taking the lock to WriteChunk — a few
// checks in memory — or the rest of a request that writes nothing.

// orderedLocker is a tusd Locker around memorylocker whose release
// requests wait for the holder's gate (see above).
type orderedLocker struct {
	inner *memorylocker.MemoryLocker

	mu    sync.Mutex
	gates map[string]*lockGate // by upload ID, while a lock is held
}

// lockGate is closed (started) when the holder reaches WriteChunk or
// (released) when it unlocks, whichever comes first.
type lockGate struct {
	once sync.Once
	open chan struct{}
}

func (g *lockGate) pass() { g.once.Do(func() { close(g.open) }) }

func newOrderedLocker() *orderedLocker {
	return &orderedLocker{inner: memorylocker.New(), gates: map[string]*lockGate{}}
}

// UseIn sets the locker in composer.
func (l *orderedLocker) UseIn(composer *tusd.StoreComposer) { composer.UseLocker(l) }

// NewLock implements tusd.Locker.
func (l *orderedLocker) NewLock(id string) (tusd.Lock, error) {
	inner, err := l.inner.NewLock(id)
	if err != nil {
		return nil, err
	}
	return &orderedLock{locker: l, id: id, inner: inner}, nil
}

// passGate opens the gate of the lock held on id, if any.
func (l *orderedLocker) passGate(id string) {
	l.mu.Lock()
	g := l.gates[id]
	l.mu.Unlock()
	if g != nil {
		g.pass()
	}
}

type orderedLock struct {
	locker *orderedLocker
	id     string
	inner  tusd.Lock
	gate   *lockGate
}

// Lock implements tusd.Lock. The gate exists before the inner lock is
// taken, so a release request arriving the moment it is held finds it.
func (k *orderedLock) Lock(ctx context.Context, requestRelease func()) error {
	g := &lockGate{open: make(chan struct{})}
	deferred := func() {
		// The caller (another request waiting for this lock) must not
		// block here: it waits for the lock with its own timeout.
		go func() {
			<-g.open
			requestRelease()
		}()
	}
	if err := k.inner.Lock(ctx, deferred); err != nil {
		return err
	}
	k.gate = g
	k.locker.mu.Lock()
	k.locker.gates[k.id] = g
	k.locker.mu.Unlock()
	return nil
}

// Unlock implements tusd.Lock.
func (k *orderedLock) Unlock() error {
	k.locker.mu.Lock()
	if k.locker.gates[k.id] == k.gate {
		delete(k.locker.gates, k.id)
	}
	k.locker.mu.Unlock()
	if k.gate != nil {
		k.gate.pass()
	}
	return k.inner.Unlock()
}

// gatedStore is the file store whose uploads open their lock's gate on
// WriteChunk.
type gatedStore struct {
	filestore.FileStore
	locker *orderedLocker
}

// UseIn sets the store as tusd's core, terminater and length deferrer,
// as filestore.UseIn does (no concatenation, no content serving: the
// portal disables both).
func (s gatedStore) UseIn(composer *tusd.StoreComposer) {
	composer.UseCore(s)
	composer.UseTerminater(s)
	composer.UseLengthDeferrer(s)
}

func (s gatedStore) NewUpload(ctx context.Context, info tusd.FileInfo) (tusd.Upload, error) {
	up, err := s.FileStore.NewUpload(ctx, info)
	if err != nil {
		return nil, err
	}
	id := info.ID
	if fi, ierr := up.GetInfo(ctx); ierr == nil {
		id = fi.ID
	}
	return gatedUpload{Upload: up, id: id, locker: s.locker}, nil
}

func (s gatedStore) GetUpload(ctx context.Context, id string) (tusd.Upload, error) {
	up, err := s.FileStore.GetUpload(ctx, id)
	if err != nil {
		return nil, err
	}
	return gatedUpload{Upload: up, id: id, locker: s.locker}, nil
}

func (s gatedStore) AsTerminatableUpload(up tusd.Upload) tusd.TerminatableUpload {
	return s.FileStore.AsTerminatableUpload(unwrapUpload(up))
}

func (s gatedStore) AsLengthDeclarableUpload(up tusd.Upload) tusd.LengthDeclarableUpload {
	return s.FileStore.AsLengthDeclarableUpload(unwrapUpload(up))
}

func unwrapUpload(up tusd.Upload) tusd.Upload {
	if g, ok := up.(gatedUpload); ok {
		return g.Upload
	}
	return up
}

type gatedUpload struct {
	tusd.Upload
	id     string
	locker *orderedLocker
}

// WriteChunk opens the gate first: tusd set the request's body before
// calling it, on this goroutine.
func (u gatedUpload) WriteChunk(ctx context.Context, offset int64, src io.Reader) (int64, error) {
	u.locker.passGate(u.id)
	return u.Upload.WriteChunk(ctx, offset, src)
}
