// Package ratelog logs a repeated message at most once per period per kind
// and says how many were held back in between, so a stream of bad lines, a
// flapping backend or a file that cannot be read never floods the log.
package ratelog

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// maxKinds bounds the kinds remembered; past it the memory starts afresh
// (at worst one extra line per kind), so per-path kinds cannot grow it
// without end.
const maxKinds = 4096

// Logger wraps a slog.Logger. The zero value is not usable; use New.
type Logger struct {
	log    *slog.Logger
	period time.Duration
	now    func() time.Time // injectable for tests

	mu    sync.Mutex
	kinds map[string]*kind
}

type kind struct {
	last time.Time
	held int
}

// New returns a Logger that lets one message of a kind through per period.
func New(log *slog.Logger, period time.Duration) *Logger {
	return &Logger{log: log, period: period, now: time.Now, kinds: make(map[string]*kind)}
}

// Warn logs msg at warning level unless a message of the same kind was
// logged less than a period ago. A message that follows held-back ones
// carries their count as "suppressed".
func (l *Logger) Warn(kindName, msg string, args ...any) {
	l.logAt(slog.LevelWarn, kindName, msg, args)
}

// Error is Warn at error level.
func (l *Logger) Error(kindName, msg string, args ...any) {
	l.logAt(slog.LevelError, kindName, msg, args)
}

func (l *Logger) logAt(level slog.Level, kindName, msg string, args []any) {
	l.mu.Lock()
	k := l.kinds[kindName]
	if k == nil {
		if len(l.kinds) >= maxKinds {
			clear(l.kinds)
		}
		k = &kind{}
		l.kinds[kindName] = k
	}
	now := l.now()
	if !k.last.IsZero() && now.Sub(k.last) < l.period {
		k.held++
		l.mu.Unlock()
		return
	}
	n := k.held
	k.last, k.held = now, 0
	l.mu.Unlock()
	if n > 0 {
		args = append(args, "suppressed", n)
	}
	l.log.Log(context.Background(), level, msg, args...)
}
