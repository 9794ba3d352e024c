// Package sink is a local stand-in for the SGP span batch API: it validates
// requests the way the backend does, stores spans keyed by (trace_id, id)
// with the backend's upsert rule, counts what it saw, and can inject faults.
// The demo, the end-to-end tests and the benchmark ship to it.
package sink

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	gojson "github.com/goccy/go-json"
)

// MaxItems is the backend's cap on items per request.
const MaxItems = 1000

// Config configures a Server.
type Config struct {
	APIKey    string        // required x-api-key; empty: not checked
	AccountID string        // required x-selected-account-id; empty: not checked
	Discard   bool          // validate and count, do not store items
	Latency   time.Duration // added to every batch request
	Faults    Faults
}

// Server is the receiver; it implements http.Handler.
type Server struct {
	cfg Config
	mux *http.ServeMux

	mu     sync.Mutex
	spans  map[string]stored
	stats  Stats
	faults *injector
}

type stored struct {
	raw      []byte
	complete bool
}

// Stats is what GET /stats reports.
type Stats struct {
	Requests          int64            `json:"requests"`
	RequestsOK        int64            `json:"requests_ok"`
	RequestsRejected  int64            `json:"requests_rejected"`
	Status            map[string]int64 `json:"status"`
	ItemsReceived     int64            `json:"items_received"`
	MaxItemsInRequest int64            `json:"max_items_in_request"`
	DupInRequest      int64            `json:"dup_in_request"`
	Stored            int64            `json:"stored"`
	Completed         int64            `json:"completed"`
	InProgress        int64            `json:"in_progress"`
	BytesReceived     int64            `json:"bytes_received"`
	MissingHeaders    int64            `json:"missing_headers"`
	FaultsInjected    int64            `json:"faults_injected"`
}

