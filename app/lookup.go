package app

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/transfer"
	"github.com/bildbote/bildbote/transfer/dlx"
	"github.com/bildbote/bildbote/transfer/httpclient"
)

// DefaultLookupTimeout bounds a look-up a person waits for (the questions
// of a code, the answers, an inbox's name and key): the window shows a
// clear error with a retry button instead of "asking the portal …" for
// minutes.
const DefaultLookupTimeout = 15 * time.Second

func (c *Core) lookupTimeout() time.Duration {
	if c.cfg.LookupTimeout > 0 {
		return c.cfg.LookupTimeout
	}
	return DefaultLookupTimeout
}

// lookupContext is ctx bounded by the look-up deadline.
func (c *Core) lookupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.lookupTimeout())
}

// lookupError turns what a look-up at portal ended with into what a person
// can act on. A cancel by the caller stays context.Canceled (the screen
// says nothing); a deadline, a refused or reset connection, DNS trouble or
// the retries giving up become "the portal <address> does not answer"
// (KindTransient, with a hint to check the address and the network); a
// lock-out after too many wrong answers says until when; user errors pass
// as they are.
func (c *Core) lookupError(parent context.Context, portal string, err error) error {
	if err == nil {
		return nil
	}
	if parent.Err() != nil {
		return context.Canceled
	}
	var wa *dlx.WrongAnswerError
	if errors.As(err, &wa) && wa.RetryAfter != "" {
		if until, ok := retryAfter(wa.RetryAfter, time.Now()); ok {
			return i18n.NewError(i18n.KindInput, "app.code-locked", c.formatUntil(until)).
				WithHint("app.code-locked.hint").Wrap(err)
		}
	}
	if _, ok := i18n.AsUserError(err); ok && !errors.Is(err, context.DeadlineExceeded) {
		var gu *transfer.GaveUpError
		if !errors.As(err, &gu) {
			return err
		}
	}
	if errors.Is(err, context.DeadlineExceeded) || transfer.Classify(err).Transient() || isGaveUp(err) {
		if portal == "" {
			portal = c.Settings().PortalURL
		}
		return i18n.NewError(i18n.KindTransient, "app.portal-no-answer", displayPortal(portal)).
			WithHint("app.portal-no-answer.hint").Wrap(err)
	}
	return err
}

func isGaveUp(err error) bool {
	var gu *transfer.GaveUpError
	return errors.As(err, &gu)
}

// displayPortal is the portal's address as people typed it: without the
// DLX base path.
func displayPortal(p string) string {
	return dlx.TrimToRoot(strings.TrimSpace(p))
}

// retryAfter reads a Retry-After header (seconds or an HTTP date).
func retryAfter(v string, now time.Time) (time.Time, bool) {
	d, ok := httpclient.RetryAfter(v, now)
	return now.Add(d), ok
}

// formatUntil is a point in time people wait for: "14:05" today, with the
// date when it is another day. Rounded up to the next minute, so "from
// 14:05" is never too early.
func (c *Core) formatUntil(t time.Time) string {
	t = t.Local()
	if r := t.Truncate(time.Minute); r.Before(t) {
		t = r.Add(time.Minute)
	}
	now := time.Now().Local()
	if t.Year() == now.Year() && t.YearDay() == now.YearDay() {
		return t.Format("15:04")
	}
	return i18n.FormatDateTime(c.lang(), t)
}

// lang is the language the user chose, else the environment's.
func (c *Core) lang() i18n.Lang {
	if l, ok := i18n.Parse(c.Settings().Language); ok {
		return l
	}
	return i18n.Detect()
}

// rememberPortal keeps the portal a code was redeemed at as the portal
// setting when none is set (a fresh install that was given the address
// on the redeem screen), so the next code needs only the code.
func (c *Core) rememberPortal(root string) {
	if root == "" || c.Settings().PortalURL != "" || c.Locked(SettingPortalURL) {
		return
	}
	_ = c.UpdateSettings(func(s *Settings) {
		if s.PortalURL == "" {
			s.PortalURL = root
		}
	})
}
