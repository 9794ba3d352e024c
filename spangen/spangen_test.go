package spangen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// keys are a span record's keys, in the order pydantic writes them.
var keys = []string{"id", "name", "start_time", "end_time", "trace_id", "parent_id", "input", "output", "data", "task_id"}

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
	o := Options{Seed: 7, Spans: 500, BadFraction: 0.02, StartOnlyFraction: 0.05}
	a, b := generate(o), generate(o)
	o.Seed = 8
	c := generate(o)
	if !bytes.Equal(a, b) {
		t.Fatal("the same seed gave different bytes")
	}
	if bytes.Equal(a, c) {
		t.Fatal("different seeds gave the same bytes")
	}
}

// rec is a parsed record; the pointers are nil for JSON null.
type rec struct {
	ID        string  `json:"id"`
	Name      string  `json:"name"`
	StartTime string  `json:"start_time"`
	EndTime   *string `json:"end_time"`
	TraceID   string  `json:"trace_id"`
	ParentID  *string `json:"parent_id"`
	TaskID    *string `json:"task_id"`
}

// parse reports whether line is a valid span record: UTF-8, one JSON
// object with exactly the ten keys, in order, of the right types.
func parse(line []byte) (rec, map[string]json.RawMessage, error) {
	var s rec
	var raw map[string]json.RawMessage
	if !utf8.Valid(line) {
		return s, nil, fmt.Errorf("invalid utf-8")
	}
	if err := json.Unmarshal(line, &raw); err != nil {
		return s, nil, err
	}
	if err := json.Unmarshal(line, &s); err != nil {
		return s, nil, err
	}
	if len(raw) != len(keys) {
		return s, nil, fmt.Errorf("%d keys", len(raw))
	}
	last := -1
	for _, k := range keys {
		v, ok := raw[k]
		if !ok {
			return s, nil, fmt.Errorf("no %s", k)
		}
		i := bytes.Index(line, []byte(`"`+k+`":`))
		if i <= last {
			return s, nil, fmt.Errorf("%s out of order", k)
		}
		last = i
		switch k {
		case "id", "name", "start_time", "trace_id":
			if v[0] != '"' || len(v) < 3 {
				return s, nil, fmt.Errorf("%s not a string", k)
			}
		case "input", "data":
			if v[0] != '{' && v[0] != '[' && string(v) != "null" {
				return s, nil, fmt.Errorf("%s not an object, list or null", k)
			}
		}
	}
	return s, raw, nil
}

