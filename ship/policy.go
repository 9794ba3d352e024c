package ship

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Class is what a response (or its absence) means for a batch.
type Class uint8

// The outcome classes of SPEC §4.
const (
	OK        Class = iota // 2xx: every item is accepted
	Transient              // retry the same request later
	Permanent              // 400, 409, 422: some item is bad; split to find it
	TooLarge               // 413: split
)

func (c Class) String() string {
	return [...]string{"ok", "transient", "permanent", "too_large"}[c]
}

// Classify maps an attempt's outcome to a Class. Connection errors and
// timeouts, 408, 429, 5xx, 401 and 403 are transient: an expired key or an
// outage must not destroy data. Any other status spanshipper does not know
// (404 from a wrong endpoint, 3xx) is transient too, for the same reason;
// the operator sees it in the logs, the metrics and /readyz.
func Classify(status int, err error) Class {
	switch {
	case err != nil:
		return Transient
	case status >= 200 && status < 300:
		return OK
	case status == http.StatusBadRequest, status == http.StatusConflict, status == http.StatusUnprocessableEntity:
		return Permanent
	case status == http.StatusRequestEntityTooLarge:
		return TooLarge
	default:
		return Transient
	}
}

// StatusClass is the requests metric's label for an attempt.
func StatusClass(status int, err error) string {
	if err != nil || status == 0 {
		return "error"
	}
	return strconv.Itoa(status/100) + "xx"
}

// Backoff computes the wait before retry number attempt (1 = the first
// retry): exponential from Min, capped at Max, with jitter drawn from Rand
// (in [0,1)) so a fleet of shippers does not retry in step. A Retry-After
// header on the response, in seconds or as an HTTP date relative to Now,
// overrides it, capped at RetryAfterMax.
type Backoff struct {
	Min, Max      time.Duration
	RetryAfterMax time.Duration
	Now           func() time.Time
	Rand          func() float64
}

// Wait returns how long to wait before the next attempt.
func (b Backoff) Wait(attempt int, resp *http.Response) time.Duration {
	if resp != nil {
		if d, ok := RetryAfter(resp.Header.Get("Retry-After"), b.Now()); ok {
			return min(d, b.RetryAfterMax)
		}
	}
	d := float64(b.Min) * math.Pow(2, float64(max(attempt-1, 0)))
	d = min(d, float64(b.Max))
	// Equal jitter: at least half the step, so the backoff still grows.
	return time.Duration(d/2 + b.Rand()*d/2)
}

// RetryAfter parses a Retry-After value: delay seconds or an HTTP date.
// It reports false for an empty or unreadable value.
func RetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		return time.Duration(min(secs, math.MaxInt64/int64(time.Second))) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
