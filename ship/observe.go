package ship

import (
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// observer wraps the transport to see every attempt: its duration, its
// status class and whether the backend is reachable.
type observer struct {
	next http.RoundTripper
	c    *Client
}

func (o *observer) RoundTrip(req *http.Request) (*http.Response, error) {
	m := o.c.m
	m.RequestsInFlight.Inc()
	start := time.Now()
	resp, err := o.next.RoundTrip(req)
	m.RequestDuration.Observe(time.Since(start).Seconds())
	m.RequestsInFlight.Dec()
	status := statusOf(resp)
	m.Requests.WithLabelValues(StatusClass(status, err)).Inc()
	if Classify(status, err) == Transient && req.Context().Err() == nil {
		why := fmt.Sprintf("status %d", status)
		if err != nil {
			why = err.Error()
		}
		o.c.health.set(false, "backend unavailable: "+why)
		m.BackendUp.Set(0)
	} else if err == nil {
		o.c.health.set(true, "ok")
		m.BackendUp.Set(1)
	}
	return resp, err
}

// health is the backend's state as the last attempt saw it.
type health struct {
	mu     sync.Mutex
	ok     bool
	reason string
}

func (h *health) set(ok bool, reason string) {
	h.mu.Lock()
	h.ok, h.reason = ok, reason
	h.mu.Unlock()
}

func (h *health) get() (bool, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ok, h.reason
}

// limitedLog logs a message of one kind at most once per period and says
// how many were suppressed meanwhile.
type limitedLog struct {
	log    *slog.Logger
	period time.Duration

	mu   sync.Mutex
	last map[string]time.Time
	held map[string]int
}

func newLimitedLog(log *slog.Logger, period time.Duration) *limitedLog {
	return &limitedLog{log: log, period: period, last: map[string]time.Time{}, held: map[string]int{}}
}

func (l *limitedLog) Error(kind, msg string, args ...any) {
	l.mu.Lock()
	now := time.Now()
	if now.Sub(l.last[kind]) < l.period {
		l.held[kind]++
		l.mu.Unlock()
		return
	}
	n := l.held[kind]
	l.last[kind], l.held[kind] = now, 0
	l.mu.Unlock()
	if n > 0 {
		args = append(args, "suppressed", n)
	}
	l.log.Error(msg, args...)
}
