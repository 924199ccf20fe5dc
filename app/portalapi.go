package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/bildbote/bildbote/internal/i18n"
)

// This file speaks the portal's community/inbox JSON API (team wire
// contract, /api/v1). It is deliberately small: lookups, receipts, the
// inbox list, a resumable envelope download and the acknowledgement.

// apiError is the portal's JSON error body.
type apiError struct {
	Status  int
	Code    string `json:"error"`
	Message string `json:"message"`
}

func (e *apiError) Error() string {
	return fmt.Sprintf("portal: %d %s: %s", e.Status, e.Code, e.Message)
}

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
	p := strings.TrimRight(u.Path, "/")
	if i := strings.Index(p, "/dlx/"); i >= 0 {
		p = p[:i]
	} else if strings.HasSuffix(p, "/dlx") || strings.HasSuffix(p, "/c") {
		p = p[:strings.LastIndex(p, "/")]
	}
	root := u.Scheme + "://" + u.Host + p
	allowed := s.AllowedPortals
	if allowed == nil && c.Locked(SettingPortalURL) {
		allowed = []string{s.PortalURL}
	}
	if allowed != nil && !portalAllowed(root, allowed) {
		return "", i18n.NewError(i18n.KindRefused, "app.portal-not-allowed", root).WithHint("app.setting-locked.hint")
	}
	return root, nil
}

// getJSON GETs url into v; status errors become *apiError.
func (c *Core) doJSON(ctx context.Context, method, u, bearer string, v any) error {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return connectError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return statusError(resp)
	}
	if v == nil {
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(v); err != nil {
		return fmt.Errorf("portal answer from %s: %w", redact(u), err)
	}
	return nil
}

func statusError(resp *http.Response) error {
	ae := &apiError{Status: resp.StatusCode}
	json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(ae)
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return i18n.NewError(i18n.KindInput, "app.api-key-wrong").WithHint("app.api-key-wrong.hint").Wrap(ae)
	case resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusBadGateway ||
		resp.StatusCode == http.StatusGatewayTimeout || resp.StatusCode == http.StatusTooManyRequests ||
		resp.StatusCode >= 500:
		return i18n.NewError(i18n.KindTransient, "app.portal-busy", resp.StatusCode).WithHint("app.portal-busy.hint").Wrap(ae)
	}
	return ae
}

func connectError(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return i18n.NewError(i18n.KindTransient, "app.portal-unreachable").WithHint("app.portal-unreachable.hint").Wrap(err)
}

// redact drops the query (codes travel in ?token=) from a URL for errors.
func redact(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}

// wireCommunity is the portal's community JSON.
type wireCommunity struct {
	Code       string `json:"code"`
	Name       string `json:"name"`
	Recipients []struct {
		Recipient   string `json:"recipient"`
		Fingerprint string `json:"fingerprint"`
	} `json:"recipients"`
	MaxUploadBytes   int64  `json:"maxUploadBytes"`
	PasswordRequired bool   `json:"passwordRequired"`
	UploadURL        string `json:"uploadURL"`
}

func (c *Core) fetchCommunity(ctx context.Context, root, code string) (*wireCommunity, error) {
	var wc wireCommunity
	err := c.doJSON(ctx, http.MethodGet, root+"/api/v1/communities/"+url.PathEscape(code), "", &wc)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return nil, i18n.NewError(i18n.KindInput, "app.inbox-unknown", code).WithHint("app.inbox-unknown.hint")
	}
	if err != nil {
		return nil, err
	}
	return &wc, nil
}

func (c *Core) searchCommunities(ctx context.Context, root, q string) ([]wireCommunity, error) {
	var out struct {
		Communities []wireCommunity `json:"communities"`
	}
	if err := c.doJSON(ctx, http.MethodGet, root+"/api/v1/communities?q="+url.QueryEscape(q), "", &out); err != nil {
		return nil, err
	}
	return out.Communities, nil
}

func (c *Core) fetchReceipt(ctx context.Context, root, id string) (*UploadReceipt, error) {
	var rc UploadReceipt
	if err := c.doJSON(ctx, http.MethodGet, root+"/api/v1/receipts/"+url.PathEscape(id), "", &rc); err != nil {
		return nil, err
	}
	rc.Portal = root
	return &rc, nil
}

func (c *Core) inboxList(ctx context.Context, root, inbox, apiKey string) ([]InboxItem, error) {
	var out struct {
		Items []InboxItem `json:"items"`
	}
	err := c.doJSON(ctx, http.MethodGet, root+"/api/v1/inbox/"+url.PathEscape(inbox), apiKey, &out)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return nil, i18n.NewError(i18n.KindInput, "app.inbox-unknown", inbox).WithHint("app.inbox-unknown.hint")
	}
	return out.Items, err
}

func (c *Core) inboxAck(ctx context.Context, root, inbox, apiKey, id string) error {
	err := c.doJSON(ctx, http.MethodDelete, root+"/api/v1/inbox/"+url.PathEscape(inbox)+"/"+url.PathEscape(id), apiKey, nil)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return nil // already acknowledged (a retry after a lost answer)
	}
	return err
}

// inboxDownload fetches an envelope into dst, resuming a dst+".part" with
// Range/If-Range when the portal offers it. add counts new bytes.
func (c *Core) inboxDownload(ctx context.Context, root, inbox, apiKey, id, dst string, add func(int64)) error {
	part := dst + ".part"
	etagFile := part + ".etag"
	var have int64
	if fi, err := os.Stat(part); err == nil {
		have = fi.Size()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, root+"/api/v1/inbox/"+url.PathEscape(inbox)+"/"+url.PathEscape(id), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+apiKey)
	if etag, err := os.ReadFile(etagFile); err == nil && have > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(have, 10)+"-")
		req.Header.Set("If-Range", string(etag))
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return connectError(err)
	}
	defer resp.Body.Close()
	flags := os.O_CREATE | os.O_WRONLY
	switch resp.StatusCode {
	case http.StatusPartialContent:
		flags |= os.O_APPEND
		add(have)
	case http.StatusOK:
		flags |= os.O_TRUNC
	default:
		return statusError(resp)
	}
	if etag := resp.Header.Get("ETag"); etag != "" {
		os.WriteFile(etagFile, []byte(etag), 0o600)
	}
	f, err := os.OpenFile(part, flags, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, &countingReader{r: resp.Body, add: add})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return connectError(err)
	}
	os.Remove(etagFile)
	return os.Rename(part, dst)
}

type countingReader struct {
	r   io.Reader
	add func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.add(int64(n))
	}
	return n, err
}
