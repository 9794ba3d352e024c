package ship

import (
	"context"
	"errors"
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
	// A request canceled by spanshipper (shutdown) says nothing about the
	// backend; one that ran out of --request-timeout does.
	if ctxErr := req.Context().Err(); Classify(status, err) == Transient && !errors.Is(ctxErr, context.Canceled) {
		if dl, ok := req.Context().Deadline(); ok && !time.Now().Before(dl) {
			err = context.DeadlineExceeded // the transport words it in several ways
		}
		o.c.health.set(false, "backend unavailable: "+Cause(status, "", err, o.c.cfg.RequestTimeout))
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
