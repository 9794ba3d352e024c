// Package orphan holds span-start records until their span ends, and
// rescues the starts of spans that do not end in time (SPEC §4 "Orphan-start
// rescue"): a held start is dropped when its end record is read, or shipped
// as an in-progress item once it has been held for Options.After.
//
// Held starts survive crashes without holding the checkpoint back: a start
// stays registered with its file's cursor (so the checkpoint cannot pass its
// line) only until the checkpointer's next turn, which appends it to a
// journal in the state directory, fsyncs the journal and only then writes
// the checkpoint. See design.md for every crash point.
package orphan

import (
	"bytes"
	"hash/maphash"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/spanshipper/spanshipper/checkpoint"
)

// DefaultMaxPending is the default --max-pending-starts.
const DefaultMaxPending = 100000

// arenaCompactAt is the least size at which the current arena is
// compacted: most of the starts copied into it have ended by then, so only
// the few still held are copied on. When more are held, the next compaction
// waits until the arena is twice what the last one kept (Set.compactAt), so
// copying stays proportional to what is held, not to the holds made: with a
// fixed threshold, more than 256 KiB of starts held between checkpointer
// turns (1,000 spans a second lasting a second) made every Hold copy all of
// them. Each arena stays under twice the larger of this and the bytes of
// held starts not yet journaled.
const arenaCompactAt = 256 << 10

// freshBudget is how many bytes of held starts' lines not yet journaled
// the current arena keeps through a compaction; past it, the oldest are
// journaled then (written to the journal, their lines let go), not at the
// next checkpointer turn. It bounds the memory of a catch-up with many
// spans open at once: read at full speed, a turn covers hundreds of
// thousands of records, and every open span's start line stayed in the
// arena until the turn ended (20,000 spans open: 46 MB of arena, 160 MB of
// RSS; 100,000: 600 MB). Each arena stays under about twice this, and a
// steady rate rarely reaches it: 1,000 spans a second of 1 KiB lines,
// each lasting two seconds, hold 2 MB.
const freshBudget = 4 << 20

// nurserySize is how many of the newest held starts are kept in the
// nursery (see Set.young).
const nurserySize = 128

// recentEnds is how many span ends that found no held start are remembered,
// so a start read after its end (other file, other order) is dropped.
const recentEnds = 8192

// Options configure a Set. The zero value of each field means its default.
type Options struct {
	After      time.Duration    // how long a start is held before it is rescued; 0 rescues at once
	MaxPending int              // starts held at most; past it the oldest is rescued; 0 means DefaultMaxPending
	Now        func() time.Time // nil means time.Now
	Logger     *slog.Logger
	// Encode maps a held start's line (read from path) to its item; it is
	// called, under the Set's lock, only for starts that are journaled or
	// rescued, so the hot path never encodes. nil stores lines as items.
	Encode func(dst, line []byte, path string) ([]byte, error)
	// OnBad, if set, is told of a held start whose line Encode rejected:
	// it is bad input, final, and neither journaled nor shipped.
	OnBad func(path string, offset int64, err error)
}

// Reason says why a start was rescued; it is the value of the
// spanshipper_spans_rescued_total reason label.
type Reason string

// The reasons a start is rescued.
const (
	ReasonOrphanAfter  Reason = "orphan_after"
	ReasonPendingLimit Reason = "pending_limit"
)

// Rescue is a held start to ship as an in-progress item. Mark is reported
// done (batch.Batch.Ack) once the item is acknowledged or dead-lettered.
type Rescue struct {
	Item        []byte // the encoded item, owned by the caller
	TraceID, ID []byte // the span's identity, as in the item
	Mark        checkpoint.Mark
	Path        string
	Offset      int64
	Reason      Reason
}

// Outcome is what Hold did with a start.
type Outcome uint8

// The outcomes of Hold.
const (
	Held      Outcome = iota // held until its end or its rescue
	Duplicate                // the span's start is already held: this copy is final
	Ended                    // its end was already read: dropped at once
)

// key is a span's identity, hashed: 64 bits of its trace_id and 64 of its
// id, so a collision (an end dropping another span's start) needs two
// spans of one trace whose ids collide in 64 bits: not a practical concern.
type key struct{ trace, id uint64 }

// entry is one held start. While fresh, its line is in an arena and its
// line is registered with the file's cursor (mark); once journaled, it is
// in the journal at joff and the mark is done.
type entry struct {
	k         key
	seen      int64 // unix ns when first read
	path      string
	offset    int64
	mark      checkpoint.Mark
	gen       int    // arena generation, while fresh
	lo, hi    int    // line in arena[gen], while fresh
	journaled bool   // joff, jn: its hold line; itemOff: its item
	joff, jn  int64  //
	itemOff   int64  //
	gone      bool   // dropped or rescued: no longer held
	seq       uint64 // in flight: its sequence number on Set.acks
}

