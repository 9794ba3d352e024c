package decode

import (
	"testing"

	"github.com/spanshipper/spanshipper/spangen"
)

// BenchmarkAppendGenerated decodes the records make bench ships (spangen,
// seed 1): span-start records dropped, span-end records mapped. One op is
// one line; the bytes are the lines'.
func BenchmarkAppendGenerated(b *testing.B) {
	g := spangen.New(spangen.Options{Seed: 1, Spans: 2000})
	var lines [][]byte
	var size int64
	for {
		line, ok := g.Next(nil)
		if !ok {
			break
		}
		line = line[:len(line)-1] // '\n'
		lines = append(lines, line)
		size += int64(len(line))
	}
	d := New(Options{SkipStart: true})
	buf := make([]byte, 0, 1<<16)
	b.SetBytes(size / int64(len(lines)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		out, _, err := d.Append(buf[:0], lines[i])
		if err != nil {
			b.Fatal(err)
		}
		buf = out
		if i++; i == len(lines) {
			i = 0
		}
	}
}
