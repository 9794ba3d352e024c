package checkpoint

import (
	"math/rand/v2"
	"sync"
	"testing"
)

func TestCursorCommitsOnlyPastFinalRecords(t *testing.T) {
	c := NewCursor(100)
	if got := c.Committed(); got != 100 {
		t.Fatalf("fresh cursor committed %d, want 100", got)
	}
	a := c.Add(100, 150)
	c.Skip(160) // a blank line, final at once
	b := c.Add(160, 200)
	d := c.Add(200, 260)
	if got := c.Committed(); got != 100 {
		t.Fatalf("committed %d with the first record pending, want 100", got)
	}
	d.Done() // out of order: must not move the checkpoint
	if got := c.Committed(); got != 100 {
		t.Fatalf("committed %d after a later record finished, want 100", got)
	}
	a.Done()
	if got := c.Committed(); got != 160 {
		t.Fatalf("committed %d, want 160 (start of the still pending record b)", got)
	}
	b.Done()
	if got := c.Committed(); got != 260 {
		t.Fatalf("committed %d, want 260", got)
	}
	b.Done() // repeated
	if got, p := c.Committed(), c.Pending(); got != 260 || p != 0 {
		t.Fatalf("after repeat: committed %d pending %d", got, p)
	}
	c.Skip(300)
	if got := c.Committed(); got != 300 {
		t.Fatalf("committed %d after a skipped tail, want 300", got)
	}
}

// TestCursorRandomOrder checks the invariant against a model under random
// completion order and concurrent completers.
func TestCursorRandomOrder(t *testing.T) {
	for round := 0; round < 50; round++ {
		rng := rand.New(rand.NewPCG(uint64(round), 7))
		c := NewCursor(0)
		type rec struct {
			m          Mark
			start, end int64
		}
		var recs []rec
		off := int64(0)
		for i := 0; i < 500; i++ {
			n := int64(1 + rng.IntN(50))
			if rng.IntN(4) == 0 {
				c.Skip(off + n)
			} else {
				recs = append(recs, rec{c.Add(off, off+n), off, off + n})
			}
			off += n
		}
		perm := rng.Perm(len(recs))
		done := make([]bool, len(recs))
		var mu sync.Mutex
		var wg sync.WaitGroup
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := w; i < len(perm); i += 4 {
					r := recs[perm[i]]
					mu.Lock()
					r.m.Done()
					done[perm[i]] = true
					got := c.Committed()
					// Every record starting before the commit point must be done.
					for j, rr := range recs {
						if rr.start < got && !done[j] {
							mu.Unlock()
							t.Errorf("committed %d passes pending record at %d", got, rr.start)
							return
						}
					}
					mu.Unlock()
				}
			}(w)
		}
		wg.Wait()
		if got := c.Committed(); got != off {
			t.Fatalf("all done: committed %d, want %d", got, off)
		}
	}
}

// TestCursorFloor: records of one stream complete while another stream's
// partial record is open; the checkpoint never passes the open partial,
// nor the start of a record completed out of order.
func TestCursorFloor(t *testing.T) {
	c := NewCursor(0)
	// stdout P at [0,10) opens a partial.
	c.SetFloor(0)
	// stderr F [10,20) completes a record inside it.
	a := c.Add(10, 20)
	c.Skip(30) // a not-span line [20,30)
	if got := c.Committed(); got != 0 {
		t.Fatalf("committed %d past an open partial", got)
	}
	a.Done()
	if got := c.Committed(); got != 0 {
		t.Fatalf("committed %d past an open partial", got)
	}
	// stdout F [30,40) completes the partial: the record is [0,40).
	c.SetFloor(-1)
	b := c.Add(0, 40)
	if got := c.Committed(); got != 0 {
		t.Fatalf("committed %d with the record from 0 pending", got)
	}
	b.Done()
	if got := c.Committed(); got != 40 {
		t.Fatalf("committed %d, want 40", got)
	}

	// Out of order the other way: the early record (stored under the
	// floor) is pending while the later-starting one is done.
	c.SetFloor(40)
	d := c.Add(50, 60) // stored as starting at 40
	c.SetFloor(-1)
	e := c.Add(40, 70)
	e.Done()
	if got := c.Committed(); got != 40 {
		t.Fatalf("committed %d, want 40 while [50,60) is pending", got)
	}
	d.Done()
	if got := c.Committed(); got != 70 {
		t.Fatalf("committed %d, want 70", got)
	}
	// The frontier never moves back.
	c.Skip(65)
	if got := c.Committed(); got != 70 {
		t.Fatalf("committed %d after a skip behind the frontier", got)
	}
}

// TestCursorInterleaved adds records while earlier ones complete out of
// order within a moving window, as a reader and the shipper do, so the
// pending queue slides, grows, drains and is reused; the commit point
// must always be the start of the oldest record not done.
func TestCursorInterleaved(t *testing.T) {
	for round := 0; round < 20; round++ {
		rng := rand.New(rand.NewPCG(uint64(round), 11))
		c := NewCursor(0)
		type rec struct {
			m     Mark
			start int64
			done  bool
		}
		var recs []*rec
		var open []*rec
		off := int64(0)
		window := 1 + rng.IntN(3000)
		for i := 0; i < 20000; i++ {
			if len(open) < window && rng.IntN(3) != 0 {
				r := &rec{m: c.Add(off, off+10), start: off}
				recs = append(recs, r)
				open = append(open, r)
				off += 10
			} else if len(open) > 0 {
				j := rng.IntN(len(open))
				open[j].m.Done()
				open[j].done = true
				open = append(open[:j], open[j+1:]...)
			}
			if rng.IntN(500) == 0 { // drain now and then
				for _, r := range open {
					r.m.Done()
					r.done = true
				}
				open = open[:0]
			}
			for len(recs) > 0 && recs[0].done {
				recs = recs[1:]
			}
			want := off
			if len(recs) > 0 {
				want = recs[0].start
			}
			if got := c.Committed(); got != want {
				t.Fatalf("round %d step %d: committed %d, want %d", round, i, got, want)
			}
			// Pending counts from the oldest record not done.
			if got := c.Pending(); got != len(recs) {
				t.Fatalf("round %d step %d: pending %d, want %d", round, i, got, len(recs))
			}
		}
	}
}

// A cursor that keeps up with its reader allocates nothing per record.
func TestCursorKeepingUpAllocatesNothing(t *testing.T) {
	c := NewCursor(0)
	off := int64(0)
	marks := make([]Mark, 0, 64)
	cycle := func() {
		for range 64 {
			marks = append(marks, c.Add(off, off+100))
			off += 100
		}
		for _, m := range marks[32:] {
			m.Done()
		}
		for _, m := range marks[:32] {
			m.Done()
		}
		marks = marks[:0]
	}
	cycle()
	if n := testing.AllocsPerRun(100, cycle); n != 0 {
		t.Fatalf("%v allocations per 64 records, want 0", n)
	}
}