// young is a held start in the nursery: fresh, its line in arena[cur].
type young struct {
	k      key
	seen   int64
	path   string
	offset int64
	mark   checkpoint.Mark
	lo, hi int
}

// Set is the held starts of one pipeline and their journal. It is safe for
// concurrent use: the reader holds and ends, the rescuer takes due starts,
// the checkpointer spills and syncs.
type Set struct {
	opt       Options
	log       *slog.Logger
	traceSeed maphash.Seed
	idSeed    maphash.Seed

	mu       sync.Mutex
	held     map[key]*entry
	fifo     []*entry // held entries by first read (gone ones skipped lazily)
	fifoGone int
	fresh    [2][]*entry // entries not yet journaled, by arena generation
	arena    [2][]byte
	// freshCompactAt is the length of a fresh list at which it (and its
	// arena) is compacted, so the entries of starts that ended are let go
	// between checkpointer turns too.
	freshCompactAt int
	// compactAt is the arena size at which the current arena is compacted
	// (see arenaCompactAt); compactions counts them, for tests.
	compactAt   int
	compactions int
	overBudget  int // starts journaled by journalOverBudget, for tests
	cur         int // the generation new entries go to
	ends        map[key]struct{}
	endRing     []key
	endNext     int
	j           *journal
	acks        *checkpoint.Cursor // marks of rescued journaled starts: sequence numbers, not offsets
	ackSeq      uint64
	inflight    []*entry // rescued journaled starts not yet acknowledged, by seq
	scratch     []byte   // Encode's output

	// The nursery: the newest held starts, kept by value in a ring in the
	// order they were read, outside held, fifo and fresh. Most spans end a
	// few records after they start (in the bench file: half within 11
	// records, 99% within 87), so most starts are dropped here without an
	// entry allocated, a map insert and delete, or list appends: the
	// oldest is promoted to an entry only when the ring is full, and all
	// are before anything that walks the held starts (Spill, Due,
	// NextDue, the pending limit). youngTag has a byte of each slot's key
	// (0: empty) for a quick search.
	young     [nurserySize]young
	youngTag  [nurserySize]byte
	youngHead int // the oldest slot
	youngLen  int // slots in use from youngHead, emptied ones included
	youngLive int // slots holding a start
}

// Open replays the journal in dir into a Set. Replayed starts keep the time
// they were first read, so downtime counts towards their rescue.
func Open(dir string, opt Options) (*Set, error) {
	if opt.MaxPending <= 0 {
		opt.MaxPending = DefaultMaxPending
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Encode == nil {
		opt.Encode = func(dst, line []byte, _ string) ([]byte, error) { return append(dst, line...), nil }
	}
	if opt.OnBad == nil {
		opt.OnBad = func(string, int64, error) {}
	}
	path := filepath.Join(dir, FileName)
	recs, valid, err := replay(path)
	if err != nil {
		return nil, err
	}
	j, err := openJournal(path, valid)
	if err != nil {
		return nil, err
	}
	s := &Set{
		opt: opt, log: opt.Logger, traceSeed: maphash.MakeSeed(), idSeed: maphash.MakeSeed(),
		held: make(map[key]*entry), ends: make(map[key]struct{}, recentEnds),
		j: j, acks: checkpoint.NewCursor(0), freshCompactAt: 4096, compactAt: arenaCompactAt,
	}
	slices.SortStableFunc(recs, func(a, b record) int { return cmpInt(a.seen, b.seen) })
	for _, r := range recs {
		tid, id, err := itemIdentity(r.item)
		if err != nil {
			j.dead += r.n
			continue
		}
		k := s.key(tid, id)
		if _, dup := s.held[k]; dup {
			j.dead += r.n // the same start journaled twice: the first one counts
			continue
		}
		j.live += r.n
		e := &entry{k: k, seen: r.seen, path: r.path, offset: r.offset,
			journaled: true, joff: r.off, jn: r.n, itemOff: r.itemOff}
		s.held[k] = e
		s.fifo = append(s.fifo, e)
	}
	j.dead = valid - j.live
	if len(recs) > 0 {
		s.log.Info("held span starts restored", "count", len(s.held), "file", path)
	}
	return s, nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Close closes the journal. Call Sync first to keep what is pending.
func (s *Set) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.j.close()
}

func (s *Set) key(traceID, id []byte) key {
	return key{maphash.Bytes(s.traceSeed, traceID), maphash.Bytes(s.idSeed, id)}
}

// Len returns how many starts are held.
func (s *Set) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.held) + s.youngLive
}

func youngTagOf(k key) byte { return byte(k.id>>56) | 1 }

