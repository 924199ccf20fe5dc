package httpclient

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxRetryAfter caps what RetryAfter returns: a hostile or broken
// server's huge number must not overflow into a negative wait. Callers'
// retry policies cap each wait far lower still.
const MaxRetryAfter = 365 * 24 * time.Hour

// RetryAfter reads a Retry-After value (RFC 9110 §10.2.3): delta-seconds
// or an HTTP date. ok is false when v is empty or neither form (the
// caller uses its own default). The wait is never negative (a date in
// the past, "0": retry now) and at most MaxRetryAfter (a number too
// large for an int64 counts as the cap, not as garbage: the server
// clearly meant "long"). Negative or fractional numbers are not
// delta-seconds and are refused.
func RetryAfter(v string, now time.Time) (wait time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseUint(v, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		if err != nil || n > uint64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter, true
		}
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), MaxRetryAfter), true
	}
	return 0, false
}
