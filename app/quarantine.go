package app

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/bildbote/bildbote/internal/fileutil"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/transfer/envelope"
	"github.com/bildbote/bildbote/transfer/inbox"
)

// QuarantinedItem is an envelope from the inbox that could not be opened
// (not encrypted for this clinic's key, damaged, truncated, breaking the
// limits, unsafe paths in its manifest). It is kept as it was downloaded,
// still encrypted, in the state dir's quarantine folder, and was
// acknowledged on the portal as rejected so the inbox drains. The record
// holds no patient data: the envelope could not be read.
type QuarantinedItem struct {
	// ID names it in the quarantine (Core.DeleteQuarantined); derived, not
	// the portal's item ID.
	ID         string    `json:"id"`
	Portal     string    `json:"portal"`
	Inbox      string    `json:"inbox"`
	ItemID     string    `json:"itemId"`
	Size       int64     `json:"size"`
	SHA256     string    `json:"sha256,omitempty"`
	ReceivedAt time.Time `json:"receivedAt"`
	// QuarantinedAt is when it was moved here.
	QuarantinedAt time.Time `json:"quarantinedAt"`
	// Reason is one of "not-for-us", "corrupt", "verify", "limit" (the
	// reason the portal was given, too); ReasonText translates it.
	Reason string `json:"reason"`
	// Rejected is true once the portal acknowledged it as rejected.
	Rejected bool `json:"rejected"`
	// File is the encrypted envelope.
	File string `json:"file"`
}

// ReasonText is the reason in lang.
func (q *QuarantinedItem) ReasonText(lang i18n.Lang) string {
	return i18n.T(lang, "app.quarantine.reason."+q.Reason)
}

// quarantineReason is the reason an error of envelope.Open quarantines
// its envelope for, or "" when it does not (a transient error, a full
// disk, a newer format this version cannot read: updating helps, so it
// stays on the portal).
func quarantineReason(err error) string {
	var (
		nf *envelope.NotForUsError
		ce *envelope.CorruptError
		ve *envelope.VerifyError
		le *envelope.LimitError
	)
	switch {
	case errors.As(err, &nf):
		return "not-for-us"
	case errors.As(err, &ce):
		return "corrupt"
	case errors.As(err, &ve):
		return "verify"
	case errors.As(err, &le):
		return "limit"
	}
	return ""
}

// openError marks an error of envelope.Open in importItem.
type openError struct{ err error }

func (e *openError) Error() string { return e.err.Error() }
func (e *openError) Unwrap() error { return e.err }

func (c *Core) quarantineDir() string { return filepath.Join(c.stateDir, "quarantine") }

// quarantineID names an item of an inbox of a portal in the quarantine.
func quarantineID(portal, inboxCode, itemID string) string {
	return strings.TrimPrefix(localName(portal+"\x00"+strings.ToLower(inboxCode)+"\x00"+itemID), "item-")
}

// quarantine moves the downloaded envelope of it (work/<local>.age) into
// the quarantine with its record, then acknowledges it on the portal as
// rejected. It is safe to call again after an interruption: a record
// already there is kept, only the acknowledgement is repeated.
func (c *Core) quarantine(ctx context.Context, p *importParams, apiKey string, it InboxItem, reason string) (*QuarantinedItem, error) {
	if !inbox.ValidID(it.ID) {
		return nil, &inbox.BadItemError{ID: it.ID, Reason: "id"}
	}
	dir := c.quarantineDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	id := quarantineID(p.Portal, p.Inbox, it.ID)
	q, err := readQuarantined(root, id)
	if err != nil {
		q = &QuarantinedItem{ID: id, Portal: p.Portal, Inbox: p.Inbox, ItemID: it.ID, Size: it.Size, SHA256: it.SHA256,
			ReceivedAt: it.ReceivedAt, QuarantinedAt: time.Now().UTC(), Reason: reason, File: filepath.Join(dir, id+".age")}
		if err := os.Rename(filepath.Join(p.WorkDir, localName(it.ID)+".age"), q.File); err != nil {
			return nil, err
		}
		if err := writeQuarantined(root, q); err != nil {
			return nil, err
		}
	}
	if !q.Rejected {
		if err := c.inboxClient(p.Portal, apiKey, nil).Reject(ctx, p.Inbox, it.ID, q.Reason); err != nil {
			return nil, err
		}
		q.Rejected = true
		if err := writeQuarantined(root, q); err != nil {
			return nil, err
		}
	}
	return q, nil
}

