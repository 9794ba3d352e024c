package agent

import (
	"log/slog"
	"sync"
	"time"
)

// limiter logs a message of one kind at most once per interval, and says how
// many were suppressed in between, so bad input or a flapping backend cannot
// flood the log.
type limiter struct {
	log      *slog.Logger
	interval time.Duration
	now      func() time.Time

	mu    sync.Mutex
	kinds map[string]*limited
}

type limited struct {
	last       time.Time
	suppressed int
}

func newLimiter(log *slog.Logger) *limiter {
	return &limiter{log: log, interval: 10 * time.Second, now: time.Now, kinds: make(map[string]*limited)}
}

// Warn logs msg at warning level unless a message of the same kind was
// logged less than the interval ago.
func (l *limiter) Warn(kind, msg string, args ...any) {
	l.mu.Lock()
	k := l.kinds[kind]
	if k == nil {
		k = &limited{}
		l.kinds[kind] = k
	}
	now := l.now()
	if !k.last.IsZero() && now.Sub(k.last) < l.interval {
		k.suppressed++
		l.mu.Unlock()
		return
	}
	n := k.suppressed
	k.last, k.suppressed = now, 0
	l.mu.Unlock()
	if n > 0 {
		args = append(args, "suppressed_since_last", n)
	}
	l.log.Warn(msg, args...)
}
