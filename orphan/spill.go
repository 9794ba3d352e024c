package orphan

import (
	"os"
	"path/filepath"
	"slices"
)

// compactArena moves the lines of generation g's starts still held and not
// journaled to the front of its arena (in place: their offsets only
// decrease) and forgets the rest. Before that, when more than freshBudget
// bytes of lines would stay, it journals the oldest of them (see
// freshBudget).
func (s *Set) compactArena(g int) {
	s.journalOverBudget(g)
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
	if g == s.cur {
		// The nursery's lines come after every fresh entry's: each entry
		// was promoted from it, oldest first.
		for j := range s.youngLen {
			i := (s.youngHead + j) % nurserySize
			if s.youngTag[i] == 0 {
				continue
			}
			y := &s.young[i]
			m := copy(arena[n:], arena[y.lo:y.hi])
			y.lo, y.hi = n, n+m
			n += m
		}
	}
	s.arena[g] = arena[:n]
	s.freshCompactAt = max(4096, 2*len(live))
	s.compactAt = max(arenaCompactAt, 2*n)
	s.compactions++
}

// journalOverBudget journals the oldest of generation g's fresh starts
// until the lines of the others come to at most freshBudget bytes. The
// nursery's lines count but stay: they are the newest.
func (s *Set) journalOverBudget(g int) {
	keep := 0
	for _, e := range s.fresh[g] {
		if !e.gone && !e.journaled {
			keep += e.hi - e.lo
		}
	}
	if g == s.cur {
		for j := range s.youngLen {
			i := (s.youngHead + j) % nurserySize
			if s.youngTag[i] != 0 {
				keep += s.young[i].hi - s.young[i].lo
			}
		}
	}
	for _, e := range s.fresh[g] {
		if keep <= freshBudget {
			return
		}
		if e.gone || e.journaled {
			continue
		}
		keep -= e.hi - e.lo
		s.journal(e)
		s.overBudget++
	}
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
	s.promoteYoung()
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
	s.j.flush()
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
	if s.j.worthCompacting() || s.j.mustRewrite {
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
