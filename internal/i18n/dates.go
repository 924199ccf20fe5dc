package i18n

import "time"

// DateLayout is the date format people of lang write: German 26.11.2026,
// English the unambiguous ISO 2026-11-26. One layout for the screens,
// the CLI, error messages and DICOM dates (dicomscan.FormatDate).
func DateLayout(lang Lang) string {
	if lang == EN {
		return "2006-01-02"
	}
	return "02.01.2006"
}

// FormatDate shows t's local calendar date in lang's format.
func FormatDate(lang Lang, t time.Time) string { return t.Local().Format(DateLayout(lang)) }

// FormatDateTime shows t's local date and time (hh:mm) in lang's format.
func FormatDateTime(lang Lang, t time.Time) string {
	return t.Local().Format(DateLayout(lang) + " 15:04")
}

// Date is a calendar date for a message ("%s"), written in the reader's
// format when the message is (a Localizer, like Bytes): an error made
// before the reader's language is known still reads right in both. The
// date is the one in t's own location (UTC for a certificate's validity,
// local time for an expiry people wait for). String is the English form.
type Date time.Time

// Localize implements Localizer.
func (d Date) Localize(lang Lang) string { return time.Time(d).Format(DateLayout(lang)) }

// String is the English (ISO) form, for logs.
func (d Date) String() string { return d.Localize(EN) }
