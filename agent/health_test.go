package agent

import (
	"strings"
	"testing"
	"time"
)

func TestProgressTellsWaitingFromStuck(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	after := time.Minute
	var p progress
	p.moved.Store(t0.UnixNano())

	check := func(now time.Time, up bool, beat time.Time, want string) {
		t.Helper()
		err := p.stuck(now, after, up, beat)
		switch {
		case want == "" && err != nil:
			t.Fatalf("at +%s: %v, want not stuck", now.Sub(t0), err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Fatalf("at +%s: %v, want %q", now.Sub(t0), err, want)
		}
	}

	// Idle: nothing buffered, the reader turns.
	check(t0.Add(10*time.Minute), true, t0.Add(10*time.Minute), "")
	// Records read; the backend is down for an hour: waiting, not stuck.
	p.read()
	p.read()
	check(t0.Add(70*time.Minute), false, t0.Add(10*time.Minute), "")
	// The backend answers again but nothing is delivered: stuck.
	check(t0.Add(72*time.Minute), true, t0.Add(10*time.Minute), "2 records held")
	// An ack moves it on.
	p.acked(2, t0.Add(73*time.Minute))
	check(t0.Add(73*time.Minute+30*time.Second), true, t0.Add(73*time.Minute), "")
	if got := p.shipped.Load(); got != 2 {
		t.Fatalf("shipped %d, want 2", got)
	}
	// Nothing buffered but the reader loop stopped turning: stuck.
	check(t0.Add(80*time.Minute), true, t0.Add(73*time.Minute), "file reader has not turned")
	// A record read after a long quiet spell is not at once stuck.
	p.read()
	now := time.Now()
	check(now.Add(30*time.Second), true, now, "")
	check(now.Add(2*time.Minute), true, now, "1 records held")
}
