package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/spanshipper/spanshipper/sink"
)

// receiver is an in-process spansink that also records when each item was
// acknowledged, keyed by its id.
type receiver struct {
	srv  *http.Server
	addr string
	s    *sink.Server

	mu                      sync.Mutex
	acked                   map[string]time.Time // only when tracking latency
	nullItems, nullRequests int64
	null                    bool // read and count bodies only: the shipper's own ceiling
	track                   bool
}

func newReceiver(track bool) (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &receiver{addr: ln.Addr().String(), s: sink.New(sink.Config{Discard: true}), track: track, acked: map[string]time.Time{}, null: nullReceiver && !track}
	r.srv = &http.Server{Handler: r}
	go r.srv.Serve(ln)
	return r, nil
}

var nullBufs sync.Pool

var idRE = regexp.MustCompile(`\{"id":"([^"]+)"`)

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if r.null && req.Method == http.MethodPut {
		buf, _ := nullBufs.Get().(*bytes.Buffer)
		if buf == nil {
			buf = new(bytes.Buffer)
		}
		buf.Reset()
		buf.ReadFrom(req.Body)
		n := bytes.Count(buf.Bytes(), []byte(`{"id":"`)) // items start so; generated nested values never do
		nullBufs.Put(buf)
		r.mu.Lock()
		r.nullItems += int64(n)
		r.nullRequests++
		r.mu.Unlock()
		return
	}
	if !r.track || req.Method != http.MethodPut {
		r.s.ServeHTTP(w, req)
		return
	}
	body, _ := io.ReadAll(req.Body)
	req.Body = io.NopCloser(strings.NewReader(string(body)))
	rec := &statusRecorder{ResponseWriter: w}
	r.s.ServeHTTP(rec, req)
	if rec.status == 0 || rec.status == 200 {
		now := time.Now()
		r.mu.Lock()
		for _, m := range idRE.FindAllSubmatch(body, -1) {
			if _, ok := r.acked[string(m[1])]; !ok {
				r.acked[string(m[1])] = now
			}
		}
		r.mu.Unlock()
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) { s.status = code; s.ResponseWriter.WriteHeader(code) }

func (r *receiver) stats() sink.Stats {
	rec := &bufferWriter{header: http.Header{}}
	req, _ := http.NewRequest(http.MethodGet, "/stats", nil)
	r.s.ServeHTTP(rec, req)
	var st sink.Stats
	json.Unmarshal(rec.body, &st)
	return st
}

type bufferWriter struct {
	header http.Header
	body   []byte
}

func (b *bufferWriter) Header() http.Header { return b.header }
func (b *bufferWriter) Write(p []byte) (int, error) {
	b.body = append(b.body, p...)
	return len(p), nil
}
func (b *bufferWriter) WriteHeader(int) {}

func (r *receiver) close() { r.srv.Close() }
