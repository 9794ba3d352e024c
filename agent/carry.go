package agent

import (
	"bufio"
	"io"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/spanshipper/spanshipper/checkpoint"
	"github.com/spanshipper/spanshipper/frame"
	"github.com/spanshipper/spanshipper/tailer"
)

// carryWait is how long a piece of a line split across a rotation waits for
// the other piece before it is handled alone.
const carryWait = 10 * time.Second

// carry joins lines that a log rotation split between two files. When the
// kubelet renames 0.log and has the runtime reopen it, a line the container
// was printing at that moment ends the renamed file as partial records and
// goes on in the new 0.log (containerd's CRI logger writes what it holds of
// a line as a P record when its output is closed; docker's partial messages
// do the same). The tailer follows the files apart, so the handler joins the
// pieces. The files of a directory form a chain in the order they were first
// read; a file's predecessor is the one before it, when that one is being
// drained (renamed away). The first record of each stream of a file waits —
// its file's checkpoint held at its start — until its predecessor ends: the
// predecessor's cut record (Record.Cut) of that stream is joined to it, or,
// if there is none, it is handled alone. A cut record whose successor has
// not shown that stream yet waits for it instead. Either waits carryWait at
// most. Owned by the reader goroutine.
type carry struct {
	dirs  map[string][]*tailer.File   // container-log files not yet drained, by directory, oldest first
	held  map[*tailer.File]*[2]*piece // first records waiting for their predecessor's end, by stream
	heads map[headKey]*piece          // cut records waiting for their successor's first record
	cont  map[*tailer.File][2]bool    // files resumed mid-way: the streams with a record before the checkpoint
}

// headKey names a cut record's successor: a file, or (nil) the next file
// of the directory to be read.
type headKey struct {
	dir    string
	stream int
	succ   *tailer.File
}

type piece struct {
	f          *tailer.File
	st         *fileState
	line       []byte
	start, end int64
	since      time.Time
	mark       checkpoint.Mark // a cut record's: final once the record it goes on in is
}

// links holds the cut records of renamed files that went on in a record of
// the next file: a cut record is final only once the joined record is,
// so the renamed file's checkpoint entry stays (tailer: a drained file is
// kept until its records are final) and a crash before the joined record
// is acknowledged reads the renamed file's piece again. The reader adds,
// the checkpointer resolves before each snapshot.
type links struct {
	mu sync.Mutex
	l  []link
}

type link struct {
	piece checkpoint.Mark    // the cut record, in the renamed file
	next  *checkpoint.Cursor // the joined record's file generation
	end   int64              // the joined record's end there
}

func (l *links) add(piece checkpoint.Mark, next *checkpoint.Cursor, end int64) {
	l.mu.Lock()
	l.l = append(l.l, link{piece, next, end})
	l.mu.Unlock()
}

// resolve reports final the cut records whose joined record's file is
// committed past it.
func (l *links) resolve() {
	l.mu.Lock()
	defer l.mu.Unlock()
	kept := l.l[:0]
	for _, k := range l.l {
		if k.next.Committed() >= k.end {
			k.piece.Done()
			continue
		}
		kept = append(kept, k)
	}
	clear(l.l[len(kept):])
	l.l = kept
}

func (c *carry) add(f *tailer.File) {
	if c.dirs == nil {
		c.dirs = make(map[string][]*tailer.File)
		c.held = make(map[*tailer.File]*[2]*piece)
		c.heads = make(map[headKey]*piece)
		c.cont = make(map[*tailer.File][2]bool)
	}
	dir := filepath.Dir(f.Path())
	files := c.dirs[dir]
	i := len(files)
	for j, g := range files {
		if g == f {
			return
		}
		if g.Seq() > f.Seq() && j < i {
			i = j // a file found renamed away at start-up is read after the one now at its path
		}
	}
	c.dirs[dir] = slices.Insert(files, i, f)
}

// continued reports whether f, resumed from a checkpoint, has a record of
// stream s before it: then the rest of a line a rotation split, which is
// the stream's first record in the file, was handled before a restart, and
// a cut record of the predecessor's (read again, the predecessor was
// renamed away with other records in flight) went with it.
func (c *carry) continued(f *tailer.File, s int) bool {
	if f.From() == 0 || c.cont == nil {
		return false
	}
	seen, ok := c.cont[f]
	if !ok {
		seen = streamsBefore(f)
		c.cont[f] = seen
	}
	return seen[s]
}

