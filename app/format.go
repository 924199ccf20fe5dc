package app

import (
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
)

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
