package orphan

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spanshipper/spanshipper/checkpoint"
)

// clock is an injected clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock                   { return &clock{t: time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)} }
func item(trace, id string) []byte {
	return []byte(fmt.Sprintf(`{"id":%q,"trace_id":%q,"name":"n"}`, id, trace))
}
func lineLen(trace, id string) int64 { return int64(len(item(trace, id)) + 1) }
func openSet(t *testing.T, dir string, c *clock, after time.Duration, max int) *Set {
	t.Helper()
	s, err := Open(dir, Options{After: after, MaxPending: max, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// file is a simulated span file: its cursor and the offset of its next line.
type file struct {
	path string
	cur  *checkpoint.Cursor
	off  int64
}

func newFile(path string) *file { return &file{path: path, cur: checkpoint.NewCursor(0)} }

// start holds a span-start line of f.
func (f *file) start(t *testing.T, s *Set, trace, id string) (Outcome, *Rescue) {
	t.Helper()
	n := lineLen(trace, id)
	out, r, err := s.Hold([]byte(trace), []byte(id), item(trace, id), f.cur, f.off, f.off+n, f.path, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	f.off += n
	return out, r
}

// end consumes a span-end line of f (registered and acked at once) and
// reports whether it dropped a held start.
func (f *file) end(s *Set, trace, id string) bool {
	n := lineLen(trace, id)
	f.cur.Add(f.off, f.off+n).Done()
	f.off += n
	return s.End([]byte(trace), []byte(id))
}

func TestHeldThenDroppedByItsEnd(t *testing.T) {
	c := newClock()
	s := openSet(t, t.TempDir(), c, time.Minute, 0)
	f := newFile("a.jsonl")
	if out, _ := f.start(t, s, "t1", "s1"); out != Held {
		t.Fatalf("outcome %v, want Held", out)
	}
	if s.Len() != 1 || f.cur.Committed() != 0 {
		t.Fatalf("held %d, committed %d: want 1 held and the line not final", s.Len(), f.cur.Committed())
	}
	c.advance(59 * time.Second)
	if !f.end(s, "t1", "s1") {
		t.Fatal("the end did not drop the held start")
	}
	if s.Len() != 0 || f.cur.Committed() != f.off {
		t.Fatalf("held %d, committed %d: want 0 held and everything final (%d)", s.Len(), f.cur.Committed(), f.off)
	}
	c.advance(time.Hour)
	if due, _ := s.Due(10); len(due) != 0 {
		t.Fatalf("%d starts rescued after their end", len(due))
	}
}

func TestRescuedAfterOrphanAfter(t *testing.T) {
	c := newClock()
	s := openSet(t, t.TempDir(), c, time.Minute, 0)
	f := newFile("a.jsonl")
	f.start(t, s, "t1", "s1")
	c.advance(30 * time.Second)
	f.start(t, s, "t1", "s2")
	c.advance(29 * time.Second)
	if due, _ := s.Due(10); len(due) != 0 {
		t.Fatalf("%d rescued before --orphan-after", len(due))
	}
	if next, ok := s.NextDue(); !ok || !next.Equal(c.t.Add(time.Second)) {
		t.Fatalf("next due %v %v, want in 1s", next, ok)
	}
	c.advance(time.Second)
	due, err := s.Due(10)
	if err != nil || len(due) != 1 {
		t.Fatalf("due %d (%v), want the first start only", len(due), err)
	}
	r := due[0]
	if string(r.Item) != string(item("t1", "s1")) || string(r.TraceID) != "t1" || string(r.ID) != "s1" || r.Reason != ReasonOrphanAfter || r.Path != "a.jsonl" || r.Offset != 0 {
		t.Fatalf("rescue %+v", r)
	}
	if f.cur.Committed() != 0 {
		t.Fatal("a rescued start's line became final before its ack")
	}
	r.Mark.Done() // acknowledged
	if got := f.cur.Committed(); got != lineLen("t1", "s1") {
		t.Fatalf("committed %d after the ack, want the first line final", got)
	}
	// Its late end ships as usual; nothing is held for it.
	if f.end(s, "t1", "s1") {
		t.Fatal("a late end found a held start")
	}
	if s.Len() != 1 {
		t.Fatalf("held %d, want the second start", s.Len())
	}
}

// TestWaitStartsWhenTheLineWasRead holds a start read (by the tailer's
// clock) 40 s before Hold is called: it falls due 20 s later, not 60 s.
func TestWaitStartsWhenTheLineWasRead(t *testing.T) {
	c := newClock()
	s := openSet(t, t.TempDir(), c, time.Minute, 0)
	line := item("t1", "s1")
	cur := checkpoint.NewCursor(0)
	if out, _, err := s.Hold([]byte("t1"), []byte("s1"), line, cur, 0, int64(len(line))+1, "a.jsonl", c.t.Add(-40*time.Second)); err != nil || out != Held {
		t.Fatalf("outcome %v, %v", out, err)
	}
	if next, ok := s.NextDue(); !ok || !next.Equal(c.t.Add(20*time.Second)) {
		t.Fatalf("next due %v %v, want in 20s", next, ok)
	}
	c.advance(20 * time.Second)
	if due, err := s.Due(10); err != nil || len(due) != 1 {
		t.Fatalf("due %d (%v), want the start", len(due), err)
	}
}

func TestEndBeforeStartInFileOrder(t *testing.T) {
	s := openSet(t, t.TempDir(), newClock(), time.Minute, 0)
	f := newFile("a.jsonl")
	if f.end(s, "t1", "s1") {
		t.Fatal("an end dropped a start never read")
	}
	if out, _ := f.start(t, s, "t1", "s1"); out != Ended {
		t.Fatalf("outcome %v, want Ended", out)
	}
	if s.Len() != 0 || f.cur.Committed() != f.off {
		t.Fatalf("held %d, committed %d; want the start dropped and final", s.Len(), f.cur.Committed())
	}
}

func TestStartAndEndInDifferentFiles(t *testing.T) {
	s := openSet(t, t.TempDir(), newClock(), time.Minute, 0)
	a, b := newFile("agent.jsonl.1"), newFile("agent.jsonl")
	a.start(t, s, "t1", "s1")
	a.start(t, s, "t1", "s2")
	if !b.end(s, "t1", "s1") {
		t.Fatal("the end in the next file did not drop the start")
	}
	if got := a.cur.Committed(); got != lineLen("t1", "s1") {
		t.Fatalf("first file committed %d, want its first line final", got)
	}
	if s.Len() != 1 {
		t.Fatalf("held %d, want 1", s.Len())
	}
}

func TestDuplicateStartIsFinal(t *testing.T) {
	s := openSet(t, t.TempDir(), newClock(), time.Minute, 0)
	f := newFile("a.jsonl")
	f.start(t, s, "t1", "s1")
	if out, _ := f.start(t, s, "t1", "s1"); out != Duplicate {
		t.Fatalf("outcome %v, want Duplicate", out)
	}
	if s.Len() != 1 || f.cur.Pending() != 1 {
		t.Fatalf("held %d, pending %d; want the first copy held, the second final", s.Len(), f.cur.Pending())
	}
}

func TestPendingLimitShipsTheOldest(t *testing.T) {
	s := openSet(t, t.TempDir(), newClock(), time.Hour, 2)
	f := newFile("a.jsonl")
	f.start(t, s, "t", "1")
	f.start(t, s, "t", "2")
	out, r := f.start(t, s, "t", "3")
	if out != Held || r == nil || string(r.ID) != "1" || r.Reason != ReasonPendingLimit {
		t.Fatalf("outcome %v, rescue %+v; want the oldest shipped for pending_limit", out, r)
	}
	if s.Len() != 2 {
		t.Fatalf("held %d, want 2", s.Len())
	}
}

// spillAll journals every held start, as two checkpointer turns do.
func spillAll(t *testing.T, s *Set) {
	t.Helper()
	s.Spill()
	s.Spill()
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
}

func TestHeldStartSurvivesACrash(t *testing.T) {
	dir := t.TempDir()
	c := newClock()
	s := openSet(t, dir, c, time.Minute, 0)
	f := newFile("a.jsonl")
	f.start(t, s, "t1", "s1")
	f.start(t, s, "t1", "s2")
	f.start(t, s, "t1", "s3")
	first := c.t
	spillAll(t, s)
	if f.cur.Committed() != f.off {
		t.Fatalf("committed %d, want every journaled start's line final (%d)", f.cur.Committed(), f.off)
	}
	f.end(s, "t1", "s2") // a drop line
	spillAll(t, s)
	s.Close() // as after kill -9: no more writes

	c.advance(30 * time.Second) // downtime counts
	s2 := openSet(t, dir, c, time.Minute, 0)
	if s2.Len() != 2 {
		t.Fatalf("restored %d held starts, want 2", s2.Len())
	}
	if n, _ := Count(dir); n != 2 {
		t.Fatalf("Count = %d, want 2", n)
	}
	if next, _ := s2.NextDue(); !next.Equal(first.Add(time.Minute)) {
		t.Fatalf("next due %v, want first read + 1m = %v", next, first.Add(time.Minute))
	}
	// The end of s3 read after the restart drops it, from the journal.
	g := newFile("a.jsonl")
	if !g.end(s2, "t1", "s3") {
		t.Fatal("the end read after a restart did not drop the restored start")
	}
	c.advance(30 * time.Second)
	due, err := s2.Due(10)
	if err != nil || len(due) != 1 || string(due[0].Item) != string(item("t1", "s1")) {
		t.Fatalf("due %v (%v), want s1's item", due, err)
	}
	// Not acknowledged before the next crash: still journaled, ships again.
	spillAll(t, s2)
	s2.Close()
	s3 := openSet(t, dir, c, time.Minute, 0)
	due, _ = s3.Due(10)
	if len(due) != 1 || string(due[0].ID) != "s1" {
		t.Fatalf("an unacknowledged rescue was forgotten: due %v", due)
	}
	due[0].Mark.Done()
	spillAll(t, s3)
	s3.Close()
	s4 := openSet(t, dir, c, time.Minute, 0)
	if s4.Len() != 0 {
		t.Fatalf("an acknowledged rescue is still held (%d)", s4.Len())
	}
}

func TestSpillOnlyWhatTheCheckpointWouldPass(t *testing.T) {
	dir := t.TempDir()
	s := openSet(t, dir, newClock(), time.Minute, 0)
	f := newFile("a.jsonl")
	inflight := f.cur.Add(0, 10) // an end record not yet acknowledged
	f.off = 10
	f.start(t, s, "t1", "s1")
	s.Spill()
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, FileName)); fi.Size() != 0 {
		t.Fatalf("journal has %d bytes; a start behind an unfinished record needs no journaling yet", fi.Size())
	}
	inflight.Done()
	s.Spill() // now the start is where the cursor stops
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if f.cur.Committed() != f.off {
		t.Fatalf("committed %d, want %d", f.cur.Committed(), f.off)
	}
	if n, _ := Count(dir); n != 1 {
		t.Fatalf("journal holds %d, want 1", n)
	}
}

func TestTornJournalTail(t *testing.T) {
	dir := t.TempDir()
	c := newClock()
	s := openSet(t, dir, c, time.Minute, 0)
	f := newFile("a.jsonl")
	f.start(t, s, "t1", "s1")
	spillAll(t, s)
	s.Close()
	jf, _ := os.OpenFile(filepath.Join(dir, FileName), os.O_APPEND|os.O_WRONLY, 0)
	jf.WriteString(`{"seen":1,"path":"a.jsonl","offset":9,"item":{"id":"s2","tra`)
	jf.Close()
	s2 := openSet(t, dir, c, time.Minute, 0)
	if s2.Len() != 1 {
		t.Fatalf("held %d after a torn tail, want 1", s2.Len())
	}
	g := newFile("b.jsonl")
	g.start(t, s2, "t2", "x")
	spillAll(t, s2)
	s2.Close()
	s3 := openSet(t, dir, c, time.Minute, 0)
	if s3.Len() != 2 {
		t.Fatalf("held %d, want 2: lines appended after a torn tail must stay readable", s3.Len())
	}
}

func TestCompaction(t *testing.T) {
	dir := t.TempDir()
	c := newClock()
	s := openSet(t, dir, c, time.Hour, 0)
	f := newFile("a.jsonl")
	f.start(t, s, "keep", "k1")
	spillAll(t, s)
	for i := range 20000 {
		id := fmt.Sprintf("span-%06d-%s", i, "padding-padding-padding-padding")
		f.start(t, s, "t", id)
		if i%100 == 99 {
			spillAll(t, s)
		}
		if i >= 5 {
			f.end(s, "t", fmt.Sprintf("span-%06d-%s", i-5, "padding-padding-padding-padding"))
		}
	}
	spillAll(t, s)
	fi, _ := os.Stat(filepath.Join(dir, FileName))
	if fi.Size() > 1<<20+64<<10 {
		t.Fatalf("journal is %d bytes; it is never compacted", fi.Size())
	}
	s.Close()
	s2 := openSet(t, dir, c, time.Hour, 0)
	if s2.Len() != 6 {
		t.Fatalf("held %d after compaction, want 6", s2.Len())
	}
	c.advance(2 * time.Hour)
	due, err := s2.Due(10)
	if err != nil || len(due) != 6 || string(due[0].ID) != "k1" {
		t.Fatalf("due %d (%v), first %q; want 6, k1 first", len(due), err, due[0].ID)
	}
}

// TestArenaStaysBounded: starts that end soon leave no memory behind even
// between checkpointer turns; the items of those still held stay intact.
func TestArenaStaysBounded(t *testing.T) {
	c := newClock()
	s := openSet(t, t.TempDir(), c, time.Minute, 0)
	f := newFile("a.jsonl")
	f.start(t, s, "long", "l1")
	pad := string(make([]byte, 1000))
	for i := range 20000 {
		id := fmt.Sprintf("s%d%s", i, pad)
		f.start(t, s, "t", id)
		f.end(s, "t", id)
	}
	if n := len(s.arena[s.cur]); n > arenaCompactAt {
		t.Fatalf("arena holds %d bytes, want at most %d", n, arenaCompactAt)
	}
	c.advance(time.Minute)
	due, err := s.Due(10)
	if err != nil || len(due) != 1 || string(due[0].Item) != string(item("long", "l1")) {
		t.Fatalf("due %v (%v), want the long span's item intact", due, err)
	}
}

// TestArenaCompactionIsAmortized: with more held starts than the least
// compaction size (2 MiB of them between checkpointer turns), compacting
// does not run at every hold, which copied every held line each time (15 µs
// per span with 1,000 spans of 1 KiB open, BenchmarkHoldEndLong); and the
// held starts' items stay intact through the compactions. Half of them end
// as it goes, so there is something to compact away.
func TestArenaCompactionIsAmortized(t *testing.T) {
	c := newClock()
	s := openSet(t, t.TempDir(), c, time.Minute, 0)
	f := newFile("a.jsonl")
	pad := strings.Repeat("p", 1000)
	const n = 4000
	for i := range n {
		f.start(t, s, "t", fmt.Sprintf("s%05d%s", i, pad))
		if i%2 == 1 {
			f.end(s, "t", fmt.Sprintf("s%05d%s", i-1, pad))
		}
	}
	// 2 MiB held: compactions at 256 KiB and then at twice what each kept.
	if s.compactions > 16 {
		t.Fatalf("%d compactions for %d holds, want a few: compaction is not amortized", s.compactions, n)
	}
	if s.compactions == 0 {
		t.Fatal("no compaction at all: the test does not reach it")
	}
	c.advance(time.Minute)
	due, err := s.Due(n)
	if err != nil || len(due) != n/2 {
		t.Fatalf("due %d (%v), want %d", len(due), err, n/2)
	}
	for k, r := range due {
		if id := fmt.Sprintf("s%05d%s", 2*k+1, pad); string(r.Item) != string(item("t", id)) {
			t.Fatalf("held start %d: item %.40q..., want the one for %.10q", k, r.Item, id)
		}
	}
}

// holdMany holds n span starts of about 1 KiB in f, none of them ended.
func holdMany(t *testing.T, s *Set, f *file, n int) {
	t.Helper()
	pad := strings.Repeat("p", 1000)
	for i := range n {
		f.start(t, s, "t", fmt.Sprintf("s%05d%s", i, pad))
	}
}

// spilledMany holds n starts with holdMany in a new set and runs one Spill,
// which journals them all: each one's line is where its cursor stops.
func spilledMany(t *testing.T, n int) (string, *clock, *Set, *file) {
	t.Helper()
	dir := t.TempDir()
	c := newClock()
	s := openSet(t, dir, c, time.Minute, 0)
	f := newFile("a.jsonl")
	holdMany(t, s, f, n)
	s.Spill()
	return dir, c, s, f
}

// checkReplayed reopens the journal in dir and checks it holds the n starts
// holdMany held, items intact.
func checkReplayed(t *testing.T, dir string, c *clock, n int) {
	t.Helper()
	s := openSet(t, dir, c, time.Minute, 0)
	if s.Len() != n {
		t.Fatalf("replayed %d held starts, want %d", s.Len(), n)
	}
	c.advance(time.Minute)
	due, err := s.Due(n)
	if err != nil || len(due) != n {
		t.Fatalf("due %d (%v), want %d", len(due), err, n)
	}
	pad := strings.Repeat("p", 1000)
	for i, r := range due {
		if id := fmt.Sprintf("s%05d%s", i, pad); string(r.Item) != string(item("t", id)) {
			t.Fatalf("replayed start %d: item %.40q..., want the one for %.10q", i, r.Item, id)
		}
	}
}

// TestJournalWritesEarly: a turn that journals many held starts (here
// 3,000 of 1 KiB, all stopping the checkpoint) writes them to the file as
// it goes rather than keeping them in memory until the sync; after the
// sync they are all durable.
func TestJournalWritesEarly(t *testing.T) {
	const n = 3000
	dir, c, s, f := spilledMany(t, n)
	if f.cur.Committed() != f.off {
		t.Fatalf("committed %d, want every start journaled (%d)", f.cur.Committed(), f.off)
	}
	if p := len(s.j.pend); p > 2*flushAt {
		t.Fatalf("%d bytes of journal lines held in memory before the sync, want at most %d", p, 2*flushAt)
	}
	if s.j.size == 0 || s.j.synced != 0 {
		t.Fatalf("journal written %d bytes, synced %d: want written early, not yet synced", s.j.size, s.j.synced)
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	checkReplayed(t, dir, c, n)
}

// TestJournalEarlyLinesBeforeACrash: hold lines written early and never
// fsynced (a crash before the sync) are whole lines, replayed on open like
// any: the starts they hold are behind the checkpoint, so re-read, and the
// re-read copies are duplicates, final at once.
func TestJournalEarlyLinesBeforeACrash(t *testing.T) {
	const n = 3000
	dir, c, s, _ := spilledMany(t, n)
	written := s.j.size
	s.Close() // as after kill -9: no sync, no more writes
	if written == 0 {
		t.Fatal("nothing written before the sync: the test does not reach the early writes")
	}
	s2 := openSet(t, dir, c, time.Minute, 0)
	replayed := s2.Len()
	if replayed == 0 || replayed >= n {
		t.Fatalf("replayed %d held starts from %d bytes written early, want some and not all %d", replayed, written, n)
	}
	g := newFile("a.jsonl") // the source file read again from the old checkpoint
	pad := strings.Repeat("p", 1000)
	for i := range n {
		out, _ := g.start(t, s2, "t", fmt.Sprintf("s%05d%s", i, pad))
		want := Held // journaled in file order: the first ones replayed
		if i < replayed {
			want = Duplicate
		}
		if out != want {
			t.Fatalf("start %d read again: %v, want %v", i, out, want)
		}
	}
	if s2.Len() != n {
		t.Fatalf("%d held after reading the file again, want %d", s2.Len(), n)
	}
}

// TestJournalSyncFailure: an fsync that fails leaves no checkpoint-worthy
// journal behind until a later Sync succeeds. Lines still in memory are
// written again; lines written early (not in memory any more) make the
// next Sync rewrite the journal from the file. Either way every held start
// is there after it.
func TestJournalSyncFailure(t *testing.T) {
	for _, tc := range []struct {
		name  string
		n     int
		early bool // the turn's lines exceed flushAt, so some were written early
	}{{"lines in memory", 20, false}, {"lines written early", 3000, true}} {
		t.Run(tc.name, func(t *testing.T) {
			dir, c, s, _ := spilledMany(t, tc.n)
			testSyncHook = func() error { return errors.New("injected fsync failure") }
			err := s.Sync()
			testSyncHook = nil
			if err == nil {
				t.Fatal("Sync succeeded through a failed fsync")
			}
			if s.j.mustRewrite != tc.early {
				t.Fatalf("must rewrite = %v, want %v", s.j.mustRewrite, tc.early)
			}
			if !tc.early {
				if fi, err := os.Stat(filepath.Join(dir, FileName)); err != nil || fi.Size() != s.j.synced {
					t.Fatalf("journal file %v (%v) after the failed sync, want cut back to %d", fi, err, s.j.synced)
				}
			}
			if err := s.Sync(); err != nil {
				t.Fatalf("the Sync after: %v", err)
			}
			if s.j.mustRewrite || s.j.synced != s.j.size || len(s.j.pend) != 0 {
				t.Fatalf("after the second Sync: must rewrite %v, synced %d of %d, %d pending", s.j.mustRewrite, s.j.synced, s.j.size, len(s.j.pend))
			}
			s.Close()
			checkReplayed(t, dir, c, tc.n)
		})
	}
}

// TestBadHeldStartIsSettled: a held start is encoded only when journaled or
// rescued; if its line is bad input then, it is reported and final.
func TestBadHeldStartIsSettled(t *testing.T) {
	var bad []int64
	s, err := Open(t.TempDir(), Options{After: time.Minute, Now: newClock().now,
		Encode: func(dst, line []byte, _ string) ([]byte, error) {
			if string(line) == string(item("t", "bad")) {
				return dst, fmt.Errorf("bad line")
			}
			return append(dst, line...), nil
		},
		OnBad: func(_ string, off int64, _ error) { bad = append(bad, off) },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f := newFile("a.jsonl")
	f.start(t, s, "t", "bad")
	f.start(t, s, "t", "good")
	spillAll(t, s)
	if len(bad) != 1 || bad[0] != 0 {
		t.Fatalf("bad lines reported at %v, want [0]", bad)
	}
	if s.Len() != 1 || f.cur.Committed() != f.off {
		t.Fatalf("held %d, committed %d; want the good start held and both lines final", s.Len(), f.cur.Committed())
	}
}

// TestNursery: the newest starts are held outside the map (Set.young);
// whether a start is still there or was promoted when the ring filled,
// its end drops it, a second copy is a duplicate, its mark stays pending
// until then, and compacting the arena moves its line intact.
func TestNursery(t *testing.T) {
	c := newClock()
	s := openSet(t, t.TempDir(), c, time.Minute, 0)
	f := newFile("a.jsonl")
	pad := strings.Repeat("x", 900)
	id := func(i int) string { return fmt.Sprintf("s%05d%s", i, pad) }
	// Keep every 50th start; end the others 7 starts later. 3,000 starts
	// of ~1 KiB compact the arena a dozen times, with held lines both in
	// the nursery and promoted.
	const n = 3000
	for i := range n {
		f.start(t, s, "t", id(i))
		if out, _ := f.start(t, s, "t", id(i)); out != Duplicate {
			t.Fatalf("start %d again: outcome %v, want Duplicate", i, out)
		}
		if j := i - 7; j >= 0 && j%50 != 0 && !f.end(s, "t", id(j)) {
			t.Fatalf("end %d found no held start", j)
		}
	}
	for j := n - 7; j < n; j++ {
		if j%50 != 0 && !f.end(s, "t", id(j)) {
			t.Fatalf("end %d found no held start", j)
		}
	}
	if want := n / 50; s.Len() != want {
		t.Fatalf("held %d, want %d", s.Len(), want)
	}
	if got, want := f.cur.Committed(), int64(0); got != want {
		t.Fatalf("committed %d, want %d: the first kept start is not final", got, want)
	}
	// The oldest kept start was promoted long ago, the newest is still in
	// the nursery: both end normally.
	if !f.end(s, "t", id(0)) || !f.end(s, "t", id(n-50)) {
		t.Fatal("a kept start's end found no held start")
	}
	c.advance(time.Minute)
	due, err := s.Due(1000)
	if err != nil || len(due) != n/50-2 {
		t.Fatalf("due %d (%v), want %d", len(due), err, n/50-2)
	}
	for k, r := range due {
		want := id(50 * (k + 1))
		if string(r.Item) != string(item("t", want)) {
			t.Fatalf("rescued item %d is %.40q…, want the line of %.12q intact", k, r.Item, want)
		}
	}
}

// TestCatchUpStaysWithinBudget: a catch-up reads many records in one
// checkpointer turn. With 10,000 spans of ~1 KiB lines open at once (each
// ends 10,000 records after it starts), the oldest fresh starts are
// journaled when the arena compacts, so the arenas stay near freshBudget
// instead of growing with the open spans (they reached 2.5 times the
// 10 MB held). Every open span is still held once, either journaled (its
// line final in its cursor, replayed after a restart) or fresh (its line
// still stopping the checkpoint).
func TestCatchUpStaysWithinBudget(t *testing.T) {
	dir := t.TempDir()
	c := newClock()
	s := openSet(t, dir, c, time.Minute, 0)
	f := newFile("a.jsonl")
	pad := strings.Repeat("p", 1000)
	id := func(i int) string { return fmt.Sprintf("s%05d%s", i, pad) }
	const n, open = 30000, 10000
	starts := make([]int64, n)
	for i := range n {
		starts[i] = f.off
		f.start(t, s, "t", id(i))
		if i >= open {
			f.end(s, "t", id(i-open))
		}
	}
	if s.overBudget == 0 {
		t.Fatal("no start journaled early: the test does not reach the budget")
	}
	if a := cap(s.arena[0]) + cap(s.arena[1]); a > 3*freshBudget {
		t.Fatalf("arenas hold %d bytes with %d of lines open, want at most %d", a, open*len(item("t", id(0))), 3*freshBudget)
	}
	if s.Len() != open {
		t.Fatalf("%d held, want %d", s.Len(), open)
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	committed := f.cur.Committed()
	s.Close()
	// A restart: the journal's starts are replayed, the source file is
	// read again from the committed offset.
	s2 := openSet(t, dir, c, time.Minute, 0)
	replayed := s2.Len()
	g := newFile("a.jsonl")
	g.off = committed
	for i := n - open; i < n; i++ {
		if starts[i] < committed {
			continue
		}
		g.off = starts[i]
		g.start(t, s2, "t", id(i))
	}
	if s2.Len() != open || replayed == 0 {
		t.Fatalf("after a restart %d held (%d replayed), want all %d open spans", s2.Len(), replayed, open)
	}
	c.advance(time.Minute)
	due, err := s2.Due(2 * open)
	if err != nil || len(due) != open {
		t.Fatalf("due %d (%v), want %d", len(due), err, open)
	}
	seen := make(map[string]bool)
	for _, r := range due {
		seen[string(r.Item)] = true
	}
	for i := n - open; i < n; i++ {
		if !seen[string(item("t", id(i)))] {
			t.Fatalf("open span %d not rescued with its item intact", i)
		}
	}
}
