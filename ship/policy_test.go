package ship

import (
	"errors"
	"net/http"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	cases := []struct {
		status int
		err    error
		want   Class
	}{
		{200, nil, OK}, {201, nil, OK}, {204, nil, OK},
		{400, nil, Permanent}, {409, nil, Permanent}, {422, nil, Permanent},
		{413, nil, TooLarge},
		{401, nil, Transient}, {403, nil, Transient}, {408, nil, Transient}, {429, nil, Transient},
		{500, nil, Transient}, {502, nil, Transient}, {503, nil, Transient}, {504, nil, Transient},
		{404, nil, Transient}, {301, nil, Transient},
		{0, errors.New("connection refused"), Transient},
	}
	for _, c := range cases {
		if got := Classify(c.status, c.err); got != c.want {
			t.Errorf("Classify(%d, %v) = %v, want %v", c.status, c.err, got, c.want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		v    string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"3", 3 * time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"0", 0, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true}, // in the past: retry now
		{"Wed, 25 Nov 2026 12:00:30 GMT", 30 * time.Second, true},
		{"99999999999999999999", 0, false},
	}
	for _, c := range cases {
		got, ok := RetryAfter(c.v, now)
		if got != c.want || ok != c.ok {
			t.Errorf("RetryAfter(%q) = %v %v, want %v %v", c.v, got, ok, c.want, c.ok)
		}
	}
}

func TestBackoff(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	r := 0.0
	b := Backoff{Min: 100 * time.Millisecond, Max: 2 * time.Second, RetryAfterMax: time.Minute,
		Now: func() time.Time { return now }, Rand: func() float64 { return r }}
	// Without jitter draw (r = 0) the wait is half the step; with r -> 1 the full step.
	for attempt, want := range map[int]time.Duration{1: 50 * time.Millisecond, 2: 100 * time.Millisecond, 3: 200 * time.Millisecond, 10: time.Second, 60: time.Second} {
		if got := b.Wait(attempt, nil); got != want {
			t.Errorf("attempt %d: %v, want %v", attempt, got, want)
		}
	}
	r = 0.999999
	if got := b.Wait(60, nil); got > 2*time.Second || got < 1999*time.Millisecond {
		t.Errorf("capped wait %v, want just under 2s", got)
	}
	resp := &http.Response{Header: http.Header{}}
	resp.Header.Set("Retry-After", "7")
	if got := b.Wait(1, resp); got != 7*time.Second {
		t.Errorf("Retry-After seconds: %v", got)
	}
	resp.Header.Set("Retry-After", now.Add(30*time.Second).Format(http.TimeFormat))
	if got := b.Wait(1, resp); got != 30*time.Second {
		t.Errorf("Retry-After date: %v", got)
	}
	resp.Header.Set("Retry-After", "86400")
	if got := b.Wait(1, resp); got != time.Minute {
		t.Errorf("Retry-After cap: %v", got)
	}
	resp.Header.Set("Retry-After", "garbage")
	if got := b.Wait(2, resp); got < 100*time.Millisecond || got > 200*time.Millisecond {
		t.Errorf("unreadable Retry-After falls back to backoff: %v", got)
	}
}
