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
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/spanshipper/spanshipper/checkpoint"
)

// DefaultMaxPending is the default --max-pending-starts.
const DefaultMaxPending = 100000

// arenaCompactAt is the size at which the current arena is compacted: most
// of the starts copied into it have ended by then, so only the few still
// held are copied on. It bounds the arenas at twice this plus the bytes
// of held starts not yet journaled.
const arenaCompactAt = 1 << 20

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
	cur            int // the generation new entries go to
	ends           map[key]struct{}
	endRing        []key
	endNext        int
	j              *journal
	acks           *checkpoint.Cursor // marks of rescued journaled starts: sequence numbers, not offsets
	ackSeq         uint64
	inflight       []*entry // rescued journaled starts not yet acknowledged, by seq
	scratch        []byte   // Encode's output
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
		j: j, acks: checkpoint.NewCursor(0), freshCompactAt: 4096,
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
	return len(s.held)
}

// Hold takes the span-start record line (copied) occupying [start, end) of
// the file whose cursor is cur. Unless it is a duplicate or its
// end was already read, the line is registered with cur until the start is
// journaled, dropped or rescued. If holding it exceeds MaxPending, the
// oldest held start is returned for shipping (reason pending_limit).
func (s *Set) Hold(traceID, id, line []byte, cur *checkpoint.Cursor, start, end int64, path string) (Outcome, *Rescue, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.key(traceID, id)
	if _, ok := s.ends[k]; ok {
		delete(s.ends, k)
		cur.Skip(end)
		return Ended, nil, nil
	}
	if _, ok := s.held[k]; ok {
		cur.Skip(end)
		return Duplicate, nil, nil
	}
	g := s.cur
	if len(s.arena[g])+len(line) > arenaCompactAt || len(s.fresh[g]) >= s.freshCompactAt {
		s.compactArena(g)
	}
	lo := len(s.arena[g])
	s.arena[g] = append(s.arena[g], line...)
	e := &entry{k: k, seen: s.opt.Now().UnixNano(), path: path, offset: start,
		mark: cur.Add(start, end), gen: g, lo: lo, hi: len(s.arena[g])}
	s.held[k] = e
	s.fifo = append(s.fifo, e)
	s.fresh[g] = append(s.fresh[g], e)
	if len(s.held) <= s.opt.MaxPending {
		return Held, nil, nil
	}
	r, err := s.rescueOldest(ReasonPendingLimit)
	return Held, r, err
}

// compactArena moves the lines of generation g's starts still held and not
// journaled to the front of its arena (in place: their offsets only
// decrease) and forgets the rest.
func (s *Set) compactArena(g int) {
	arena := s.arena[g]
	n := 0
	live := s.fresh[g][:0]
	for _, e := range s.fresh[g] {
		if e.gone || e.journaled {
			continue
		}
		m := copy(arena[n:], arena[e.lo:e.hi])
		e.lo, e.hi = n, n+m
		n += m
		live = append(live, e)
	}
	clear(s.fresh[g][len(live):])
	s.fresh[g] = live
	s.arena[g] = arena[:n]
	s.freshCompactAt = max(4096, 2*len(live))
}

// End drops the held start of the span an end record was read for, and
// reports whether there was one. An end that finds none is remembered for
// a while, so a start read after it is dropped too.
func (s *Set) End(traceID, id []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.key(traceID, id)
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

// Due returns up to max held starts that have been held for Options.After,
// oldest first, to ship (reason orphan_after).
func (s *Set) Due(max int) ([]Rescue, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	limit := s.opt.Now().Add(-s.opt.After).UnixNano()
	var out []Rescue
	for len(out) < max {
		e := s.oldest()
		if e == nil || e.seen > limit {
			break
		}
		r, err := s.rescueOldest(ReasonOrphanAfter)
		if err != nil {
			return out, err
		}
		if r != nil {
			out = append(out, *r)
		}
	}
	return out, nil
}

// NextDue returns when the oldest held start falls due; false when none is
// held.
func (s *Set) NextDue() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.oldest()
	if e == nil {
		return time.Time{}, false
	}
	return time.Unix(0, e.seen).Add(s.opt.After), true
}

// oldest returns the longest-held start, popping gone entries.
func (s *Set) oldest() *entry {
	for len(s.fifo) > 0 && s.fifo[0].gone {
		s.fifo[0] = nil
		s.fifo = s.fifo[1:]
		s.fifoGone--
	}
	if len(s.fifo) == 0 {
		return nil
	}
	return s.fifo[0]
}

// rescueOldest takes the oldest held start out of the set for shipping.
// A fresh one ships with its cursor mark; a journaled one with a mark on
// acks, and stays in the journal until that mark is done. A fresh start
// whose line is bad input is settled instead, and nil returned.
func (s *Set) rescueOldest(why Reason) (*Rescue, error) {
	e := s.oldest()
	var item []byte
	if e.journaled {
		b, err := s.j.readAt(e.itemOff, e.joff+e.jn-2-e.itemOff) // the item ends before "}\n"
		if err != nil {
			return nil, err
		}
		item = b
	} else {
		b, ok := s.encode(e)
		if !ok {
			return nil, nil
		}
		item = slices.Clone(b)
	}
	tid, id, err := itemIdentity(item)
	if err != nil {
		return nil, err
	}
	s.remove(e)
	r := &Rescue{Item: item, TraceID: tid, ID: id, Path: e.path, Offset: e.offset, Reason: why, Mark: e.mark}
	if e.journaled {
		e.seq = s.ackSeq
		r.Mark = s.acks.Add(int64(s.ackSeq), int64(s.ackSeq+1))
		s.ackSeq++
		s.inflight = append(s.inflight, e)
	}
	return r, nil
}

