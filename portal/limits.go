package portal

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"
)

// Limits bound what anonymous clients can make the portal spend: memory
// (password hashing), disk (pending bytes, uploads, metadata) and
// connections (slow upload bodies). Zero values take the defaults named;
// a negative value switches a limit off where that is noted. The package
// doc explains how to size them.
type Limits struct {
	// HashSlots is how many argon2id checks (answers and upload
	// passwords alike) run at once; each needs 19 MiB (max(2, CPUs)).
	HashSlots int
	// HashWait is how long a request waits for a hash slot before it is
	// answered 503 with a Retry-After (5 seconds).
	HashWait time.Duration

	// PasswordAddrFailures wrong upload passwords from one client address
	// (an IPv6 /64) lock that address out (5).
	PasswordAddrFailures int
	// PasswordInboxFailures wrong upload passwords for one inbox, from
	// any address, lock the inbox's password for everyone (50).
	PasswordInboxFailures int
	// PasswordLockout is the first lock-out; it doubles with every further
	// failure (1 minute).
	PasswordLockout time.Duration
	// PasswordLockoutMax caps the doubling (24 hours for an address; an
	// inbox is locked at most a twelfth of it, 2 hours by default).
	PasswordLockoutMax time.Duration

	// InboxPendingBytes caps the bytes an inbox holds that its clinic has
	// not collected yet: filed envelopes plus the declared length of
	// uploads in progress (64 GiB; negative: no cap).
	InboxPendingBytes int64
	// AddrPendingBytes caps the same per client address, over all inboxes
	// (32 GiB, above one upload of DefaultMaxUploadBytes; negative: no cap).
	AddrPendingBytes int64
	// AddrActiveUploads caps the unfinished uploads per client address (8;
	// negative: no cap).
	AddrActiveUploads int
	// ReserveIdle: an unfinished upload whose data has not grown for this
	// long counts against the quotas only with the bytes it has, so
	// uploads declared and never sent cannot block an inbox for long; its
	// next PATCH must fit the quotas again (1 hour; negative: never).
	ReserveIdle time.Duration
	// FreeReserve is the free space the data dir's file system keeps: a
	// new upload that would leave less (counting what uploads in progress
	// still have to send) is refused with 507, and a PATCH is refused when
	// less than half of it is free, so codes and receipts can still be
	// written (2 GiB; negative: no reserve).
	FreeReserve int64

	// MetadataBytes caps the Upload-Metadata header of a new upload
	// (4 KiB), MetadataValueBytes one decoded value (1 KiB) and
	// MetadataKeys the number of keys (16).
	MetadataBytes      int
	MetadataValueBytes int
	MetadataKeys       int

	// BodyTimeout is the longest one PATCH body may take (15 minutes); the
	// bytes received until then are kept and the client resumes.
	BodyTimeout time.Duration
	// MinBodyRate is the slowest a body may arrive, in bytes per second,
	// measured over each MinRateWindow (1024 B/s over 30 s).
	MinBodyRate   int64
	MinRateWindow time.Duration
}

// Default limits (see Limits).
const (
	DefaultHashWait           = 5 * time.Second
	DefaultInboxPendingBytes  = 64 << 30
	DefaultAddrPendingBytes   = 32 << 30
	DefaultAddrActiveUploads  = 8
	DefaultFreeReserve        = 2 << 30
	DefaultReserveIdle        = time.Hour
	DefaultMetadataBytes      = 4 << 10
	DefaultMetadataValueBytes = 1 << 10
	DefaultMetadataKeys       = 16
	DefaultBodyTimeout        = 15 * time.Minute
	DefaultMinBodyRate        = 1024
	DefaultMinRateWindow      = 30 * time.Second
)

func (l *Limits) setDefaults() {
	if l.HashSlots <= 0 {
		l.HashSlots = max(2, runtime.NumCPU())
	}
	if l.HashWait <= 0 {
		l.HashWait = DefaultHashWait
	}
	if l.PasswordAddrFailures <= 0 {
		l.PasswordAddrFailures = 5
	}
	if l.PasswordInboxFailures <= 0 {
		l.PasswordInboxFailures = 50
	}
	if l.PasswordLockout <= 0 {
		l.PasswordLockout = time.Minute
	}
	if l.PasswordLockoutMax <= 0 {
		l.PasswordLockoutMax = 24 * time.Hour
	}
	l.PasswordLockoutMax = max(l.PasswordLockoutMax, l.PasswordLockout)
	if l.InboxPendingBytes == 0 {
		l.InboxPendingBytes = DefaultInboxPendingBytes
	}
	if l.AddrPendingBytes == 0 {
		l.AddrPendingBytes = DefaultAddrPendingBytes
	}
	if l.AddrActiveUploads == 0 {
		l.AddrActiveUploads = DefaultAddrActiveUploads
	}
	if l.ReserveIdle == 0 {
		l.ReserveIdle = DefaultReserveIdle
	}
	if l.FreeReserve == 0 {
		l.FreeReserve = DefaultFreeReserve
	}
	if l.MetadataBytes <= 0 {
		l.MetadataBytes = DefaultMetadataBytes
	}
	if l.MetadataValueBytes <= 0 {
		l.MetadataValueBytes = DefaultMetadataValueBytes
	}
	if l.MetadataKeys <= 0 {
		l.MetadataKeys = DefaultMetadataKeys
	}
	if l.BodyTimeout <= 0 {
		l.BodyTimeout = DefaultBodyTimeout
	}
	if l.MinBodyRate == 0 {
		l.MinBodyRate = DefaultMinBodyRate
	}
	if l.MinRateWindow <= 0 {
		l.MinRateWindow = DefaultMinRateWindow
	}
}

