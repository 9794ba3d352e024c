package tailer

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/spanshipper/spanshipper/checkpoint"
)

// counter is the cheapest Handler: it settles each line at once.
type counter struct{ lines, bytes int64 }

func (c *counter) HandleLine(f *File, line []byte, start, end int64) error {
	c.lines++
	c.bytes += end - start
	f.Cursor().Skip(end)
	return nil
}

func (c *counter) HandleTooLong(f *File, start, end int64) error {
	f.Cursor().Skip(end)
	return nil
}

// BenchmarkReadLoop measures the tailer's read loop on its own: finding the
// file, reading it in 256 KiB chunks, splitting ~1 KiB lines, and settling
// each in its cursor, for a 64 MiB file in the page cache. One op is one
// line; allocations per op show any per-line cost.
func BenchmarkReadLoop(b *testing.B) {
	p := filepath.Join(b.TempDir(), "spans.jsonl")
	line := append(bytes.Repeat([]byte("x"), 1000), '\n')
	const lines = 64 << 10
	if err := os.WriteFile(p, bytes.Repeat(line, lines), 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if n%lines == 0 {
			b.StopTimer()
			h := &counter{}
			tl, err := New(Config{Include: []string{p}, ExitOnEOF: true, PollOnly: true}, checkpoint.State{}, h)
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if err := tl.Run(context.Background()); err != nil {
				b.Fatal(err)
			}
			if h.lines != lines {
				b.Fatalf("read %d lines, want %d", h.lines, lines)
			}
		}
		n++
	}
}
