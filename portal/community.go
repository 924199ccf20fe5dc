package portal

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/bildbote/bildbote/internal/wire"
)

// publicCommunity is what clients see of an inbox; its UploadURL is
// absolute on publicBase, so it keeps a path prefix of a reverse proxy.
func publicCommunity(c *community, base string) wire.Community {
	info := communityInfo(c)
	return wire.Community{
		Code: info.Code, Name: info.Name, Recipients: info.Recipients,
		MaxUploadBytes: info.MaxUploadBytes, PasswordRequired: info.PasswordRequired,
		UploadURL: base + wire.UploadsPath,
	}
}

func (s *Server) handleCommunity(w http.ResponseWriter, r *http.Request) {
	c, err := s.store.communityByCode(r.PathValue("code"))
	if err != nil {
		writeError(w, http.StatusNotFound, "unknown-community", "no community with this code")
		return
	}
	writeJSON(w, http.StatusOK, publicCommunity(c, s.publicBase(r)))
}

// handleCommunitySearch finds communities whose name or code contains q
// (case-insensitive); an empty q lists all.
func (s *Server) handleCommunitySearch(w http.ResponseWriter, r *http.Request) {
	q := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("q")))
	all, err := s.store.allCommunities()
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "cannot read communities")
		return
	}
	out := struct {
		Communities []wire.Community `json:"communities"`
	}{Communities: []wire.Community{}}
	for i := range all {
		c := &all[i]
		if q == "" || strings.Contains(strings.ToLower(c.Name), q) || strings.Contains(strings.ToLower(c.Code), q) {
			out.Communities = append(out.Communities, publicCommunity(c, s.publicBase(r)))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleReceipt(w http.ResponseWriter, r *http.Request) {
	rec, err := s.store.receipt(r.PathValue("id"))
	if err != nil {
		writeError(w, http.StatusNotFound, "unknown-receipt", "no receipt with this id")
		return
	}
	writeJSON(w, http.StatusOK, rec.Receipt)
}

// inboxAuth checks the clinic's API key for the community in the path.
// It writes the error and returns nil when the request may not proceed.
func (s *Server) inboxAuth(w http.ResponseWriter, r *http.Request) *community {
	c, err := s.store.communityByCode(r.PathValue("code"))
	if err != nil {
		writeError(w, http.StatusNotFound, "unknown-community", "no community with this code")
		return nil
	}
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(apiKeyHash(strings.TrimSpace(key))), []byte(c.APIKeyHash)) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="inbox"`)
		writeError(w, http.StatusUnauthorized, "bad-api-key", "missing or wrong API key")
		return nil
	}
	return c
}

func (s *Server) handleInboxList(w http.ResponseWriter, r *http.Request) {
	c := s.inboxAuth(w, r)
	if c == nil {
		return
	}
	items, err := s.store.inbox(c.Code)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "cannot read inbox")
		return
	}
	out := wire.InboxList{Items: []wire.InboxItem{}}
	for _, it := range items {
		out.Items = append(out.Items, wire.InboxItem{ID: it.ID, Size: it.Size, SHA256: it.SHA256, ReceivedAt: it.ReceivedAt})
	}
	writeJSON(w, http.StatusOK, out)
}

// inboxEntry authenticates the clinic (see inboxAuth) and finds the
// unacknowledged item {id} of its inbox. When either fails it has
// answered the request and returns a nil item.
func (s *Server) inboxEntry(w http.ResponseWriter, r *http.Request) (*community, *receiptRecord) {
	c := s.inboxAuth(w, r)
	if c == nil {
		return nil, nil
	}
	rec, err := s.store.receipt(r.PathValue("id"))
	if err != nil || rec.Acknowledged || !strings.EqualFold(rec.Community, c.Code) {
		writeError(w, http.StatusNotFound, "unknown-item", "no such item in this inbox")
		return nil, nil
	}
	return c, rec
}

func (s *Server) inboxPath(code, id string) string {
	return filepath.Join(s.cfg.DataDir, inboxDir, strings.ToLower(code), id)
}

func (s *Server) handleInboxGet(w http.ResponseWriter, r *http.Request) {
	c, rec := s.inboxEntry(w, r)
	if rec == nil {
		return
	}
	f, err := os.Open(s.inboxPath(c.Code, rec.ID))
	if err != nil {
		writeError(w, http.StatusInternalServerError, "missing-file", "stored file is missing")
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("ETag", `"`+rec.SHA256+`"`)
	w.Header().Set("Accept-Ranges", "bytes")
	w.Header().Set("Cache-Control", "private, no-transform")
	http.ServeContent(w, r, "", rec.ReceivedAt, f)
}

// handleInboxDelete acknowledges an item: the clinic imported it, so the
// portal forgets the envelope. With ?rejected=REASON the clinic could not
// open it (it keeps it in quarantine): the receipt records the reason and
// the time (no patient data, the portal never sees any) and the log says
// so; the envelope is deleted all the same, so the inbox drains.
func (s *Server) handleInboxDelete(w http.ResponseWriter, r *http.Request) {
	reason, rejected := r.URL.Query().Get(wire.RejectParam), r.URL.Query().Has(wire.RejectParam)
	if rejected && !slices.Contains(wire.RejectReasons, reason) {
		writeError(w, http.StatusBadRequest, "bad-reason", "rejected= must be one of "+strings.Join(wire.RejectReasons, ", "))
		return
	}
	c, rec := s.inboxEntry(w, r)
	if rec == nil {
		return
	}
	var err error
	if rejected {
		err = s.store.reject(rec.ID, reason)
	} else {
		err = s.store.acknowledge(rec.ID)
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "cannot acknowledge")
		return
	}
	if rejected {
		s.cfg.Logger.Warn("inbox item rejected by the clinic", "community", c.Code, "item", rec.ID, "size", rec.Size, "reason", reason)
	}
	s.ledger.remove(rec.ID)
	if err := os.Remove(s.inboxPath(c.Code, rec.ID)); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.cfg.Logger.Warn("remove acknowledged envelope", "err", err)
	}
	w.WriteHeader(http.StatusNoContent)
}

// rejectedReceipt is a receipt as stored once the clinic rejected it: the
// receipt's fields plus the reason and when (kept beside receiptRecord so
// that nothing else has to know).
type rejectedReceipt struct {
	receiptRecord
	Rejected   string    `json:"rejected"`
	RejectedAt time.Time `json:"rejectedAt"`
}

// reject acknowledges a receipt as rejected with reason.
func (s *Store) reject(id, reason string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketReceipts)
		var r rejectedReceipt
		if err := getJSON(b, []byte(id), &r); err != nil {
			return err
		}
		r.Acknowledged, r.Rejected, r.RejectedAt = true, reason, time.Now().UTC()
		return putJSON(b, []byte(id), &r)
	})
}
