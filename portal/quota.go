package portal

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	tusd "github.com/tus/tusd/v2/pkg/handler"

	"github.com/bildbote/bildbote/internal/wire"
	"github.com/bildbote/bildbote/transfer/diskspace"
)

// ledger accounts for the bytes every inbox and every client address has
// on the portal and the clinic has not collected yet: uploads in progress
// by their declared length, filed envelopes by their size. It lives in
// memory and is rebuilt at start from the upload store and the inboxes.
type ledger struct {
	mu      sync.Mutex
	entries map[string]*ledgerEntry // by upload (= receipt) ID
}

type ledgerEntry struct {
	inbox    string // community code, lower case
	addr     string // throttleKey of the creator; "" when unknown
	size     int64
	path     string // the upload's data file, for what is still to come
	finished bool
	created  time.Time
}

func newLedger() *ledger { return &ledger{entries: map[string]*ledgerEntry{}} }

// quotaError is a refused creation: the limit that applies, as the JSON
// error code, its HTTP status and message, and the limit with what is
// held against it already (bytes; 0 when not a byte quota).
type quotaError struct {
	status      int
	code        string
	message     string
	limit, held int64
}

// tus is the refusal as a tusd error.
func (qe *quotaError) tus() tusd.Error {
	return tusLimitError(qe.status, qe.code, qe.message, qe.limit, qe.held)
}

// write answers the refusal.
func (qe *quotaError) write(w http.ResponseWriter) {
	writeLimitError(w, qe.status, qe.code, qe.message, qe.limit, qe.held)
}

// counted is what an entry counts against the quotas: a filed envelope
// or an upload in progress at its declared length, but an upload whose
// data has not grown for ReserveIdle only with the bytes it has (its
// reservation lapsed; a PATCH has to re-reserve). have is the bytes on
// disk of an unfinished upload.
func (e *ledgerEntry) counted(now time.Time, idle time.Duration) (n, have int64, lapsed bool) {
	if e.finished {
		return e.size, e.size, false
	}
	st, err := os.Stat(e.path)
	if err != nil {
		return e.size, 0, false // being created
	}
	if idle > 0 && now.Sub(st.ModTime()) > idle && now.Sub(e.created) > idle {
		return st.Size(), st.Size(), true
	}
	return e.size, st.Size(), false
}

// usage sums the ledger for inbox and addr, leaving out skip (lock held).
func (l *ledger) usage(inbox, addr, skip string, idle time.Duration) (inboxBytes, addrBytes int64, addrActive int, stillToCome int64) {
	now := time.Now()
	for id, e := range l.entries {
		if id == skip {
			continue
		}
		n, have, lapsed := e.counted(now, idle)
		if e.inbox == inbox {
			inboxBytes += n
		}
		if addr != "" && e.addr == addr {
			addrBytes += n
			if !e.finished {
				addrActive++
			}
		}
		if !e.finished && !lapsed {
			stillToCome += max(e.size-have, 0)
		}
	}
	return
}

// reserveUpload admits a new upload of size bytes into inbox from addr, or
// says which limit it would break.
func (s *Server) reserveUpload(id, inbox, addr string, size int64) *quotaError {
	l := s.ledger
	l.mu.Lock()
	defer l.mu.Unlock()
	if qe := s.checkQuotas(id, inbox, addr, size, 0, true); qe != nil {
		return qe
	}
	l.entries[id] = &ledgerEntry{inbox: inbox, addr: addr, size: size, created: time.Now(),
		path: filepath.Join(s.cfg.DataDir, uploadsDir, id)}
	return nil
}

// rereserve is the quota check of a PATCH: an upload whose reservation
// lapsed (idle for ReserveIdle) must fit again, else 507 or 413 and the
// client waits; an active one passes.
func (s *Server) rereserve(id string) *quotaError {
	l := s.ledger
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.entries[id]
	if e == nil {
		return nil
	}
	_, have, lapsed := e.counted(time.Now(), s.cfg.Limits.ReserveIdle)
	if !lapsed {
		return nil
	}
	return s.checkQuotas(id, e.inbox, e.addr, e.size, have, false)
}

