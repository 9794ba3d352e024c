package agent

import (
	"path/filepath"
	"time"

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
// pieces: the first record of each stream of a new file waits, its file's
// checkpoint held at its start, until every older file of its directory has
// been drained; a drained file's cut record is joined to it. A cut record
// that comes first waits for the new file's first record instead. Either
// waits carryWait at most. Owned by the reader goroutine.
type carry struct {
	dirs  map[string][]*tailer.File // container-log files not yet drained, by directory
	held  map[carryKey]*piece       // first records of new files
	heads map[carryKey]*piece       // cut records of drained files
}

type carryKey struct {
	dir    string
	stream int
}

type piece struct {
	f          *tailer.File
	st         *fileState
	line       []byte
	start, end int64
	since      time.Time
}

func (c *carry) add(f *tailer.File) {
	if c.dirs == nil {
		c.dirs = make(map[string][]*tailer.File)
		c.held = make(map[carryKey]*piece)
		c.heads = make(map[carryKey]*piece)
	}
	dir := filepath.Dir(f.Path())
	for _, g := range c.dirs[dir] {
		if g == f {
			return
		}
	}
	c.dirs[dir] = append(c.dirs[dir], f)
}

// draining reports whether a file of dir other than f is being drained.
func (c *carry) draining(dir string, f *tailer.File) bool {
	for _, g := range c.dirs[dir] {
		if g != f && g.Gone() {
			return true
		}
	}
	return false
}

func (c *carry) waiting() bool { return len(c.held)+len(c.heads) > 0 }

// first handles the first record of a stream in a container log: held while
// an older file of its directory is drained, joined to a cut record that
// waits, else handled.
func (h *lineHandler) first(f *tailer.File, st *fileState, r frame.Record) error {
	key := carryKey{filepath.Dir(f.Path()), r.Stream}
	if head := h.carry.heads[key]; head != nil && head.f != f {
		delete(h.carry.heads, key)
		return h.content(f, st, append(head.line, r.Line...), r.Start, r.End)
	}
	if h.carry.draining(key.dir, f) {
		if old := h.carry.held[key]; old != nil {
			h.release(key, old) // cannot happen twice per file; be safe
		}
		h.carry.held[key] = &piece{f: f, st: st, line: append([]byte(nil), r.Line...), start: r.Start, end: r.End, since: time.Now()}
		h.rehold(f, st)
		return nil
	}
	return h.content(f, st, r.Line, r.Start, r.End)
}

// cut handles a record the end of a drained file cut short: joined to the
// next file's first record of its stream when that waits, else kept for it
// (the file was rotated away) or handled alone.
func (h *lineHandler) cut(f *tailer.File, st *fileState, r frame.Record) error {
	key := carryKey{filepath.Dir(f.Path()), r.Stream}
	if held := h.carry.held[key]; held != nil && held.f != f {
		delete(h.carry.held, key)
		f.Cursor().Skip(r.End) // its content goes on in the next file's record
		h.rehold(held.f, held.st)
		return h.content(held.f, held.st, append(append([]byte(nil), r.Line...), held.line...), held.start, held.end)
	}
	if f.Gone() && h.carry.dirs != nil {
		h.carry.heads[key] = &piece{f: f, st: st, line: append([]byte(nil), r.Line...), start: r.Start, end: r.End, since: time.Now()}
		f.Cursor().Skip(r.End)
		return nil
	}
	return h.content(f, st, r.Line, r.Start, r.End)
}

// drained forgets a file whose end was handled and releases the first
// records that no longer wait for any older file.
func (h *lineHandler) drained(f *tailer.File) error {
	dir := filepath.Dir(f.Path())
	files := h.carry.dirs[dir]
	for i, g := range files {
		if g == f {
			files = append(files[:i:i], files[i+1:]...)
			break
		}
	}
	if len(files) == 0 {
		delete(h.carry.dirs, dir)
	} else {
		h.carry.dirs[dir] = files
	}
	for key, p := range h.carry.held {
		if key.dir == dir && !h.carry.draining(dir, p.f) {
			if err := h.release(key, p); err != nil {
				return err
			}
		}
	}
	return nil
}

// release handles a held first record alone.
func (h *lineHandler) release(key carryKey, p *piece) error {
	delete(h.carry.held, key)
	h.rehold(p.f, p.st)
	return h.content(p.f, p.st, p.line, p.start, p.end)
}

// rehold sets st.hold to the earliest record of f the carry still holds and
// the cursor's floor with it.
func (h *lineHandler) rehold(f *tailer.File, st *fileState) {
	st.hold = -1
	for _, p := range h.carry.held {
		if p.f == f && (st.hold < 0 || p.start < st.hold) {
			st.hold = p.start
		}
	}
	if st.cursor == f.Cursor() {
		h.setFloor(st, -1)
	}
}

// expireCarry handles alone the pieces that waited carryWait.
func (h *lineHandler) expireCarry(now time.Time) error {
	for key, p := range h.carry.held {
		if now.Sub(p.since) >= carryWait {
			if err := h.release(key, p); err != nil {
				return err
			}
		}
	}
	for key, p := range h.carry.heads {
		if now.Sub(p.since) >= carryWait {
			delete(h.carry.heads, key)
			if err := h.content(p.f, p.st, p.line, p.start, p.end); err != nil {
				return err
			}
		}
	}
	return nil
}