// itemIdentity returns the raw trace_id and id strings of an encoded item,
// as the decoder reports them (escapes not undone).
func itemIdentity(item []byte) (traceID, id []byte, err error) {
	var v struct {
		ID      json.RawMessage `json:"id"`
		TraceID json.RawMessage `json:"trace_id"`
	}
	if err := json.Unmarshal(item, &v); err != nil {
		return nil, nil, fmt.Errorf("held start item: %w", err)
	}
	if len(v.ID) < 2 || len(v.TraceID) < 2 || v.ID[0] != '"' || v.TraceID[0] != '"' {
		return nil, nil, errors.New("held start item: no id or trace_id")
	}
	return v.TraceID[1 : len(v.TraceID)-1], v.ID[1 : len(v.ID)-1], nil
}

// Spill journals the held starts the next checkpoint must not lose: every
// start not yet journaled that was held since before the previous Spill,
// and every start whose line is the one its cursor is stopped at. Their
// lines become final in their cursors, so call Sync after taking the
// checkpoint snapshot and before writing it. Rescued starts that were
// acknowledged are settled in the journal.
func (s *Set) Spill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := 1 - s.cur
	for _, e := range s.fresh[old] {
		if !e.gone && !e.journaled {
			s.journal(e)
		}
	}
	clear(s.fresh[old])
	s.fresh[old] = s.fresh[old][:0]
	s.arena[old] = s.arena[old][:0]
	if cap(s.arena[old]) > 4<<20 {
		s.arena[old] = nil // a one-off burst
	}
	// In file order, so a run of held starts at the head of a file is
	// journaled in one pass.
	for _, e := range s.fresh[s.cur] {
		if !e.gone && !e.journaled && e.mark.C.Committed() == e.offset {
			s.journal(e)
		}
	}
	s.cur = old
	done := s.acks.Committed()
	n := 0
	for n < len(s.inflight) && int64(s.inflight[n].seq) < done {
		e := s.inflight[n]
		s.j.appendDrop(e.joff, e.jn)
		n++
	}
	s.inflight = slices.Delete(s.inflight, 0, n)
}

// journal appends e's hold line and makes its source line final.
func (s *Set) journal(e *entry) {
	item, ok := s.encode(e)
	if !ok {
		return
	}
	e.joff, e.jn, e.itemOff = s.j.appendHold(e.seen, e.path, e.offset, item)
	e.journaled = true
	e.mark.Done()
}

// encode returns the item of fresh entry e. A line Encode rejects is bad
// input: reported, final, and no longer held.
func (s *Set) encode(e *entry) ([]byte, bool) {
	item, err := s.opt.Encode(s.scratch[:0], s.arena[e.gen][e.lo:e.hi], e.path)
	if err != nil {
		s.remove(e)
		e.mark.Done()
		s.opt.OnBad(e.path, e.offset, err)
		return nil, false
	}
	s.scratch = item[:0]
	return item, true
}

// Sync makes every line journaled so far durable, compacting the journal
// when settled lines dominate it. A checkpoint written after Sync returns
// nil may pass the lines of every start Spill journaled before it.
func (s *Set) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.j.worthCompacting() {
		return s.compact()
	}
	return s.j.sync()
}

// compact rewrites the journal with the hold lines still needed: held
// starts and rescues not yet acknowledged.
func (s *Set) compact() error {
	var keep []*entry
	for _, e := range s.fifo {
		if !e.gone && e.journaled {
			keep = append(keep, e)
		}
	}
	keep = append(keep, s.inflight...)
	lines := make([][2]int64, len(keep))
	for i, e := range keep {
		lines[i] = [2]int64{e.joff, e.jn}
	}
	offs, err := s.j.rewrite(lines)
	if err != nil {
		return err
	}
	for i, e := range keep {
		e.itemOff += offs[i] - e.joff
		e.joff = offs[i]
	}
	return nil
}

// Count returns how many span starts the journal in dir holds (held, or
// rescued and not yet acknowledged), for `spanshipper status`. It does not
// lock the directory.
func Count(dir string) (int, error) {
	recs, _, err := replay(filepath.Join(dir, FileName))
	return len(recs), err
}

// Discard removes the journal in dir, returning how many starts it held:
// for --orphan-after 0 (pure end-only ingest), which drops starts.
func Discard(dir string) (int, error) {
	n, err := Count(dir)
	if err != nil {
		return 0, err
	}
	if err := os.Remove(filepath.Join(dir, FileName)); err != nil && !os.IsNotExist(err) {
		return n, err
	}
	return n, nil
}
