package decode

import (
	"strings"
	"testing"
)

// A realistic ~1 KiB pair of records, as the agentex SDK writes them.
var (
	benchStart = []byte(`{"id":"0b7c3c5e-8f0a-4a53-9d55-8d1b6c1f6a11","name":"chat_completion","start_time":"2026-11-25T10:00:00.123456Z","end_time":null,"trace_id":"6a1f4a7e-2b3c-4d5e-8f90-a1b2c3d4e5f6","parent_id":"3c2b1a09-8f7e-6d5c-4b3a-291807f6e5d4","input":{"messages":[{"role":"system","content":"` + strings.Repeat("You are a helpful agent. ", 12) + `"},{"role":"user","content":"Summarise the ticket \"INC-42\" in two lines.\n"}],"temperature":0.7,"max_tokens":1024},"output":null,"data":{"__span_type__":"COMPLETION","model":"gpt-4o"},"task_id":"task-1234"}`)
	benchEnd   = []byte(`{"id":"0b7c3c5e-8f0a-4a53-9d55-8d1b6c1f6a11","name":"chat_completion","start_time":"2026-11-25T10:00:00.123456Z","end_time":"2026-11-25T10:00:01.654321Z","trace_id":"6a1f4a7e-2b3c-4d5e-8f90-a1b2c3d4e5f6","parent_id":"3c2b1a09-8f7e-6d5c-4b3a-291807f6e5d4","input":{"messages":[{"role":"system","content":"` + strings.Repeat("You are a helpful agent. ", 12) + `"},{"role":"user","content":"Summarise the ticket \"INC-42\" in two lines.\n"}],"temperature":0.7,"max_tokens":1024},"output":{"content":"The printer on floor 3 is out of toner; a replacement was ordered. Café: 日本 ✓","usage":{"prompt_tokens":412,"completion_tokens":37},"score":1.0e-7},"data":{"__span_type__":"COMPLETION","model":"gpt-4o"},"task_id":"task-1234"}`)
)

func benchAppend(b *testing.B, opt Options, line []byte) {
	d := New(opt)
	buf := make([]byte, 0, 4096)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		out, _, err := d.Append(buf[:0], line)
		if err != nil {
			b.Fatal(err)
		}
		buf = out
	}
}

// BenchmarkAppendEnd maps a span-end record to an item.
func BenchmarkAppendEnd(b *testing.B) { benchAppend(b, Options{SkipStart: true}, benchEnd) }

// BenchmarkAppendEndMetadata also merges --metadata pairs into the data object.
func BenchmarkAppendEndMetadata(b *testing.B) {
	benchAppend(b, Options{SkipStart: true, Metadata: []KV{{"cluster", "prod-eu"}, {"host", "node-7"}}}, benchEnd)
}

// BenchmarkDropStart is the fast path for a span-start record that is dropped.
func BenchmarkDropStart(b *testing.B) { benchAppend(b, Options{SkipStart: true}, benchStart) }

// BenchmarkAppendStart maps a span-start record when starts are shipped.
func BenchmarkAppendStart(b *testing.B) { benchAppend(b, Options{}, benchStart) }
