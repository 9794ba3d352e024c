package batch

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/spanshipper/spanshipper/checkpoint"
)

// BenchmarkBatchEncode measures the batcher's part of the hot path: copying
// an encoded ~1 KiB item into the request body, indexing its span identity
// for de-duplication, recording its mark, sealing every 200 items, and the
// consumer's ack and release of each batch (buffers are pooled).
func BenchmarkBatchEncode(b *testing.B) {
	item := []byte(`{"id":"0b7c3c5e-8f0a-4a53-9d55-8d1b6c1f6a11","trace_id":"6a1f4a7e-2b3c-4d5e-8f90-a1b2c3d4e5f6","name":"chat_completion","start_timestamp":"2026-11-25T10:00:00.123456Z","end_timestamp":"2026-11-25T10:00:01.654321Z","input":{"messages":[{"role":"user","content":"` +
		strings.Repeat("Summarise the ticket. ", 25) + `"}]},"output":{"content":"done"},"metadata":{"model":"gpt-4o"},"type":"COMPLETION","status":"SUCCESS"}`)
	ids := make([][]byte, 4096)
	for i := range ids {
		ids[i] = fmt.Appendf(nil, "%08x-0000-4000-8000-%012x", i, i)
	}
	traceID := []byte("6a1f4a7e-2b3c-4d5e-8f90-a1b2c3d4e5f6")
	ctx := context.Background()
	bt := New(ctx, Options{MaxItems: 200, Linger: time.Hour})
	done := make(chan struct{})
	go func() {
		for batch := range bt.Out() {
			batch.Ack()
			bt.Release(batch)
		}
		close(done)
	}()
	cur := checkpoint.NewCursor(0)
	var off int64
	b.SetBytes(int64(len(item)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		end := off + int64(len(item)) + 1
		err := bt.Add(ctx, Entry{JSON: item, TraceID: traceID, ID: ids[i%len(ids)], End: true,
			Mark: cur.Add(off, end), Path: "/var/log/agents/a.jsonl", Offset: off})
		if err != nil {
			b.Fatal(err)
		}
		off = end
		i++
	}
	bt.Close(ctx)
	<-done
}
