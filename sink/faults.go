package sink

import (
	"encoding/json"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Faults make the receiver misbehave the ways a real backend and network
// do. They can be replaced at run time with PUT /admin/faults.
type Faults struct {
	FailFraction float64 `json:"fail_fraction"` // share of batch requests failed: 500, 503+Retry-After, 429+Retry-After (date), or a connection reset, in equal parts
	Outage       bool    `json:"outage"`        // every batch request gets 503
	PoisonName   string  `json:"poison_name"`   // 422 for any batch holding an item of this name
	SlowFraction float64 `json:"slow_fraction"` // share of requests delayed by SlowMS
	SlowMS       int     `json:"slow_ms"`
	RetryAfter   int     `json:"retry_after"` // seconds; 0 means 1
	Seed         uint64  `json:"seed"`
}

type injector struct {
	mu sync.Mutex
	f  Faults
	r  *rand.Rand
}

func newInjector(f Faults) *injector {
	return &injector{f: f, r: rand.New(rand.NewPCG(f.Seed, f.Seed+1))}
}

func (in *injector) get() Faults {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.f
}

func (in *injector) set(f Faults) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.f = f
	in.r = rand.New(rand.NewPCG(f.Seed, f.Seed+1))
}

func (in *injector) poison() string { return in.get().PoisonName }

// draw decides one request's fate: a delay and a failure kind ("" for none).
func (in *injector) draw() (time.Duration, string, int) {
	in.mu.Lock()
	defer in.mu.Unlock()
	f := in.f
	var delay time.Duration
	if f.SlowFraction > 0 && in.r.Float64() < f.SlowFraction {
		delay = time.Duration(f.SlowMS) * time.Millisecond
	}
	retryAfter := max(f.RetryAfter, 1)
	if f.Outage {
		return delay, "outage", retryAfter
	}
	if f.FailFraction > 0 && in.r.Float64() < f.FailFraction {
		return delay, [...]string{"500", "503", "429", "reset"}[in.r.IntN(4)], retryAfter
	}
	return delay, "", retryAfter
}

// inject applies the faults to a batch request; it reports whether it
// answered (or dropped) the request.
func (s *Server) inject(w http.ResponseWriter, r *http.Request) bool {
	delay, kind, retryAfter := s.faults.draw()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return true
		}
	}
	if kind == "" {
		return false
	}
	s.mu.Lock()
	s.stats.FaultsInjected++
	s.mu.Unlock()
	switch kind {
	case "reset":
		s.mu.Lock()
		s.stats.Status["reset"]++
		s.mu.Unlock()
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			if tc, ok := conn.(*net.TCPConn); ok {
				tc.SetLinger(0) // RST, not FIN
			}
			conn.Close()
		}
	case "500":
		s.reject(w, http.StatusInternalServerError, "injected failure")
	case "429":
		w.Header().Set("Retry-After", time.Now().Add(time.Duration(retryAfter)*time.Second).UTC().Format(http.TimeFormat))
		s.reject(w, http.StatusTooManyRequests, "injected rate limit")
	default: // 503, outage
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
		s.reject(w, http.StatusServiceUnavailable, "injected unavailability")
	}
	return true
}

func (s *Server) getFaults(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(s.faults.get())
}

func (s *Server) putFaults(w http.ResponseWriter, r *http.Request) {
	var f Faults
	if err := json.NewDecoder(r.Body).Decode(&f); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.faults.set(f)
	w.WriteHeader(http.StatusNoContent)
}
