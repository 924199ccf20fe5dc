package ui

import (
	"fmt"
	"time"

	"github.com/bildbote/bildbote/dicomscan"
	"github.com/bildbote/bildbote/internal/i18n"
)

// bytes formats a size for reading (1,5 MB in German, 1.5 MB in English).
func (u *UI) bytes(n int64) string { return dicomscan.HumanBytes(u.lang, n) }

// dateLayout is the local date format of the UI language.
func (u *UI) dateLayout() string {
	if u.lang == i18n.EN {
		return "2006-01-02"
	}
	return "02.01.2006"
}

// dicomDate shows a DICOM DA value (YYYYMMDD) in the local format; a value
// that is not a date is shown as it is.
func (u *UI) dicomDate(da string) string { return dicomscan.FormatDate(u.lang, da) }

// formatTime shows a point in time in the local format.
func (u *UI) formatTime(t time.Time) string {
	return t.Local().Format(u.dateLayout() + " 15:04")
}

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
