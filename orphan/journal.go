package orphan

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spanshipper/spanshipper/checkpoint"
)

// FileName is the journal of held span starts inside the state directory.
const FileName = "pending-starts.jsonl"

// The journal is append-only JSON lines of two kinds:
//
//	{"seen":<unix ns>,"path":"<source file>","offset":<line offset>,"item":{...}}
//	{"drop":<byte offset of a hold line>}
//
// A hold line records a span start whose source line the checkpoint may
// pass; a drop line says that start is settled (its end was read, or its
// rescue was acknowledged). The item is the encoded span-start item, last
// on its line so it can be read back with one pread.
var itemField = []byte(`"item":`)

// journal is the file and its not yet written tail. It is owned by Set and
// guarded by Set.mu.
type journal struct {
	path   string
	f      *os.File
	size   int64  // bytes written to f
	synced int64  // of those, bytes known durable (the last fsync returned)
	pend   []byte // lines appended and not yet written, to be written at size
	dead   int64  // bytes of settled hold lines and of drop lines
	live   int64  // bytes of hold lines not settled
	// rewrite: an fsync failed after lines were written by flush, which
	// are no longer in memory to write again; the file must be rewritten
	// (compacted) before the next checkpoint may count on it.
	mustRewrite bool
}

// flushAt is how many pending bytes flush writes to the file before the
// next sync. A checkpointer turn of a catch-up can journal tens of MB of
// held starts at once (every start still open since the turn before);
// held in memory until the fsync, they doubled what the held starts cost.
const flushAt = 1 << 20

// testSyncHook, when set by a test, runs in place of the fsync of sync.
var testSyncHook func() error

// record is one live hold line found by replay.
type record struct {
	off, n  int64 // the line in the file
	itemOff int64 // where its item starts in the file
	seen    int64
	path    string
	offset  int64
	item    []byte
}

// replay reads the journal at path: the live hold lines in file order, and
// the length of its valid prefix (a final line cut by a crash, or anything
// after it, is not part of it).
func replay(path string) (live []record, valid int64, err error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("open pending starts: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	byOff := map[int64]int{}
	var off int64
	for {
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			break // a line without '\n' was cut by a crash: not valid
		}
		if err != nil {
			return nil, 0, fmt.Errorf("read pending starts: %w", err)
		}
		n := int64(len(line))
		rec, drop, ok := parseLine(line[:len(line)-1])
		if !ok {
			break // torn write: the valid prefix ends here
		}
		if drop >= 0 {
			if i, ok := byOff[drop]; ok {
				live[i].n = -1
				delete(byOff, drop)
			}
		} else {
			rec.off, rec.n = off, n
			rec.itemOff += off
			byOff[off] = len(live)
			live = append(live, rec)
		}
		off += n
	}
	out := live[:0]
	for _, rec := range live {
		if rec.n >= 0 {
			out = append(out, rec)
		}
	}
	return out, off, nil
}

// parseLine reads one journal line: a hold record, or a drop (drop >= 0).
func parseLine(line []byte) (rec record, drop int64, ok bool) {
	var l struct {
		Drop   *int64          `json:"drop"`
		Seen   int64           `json:"seen"`
		Path   string          `json:"path"`
		Offset int64           `json:"offset"`
		Item   json.RawMessage `json:"item"`
	}
	if json.Unmarshal(line, &l) != nil {
		return record{}, -1, false
	}
	if l.Drop != nil {
		return record{}, *l.Drop, *l.Drop >= 0
	}
	i := bytes.Index(line, itemField)
	if i < 0 || len(l.Item) == 0 || l.Item[0] != '{' {
		return record{}, -1, false
	}
	rec = record{seen: l.Seen, path: l.Path, offset: l.Offset, item: l.Item}
	rec.itemOff = int64(i + len(itemField))
	return rec, -1, true
}

// openJournal opens the journal for appending after its valid prefix.
func openJournal(path string, valid int64) (*journal, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open pending starts: %w", err)
	}
	if err := f.Truncate(valid); err != nil {
		f.Close()
		return nil, fmt.Errorf("truncate pending starts: %w", err)
	}
	return &journal{path: path, f: f, size: valid, synced: valid}, nil
}

// appendHold adds a hold line for item and returns the line's offset and
// length and the offset of its item.
func (j *journal) appendHold(seen int64, path string, offset int64, item []byte) (off, n, itemOff int64) {
	off = j.size + int64(len(j.pend))
	start := len(j.pend)
	j.pend = append(j.pend, `{"seen":`...)
	j.pend = strconv.AppendInt(j.pend, seen, 10)
	j.pend = append(j.pend, `,"path":`...)
	j.pend = checkpoint.AppendJSONString(j.pend, path)
	j.pend = append(j.pend, `,"offset":`...)
	j.pend = strconv.AppendInt(j.pend, offset, 10)
	j.pend = append(j.pend, ',')
	j.pend = append(j.pend, itemField...)
	itemOff = off + int64(len(j.pend)-start)
	j.pend = append(j.pend, item...)
	j.pend = append(j.pend, "}\n"...)
	n = int64(len(j.pend) - start)
	j.live += n
	return off, n, itemOff
}

