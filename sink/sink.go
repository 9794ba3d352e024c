// Package sink is a local stand-in for the SGP span batch API: it validates
// requests the way the backend does, stores spans keyed by (trace_id, id)
// with the backend's upsert rule, counts what it saw, and can inject faults.
// The demo, the end-to-end tests and the benchmark ship to it.
//
// Routes:
//
//	PUT  /v5/spans/batch  the batch API (other methods: 405)
//	GET  /stats           counters, see Stats
//	GET  /spans           stored items as NDJSON, sorted by trace_id, id
//	GET  /starts          every in-progress item ever received, see getStarts
//	POST /reset           clear storage and counters
//	GET  /admin/faults    current Faults as JSON
//	PUT  /admin/faults    replace the Faults (JSON body)
package sink

import (
	"bufio"
	"cmp"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	json "github.com/goccy/go-json" // ~2x encoding/json; the bench receiver must not be the bottleneck
)

// MaxItems is the backend's cap on items per request.
const MaxItems = 1000

// Config configures a Server.
type Config struct {
	APIKey    string        // required x-api-key; empty: not checked
	AccountID string        // required x-selected-account-id; empty: not checked
	Discard   bool          // validate and count, do not store items
	Latency   time.Duration // added to every batch request
	Faults    Faults        // initial faults; see PUT /admin/faults
}

// Server is the receiver; it implements http.Handler. Its zero value is not
// usable: create it with New.
type Server struct {
	cfg    Config
	mux    *http.ServeMux
	faults *injector

	mu     sync.Mutex
	spans  map[string]stored
	starts map[string]int64 // in-progress items received, by key, repeats counted
	stats  Stats
}

// stored is one held item; raw is never modified once stored.
type stored struct {
	raw      []byte
	complete bool
}

// Stats is what GET /stats reports.
type Stats struct {
	Requests          int64            `json:"requests"`             // batch PUTs
	RequestsOK        int64            `json:"requests_ok"`          // answered 200
	RequestsRejected  int64            `json:"requests_rejected"`    // answered otherwise, resets included
	Status            map[string]int64 `json:"status"`               // status code (or "reset", "canceled") → count
	ItemsReceived     int64            `json:"items_received"`       // items of successful requests, repeats included
	MaxItemsInRequest int64            `json:"max_items_in_request"` // largest successful request
	DupInRequest      int64            `json:"dup_in_request"`       // repeats of a key within one request
	Stored            int64            `json:"stored"`               // keys held
	Completed         int64            `json:"completed"`            // held with an end_timestamp
	InProgress        int64            `json:"in_progress"`          // held without one
	BytesReceived     int64            `json:"bytes_received"`       // body bytes as sent (compressed if gzip)
	MissingHeaders    int64            `json:"missing_headers"`      // requests lacking x-api-key or x-selected-account-id
	FaultsInjected    int64            `json:"faults_injected"`      // injected answers: outages, failures, resets, poison rejections
	Slowed            int64            `json:"slowed"`               // requests delayed by slow_fraction
	StartsReceived    int64            `json:"starts_received"`      // in-progress items (no end_timestamp) of successful requests, repeats included
}

// New returns a Server for cfg.
func New(cfg Config) *Server {
	s := &Server{
		cfg:    cfg,
		faults: newInjector(cfg.Faults),
		spans:  map[string]stored{},
		starts: map[string]int64{},
		stats:  Stats{Status: map[string]int64{}},
	}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("PUT /v5/spans/batch", s.batch)
	s.mux.HandleFunc("GET /stats", s.getStats)
	s.mux.HandleFunc("GET /spans", s.dump)
	s.mux.HandleFunc("GET /starts", s.getStarts)
	s.mux.HandleFunc("POST /reset", s.reset)
	s.mux.HandleFunc("GET /admin/faults", s.getFaults)
	s.mux.HandleFunc("PUT /admin/faults", s.putFaults)
	return s
}

// ServeHTTP routes a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// record counts one answered batch request by its status key.
func (s *Server) record(status string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Status[status]++
	if ok {
		s.stats.RequestsOK++
	} else {
		s.stats.RequestsRejected++
	}
}

