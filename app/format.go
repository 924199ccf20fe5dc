package app

import (
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
)

// DateLayout is the date format people of lang write: German 26.11.2026,
// English the unambiguous ISO 2026-11-26 (the same as DICOM dates via
// dicomscan.FormatDate). The GUI and the CLI both use it.
func DateLayout(lang i18n.Lang) string {
	if lang == i18n.EN {
		return "2006-01-02"
	}
	return "02.01.2006"
}

// FormatDate shows t's local calendar date in lang's format.
func FormatDate(lang i18n.Lang, t time.Time) string { return t.Local().Format(DateLayout(lang)) }

// FormatDateTime shows t's local date and time (hh:mm) in lang's format.
func FormatDateTime(lang i18n.Lang, t time.Time) string {
	return t.Local().Format(DateLayout(lang) + " 15:04")
}

// Text is the notification in lang; dates among its Args (time.Time) are
// written in lang's format.
func (n Notification) Text(lang i18n.Lang) string {
	args := make([]any, len(n.Args))
	for i, a := range n.Args {
		if t, ok := a.(time.Time); ok {
			a = FormatDate(lang, t)
		}
		args[i] = a
	}
	return i18n.T(lang, n.Key, args...)
}
