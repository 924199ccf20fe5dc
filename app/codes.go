package app

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// RedeemedCode is what the core remembers of a redeemed access code so it
// can remind before the code expires. The code itself, the date of birth
// and every other answer are never stored: only a masked form.
type RedeemedCode struct {
	ID         string    `json:"id"`
	Masked     string    `json:"masked"` // e.g. "XXXX-XXXX-1234"
	Portal     string    `json:"portal"`
	RedeemedAt time.Time `json:"redeemedAt"`
	// Expires is zero when the portal did not say (DLX v1 carries no
	// expiry; see the package doc).
	Expires time.Time `json:"expires,omitzero"`
	// Items are the descriptions of the items the code offered.
	Items []string `json:"items,omitempty"`
	// Saved lists the library folders saved from it.
	Saved []string `json:"saved,omitempty"`
}

// ExpiringWithin is how early the core warns of a code's expiry.
const ExpiringWithin = 7 * 24 * time.Hour

// MaskCode hides every letter and digit of an access code except the last
// four, keeping separators: "ABCD-EFGH-1234" → "XXXX-XXXX-1234".
func MaskCode(code string) string {
	code = strings.TrimSpace(code)
	keep := 4
	alnum := 0
	for _, r := range code {
		if isAlnum(r) {
			alnum++
		}
	}
	if alnum <= 6 {
		keep = 2
	}
	var b strings.Builder
	seen := 0
	for _, r := range code {
		if !isAlnum(r) {
			b.WriteRune(r)
			continue
		}
		seen++
		if seen > alnum-keep {
			b.WriteRune(r)
		} else {
			b.WriteByte('X')
		}
	}
	return b.String()
}

func isAlnum(r rune) bool {
	return r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
}

func (c *Core) putCode(rc *RedeemedCode) error {
	data, err := json.Marshal(rc)
	if err != nil {
		return err
	}
	return c.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCodes).Put([]byte(rc.ID), data)
	})
}

func (c *Core) updateCode(id string, change func(*RedeemedCode)) error {
	return c.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCodes)
		data := b.Get([]byte(id))
		if data == nil {
			return fmt.Errorf("code record %s not found", id)
		}
		var rc RedeemedCode
		if err := json.Unmarshal(data, &rc); err != nil {
			return err
		}
		change(&rc)
		out, err := json.Marshal(&rc)
		if err != nil {
			return err
		}
		return b.Put([]byte(id), out)
	})
}

// Codes lists the redeemed codes, newest first.
func (c *Core) Codes() ([]RedeemedCode, error) {
	var out []RedeemedCode
	err := c.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCodes).ForEach(func(_, v []byte) error {
			var rc RedeemedCode
			if err := json.Unmarshal(v, &rc); err != nil {
				return err
			}
			out = append(out, rc)
			return nil
		})
	})
	sort.Slice(out, func(a, b int) bool { return out[a].RedeemedAt.After(out[b].RedeemedAt) })
	return out, err
}

// ForgetCode deletes a redeemed code's record.
func (c *Core) ForgetCode(id string) error {
	return c.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketCodes).Delete([]byte(id)) })
}

// Notifications returns what the user should be told now — codes that
// expire within ExpiringWithin — and publishes each as an event.
func (c *Core) Notifications(now time.Time) ([]Notification, error) {
	codes, err := c.Codes()
	if err != nil {
		return nil, err
	}
	var notes []Notification
	for _, rc := range codes {
		if rc.Expires.IsZero() || rc.Expires.Before(now) || rc.Expires.Sub(now) > ExpiringWithin {
			continue
		}
		days := int64(rc.Expires.Sub(now).Hours() / 24)
		n := Notification{
			ID:   "code-expiring-" + rc.ID,
			Key:  "app.note.code-expiring",
			Args: []any{rc.Masked, rc.Expires, days}, // a time.Time: Text writes it the reader's way
		}
		notes = append(notes, n)
		c.notify(n)
	}
	return notes, nil
}