// appendDrop settles the hold line at off, n bytes long.
func (j *journal) appendDrop(off, n int64) {
	start := len(j.pend)
	j.pend = append(j.pend, `{"drop":`...)
	j.pend = strconv.AppendInt(j.pend, off, 10)
	j.pend = append(j.pend, "}\n"...)
	j.live -= n
	j.dead += n + int64(len(j.pend)-start)
}

// readAt returns a copy of the n bytes at off, written or not.
func (j *journal) readAt(off, n int64) ([]byte, error) {
	b := make([]byte, n)
	if off >= j.size {
		copy(b, j.pend[off-j.size:])
		return b, nil
	}
	if _, err := j.f.ReadAt(b, off); err != nil {
		return nil, fmt.Errorf("read pending starts: %w", err)
	}
	return b, nil
}

// sync writes the pending lines and fsyncs the file. On error the lines
// stay pending and the file is cut back, so a retry writes them whole.
func (j *journal) sync() error {
	if j.mustRewrite {
		return errors.New("pending starts need rewriting after a failed sync")
	}
	if len(j.pend) == 0 && j.size == j.synced {
		return nil
	}
	if _, err := j.f.WriteAt(j.pend, j.size); err != nil {
		j.f.Truncate(j.size)
		return fmt.Errorf("write pending starts: %w", err)
	}
	err := j.f.Sync()
	if testSyncHook != nil {
		err = testSyncHook()
	}
	if err != nil {
		if j.size == j.synced {
			// Everything not durable is still in pend: drop it from the
			// file and write it again next time.
			j.f.Truncate(j.size)
		} else {
			// flush wrote lines that are now only in the file, and after
			// a failed fsync its pages may never reach the disk even if a
			// later fsync succeeds: rewrite it, reading them back.
			j.size += int64(len(j.pend))
			j.pend = j.pend[:0]
			j.mustRewrite = true
		}
		return fmt.Errorf("sync pending starts: %w", err)
	}
	j.size += int64(len(j.pend))
	j.synced = j.size
	j.pend = j.pend[:0]
	if cap(j.pend) > 2*flushAt {
		j.pend = nil // a one-off burst: let its buffer go
	}
	return nil
}

// flush writes the pending lines to the file, without an fsync, once there
// are flushAt bytes of them, so that what a turn journals does not wait in
// memory for the sync. A failed write leaves them pending for sync, which
// reports it.
func (j *journal) flush() {
	if len(j.pend) < flushAt || j.mustRewrite {
		return
	}
	if _, err := j.f.WriteAt(j.pend, j.size); err != nil {
		j.f.Truncate(j.size)
		return
	}
	j.size += int64(len(j.pend))
	j.pend = j.pend[:0]
}

// worthCompacting reports whether settled lines dominate the file.
func (j *journal) worthCompacting() bool {
	return j.dead > 1<<20 && j.dead > 3*j.live
}

// rewrite replaces the journal atomically with the given live lines (each
// read from the current file or pending tail) and returns their new
// offsets. A crash leaves the old or the new file, both valid.
func (j *journal) rewrite(lines [][2]int64) ([]int64, error) {
	tmp, err := os.CreateTemp(filepath.Dir(j.path), ".pending-starts-*")
	if err != nil {
		return nil, fmt.Errorf("compact pending starts: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	w := bufio.NewWriterSize(tmp, 256<<10)
	offs := make([]int64, len(lines))
	var size int64
	for i, l := range lines {
		b, err := j.readAt(l[0], l[1])
		if err != nil {
			return nil, err
		}
		offs[i] = size
		w.Write(b)
		size += l[1]
	}
	if err := w.Flush(); err != nil {
		return nil, fmt.Errorf("compact pending starts: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return nil, fmt.Errorf("compact pending starts: %w", err)
	}
	if err := os.Rename(tmp.Name(), j.path); err != nil {
		return nil, fmt.Errorf("compact pending starts: %w", err)
	}
	ok = true
	if err := checkpoint.SyncDir(filepath.Dir(j.path)); err != nil {
		return nil, err
	}
	j.f.Close()
	j.f = tmp
	j.size, j.synced, j.pend, j.dead, j.live = size, size, j.pend[:0], 0, size
	j.mustRewrite = false
	return offs, nil
}

func (j *journal) close() error { return j.f.Close() }
