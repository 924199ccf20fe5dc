package app

import (
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
)

// FormatDate shows t's local calendar date in lang's format: it is
// i18n.FormatDate, the one place for dates (DICOM dates, expiry, error
// messages); this name stays until the last screen calls i18n directly.
func FormatDate(lang i18n.Lang, t time.Time) string { return i18n.FormatDate(lang, t) }

// Text is the notification in lang; dates among its Args (time.Time) are
// written in lang's format.
func (n Notification) Text(lang i18n.Lang) string {
	args := make([]any, len(n.Args))
	for i, a := range n.Args {
		if t, ok := a.(time.Time); ok {
			a = i18n.FormatDate(lang, t)
		}
		args[i] = a
	}
	return i18n.T(lang, n.Key, args...)
}
