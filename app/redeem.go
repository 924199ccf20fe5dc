package app

import (
	"context"
	"sync"
	"time"
)

// RedeemSession is one access code being redeemed. It holds the code and
// the answers in memory only (to renew the download JWT); nothing of it is
// stored except the masked code (see Codes).
type RedeemSession struct {
	ID     string `json:"id"`
	Portal string `json:"portal"` // the DLX base URL
	Masked string `json:"masked"`
	// Questions are what the portal asks before it lists the items.
	Questions []Question `json:"questions"`
	// Items is filled by Answer.
	Items []Item `json:"items,omitempty"`
	// Expires is the code's expiry when the portal says (zero otherwise).
	Expires time.Time `json:"expires,omitzero"`

	mu      sync.Mutex
	core    *Core
	token   string
	answers map[string]string
}

// RedeemStart asks the portal which questions guard a code. portalOrURL
// is a portal root, a DLX base (…/dlx/v1) or "" (the configured portal);
// code is the code as typed, a code URL or the path of a QR image.
func (c *Core) RedeemStart(ctx context.Context, portalOrURL, code string) (*RedeemSession, error) {
	return nil, errNotReady
}

// Answer sends the answers (question ID → answer) and lists the items.
// A wrong answer or unknown code is KindInput; an expired code KindRefused.
func (s *RedeemSession) Answer(ctx context.Context, answers map[string]string) ([]Item, error) {
	return nil, errNotReady
}

// StartSave downloads the items into dir ("" = the library) as a job.
func (c *Core) StartSave(s *RedeemSession, itemIDs []string, dir string) (*Job, error) {
	return nil, errNotReady
}
