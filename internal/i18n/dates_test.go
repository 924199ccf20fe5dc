package i18n

import (
	"testing"
	"time"
)

func TestDates(t *testing.T) {
	tm := time.Date(2026, 11, 26, 23, 30, 0, 0, time.UTC)
	if got := Date(tm).Localize(DE); got != "26.11.2026" {
		t.Errorf("DE %q", got)
	}
	if got := Date(tm).Localize(EN); got != "2026-11-26" || Date(tm).String() != got {
		t.Errorf("EN %q", got)
	}
	// Local: the date where the reader is (a different day east of UTC).
	loc := time.FixedZone("CET", 3600)
	if got := Date(tm.In(loc)).Localize(DE); got != "27.11.2026" {
		t.Errorf("in CET %q", got)
	}
	if got := FormatDateTime(EN, tm.In(time.Local)); got != tm.Local().Format("2006-01-02 15:04") {
		t.Errorf("FormatDateTime %q", got)
	}
}
