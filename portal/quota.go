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
// error code, its HTTP status and message.
type quotaError struct {
	status  int
	code    string
	message string
}

// usage sums the ledger for inbox and addr (lock held).
func (l *ledger) usage(inbox, addr string) (inboxBytes, addrBytes int64, addrActive int, stillToCome int64) {
	for _, e := range l.entries {
		if e.inbox == inbox {
			inboxBytes += e.size
		}
		if addr != "" && e.addr == addr {
			addrBytes += e.size
			if !e.finished {
				addrActive++
			}
		}
		if !e.finished {
			have := int64(0)
			if st, err := os.Stat(e.path); err == nil {
				have = st.Size()
			}
			stillToCome += max(e.size-have, 0)
		}
	}
	return
}

// reserve admits a new upload of size bytes into inbox from addr, or says
// which limit it would break. dataDir is checked for the free reserve.
func (s *Server) reserveUpload(id, inbox, addr string, size int64) *quotaError {
	lim := &s.cfg.Limits
	l := s.ledger
	l.mu.Lock()
	defer l.mu.Unlock()
	inboxBytes, addrBytes, addrActive, toCome := l.usage(inbox, addr)
	if lim.AddrActiveUploads > 0 && addrActive >= lim.AddrActiveUploads {
		return &quotaError{http.StatusTooManyRequests, "too-many-uploads",
			fmt.Sprintf("at most %d unfinished uploads per client; finish or cancel one first", lim.AddrActiveUploads)}
	}
	if lim.InboxPendingBytes > 0 && inboxBytes+size > lim.InboxPendingBytes {
		return &quotaError{http.StatusInsufficientStorage, "inbox-quota",
			fmt.Sprintf("this inbox holds %d of at most %d bytes not yet collected by the clinic; try again after it collected them", inboxBytes, lim.InboxPendingBytes)}
	}
	if lim.AddrPendingBytes > 0 && addrBytes+size > lim.AddrPendingBytes {
		return &quotaError{http.StatusRequestEntityTooLarge, "client-quota",
			fmt.Sprintf("uploads from this client hold %d of at most %d bytes not yet collected", addrBytes, lim.AddrPendingBytes)}
	}
	if lim.FreeReserve > 0 {
		free, err := diskspace.Free(s.cfg.DataDir)
		if err != nil || free-toCome-size < lim.FreeReserve {
			return &quotaError{http.StatusInsufficientStorage, "insufficient-storage",
				"the portal is short of disk space; try again later"}
		}
	}
	l.entries[id] = &ledgerEntry{inbox: inbox, addr: addr, size: size, created: time.Now(),
		path: filepath.Join(s.cfg.DataDir, uploadsDir, id)}
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
		e := &ledgerEntry{inbox: strings.ToLower(info.MetaData["community"]), addr: info.MetaData[metaClient],
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
