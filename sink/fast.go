package sink

import (
	"bytes"
	"net/http"
	"strconv"
	"sync"

	json "github.com/goccy/go-json"
)

// Request bodies are read into pooled buffers: the bench receiver takes
// thousands of 250 KB bodies a second, and fresh ones cost more than the
// validation.
var bodies sync.Pool

func getBody(size int64) *bytes.Buffer {
	b, _ := bodies.Get().(*[]byte)
	if b == nil {
		b = new([]byte)
	}
	buf := bytes.NewBuffer((*b)[:0])
	if size > 0 && size < 64<<20 {
		buf.Grow(int(size) + bytes.MinRead)
	}
	return buf
}

func putBody(b []byte) {
	if cap(b) > 16<<20 {
		return
	}
	b = b[:0]
	bodies.Put(&b)
}

// fastItem is what validation reads of an item, decoded in one pass.
type fastItem struct {
	ID      string  `json:"id"`
	TraceID string  `json:"trace_id"`
	Name    string  `json:"name"`
	Start   string  `json:"start_timestamp"`
	End     *string `json:"end_timestamp"`
}

// discardFast validates and counts a body in one decoding pass, for
// --discard. It returns false, counting nothing, when anything is off; the
// caller then takes the full path, which finds and reports the exact fault.
func (s *Server) discardFast(raw []byte) (int, bool) {
	var env struct {
		Items []fastItem `json:"items"`
	}
	if json.Unmarshal(raw, &env) != nil || env.Items == nil || len(env.Items) > MaxItems {
		return 0, false
	}
	type key struct{ trace, id string }
	seen := make(map[key]struct{}, len(env.Items))
	dups := 0
	for i := range env.Items {
		it := &env.Items[i]
		if it.ID == "" || it.TraceID == "" || it.Name == "" {
			return 0, false
		}
		start, err := parseTime(it.Start)
		if err != nil {
			return 0, false
		}
		if it.End != nil {
			end, err := parseTime(*it.End)
			if err != nil || end.Before(start) {
				return 0, false
			}
		}
		k := key{it.TraceID, it.ID}
		if _, dup := seen[k]; dup {
			dups++
		}
		seen[k] = struct{}{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := int64(len(env.Items))
	s.stats.DupInRequest += int64(dups)
	s.stats.ItemsReceived += n
	s.stats.MaxItemsInRequest = max(s.stats.MaxItemsInRequest, n)
	s.stats.RequestsOK++
	s.stats.Status[strconv.Itoa(http.StatusOK)]++
	return len(env.Items), true
}
