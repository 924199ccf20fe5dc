package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"syscall"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/transfer/stow"
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
// reach (stow.Client.Ping: a QIDO-RS search that stores nothing) and
// says in the user's words what is wrong when it is not.
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
	if _, err := url.Parse(base); err != nil {
		return i18n.NewError(i18n.KindInput, "app.pacs-url-invalid", stowURL).WithHint("app.pacs-url-invalid.hint").Wrap(err)
	}
	status, err := (&stow.Client{Base: base, HTTP: c.client}).Ping(ctx)
	if err != nil {
		cause := fmt.Errorf("%w: %w", ErrPACSUnreachable, err)
		if errors.Is(err, syscall.ECONNREFUSED) {
			return i18n.NewError(i18n.KindTransient, "app.pacs-refused", base).WithHint("app.pacs-refused.hint").Wrap(cause)
		}
		return i18n.NewError(i18n.KindTransient, "app.pacs-unreachable", base).WithHint("app.pacs-refused.hint").Wrap(cause)
	}
	switch status {
	case http.StatusOK, http.StatusNoContent:
		return nil
	case http.StatusUnauthorized, http.StatusForbidden:
		return i18n.NewError(i18n.KindRefused, "app.pacs-unauthorized", base).WithHint("app.pacs-unauthorized.hint").
			Wrap(fmt.Errorf("%w: %d", ErrPACSUnauthorized, status))
	case http.StatusNotFound:
		return i18n.NewError(i18n.KindInput, "app.pacs-not-found", base).WithHint("app.pacs-not-found.hint").
			Wrap(fmt.Errorf("%w: %d", ErrPACSNotFound, status))
	}
	return i18n.NewError(i18n.KindTransient, "app.pacs-answer", base, httpStatusText(status)).
		Wrap(fmt.Errorf("%w: %d", ErrPACSAnswer, status))
}

// httpStatusText is "503 Service Unavailable", as resp.Status reads.
func httpStatusText(code int) string {
	if t := http.StatusText(code); t != "" {
		return fmt.Sprintf("%d %s", code, t)
	}
	return fmt.Sprint(code)
}
