package spangen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

func generate(o Options) []byte {
	g := New(o)
	var out []byte
	for {
		var ok bool
		if out, ok = g.Next(out); !ok {
			return out
		}
	}
}

func TestDeterministic(t *testing.T) {
	a := generate(Options{Seed: 7, Spans: 500, BadFraction: 0.02, StartOnlyFraction: 0.05})
	b := generate(Options{Seed: 7, Spans: 500, BadFraction: 0.02, StartOnlyFraction: 0.05})
	c := generate(Options{Seed: 8, Spans: 500, BadFraction: 0.02, StartOnlyFraction: 0.05})
	if !bytes.Equal(a, b) || bytes.Equal(a, c) {
		t.Fatal("output is not determined by the seed")
	}
}

type rec struct {
	ID        string  `json:"id"`
	TraceID   string  `json:"trace_id"`
	Name      string  `json:"name"`
	StartTime string  `json:"start_time"`
	EndTime   *string `json:"end_time"`
	ParentID  *string `json:"parent_id"`
}

func TestRecordsAreRealistic(t *testing.T) {
	const spans = 3000
	g := New(Options{Seed: 3, Spans: spans, StartOnlyFraction: 0.1, BadFraction: 0.01})
	var line []byte
	started := map[string]rec{}
	ended := map[string]bool{}
	var bad int
	for {
		var ok bool
		if line, ok = g.Next(line[:0]); !ok {
			break
		}
		var r rec
		var raw map[string]json.RawMessage
		if !utf8.Valid(line) || json.Unmarshal(line, &raw) != nil || json.Unmarshal(line, &r) != nil || r.ID == "" || r.TraceID == "" || r.Name == "" || !bytes.HasPrefix(line, []byte(`{"id":"`)) {
			bad++
			continue
		}
		for i, k := range []string{`"id":`, `"name":`, `"start_time":`, `"end_time":`, `"trace_id":`, `"parent_id":`, `"input":`, `"output":`, `"data":`, `"task_id":`} {
			if bytes.Index(line, []byte(k)) < 0 {
				t.Fatalf("key %d %s missing: %s", i, k, line)
			}
		}
		if r.EndTime == nil {
			started[r.ID] = r
			if r.ParentID != nil {
				p, ok := started[*r.ParentID]
				if !ok || p.TraceID != r.TraceID {
					t.Fatalf("parent %s not an earlier span of trace %s", *r.ParentID, r.TraceID)
				}
			}
			continue
		}
		s, ok := started[r.ID]
		if !ok || s.TraceID != r.TraceID || s.StartTime != r.StartTime || ended[r.ID] {
			t.Fatalf("end record without a matching earlier start: %s", line)
		}
		ended[r.ID] = true
	}
	st := g.Stats()
	if len(started) != spans || int64(len(ended)) != st.Ends || st.Ends+st.StartOnly != spans {
		t.Fatalf("started %d ended %d stats %+v", len(started), len(ended), st)
	}
	if int64(bad) != st.Bad || bad == 0 {
		t.Fatalf("bad lines %d, stats %+v", bad, st)
	}
	if st.StartOnly < spans/20 || st.StartOnly > spans/5 {
		t.Fatalf("start-only %d of %d with fraction 0.1", st.StartOnly, spans)
	}
}

func TestWriterRotationAndSplitWrites(t *testing.T) {
	want := generate(Options{Seed: 5, Spans: 2000})
	for _, split := range []bool{false, true} {
		t.Run(fmt.Sprintf("split=%v", split), func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "spans.jsonl")
			w := &Writer{Path: p, RotateBytes: 256 << 10, Keep: 100, SplitWrites: split}
			if err := w.Run(context.Background(), New(Options{Seed: 5, Spans: 2000})); err != nil {
				t.Fatal(err)
			}
			var got []byte
			for i := 100; i >= 1; i-- {
				if b, err := os.ReadFile(fmt.Sprintf("%s.%d", p, i)); err == nil {
					got = append(got, b...)
				}
			}
			b, _ := os.ReadFile(p)
			got = append(got, b...)
			if !bytes.Equal(got, want) {
				t.Fatalf("rotated files hold %d bytes, want the %d generated", len(got), len(want))
			}
			if _, err := os.Stat(p + ".3"); err != nil {
				t.Fatal("expected several rotations")
			}
		})
	}
}

func BenchmarkNext(b *testing.B) {
	g := New(Options{Seed: 1, Spans: 1 << 30})
	var line []byte
	var n int64
	for b.Loop() {
		line, _ = g.Next(line[:0])
		n += int64(len(line))
	}
	b.SetBytes(n / int64(max(b.N, 1)))
}
