package app

import "context"

// InboxList lists the envelopes waiting in a community inbox.
func (c *Core) InboxList(ctx context.Context, portal, inbox, apiKey string) ([]InboxItem, error) {
	return nil, errNotReady
}

// StartImport downloads, decrypts, verifies and stores envelopes as a job,
// and acknowledges each on the portal only after it was stored.
func (c *Core) StartImport(req ImportRequest) (*Job, error) {
	return nil, errNotReady
}