// inboxLockoutMax is the cap of an inbox-wide password lock: shorter than
// an address's, because anyone can trigger it.
func (l *Limits) inboxLockoutMax() time.Duration {
	return max(l.PasswordLockout, l.PasswordLockoutMax/12)
}

// --- one pool for every password hash ---

// errBusy: no hash slot became free within HashWait.
var errBusy = fmt.Errorf("all password checks busy")

// hashSlot takes one of the HashSlots (s.hashSlots), waiting at most
// HashWait. Every argon2id verification of a request goes through it.
func (s *Server) hashSlot(ctx context.Context) (release func(), err error) {
	select {
	case s.hashSlots <- struct{}{}:
		return func() { <-s.hashSlots }, nil
	default:
	}
	t := time.NewTimer(s.cfg.Limits.HashWait)
	defer t.Stop()
	select {
	case s.hashSlots <- struct{}{}:
		return func() { <-s.hashSlots }, nil
	case <-t.C:
		return nil, errBusy
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// retryAfter renders a wait as whole seconds, at least 1.
func retryAfter(d time.Duration) string {
	return fmt.Sprint(max(int((d+time.Second-1)/time.Second), 1))
}

// --- lock-out with backoff for upload passwords ---

// backoffLock counts failures per key (an address or an inbox). After
// threshold failures the key is locked for base, doubling with every
// further failure up to ceiling. Failures are forgotten a day after the
// last one once no lock is running.
type backoffLock struct {
	threshold     int
	base, ceiling time.Duration

	mu      sync.Mutex
	entries map[string]*backoffEntry
}

type backoffEntry struct {
	failures    int
	lockedUntil time.Time
	prevUntil   time.Time // lockedUntil before the last begin, for undo
	last        time.Time
}

func newBackoffLock(threshold int, base, ceiling time.Duration) *backoffLock {
	return &backoffLock{threshold: threshold, base: base, ceiling: ceiling, entries: map[string]*backoffEntry{}}
}

func (b *backoffLock) lockFor(failures int) time.Duration {
	if failures < b.threshold {
		return 0
	}
	n := min(failures-b.threshold, 30)
	d := b.base << n
	if d <= 0 || d > b.ceiling {
		return b.ceiling
	}
	return d
}

// begin counts an attempt for key as a failure (until undo takes it back)
// unless key is locked; then it returns how long the lock still runs.
func (b *backoffLock) begin(key string, now time.Time) (wait time.Duration, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.entries[key]
	if e == nil {
		if len(b.entries) >= maxBackoffEntries {
			b.prune(now)
			if len(b.entries) >= maxBackoffEntries {
				return b.base, false // the table is full of running locks
			}
		}
		e = &backoffEntry{}
		b.entries[key] = e
	}
	if now.Before(e.lockedUntil) {
		return e.lockedUntil.Sub(now), false
	}
	if now.Sub(e.last) > 24*time.Hour {
		e.failures = 0
	}
	e.failures++
	e.last = now
	e.prevUntil = e.lockedUntil
	if d := b.lockFor(e.failures); d > 0 {
		e.lockedUntil = now.Add(d)
	}
	return 0, true
}

// undo takes back the failure begin counted (the password was right, or
// the check never ran), and the lock that failure started. Earlier
// failures stay: the next wrong password locks for twice as long.
func (b *backoffLock) undo(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e := b.entries[key]; e != nil && e.failures > 0 {
		e.failures--
		e.lockedUntil = e.prevUntil
	}
}

// lockedFor is how long key stays locked (0 when it is not).
func (b *backoffLock) lockedFor(key string, now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e := b.entries[key]; e != nil && now.Before(e.lockedUntil) {
		return e.lockedUntil.Sub(now)
	}
	return 0
}

// maxBackoffEntries bounds a lock table's memory (about 100 bytes each).
const maxBackoffEntries = 100_000

// prune drops every key that is not locked now (lock held): under a
// flood of addresses their counts are the price of bounded memory.
func (b *backoffLock) prune(now time.Time) {
	for k, e := range b.entries {
		if !now.Before(e.lockedUntil) {
			delete(b.entries, k)
		}
	}
}

// forget drops keys without a failure for a day.
func (b *backoffLock) forget(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k, e := range b.entries {
		if now.Sub(e.last) > 24*time.Hour && now.After(e.lockedUntil) {
			delete(b.entries, k)
		}
	}
}
