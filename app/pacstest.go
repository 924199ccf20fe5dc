package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"

	"github.com/bildbote/bildbote/internal/i18n"
)

// Why a PACS connection test failed; TestPACS wraps them in a
// *i18n.UserError (errors.Is works through it).
var (
	// ErrPACSUnreachable: no connection (refused, unknown host, timeout).
	ErrPACSUnreachable = errors.New("PACS unreachable")
	// ErrPACSUnauthorized: the PACS wants credentials (401/403).
	ErrPACSUnauthorized = errors.New("PACS refused access")
	// ErrPACSNotFound: no DICOMweb service at that URL (404).
	ErrPACSNotFound = errors.New("no DICOMweb service at this URL")
	// ErrPACSAnswer: any other answer that is not a QIDO-RS result.
	ErrPACSAnswer = errors.New("unexpected PACS answer")
)

// TestPACS checks that stowURL is a DICOMweb service the clinic can
// reach: a QIDO-RS search GET {stowURL}/studies?limit=1 asking for
// application/dicom+json. 200 and 204 (no studies yet) mean yes. The
// same base serves STOW-RS (POST {base}/studies), so a working search is
// a good sign that imports will work; it stores nothing.
//
// A dicom:// target (the settings' PACS field takes both notations) is
// checked with a C-ECHO instead (TestPACSTarget).
func (c *Core) TestPACS(ctx context.Context, stowURL string) error {
	if strings.HasPrefix(strings.ToLower(strings.TrimSpace(stowURL)), "dicom://") {
		return c.TestPACSTarget(ctx, stowURL, 0)
	}
	base := strings.TrimRight(strings.TrimSpace(stowURL), "/")
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		return i18n.NewError(i18n.KindInput, "app.pacs-url-invalid", stowURL).WithHint("app.pacs-url-invalid.hint")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/studies?limit=1", nil)
	if err != nil {
		return i18n.NewError(i18n.KindInput, "app.pacs-url-invalid", stowURL).WithHint("app.pacs-url-invalid.hint").Wrap(err)
	}
	req.Header.Set("Accept", "application/dicom+json")
	resp, err := c.client.Do(req)
	if err != nil {
		cause := fmt.Errorf("%w: %w", ErrPACSUnreachable, err)
		if errors.Is(err, syscall.ECONNREFUSED) {
			return i18n.NewError(i18n.KindTransient, "app.pacs-refused", base).WithHint("app.pacs-refused.hint").Wrap(cause)
		}
		return i18n.NewError(i18n.KindTransient, "app.pacs-unreachable", base).WithHint("app.pacs-refused.hint").Wrap(cause)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch resp.StatusCode {
	case http.StatusOK, http.StatusNoContent:
		return nil
	case http.StatusUnauthorized, http.StatusForbidden:
		return i18n.NewError(i18n.KindRefused, "app.pacs-unauthorized", base).WithHint("app.pacs-unauthorized.hint").
			Wrap(fmt.Errorf("%w: %s", ErrPACSUnauthorized, resp.Status))
	case http.StatusNotFound:
		return i18n.NewError(i18n.KindInput, "app.pacs-not-found", base).WithHint("app.pacs-not-found.hint").
			Wrap(fmt.Errorf("%w: %s", ErrPACSNotFound, resp.Status))
	}
	return i18n.NewError(i18n.KindTransient, "app.pacs-answer", base, resp.Status).
		Wrap(fmt.Errorf("%w: %s", ErrPACSAnswer, resp.Status))
}
