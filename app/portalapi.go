package app

import (
	"context"
	"net/url"
	"strings"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/transfer"
	"github.com/bildbote/bildbote/transfer/dlx"
	"github.com/bildbote/bildbote/transfer/inbox"
)

// portalRoot turns what the user gave (a root, a DLX base, a code URL, or
// "" for the configured portal) into the portal's root URL, and refuses
// portals outside the policy's allowed_portals.
func (c *Core) portalRoot(given string) (string, error) {
	s := c.Settings()
	raw := strings.TrimSpace(given)
	if raw == "" {
		raw = s.PortalURL
	}
	if raw == "" {
		return "", i18n.NewError(i18n.KindInput, "app.portal-missing").WithHint("app.portal-missing.hint")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", i18n.NewError(i18n.KindInput, "app.portal-bad", raw).WithHint("app.portal-missing.hint")
	}
	root := u.Scheme + "://" + u.Host + dlx.TrimToRoot(u.Path)
	allowed := s.AllowedPortals
	if allowed == nil && c.Locked(SettingPortalURL) {
		allowed = []string{s.PortalURL}
	}
	if allowed != nil && !portalAllowed(root, allowed) {
		return "", i18n.NewError(i18n.KindRefused, "app.portal-not-allowed", root).WithHint("app.setting-locked.hint")
	}
	return root, nil
}

// inboxClient speaks the portal's community/inbox API (transfer/inbox).
func (c *Core) inboxClient(root, apiKey string, progress transfer.Progress) *inbox.Client {
	ic := &inbox.Client{Portal: root, APIKey: apiKey, HTTP: c.client, Progress: progress, Bandwidth: c.bandwidth()}
	ic.Retry.Initial = c.cfg.RetryInitial
	ic.Retry.MaxElapsed, ic.Retry.MaxBusy = c.networkBound(), c.busyBound()
	return ic
}

func (c *Core) fetchCommunity(ctx context.Context, root, code string) (*inbox.Community, error) {
	return c.inboxClient(root, "", nil).Community(ctx, code)
}
