package ui

import (
	"fmt"
	"time"

	"github.com/bildbote/bildbote/dicomscan"
	"github.com/bildbote/bildbote/internal/i18n"
)

// bytes formats a size for reading (1,5 MB in German, 1.5 MB in English).
func (u *UI) bytes(n int64) string { return i18n.Bytes(n).Localize(u.lang) }

// dicomDate shows a DICOM DA value (YYYYMMDD) in the local format; a value
// that is not a date is shown as it is.
func (u *UI) dicomDate(da string) string { return dicomscan.FormatDate(u.lang, da) }

// formatTime shows a point in time in the local format.
func (u *UI) formatTime(t time.Time) string { return i18n.FormatDateTime(u.lang, t) }

// formatDuration shows an ETA: "3 min", "45 s".
func formatDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return ""
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	default:
		return fmt.Sprintf("%d h %d min", int(d.Hours()), int(d.Minutes())%60)
	}
}

// n is t for a message about n things (see i18n.N).
func (u *UI) n(key string, n int, args ...any) string { return i18n.N(u.lang, key, n, args...) }

// summaryText is the line above the tree: patients, images, size.
func (u *UI) summaryText(patients, files int, bytes int64) string {
	return u.t("ui.send.summaryLine", u.n("ui.send.patients", patients, patients), u.n("ui.send.confirmImages", files, files), u.bytes(bytes))
}