func readQuarantined(root *os.Root, id string) (*QuarantinedItem, error) {
	data, err := root.ReadFile(id + ".json")
	if err != nil {
		return nil, err
	}
	var q QuarantinedItem
	if err := json.Unmarshal(data, &q); err != nil {
		return nil, err
	}
	if q.ID != id {
		return nil, errors.New("quarantine record names another item")
	}
	return &q, nil
}

func writeQuarantined(root *os.Root, q *QuarantinedItem) error {
	data, err := json.MarshalIndent(q, "", "  ")
	if err != nil {
		return err
	}
	return fileutil.WriteFileIn(root, q.ID+".json", data, 0o600)
}

// validQuarantineID: what quarantineID makes (hex), nothing a path can
// hide in.
func validQuarantineID(id string) bool {
	if len(id) != 20 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !('0' <= id[i] && id[i] <= '9' || 'a' <= id[i] && id[i] <= 'f') {
			return false
		}
	}
	return true
}

// Quarantine lists the quarantined envelopes, newest first.
func (c *Core) Quarantine() ([]QuarantinedItem, error) {
	root, err := os.OpenRoot(c.quarantineDir())
	if errors.Is(err, os.ErrNotExist) {
		return []QuarantinedItem{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer root.Close()
	entries, err := os.ReadDir(c.quarantineDir())
	if err != nil {
		return nil, err
	}
	out := []QuarantinedItem{}
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !validQuarantineID(id) {
			continue
		}
		q, err := readQuarantined(root, id)
		if err != nil {
			continue
		}
		q.File = filepath.Join(c.quarantineDir(), id+".age")
		out = append(out, *q)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].QuarantinedAt.After(out[j].QuarantinedAt) })
	return out, nil
}

// DeleteQuarantined deletes a quarantined envelope and its record.
func (c *Core) DeleteQuarantined(id string) error {
	id = strings.TrimSpace(id)
	if !validQuarantineID(id) {
		return i18n.NewError(i18n.KindInput, "app.quarantine.unknown", id).WithHint("app.quarantine.unknown.hint")
	}
	root, err := os.OpenRoot(c.quarantineDir())
	if err != nil {
		return i18n.NewError(i18n.KindInput, "app.quarantine.unknown", id).WithHint("app.quarantine.unknown.hint")
	}
	defer root.Close()
	if _, err := readQuarantined(root, id); err != nil {
		return i18n.NewError(i18n.KindInput, "app.quarantine.unknown", id).WithHint("app.quarantine.unknown.hint")
	}
	if err := root.Remove(id + ".age"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return root.Remove(id + ".json")
}

// quarantinedError is what an import that quarantined items ends with:
// each item's ID and reason, what to do.
func quarantinedError(qs []*QuarantinedItem) error {
	if len(qs) == 1 {
		q := qs[0]
		return i18n.NewError(i18n.KindRefused, "app.quarantined."+q.Reason, inbox.QuoteID(q.ItemID)).WithHint("app.quarantined." + q.Reason + ".hint")
	}
	var ids []string
	for _, q := range qs {
		ids = append(ids, inbox.QuoteID(q.ItemID))
	}
	return i18n.NewError(i18n.KindRefused, "app.quarantined.many", len(qs), strings.Join(ids, ", ")).WithHint("app.quarantined.many.hint")
}
