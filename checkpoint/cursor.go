package checkpoint

import "sync"

// Cursor tracks, for one generation of one file, which records have reached a
// final outcome, and from that the offset that may be checkpointed.
//
// The reader registers every record it hands on with Add (in file order) and
// reports lines that are final at once (blank, bad, dropped span-starts) with
// Skip. The shipper calls Done for a record once it is acknowledged or
// dead-lettered. Committed never passes a record that is not done, so a crash
// at any point re-reads, and at worst re-sends, what was in flight: it never
// skips it. Records complete in any order.
//
// A Cursor is safe for concurrent use.
type Cursor struct {
	mu   sync.Mutex
	head uint64 // sequence number of pending[0]
	// pending is the records not yet known to be final, oldest first: done
	// ones are popped from the front by advancing lo into buf, and buf is
	// reused from its start once it drains, so a cursor that keeps up
	// allocates nothing per record (it used to regrow an array from one
	// element each time its backlog emptied: 78 MB per million spans).
	buf      []entry
	lo       int
	frontier int64 // end offset of the last line consumed
	floor    int64 // no commit past it while >= 0: a partial record is open there
}

type entry struct {
	start int64 // offset of the record's first byte
	done  bool
}

// Mark names one record registered with a Cursor.
type Mark struct {
	C   *Cursor
	Seq uint64
}

// Done reports the record's final outcome to its cursor.
func (m Mark) Done() { m.C.Done(m.Seq) }

// NewCursor returns a cursor whose records start at offset.
func NewCursor(offset int64) *Cursor {
	return &Cursor{frontier: offset, floor: -1}
}

// SetFloor keeps Committed at or below off while the lines from off on may
// belong to a record not yet handed on (a container runtime's partial
// record: SPEC §2, no checkpoint inside a reassembled record). Records
// added meanwhile count as starting at off at the latest. A negative off
// removes the floor.
func (c *Cursor) SetFloor(off int64) {
	c.mu.Lock()
	c.floor = off
	c.mu.Unlock()
}

// Add registers a record occupying [start, end) and returns its mark.
// Records must be added in the order of their starts, or under a floor
// (SetFloor) that covers those that are not.
func (c *Cursor) Add(start, end int64) Mark {
	c.mu.Lock()
	seq := c.head + uint64(len(c.buf)-c.lo)
	if c.floor >= 0 && c.floor < start {
		start = c.floor
	}
	if len(c.buf) == cap(c.buf) && c.lo >= len(c.buf)/2 {
		// Full, and at least half of it popped: slide the pending records
		// to the front instead of growing (to a smaller array if the
		// backlog that grew it has gone).
		if n := len(c.buf) - c.lo; cap(c.buf) > maxKeptPending && n < cap(c.buf)/4 {
			c.buf = append(make([]entry, 0, 2*n), c.buf[c.lo:]...)
		} else {
			c.buf = c.buf[:copy(c.buf, c.buf[c.lo:])]
		}
		c.lo = 0
	}
	c.buf = append(c.buf, entry{start: start})
	c.frontier = max(c.frontier, end)
	c.mu.Unlock()
	return Mark{C: c, Seq: seq}
}

// Skip records that everything up to end was consumed and is final
// without being sent (blank, bad or dropped lines).
func (c *Cursor) Skip(end int64) {
	c.mu.Lock()
	c.frontier = max(c.frontier, end)
	c.mu.Unlock()
}

// Done marks the record with sequence number seq as final.
func (c *Cursor) Done(seq uint64) {
	c.mu.Lock()
	c.done(seq)
	c.mu.Unlock()
}

// DoneAll marks every record in marks that belongs to c as final, under one
// lock acquisition.
func (c *Cursor) DoneAll(marks []Mark) {
	c.mu.Lock()
	for _, m := range marks {
		if m.C == c {
			c.done(m.Seq)
		}
	}
	c.mu.Unlock()
}

func (c *Cursor) done(seq uint64) {
	if seq < c.head {
		return // already popped: a repeated Done is harmless
	}
	i := seq - c.head
	pending := c.buf[c.lo:]
	if i >= uint64(len(pending)) {
		panic("checkpoint: Done for a record that was never added")
	}
	pending[i].done = true
	n := 0
	for n < len(pending) && pending[n].done {
		n++
	}
	if n == 0 {
		return
	}
	c.head += uint64(n)
	c.lo += n
	if c.lo < len(c.buf) {
		return
	}
	// Drained: reuse the array from its start, unless it is the high-water
	// mark of a backlog (a stalled backend), which is let go.
	c.lo = 0
	c.buf = c.buf[:0]
	if cap(c.buf) > maxKeptPending {
		c.buf = nil
	}
}

// maxKeptPending is the most records' room a drained cursor keeps.
const maxKeptPending = 4096

// Committed returns the offset below which every record is final: the start
// of the oldest record still pending, else the end of the last line consumed.
func (c *Cursor) Committed() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	off := c.frontier
	if c.lo < len(c.buf) {
		off = c.buf[c.lo].start
	}
	if c.floor >= 0 && c.floor < off {
		off = c.floor
	}
	return off
}

// Pending returns how many records are registered but not yet final.
func (c *Cursor) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.buf) - c.lo
}
