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
	mu       sync.Mutex
	head     uint64  // sequence number of pending[0]
	pending  []entry // records not yet known to be final, oldest first (done ones are popped from the front)
	frontier int64   // end offset of the last line consumed
	floor    int64   // no commit past it while >= 0: a partial record is open there
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
	seq := c.head + uint64(len(c.pending))
	if c.floor >= 0 && c.floor < start {
		start = c.floor
	}
	c.pending = append(c.pending, entry{start: start})
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
	if i >= uint64(len(c.pending)) {
		panic("checkpoint: Done for a record that was never added")
	}
	c.pending[i].done = true
	n := 0
	for n < len(c.pending) && c.pending[n].done {
		n++
	}
	if n == 0 {
		return
	}
	c.head += uint64(n)
	c.pending = c.pending[n:]
	// Reclaim the array once it is mostly dead space, so a long-lived
	// cursor does not hold the high-water mark of its backlog forever.
	if len(c.pending) == 0 {
		c.pending = c.pending[:0:0]
	} else if cap(c.pending) > 64 && len(c.pending) < cap(c.pending)/4 {
		c.pending = append(make([]entry, 0, 2*len(c.pending)), c.pending...)
	}
}

// Committed returns the offset below which every record is final: the start
// of the oldest record still pending, else the end of the last line consumed.
func (c *Cursor) Committed() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	off := c.frontier
	if len(c.pending) > 0 {
		off = c.pending[0].start
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
	return len(c.pending)
}