// streamsBefore reads a container log up to where it was resumed and
// reports which streams have a record there. Only done after a restart
// that found the file's predecessor renamed away.
func streamsBefore(f *tailer.File) (seen [2]bool) {
	format, err := frame.ParseFormat(f.Format())
	if err != nil || !format.Container() {
		return seen
	}
	r := bufio.NewReaderSize(io.NewSectionReader(f, 0, f.From()), 64<<10)
	var scratch []byte
	for !seen[0] || !seen[1] {
		line, err := r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// A long docker line: its stream follows its content.
			long := append([]byte(nil), line...)
			for err == bufio.ErrBufferFull {
				line, err = r.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if err != nil {
			return seen
		}
		var s int
		var ok bool
		if s, ok, scratch = frame.StreamOf(format, line[:len(line)-1], scratch); ok {
			seen[stream(s)] = true
		}
	}
	return seen
}

// neighbours returns the files before and after f in its directory's chain.
func (c *carry) neighbours(dir string, f *tailer.File) (pred, succ *tailer.File) {
	files := c.dirs[dir]
	for i, g := range files {
		if g == f {
			if i > 0 {
				pred = files[i-1]
			}
			if i+1 < len(files) {
				succ = files[i+1]
			}
		}
	}
	return pred, succ
}

func (c *carry) waiting() bool { return len(c.held)+len(c.heads) > 0 }

func stream(s int) int { return min(max(s, 0), 1) }

// first handles the first record of a stream in a container log.
func (h *lineHandler) first(f *tailer.File, st *fileState, r frame.Record) error {
	dir, s := filepath.Dir(f.Path()), stream(r.Stream)
	for _, key := range [...]headKey{{dir, s, f}, {dir, s, nil}} {
		if head := h.carry.heads[key]; head != nil && head.f != f {
			delete(h.carry.heads, key)
			if h.carry.continued(f, s) {
				head.mark.Done() // the head went with this file's first record before a restart
				break
			}
			h.links.add(head.mark, st.cursor, r.End)
			return h.content(f, st, append(head.line, r.Line...), r.Start, r.End)
		}
	}
	if pred, _ := h.carry.neighbours(dir, f); pred != nil && pred.Gone() && !h.carry.continued(f, s) {
		w := h.carry.held[f]
		if w == nil {
			w = new([2]*piece)
			h.carry.held[f] = w
		}
		w[s] = &piece{f: f, st: st, line: append([]byte(nil), r.Line...), start: r.Start, end: r.End, since: time.Now()}
		h.rehold(f, st)
		return nil
	}
	return h.content(f, st, r.Line, r.Start, r.End)
}

// cut handles a record the end of a drained file cut short: joined to its
// successor's first record of that stream when that waits, else kept for it
// (the file was rotated away) or handled alone.
func (h *lineHandler) cut(f *tailer.File, st *fileState, r frame.Record) error {
	dir, s := filepath.Dir(f.Path()), stream(r.Stream)
	_, succ := h.carry.neighbours(dir, f)
	if succ != nil && h.carry.continued(succ, s) {
		f.Cursor().Skip(r.End) // read again after a restart: it went with the successor's first record
		return nil
	}
	if w := h.carry.held[succ]; succ != nil && w != nil && w[s] != nil {
		p := w[s]
		w[s] = nil
		if w[0] == nil && w[1] == nil {
			delete(h.carry.held, succ)
		}
		h.links.add(f.Cursor().Add(r.Start, r.End), p.st.cursor, p.end) // its content goes on in the successor's record
		h.rehold(p.f, p.st)
		return h.content(p.f, p.st, append(append([]byte(nil), r.Line...), p.line...), p.start, p.end)
	}
	if f.Gone() && h.carry.dirs != nil {
		h.carry.heads[headKey{dir, s, succ}] = &piece{f: f, st: st, line: append([]byte(nil), r.Line...), start: r.Start, end: r.End,
			since: time.Now(), mark: f.Cursor().Add(r.Start, r.End)}
		return nil
	}
	return h.content(f, st, r.Line, r.Start, r.End)
}

// drained forgets a file whose end was handled: its successor's first
// records that found no cut record to join are handled alone.
func (h *lineHandler) drained(f *tailer.File) error {
	if h.carry.dirs == nil {
		return nil
	}
	dir := filepath.Dir(f.Path())
	_, succ := h.carry.neighbours(dir, f)
	files := h.carry.dirs[dir]
	for i, g := range files {
		if g == f {
			files = append(files[:i:i], files[i+1:]...)
			break
		}
	}
	delete(h.carry.cont, f)
	if len(files) == 0 {
		delete(h.carry.dirs, dir)
	} else {
		h.carry.dirs[dir] = files
	}
	if succ != nil {
		return h.releaseAll(succ, time.Time{})
	}
	return nil
}

// releaseAll handles alone f's held first records (those held since before
// olderThan, unless it is zero).
func (h *lineHandler) releaseAll(f *tailer.File, olderThan time.Time) error {
	w := h.carry.held[f]
	if w == nil {
		return nil
	}
	for s, p := range w {
		if p == nil || !olderThan.IsZero() && p.since.After(olderThan) {
			continue
		}
		w[s] = nil
		h.rehold(p.f, p.st)
		if err := h.content(p.f, p.st, p.line, p.start, p.end); err != nil {
			return err
		}
	}
	if w[0] == nil && w[1] == nil {
		delete(h.carry.held, f)
	}
	return nil
}

// rehold sets st.hold to the earliest record of f the carry still holds and
// the cursor's floor with it.
func (h *lineHandler) rehold(f *tailer.File, st *fileState) {
	st.hold = -1
	if w := h.carry.held[f]; w != nil {
		for _, p := range w {
			if p != nil && (st.hold < 0 || p.start < st.hold) {
				st.hold = p.start
			}
		}
	}
	if st.cursor == f.Cursor() {
		h.setFloor(st, -1)
	}
}

// expireCarry handles alone the pieces that waited carryWait.
func (h *lineHandler) expireCarry(now time.Time) error {
	for f := range h.carry.held {
		if err := h.releaseAll(f, now.Add(-carryWait)); err != nil {
			return err
		}
	}
	for key, p := range h.carry.heads {
		if now.Sub(p.since) >= carryWait {
			delete(h.carry.heads, key)
			err := h.content(p.f, p.st, p.line, p.start, p.end)
			p.mark.Done() // handled alone, as a record of its own
			if err != nil {
				return err
			}
		}
	}
	return nil
}
