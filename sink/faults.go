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
// do. They apply to batch requests, before validation, in this order:
// Outage, FailFraction, SlowFraction, PoisonName. They can be replaced at
// run time with PUT /admin/faults. RejectAll comes right after Outage.
type Faults struct {
	// FailFraction is the share of batch requests failed, in equal parts
	// with 500, 503 + Retry-After (seconds), 429 + Retry-After (an HTTP
	// date) or a connection reset.
	FailFraction float64 `json:"fail_fraction"`
	// Outage answers every batch request with 503 + Retry-After.
	Outage bool `json:"outage"`
	// RejectAll answers every batch request with 422, as a backend with a
	// bad deploy or a changed schema does: the items are fine, the
	// backend is not.
	RejectAll bool `json:"reject_all"`
	// PoisonName rejects with 422 any batch holding an item of this name.
	PoisonName string `json:"poison_name"`
	// SlowFraction is the share of batch requests delayed by SlowMS.
	SlowFraction float64 `json:"slow_fraction"`
	// SlowMS is the delay of slow requests, in milliseconds.
	SlowMS int `json:"slow_ms"`
	// RetryAfter is the Retry-After of 503 and 429 answers, in seconds;
	// 0 means 1.
	RetryAfter int `json:"retry_after"`
	// Seed seeds the fault draws, so a run can be repeated.
	Seed int64 `json:"seed"`
}

// retryAfter is the effective Retry-After in seconds.
func (f Faults) retryAfter() int {
	if f.RetryAfter <= 0 {
		return 1
	}
	return f.RetryAfter
}

// fault is what a draw decided for one request.
type fault int

const (
	faultNone fault = iota
	faultOutage
	faultRejectAll
	fault500
	fault503
	fault429
	faultReset
)

// injector holds the faults and their random source.
type injector struct {
	mu sync.Mutex
	f  Faults
	r  *rand.Rand
}

func newInjector(f Faults) *injector {
	in := &injector{}
	in.set(f)
	return in
}

func (in *injector) get() Faults {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.f
}

// set replaces the faults and reseeds the draws.
func (in *injector) set(f Faults) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.f = f
	in.r = rand.New(rand.NewPCG(uint64(f.Seed), 0x9e3779b97f4a7c15))
}

func (in *injector) poisonName() string { return in.get().PoisonName }

// draw decides one request's fate: a failure, else a delay (0: none).
func (in *injector) draw() (fault, time.Duration, int) {
	in.mu.Lock()
	defer in.mu.Unlock()
	f := in.f
	if f.Outage {
		return faultOutage, 0, f.retryAfter()
	}
	if f.RejectAll {
		return faultRejectAll, 0, 0
	}
	if f.FailFraction > 0 && in.r.Float64() < f.FailFraction {
		return [...]fault{fault500, fault503, fault429, faultReset}[in.r.IntN(4)], 0, f.retryAfter()
	}
	if f.SlowFraction > 0 && f.SlowMS > 0 && in.r.Float64() < f.SlowFraction {
		return faultNone, time.Duration(f.SlowMS) * time.Millisecond, 0
	}
	return faultNone, 0, 0
}

// inject applies the outage, failure and slow faults to a batch request;
// it reports whether it answered (or dropped) the request.
func (s *Server) inject(w http.ResponseWriter, r *http.Request) bool {
	kind, delay, retryAfter := s.faults.draw()
	if delay > 0 {
		s.mu.Lock()
		s.stats.Slowed++
		s.mu.Unlock()
		if !sleep(r.Context(), delay) {
			s.record("canceled", false)
			return true
		}
		return false
	}
	if kind == faultNone {
		return false
	}
	s.mu.Lock()
	s.stats.FaultsInjected++
	s.mu.Unlock()
	switch kind {
	case faultReset:
		s.record("reset", false)
		resetConn(w)
	case fault500:
		s.reject(w, http.StatusInternalServerError, "injected failure")
	case fault429:
		w.Header().Set("Retry-After", time.Now().Add(time.Duration(retryAfter)*time.Second).UTC().Format(http.TimeFormat))
		s.reject(w, http.StatusTooManyRequests, "injected rate limit")
	case fault503:
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
		s.reject(w, http.StatusServiceUnavailable, "injected unavailability")
	case faultRejectAll:
		s.reject(w, http.StatusUnprocessableEntity, "injected rejection of every batch")
	case faultOutage:
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
		s.reject(w, http.StatusServiceUnavailable, "outage")
	}
	return true
}

// resetConn drops the connection with a TCP RST and writes nothing. Where
// the connection cannot be hijacked (HTTP/2) it aborts the response.
func resetConn(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0) // RST, not FIN
	}
	conn.Close()
}

func (s *Server) getFaults(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.faults.get())
}

// putFaults replaces the faults; unknown fields are an error, so a typo
// does not silently clear a fault.
func (s *Server) putFaults(w http.ResponseWriter, r *http.Request) {
	var f Faults
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		writeJSON(w, http.StatusBadRequest, problem{Detail: "bad faults: " + err.Error()})
		return
	}
	s.faults.set(f)
	writeJSON(w, http.StatusOK, f)
}
