package httpclient

import (
	"testing"
	"time"
)

// TestRetryAfter: both forms, the edges a hostile server tries (huge,
// negative, fractional, past dates), and what counts as absent.
func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 4, 2, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		v    string
		want time.Duration
		ok   bool
	}{
		{"2", 2 * time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"0", 0, true},
		{"31536000", MaxRetryAfter, true},
		{"31536001", MaxRetryAfter, true},
		{"99999999999999999999", MaxRetryAfter, true},
		{"Fri, 04 Dec 2026 02:00:30 GMT", 30 * time.Second, true},
		{"Friday, 04-Dec-26 02:01:00 GMT", time.Minute, true}, // RFC 850, obsolete but allowed
		{"Fri Dec  4 02:00:10 2026", 10 * time.Second, true},  // asctime
		{"Fri, 04 Dec 2026 01:59:00 GMT", 0, true},
		{"Fri, 04 Dec 2099 02:00:00 GMT", MaxRetryAfter, true},
		{"", 0, false},
		{"-3", 0, false},
		{"1.5", 0, false},
		{"+5", 0, false},
		{"soon", 0, false},
		{"2026-12-04T02:00:30Z", 0, false},
	} {
		got, ok := RetryAfter(tc.v, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("RetryAfter(%q) = %v, %v; want %v, %v", tc.v, got, ok, tc.want, tc.ok)
		}
	}
}