// New returns a Server for cfg.
func New(cfg Config) *Server {
	s := &Server{cfg: cfg, spans: map[string]stored{}, faults: newInjector(cfg.Faults)}
	s.stats.Status = map[string]int64{}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("PUT /v5/spans/batch", s.batch)
	s.mux.HandleFunc("GET /stats", s.getStats)
	s.mux.HandleFunc("GET /spans", s.dump)
	s.mux.HandleFunc("POST /reset", s.reset)
	s.mux.HandleFunc("GET /admin/faults", s.getFaults)
	s.mux.HandleFunc("PUT /admin/faults", s.putFaults)
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// item is what validation reads of an item.
type item struct {
	ID    *string         `json:"id"`
	Trace *string         `json:"trace_id"`
	Name  *string         `json:"name"`
	Start *string         `json:"start_timestamp"`
	End   json.RawMessage `json:"end_timestamp"`
}

func (s *Server) count(status int) {
	s.stats.Status[strconv.Itoa(status)]++
	if status >= 300 {
		s.stats.RequestsRejected++
	}
}

func (s *Server) reject(w http.ResponseWriter, status int, format string, a ...any) {
	s.mu.Lock()
	s.count(status)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	msg, _ := json.Marshal(fmt.Sprintf(format, a...))
	fmt.Fprintf(w, `{"detail":%s}`, msg)
}

func (s *Server) batch(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.stats.Requests++
	if r.Header.Get("x-api-key") == "" || r.Header.Get("x-selected-account-id") == "" {
		s.stats.MissingHeaders++
	}
	s.mu.Unlock()
	if s.cfg.Latency > 0 {
		select {
		case <-time.After(s.cfg.Latency):
		case <-r.Context().Done():
			return
		}
	}
	if s.inject(w, r) {
		return
	}
	if s.cfg.APIKey != "" && r.Header.Get("x-api-key") != s.cfg.APIKey {
		s.reject(w, http.StatusUnauthorized, "invalid api key")
		return
	}
	if s.cfg.AccountID != "" && r.Header.Get("x-selected-account-id") != s.cfg.AccountID {
		s.reject(w, http.StatusForbidden, "account not accessible")
		return
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		s.reject(w, http.StatusUnsupportedMediaType, "content type must be application/json")
		return
	}
	counted := &countingReader{r: r.Body}
	var body io.Reader = counted
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(counted)
		if err != nil {
			s.reject(w, http.StatusBadRequest, "bad gzip body: %v", err)
			return
		}
		body = zr
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		s.reject(w, http.StatusBadRequest, "read body: %v", err)
		return
	}
	// goccy/go-json: the receiver must not be the bottleneck of `make bench`.
	// Discarding, items are decoded once, straight into what validation reads.
	var req struct {
		Items []json.RawMessage `json:"items"`
	}
	var parsed []item
	var derr error
	if s.cfg.Discard {
		var d struct {
			Items []item `json:"items"`
		}
		derr = gojson.Unmarshal(raw, &d)
		parsed = d.Items
	} else if derr = gojson.Unmarshal(raw, &req); derr == nil {
		parsed = make([]item, len(req.Items))
		for i, r := range req.Items {
			if err := gojson.Unmarshal(r, &parsed[i]); err != nil {
				derr = fmt.Errorf("items[%d]: %v", i, err)
				break
			}
		}
	}
	if derr != nil || parsed == nil {
		s.reject(w, http.StatusBadRequest, "body must be {\"items\":[span items]}: %v", derr)
		return
	}
	if len(parsed) > MaxItems {
		s.reject(w, http.StatusUnprocessableEntity, "%d items; at most %d per request", len(parsed), MaxItems)
		return
	}
	for i := range parsed {
		if err := validate(&parsed[i]); err != nil {
			s.reject(w, http.StatusUnprocessableEntity, "items[%d]: %v", i, err)
			return
		}
	}
	if name := s.faults.poison(); name != "" {
		for i, it := range parsed {
			if *it.Name == name {
				s.mu.Lock()
				s.stats.FaultsInjected++
				s.mu.Unlock()
				s.reject(w, http.StatusUnprocessableEntity, "items[%d]: poison span name %q", i, name)
				return
			}
		}
	}

	s.mu.Lock()
	seen := make(map[string]bool, len(parsed))
	for i, it := range parsed {
		key := *it.Trace + "\x00" + *it.ID
		if seen[key] {
			s.stats.DupInRequest++
		}
		seen[key] = true
		if s.cfg.Discard {
			continue
		}
		complete := len(it.End) > 0 && string(it.End) != "null"
		old, had := s.spans[key]
		if had && old.complete && !complete {
			continue // an in-progress span never replaces a completed one
		}
		s.spans[key] = stored{raw: slices.Clone(req.Items[i]), complete: complete}
		switch {
		case !had && complete:
			s.stats.Completed++
		case !had:
			s.stats.InProgress++
		case !old.complete && complete:
			s.stats.InProgress--
			s.stats.Completed++
		}
	}
	s.stats.Stored = int64(len(s.spans))
	s.stats.RequestsOK++
	s.stats.ItemsReceived += int64(len(parsed))
	s.stats.MaxItemsInRequest = max(s.stats.MaxItemsInRequest, int64(len(parsed)))
	s.stats.BytesReceived += counted.n
	s.count(http.StatusOK)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"items_accepted":%d}`, len(parsed))
}

// validate checks one item as the backend does.
func validate(it *item) error {
	for _, f := range []struct {
		name string
		v    *string
	}{{"id", it.ID}, {"trace_id", it.Trace}, {"name", it.Name}, {"start_timestamp", it.Start}} {
		if f.v == nil || *f.v == "" {
			return fmt.Errorf("field %s is required", f.name)
		}
	}
	start, err := parseTime(*it.Start)
	if err != nil {
		return fmt.Errorf("start_timestamp: %v", err)
	}
	if len(it.End) > 0 && string(it.End) != "null" {
		var e string
		if err := json.Unmarshal(it.End, &e); err != nil {
			return fmt.Errorf("end_timestamp must be a string")
		}
		end, err := parseTime(e)
		if err != nil {
			return fmt.Errorf("end_timestamp: %v", err)
		}
		if end.Before(start) {
			return fmt.Errorf("end_timestamp %s is before start_timestamp %s", e, *it.Start)
		}
	}
	return nil
}

// parseTime reads ISO-8601 timestamps with or without a zone (naive ones are UTC).
func parseTime(v string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an ISO-8601 timestamp", v)
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (s *Server) getStats(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	b, _ := json.Marshal(s.stats)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

// dump writes every stored item as NDJSON, sorted by key.
func (s *Server) dump(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	keys := make([]string, 0, len(s.spans))
	for k := range s.spans {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var out []byte
	for _, k := range keys {
		out = append(append(out, s.spans[k].raw...), '\n')
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Write(out)
}

func (s *Server) reset(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	s.spans = map[string]stored{}
	s.stats = Stats{Status: map[string]int64{}}
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}