func TestRecordsAreRealistic(t *testing.T) {
	const spans = 20000
	g := New(Options{Seed: 3, Spans: spans, StartOnlyFraction: 0.1, BadFraction: 0.01})
	started := map[string]rec{}
	ended := map[string]bool{}
	var line []byte
	var bad, lines int
	var lists, nullInputs, nullData, untyped, errs, offsets, whole, parents, minLen, maxLen int
	minLen = MaxLine
	for {
		var ok bool
		if line, ok = g.Next(line[:0]); !ok {
			break
		}
		lines++
		if bytes.Count(line, []byte("\n")) != 1 || line[len(line)-1] != '\n' {
			t.Fatalf("not one line: %q", line)
		}
		s, raw, err := parse(line[:len(line)-1])
		if err != nil {
			bad++
			continue
		}
		minLen, maxLen = min(minLen, len(line)), max(maxLen, len(line))
		if len(line) < MinLine || len(line) > MaxLine {
			t.Fatalf("%d bytes: %s", len(line), line)
		}
		for _, ts := range []*string{&s.StartTime, s.EndTime} {
			if ts == nil {
				continue
			}
			if strings.HasSuffix(*ts, "+00:00") {
				offsets++
			}
			if !strings.Contains(*ts, ".") {
				whole++
			}
		}
		if s.EndTime == nil { // a start record
			if _, dup := started[s.ID]; dup {
				t.Fatalf("span %s started twice", s.ID)
			}
			if string(raw["output"]) != "null" {
				t.Fatalf("start record with an output: %s", line)
			}
			started[s.ID] = s
			if s.ParentID != nil {
				parents++
				p, ok := started[*s.ParentID]
				if !ok || p.TraceID != s.TraceID || ended[p.ID] {
					t.Fatalf("parent %s is not an open span of trace %s", *s.ParentID, s.TraceID)
				}
			}
			switch raw["input"][0] {
			case '[':
				lists++
			case 'n':
				nullInputs++
			}
			switch d := string(raw["data"]); {
			case d == "null":
				nullData++
			case !strings.Contains(d, `"__span_type__"`):
				untyped++
			}
			continue
		}
		st, ok := started[s.ID]
		if !ok || ended[s.ID] || st.TraceID != s.TraceID || st.StartTime != s.StartTime || st.Name != s.Name ||
			!equalPtr(st.ParentID, s.ParentID) || !equalPtr(st.TaskID, s.TaskID) {
			t.Fatalf("end record without a matching earlier start: %s", line)
		}
		if *s.EndTime < s.StartTime[:19] {
			t.Fatalf("end before start: %s", line)
		}
		if raw["output"][0] != '{' {
			t.Fatalf("end record without an output object: %s", line)
		}
		if bytes.Contains(raw["data"], []byte(`"__error__":{`)) {
			errs++
		}
		ended[s.ID] = true
	}
	st := g.Stats()
	t.Logf("%d lines, %d-%d bytes, stats %+v", lines, minLen, maxLen, st)
	if int64(lines) != st.Lines || int64(len(started)) != st.Starts || int64(len(ended)) != st.Ends {
		t.Fatalf("saw %d lines, %d starts, %d ends; stats %+v", lines, len(started), len(ended), st)
	}
	if len(started) != spans || st.Ends+st.StartOnly != spans {
		t.Fatalf("started %d ended %d of %d, stats %+v", len(started), len(ended), spans, st)
	}
	if int64(bad) != st.Bad || bad == 0 {
		t.Fatalf("%d bad lines, stats %+v", bad, st)
	}
	if st.StartOnly < spans/13 || st.StartOnly > spans/8 {
		t.Fatalf("%d start-only of %d with fraction 0.1", st.StartOnly, spans)
	}
	records := len(started) + len(ended)
	for _, c := range []struct {
		what      string
		n, of     int
		low, high float64
	}{
		{"list inputs", lists, spans, 0.10, 0.20},
		{"null inputs", nullInputs, spans, 0.02, 0.08},
		{"null data", nullData, spans, 0.02, 0.08},
		{"data without __span_type__", untyped, spans, 0.15, 0.25},
		{"ends with __error__", errs, len(ended), 0.03, 0.07},
		{"+00:00 timestamps", offsets, 2 * records, 0.15, 0.25},
		{"whole-second timestamps", whole, 2 * records, 0.05, 0.15},
		{"nested spans", parents, spans, 0.2, 0.8},
	} {
		if f := float64(c.n) / float64(c.of); f < c.low || f > c.high {
			t.Errorf("%s: %d of %d (%.3f), want %.2f-%.2f", c.what, c.n, c.of, f, c.low, c.high)
		}
	}
	if maxLen-minLen < 800 {
		t.Errorf("line sizes %d-%d barely vary", minLen, maxLen)
	}
}

func equalPtr(a, b *string) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func TestContentHasTrickyText(t *testing.T) {
	out := generate(Options{Seed: 1, Spans: 2000})
	for _, want := range []string{`1.0e-7`, `0.10`, `1E3`, `-0.0`, `é`, `日本`, `🚀`, `\"`, `\\`, `\n`, `\u00e9`, `[[`, RareName} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("no %s in the output", want)
		}
	}
}

func TestBadLinesAreNotSpans(t *testing.T) {
	g := New(Options{Seed: 9, Spans: 3000, BadFraction: 0.5})
	kinds := map[string]bool{}
	var line []byte
	for {
		before := g.Stats().Bad
		var ok bool
		if line, ok = g.Next(line[:0]); !ok {
			break
		}
		if g.Stats().Bad == before {
			if _, _, err := parse(line[:len(line)-1]); err != nil {
				t.Fatalf("good line does not parse: %v: %s", err, line)
			}
			continue
		}
		_, _, err := parse(line[:len(line)-1])
		if err == nil {
			t.Fatalf("bad line parses as a span: %s", line)
		}
		var s rec
		strict := utf8.Valid(line) && json.Unmarshal(line, &s) == nil && s.ID != "" && s.TraceID != "" && s.Name != "" && s.StartTime != ""
		if strict {
			t.Fatalf("bad line has a span's required fields: %s", line)
		}
		kinds[string(line[:min(len(line), 12)])+fmt.Sprint(bytes.Contains(line, []byte(`"name":42`)), utf8.Valid(line))] = true
	}
	if len(kinds) < 6 {
		t.Fatalf("%d kinds of bad line: %v", len(kinds), kinds)
	}
}