// checkQuotas checks size more bytes (of which have are on disk already)
// for inbox and addr against the limits, the ledger without id (lock
// held). newUpload also applies the limit on unfinished uploads.
func (s *Server) checkQuotas(id, inbox, addr string, size, have int64, newUpload bool) *quotaError {
	lim := &s.cfg.Limits
	inboxBytes, addrBytes, addrActive, toCome := s.ledger.usage(inbox, addr, id, lim.ReserveIdle)
	if newUpload && lim.AddrActiveUploads > 0 && addrActive >= lim.AddrActiveUploads {
		return &quotaError{http.StatusTooManyRequests, "too-many-uploads",
			fmt.Sprintf("at most %d unfinished uploads per client; finish or cancel one first", lim.AddrActiveUploads), 0, 0}
	}
	if lim.InboxPendingBytes > 0 && inboxBytes+size > lim.InboxPendingBytes {
		return &quotaError{http.StatusInsufficientStorage, "inbox-quota",
			fmt.Sprintf("this inbox holds %d of at most %d bytes not yet collected by the clinic; try again after it collected them", inboxBytes, lim.InboxPendingBytes),
			lim.InboxPendingBytes, inboxBytes}
	}
	if lim.AddrPendingBytes > 0 && addrBytes+size > lim.AddrPendingBytes {
		return &quotaError{http.StatusRequestEntityTooLarge, "client-quota",
			fmt.Sprintf("uploads from this client hold %d of at most %d bytes not yet collected", addrBytes, lim.AddrPendingBytes),
			lim.AddrPendingBytes, addrBytes}
	}
	if lim.FreeReserve > 0 {
		free, err := diskspace.Free(s.cfg.DataDir)
		if err != nil || free-toCome-(size-have) < lim.FreeReserve {
			return &quotaError{http.StatusInsufficientStorage, "insufficient-storage",
				"the portal is short of disk space; try again later", 0, 0}
		}
	}
	return nil
}

// finishUploadEntry marks an upload as filed: it now counts as an envelope
// waiting for the clinic.
func (l *ledger) finish(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.entries[id]; e != nil {
		e.finished = true
	}
}

// remove forgets an upload or envelope (terminated, swept, acknowledged).
func (l *ledger) remove(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.entries, id)
}

// dropStale forgets reservations whose upload was never created (the
// store failed after the check) or whose unfinished upload is gone.
func (l *ledger) dropStale(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, e := range l.entries {
		if e.finished || now.Sub(e.created) < time.Minute {
			continue
		}
		if _, err := os.Stat(e.path + ".info"); err != nil {
			delete(l.entries, id)
		}
	}
}

// rebuildLedger reads the uploads on disk and the inboxes' pending items.
func (s *Server) rebuildLedger(ctx context.Context) error {
	l := s.ledger
	infos, _ := filepath.Glob(filepath.Join(s.cfg.DataDir, uploadsDir, "*.info"))
	for _, p := range infos {
		id := strings.TrimSuffix(filepath.Base(p), ".info")
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var info struct {
			Size           int64
			Offset         int64
			SizeIsDeferred bool
			MetaData       map[string]string
		}
		if json.Unmarshal(data, &info) != nil {
			continue
		}
		e := &ledgerEntry{inbox: strings.ToLower(info.MetaData[wire.MetaCommunity]), addr: info.MetaData[metaClient],
			size: info.Size, path: strings.TrimSuffix(p, ".info"), created: time.Now()}
		if !info.SizeIsDeferred && info.Offset == info.Size {
			if rec, err := s.store.receipt(id); err == nil && rec.Acknowledged {
				continue
			}
			e.finished = true
		}
		l.mu.Lock()
		l.entries[id] = e
		l.mu.Unlock()
	}
	all, err := s.store.allCommunities()
	if err != nil {
		return err
	}
	for _, c := range all {
		items, err := s.store.inbox(c.Code)
		if err != nil {
			return err
		}
		l.mu.Lock()
		for _, it := range items {
			if _, ok := l.entries[it.ID]; !ok {
				l.entries[it.ID] = &ledgerEntry{inbox: strings.ToLower(c.Code), size: it.Size, finished: true}
			}
		}
		l.mu.Unlock()
	}
	return ctx.Err()
}
