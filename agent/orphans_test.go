package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spanshipper/spanshipper/checkpoint"
	"github.com/spanshipper/spanshipper/decode"
	"github.com/spanshipper/spanshipper/orphan"
	"github.com/spanshipper/spanshipper/ship"
	"github.com/spanshipper/spanshipper/tailer"
)

// itemLog records the items it is sent: key → had an end_timestamp.
type itemLog struct {
	mu    sync.Mutex
	items map[string][]bool
}

func (r *itemLog) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var body struct {
		Items []struct {
			ID      string  `json:"id"`
			TraceID string  `json:"trace_id"`
			End     *string `json:"end_timestamp"`
		} `json:"items"`
	}
	b, _ := io.ReadAll(req.Body)
	if err := json.Unmarshal(b, &body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	for _, it := range body.Items {
		k := it.TraceID + "/" + it.ID
		r.items[k] = append(r.items[k], it.End != nil)
	}
	r.mu.Unlock()
}

func orphanLine(trace, id string, ended bool) string {
	end := "null"
	if ended {
		end = `"2026-11-26T03:00:01Z"`
	}
	return fmt.Sprintf(`{"id":%q,"name":"n","start_time":"2026-11-26T03:00:00Z","end_time":%s,"trace_id":%q}`+"\n", id, end, trace)
}

// runOnce ships path to the end (--exit-on-eof) with the given modes.
func runOnce(t *testing.T, state, path, url string, skip bool, after time.Duration) {
	t.Helper()
	a, err := New(Config{
		StateDir:    state,
		Tailer:      tailer.Config{Include: []string{path}, ExitOnEOF: true, PollOnly: true},
		Decode:      decode.Options{SkipStart: skip},
		Ship:        ship.Config{Endpoint: url},
		OrphanAfter: after, ShutdownTimeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := a.Run(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestHeldStartsAcrossRunsAndModes: a run that ends (--exit-on-eof) with
// starts held journals them all and checkpoints past their lines; ends in
// the next run's input drop held starts; a run with skipping off ships
// the rest; a run with --orphan-after 0 drops what is held.
func TestHeldStartsAcrossRunsAndModes(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	path := filepath.Join(dir, "agent.jsonl")
	var in strings.Builder
	for i := range 5 {
		in.WriteString(orphanLine("t", fmt.Sprint("open-", i), false))
		in.WriteString(orphanLine("t", fmt.Sprint("done-", i), false))
		in.WriteString(orphanLine("t", fmt.Sprint("done-", i), true))
	}
	os.WriteFile(path, []byte(in.String()), 0o644)
	rcv := &itemLog{items: map[string][]bool{}}
	srv := httptest.NewServer(rcv)
	defer srv.Close()

	runOnce(t, state, path, srv.URL, true, time.Hour)
	if n, _ := orphan.Count(state); n != 5 {
		t.Fatalf("journal holds %d starts after the run, want 5", n)
	}
	st, err := checkpoint.Load(state)
	if err != nil || len(st.Files) != 1 || st.Files[0].Offset != int64(in.Len()) {
		t.Fatalf("checkpoint %+v (%v), want the whole file final", st, err)
	}
	if len(rcv.items) != 5 {
		t.Fatalf("received %d spans, want the 5 ends", len(rcv.items))
	}

	// Two of the open spans end; the other three are shipped by a run that
	// ships starts.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(orphanLine("t", "open-0", true) + orphanLine("t", "open-1", true))
	f.Close()
	runOnce(t, state, path, srv.URL, true, time.Hour)
	if n, _ := orphan.Count(state); n != 3 {
		t.Fatalf("journal holds %d starts, want 3 after two ends", n)
	}
	runOnce(t, state, path, srv.URL, false, time.Hour)
	if n, _ := orphan.Count(state); n != 0 {
		t.Fatalf("journal holds %d starts after a run that ships starts, want 0", n)
	}
	// A run in pure end-only mode drops what a rescue run left held.
	f, _ = os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(orphanLine("t", "late-open", false))
	f.Close()
	runOnce(t, state, path, srv.URL, true, time.Hour)
	if n, _ := orphan.Count(state); n != 1 {
		t.Fatalf("journal holds %d starts, want 1", n)
	}
	runOnce(t, state, path, srv.URL, true, 0)
	if _, err := os.Stat(filepath.Join(state, orphan.FileName)); !os.IsNotExist(err) {
		t.Fatalf("journal still there after a pure end-only run (%v)", err)
	}

	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if got := rcv.items["t/late-open"]; got != nil {
		t.Errorf("late-open received %v in pure end-only mode", got)
	}
	for i := range 5 {
		got := rcv.items[fmt.Sprint("t/open-", i)]
		want := "[true]"
		if i >= 2 {
			want = "[false]"
		}
		if fmt.Sprint(got) != want {
			t.Errorf("open-%d received as %v, want %s (true: with its end)", i, got, want)
		}
	}
}