func TestStartOnlySpansNeverEnd(t *testing.T) {
	g := New(Options{Seed: 4, Spans: 5000, StartOnlyFraction: 0.3})
	starts, ends := map[string]int{}, map[string]int{}
	var line []byte
	for {
		var ok bool
		if line, ok = g.Next(line[:0]); !ok {
			break
		}
		s, _, err := parse(line[:len(line)-1])
		if err != nil {
			t.Fatal(err)
		}
		if s.EndTime == nil {
			starts[s.ID]++
		} else {
			ends[s.ID]++
		}
	}
	st := g.Stats()
	if int64(len(starts)-len(ends)) != st.StartOnly {
		t.Fatalf("%d starts, %d ends, stats %+v", len(starts), len(ends), st)
	}
	if f := float64(st.StartOnly) / 5000; f < 0.25 || f > 0.35 {
		t.Fatalf("start-only fraction %.3f, want about 0.3", f)
	}
	for id, n := range ends {
		if n != 1 || starts[id] != 1 {
			t.Fatalf("span %s: %d starts, %d ends", id, starts[id], n)
		}
	}
}

// readRotated returns the files path.max … path.1, path concatenated, and
// how many rotated files there were.
func readRotated(t *testing.T, p string, most int) ([]byte, int) {
	var got []byte
	n := 0
	for i := most; i >= 1; i-- {
		if b, err := os.ReadFile(fmt.Sprintf("%s.%d", p, i)); err == nil {
			got = append(got, b...)
			n++
		}
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return append(got, b...), n
}

func TestWriterRotationAndSplitWrites(t *testing.T) {
	o := Options{Seed: 5, Spans: 2000, BadFraction: 0.01}
	want := generate(o)
	for _, split := range []bool{false, true} {
		t.Run(fmt.Sprintf("split=%v", split), func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "spans.jsonl")
			w := &Writer{Path: p, RotateBytes: 256 << 10, Keep: 100, SplitWrites: split}
			if err := w.Run(context.Background(), New(o)); err != nil {
				t.Fatal(err)
			}
			got, n := readRotated(t, p, 100)
			if !bytes.Equal(got, want) {
				t.Fatalf("files hold %d bytes, want the %d generated", len(got), len(want))
			}
			if n < 3 {
				t.Fatalf("%d rotations", n)
			}
		})
	}
}

func TestWriterKeepsOnlyKeep(t *testing.T) {
	p := filepath.Join(t.TempDir(), "spans.jsonl")
	w := &Writer{Path: p, RotateBytes: 64 << 10, Keep: 2}
	if err := w.Run(context.Background(), New(Options{Seed: 6, Spans: 2000})); err != nil {
		t.Fatal(err)
	}
	matches, _ := filepath.Glob(p + "*")
	if len(matches) != 3 {
		t.Fatalf("files %v, want path, path.1, path.2", matches)
	}
	got, _ := readRotated(t, p, 2)
	want := generate(Options{Seed: 6, Spans: 2000})
	if !bytes.HasSuffix(want, got) || len(got) == 0 || got[0] != '{' {
		t.Fatalf("the kept files are not the stream's last %d bytes", len(got))
	}
}

func TestWriterAppendAndRate(t *testing.T) {
	p := filepath.Join(t.TempDir(), "spans.jsonl")
	if err := os.WriteFile(p, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	o := Options{Seed: 2, Spans: 100}
	w := &Writer{Path: p, Append: true, Rate: 5000, SplitWrites: true}
	if err := w.Run(context.Background(), New(o)); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	if want := append([]byte("old\n"), generate(o)...); !bytes.Equal(got, want) {
		t.Fatalf("appended file holds %d bytes, want %d", len(got), len(want))
	}
}

func TestWriterStopsOnCancel(t *testing.T) {
	p := filepath.Join(t.TempDir(), "spans.jsonl")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	g := New(Options{Seed: 2, Spans: 1 << 20})
	if err := (&Writer{Path: p, Rate: 10}).Run(ctx, g); err != context.Canceled {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	got, _ := os.ReadFile(p)
	if int64(len(got)) != g.Stats().Bytes {
		t.Fatalf("wrote %d bytes, generated %d", len(got), g.Stats().Bytes)
	}
}

func BenchmarkNext(b *testing.B) {
	g := New(Options{Seed: 1, Spans: 1 << 40})
	line := make([]byte, 0, 2*MaxLine)
	var n int64
	for b.Loop() {
		line, _ = g.Next(line[:0])
		n += int64(len(line))
	}
	b.SetBytes(n / int64(max(b.N, 1)))
}