// problem is an error body; Index and Reason name a bad item.
type problem struct {
	Detail string `json:"detail"`
	Index  *int   `json:"index,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// reject counts and writes an error answer.
func (s *Server) reject(w http.ResponseWriter, status int, format string, a ...any) {
	s.rejectBody(w, status, problem{Detail: fmt.Sprintf(format, a...)})
}

// rejectItem counts and writes an error answer naming item i.
func (s *Server) rejectItem(w http.ResponseWriter, status, i int, reason string) {
	s.rejectBody(w, status, problem{Detail: fmt.Sprintf("items[%d]: %s", i, reason), Index: &i, Reason: reason})
}

func (s *Server) rejectBody(w http.ResponseWriter, status int, p problem) {
	s.record(strconv.Itoa(status), false)
	writeJSON(w, status, p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Stats returns a copy of the counters, for a receiver run in-process.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Status = maps.Clone(s.stats.Status)
	return st
}

func (s *Server) getStats(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	b, err := json.Marshal(s.stats)
	s.mu.Unlock()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(append(b, '\n'))
}

// dump writes every stored item as NDJSON, sorted by key.
func (s *Server) dump(w http.ResponseWriter, _ *http.Request) {
	type kv struct {
		key string
		raw []byte
	}
	s.mu.Lock()
	all := make([]kv, 0, len(s.spans))
	for k, v := range s.spans {
		all = append(all, kv{k, v.raw})
	}
	s.mu.Unlock()
	slices.SortFunc(all, func(a, b kv) int { return cmp.Compare(a.key, b.key) })
	w.Header().Set("Content-Type", "application/x-ndjson")
	bw := bufio.NewWriterSize(w, 64<<10)
	for _, e := range all {
		bw.Write(e.raw)
		bw.WriteByte('\n')
	}
	bw.Flush()
}

func (s *Server) reset(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	s.spans = map[string]stored{}
	s.starts = map[string]int64{}
	s.stats = Stats{Status: map[string]int64{}}
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// batch serves PUT /v5/spans/batch: faults first, then headers, body and
// items are checked; a request is stored whole or not at all.
func (s *Server) batch(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.stats.Requests++
	if r.Header.Get("x-api-key") == "" || r.Header.Get("x-selected-account-id") == "" {
		s.stats.MissingHeaders++
	}
	s.mu.Unlock()
	if !sleep(r.Context(), s.cfg.Latency) {
		s.record("canceled", false)
		return
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
	raw, status, err := s.readBody(r)
	if err != nil {
		s.reject(w, status, "%v", err)
		return
	}
	defer putBody(raw)
	if s.cfg.Discard && s.faults.poisonName() == "" {
		if n, ok := s.discardFast(raw); ok {
			writeJSON(w, http.StatusOK, map[string]int{"items_accepted": n})
			return
		}
		// Something is wrong with the body: the full path below finds
		// and reports it exactly.
	}
	var env struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(raw, &env); err != nil || env.Items == nil {
		if err == nil {
			err = fmt.Errorf("no items array")
		}
		s.reject(w, http.StatusBadRequest, "body must be {\"items\":[...]}: %v", err)
		return
	}
	items := make([]fields, len(env.Items))
	decodeErr := make([]error, len(env.Items))
	for i, raw := range env.Items {
		decodeErr[i] = json.Unmarshal(raw, &items[i])
	}
	if name := s.faults.poisonName(); name != "" {
		for i := range items {
			if n, err := stringField("name", items[i].Name); err == nil && n == name {
				s.mu.Lock()
				s.stats.FaultsInjected++
				s.mu.Unlock()
				s.rejectItem(w, http.StatusUnprocessableEntity, i, fmt.Sprintf("poison span name %q", name))
				return
			}
		}
	}
	if len(items) > MaxItems {
		s.reject(w, http.StatusUnprocessableEntity, "%d items; at most %d per request", len(items), MaxItems)
		return
	}
	checked := make([]checkedItem, len(items))
	for i := range items {
		if decodeErr[i] != nil {
			s.rejectItem(w, http.StatusUnprocessableEntity, i, "item must be a JSON object")
			return
		}
		c, err := items[i].check()
		if err != nil {
			s.rejectItem(w, http.StatusUnprocessableEntity, i, err.Error())
			return
		}
		checked[i] = c
	}
	s.store(env.Items, checked)
	writeJSON(w, http.StatusOK, map[string]int{"items_accepted": len(items)})
}

// readBody reads the whole body, gunzipping it if need be, and counts the
// bytes as sent. On error it also returns the status to answer.
func (s *Server) readBody(r *http.Request) ([]byte, int, error) {
	counted := &countingReader{r: r.Body}
	defer func() {
		s.mu.Lock()
		s.stats.BytesReceived += counted.n
		s.mu.Unlock()
	}()
	var body io.Reader = counted
	switch enc := strings.ToLower(r.Header.Get("Content-Encoding")); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(counted)
		if err != nil {
			return nil, http.StatusBadRequest, fmt.Errorf("bad gzip body: %v", err)
		}
		defer zr.Close()
		body = zr
	default:
		return nil, http.StatusUnsupportedMediaType, fmt.Errorf("unsupported content encoding %q", enc)
	}
	buf := getBody(r.ContentLength)
	_, err := buf.ReadFrom(body)
	if err != nil {
		putBody(buf.Bytes())
		return nil, http.StatusBadRequest, fmt.Errorf("read body: %v", err)
	}
	return buf.Bytes(), 0, nil
}

// store counts a successful request and upserts its items in order: a
// completed item replaces anything, an in-progress one never replaces a
// completed one.
func (s *Server) store(raws []json.RawMessage, items []checkedItem) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := make(map[string]struct{}, len(items))
	for i, it := range items {
		if _, dup := seen[it.key]; dup {
			s.stats.DupInRequest++
		}
		seen[it.key] = struct{}{}
		if !it.complete {
			s.stats.StartsReceived++
			s.starts[it.key]++
		}
		if s.cfg.Discard {
			continue
		}
		old, had := s.spans[it.key]
		if had && old.complete && !it.complete {
			continue
		}
		// json.RawMessage's UnmarshalJSON copies, so raws[i] does not
		// alias the request body.
		s.spans[it.key] = stored{raw: raws[i], complete: it.complete}
		switch {
		case !had && it.complete:
			s.stats.Completed++
		case !had:
			s.stats.InProgress++
		case !old.complete && it.complete:
			s.stats.InProgress--
			s.stats.Completed++
		}
	}
	s.stats.Stored = int64(len(s.spans))
	s.stats.ItemsReceived += int64(len(items))
	s.stats.MaxItemsInRequest = max(s.stats.MaxItemsInRequest, int64(len(items)))
	s.stats.RequestsOK++
	s.stats.Status[strconv.Itoa(http.StatusOK)]++
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
