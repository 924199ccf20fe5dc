package app

import "context"

// LookupCommunity asks the portal ("" = configured) for an inbox by code
// and compares its key with the pin.
func (c *Core) LookupCommunity(ctx context.Context, portal, code string) (*Community, error) {
	return nil, errNotReady
}

// SearchCommunities finds inboxes by name.
func (c *Core) SearchCommunities(ctx context.Context, portal, query string) ([]Community, error) {
	return nil, errNotReady
}

// StartSend seals the chosen studies into an envelope in the spool and
// uploads it as a job.
func (c *Core) StartSend(ctx context.Context, req SendRequest) (*Job, error) {
	return nil, errNotReady
}