// youngFind returns the nursery slot holding k, or -1.
func (s *Set) youngFind(k key) int {
	t := youngTagOf(k)
	for off := 0; off < nurserySize; {
		i := bytes.IndexByte(s.youngTag[off:], t)
		if i < 0 {
			return -1
		}
		i += off
		if s.young[i].k == k {
			return i
		}
		off = i + 1
	}
	return -1
}

// promoteOldestYoung makes the oldest nursery slot, if it holds a start,
// an entry like any other, and frees the slot.
func (s *Set) promoteOldestYoung() {
	i := s.youngHead
	if s.youngTag[i] != 0 {
		y := &s.young[i]
		e := &entry{k: y.k, seen: y.seen, path: y.path, offset: y.offset,
			mark: y.mark, gen: s.cur, lo: y.lo, hi: y.hi}
		s.held[e.k] = e
		s.fifo = append(s.fifo, e)
		s.fresh[s.cur] = append(s.fresh[s.cur], e)
		s.youngTag[i] = 0
		s.youngLive--
	}
	s.young[i] = young{}
	s.youngHead = (s.youngHead + 1) % nurserySize
	s.youngLen--
}

// promoteYoung empties the nursery, oldest first.
func (s *Set) promoteYoung() {
	for s.youngLen > 0 {
		s.promoteOldestYoung()
	}
}

// Hold takes the span-start record line (copied) occupying [start, end) of
// the file whose cursor is cur. Unless it is a duplicate or its
// end was already read, the line is registered with cur until the start is
// journaled, dropped or rescued. If holding it exceeds MaxPending, the
// oldest held start is returned for shipping (reason pending_limit).
//
// read is when the line was read, the start of its wait for its end (zero:
// now, by Options.Now). The tailer reads a whole chunk of lines at one
// time, and a clock read per held start was 2% of the bulk run's CPU.
func (s *Set) Hold(traceID, id, line []byte, cur *checkpoint.Cursor, start, end int64, path string, read time.Time) (Outcome, *Rescue, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.key(traceID, id)
	if _, ok := s.ends[k]; ok {
		delete(s.ends, k)
		cur.Skip(end)
		return Ended, nil, nil
	}
	if _, ok := s.held[k]; ok || s.youngFind(k) >= 0 {
		cur.Skip(end)
		return Duplicate, nil, nil
	}
	g := s.cur
	if len(s.arena[g])+len(line) > s.compactAt || len(s.fresh[g]) >= s.freshCompactAt {
		s.compactArena(g)
	}
	lo := len(s.arena[g])
	s.arena[g] = append(s.arena[g], line...)
	if s.youngLen == nurserySize {
		s.promoteOldestYoung()
	}
	i := (s.youngHead + s.youngLen) % nurserySize
	if read.IsZero() {
		read = s.opt.Now()
	}
	s.young[i] = young{k: k, seen: read.UnixNano(), path: path, offset: start,
		mark: cur.Add(start, end), lo: lo, hi: len(s.arena[g])}
	s.youngTag[i] = youngTagOf(k)
	s.youngLen++
	s.youngLive++
	if len(s.held)+s.youngLive <= s.opt.MaxPending {
		return Held, nil, nil
	}
	s.promoteYoung()
	r, err := s.rescueOldest(ReasonPendingLimit)
	return Held, r, err
}

// End drops the held start of the span an end record was read for, and
// reports whether there was one. An end that finds none is remembered for
// a while, so a start read after it is dropped too.
func (s *Set) End(traceID, id []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.key(traceID, id)
	if i := s.youngFind(k); i >= 0 {
		m := s.young[i].mark
		s.young[i] = young{}
		s.youngTag[i] = 0
		s.youngLive--
		m.Done()
		return true
	}
	e, ok := s.held[k]
	if !ok {
		s.rememberEnd(k)
		return false
	}
	s.remove(e)
	if e.journaled {
		s.j.appendDrop(e.joff, e.jn)
	} else {
		e.mark.Done()
	}
	return true
}

func (s *Set) rememberEnd(k key) {
	if len(s.endRing) < recentEnds {
		s.endRing = append(s.endRing, k)
	} else {
		delete(s.ends, s.endRing[s.endNext])
		s.endRing[s.endNext] = k
		s.endNext = (s.endNext + 1) % recentEnds
	}
	s.ends[k] = struct{}{}
}

// remove takes e out of the held set; the fifo and fresh lists skip it.
func (s *Set) remove(e *entry) {
	delete(s.held, e.k)
	e.gone = true
	s.fifoGone++
	if s.fifoGone > 1024 && s.fifoGone > len(s.fifo)/2 {
		s.fifo = slices.DeleteFunc(s.fifo, func(e *entry) bool { return e.gone })
		s.fifoGone = 0
	}
}
