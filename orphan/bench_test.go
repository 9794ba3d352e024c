package orphan

import (
	"fmt"
	"testing"
	"time"

	"github.com/spanshipper/spanshipper/checkpoint"
)

// BenchmarkHoldEnd is the hot-path cost of a span whose end follows its
// start: one Hold and one End, with 16 spans open at a time, 1 KiB lines.
func BenchmarkHoldEnd(b *testing.B) { benchHoldEnd(b, 16) }

// BenchmarkHoldEndLong is the same with 1,000 spans open at a time: every
// start outlives the nursery and is promoted to an entry, as in the files
// run (starts and ends in different files) and for spans that last longer
// than ~128 records.
func BenchmarkHoldEndLong(b *testing.B) { benchHoldEnd(b, 1000) }

func benchHoldEnd(b *testing.B, open int) {
	s, err := Open(b.TempDir(), Options{After: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	cur := checkpoint.NewCursor(0)
	line := make([]byte, 1024)
	ids := make([][]byte, 4096)
	for i := range ids {
		ids[i] = []byte(fmt.Sprintf("%08d-aaaa-bbbb-cccc-dddddddddddd", i))
	}
	trace := []byte("0f185e1f-4b1f-52e1-c6f1-a93a6b622e26")
	var off int64
	now := time.Now() // as the agent passes the chunk's read time
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s.Hold(trace, ids[i%len(ids)], line, cur, off, off+1025, "a.jsonl", now)
		off += 1025
		if i >= open {
			s.End(trace, ids[(i-open)%len(ids)])
		}
		if i%4096 == 0 {
			s.Spill()
		}
	}
}
