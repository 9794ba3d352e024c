package tailer

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/spanshipper/spanshipper/checkpoint"
)

// match returns the regular files matching the include globs and none of the
// exclude globs, each once.
//
// The last result is returned again when no glob's directory listing can
// have changed since: each glob's directory is named outright (no
// wildcard), its watch vouches for it since before that result was made,
// and no entry of it was created, removed or renamed (listed, the
// directories whose entries changed since the last scan). Each scan calls
// match, so listed covers everything since the result was made.
func (t *Tailer) match(full bool, listed map[string]struct{}) []string {
	if !full && t.matched != nil && t.unlisted(listed) {
		return t.matched
	}
	t.matched, t.matchedSeq = t.expand(), t.scans
	return t.matched
}

// unlisted reports whether no include glob's expansion can have changed
// since the last one (see match).
func (t *Tailer) unlisted(listed map[string]struct{}) bool {
	if t.watcher == nil {
		return false
	}
	for _, g := range t.cfg.Include {
		d := filepath.Dir(g)
		if hasMeta(d) {
			return false
		}
		since, ok := t.watcher.vouches(d)
		if _, changed := listed[d]; !ok || changed || since > t.matchedSeq {
			return false
		}
	}
	return true
}

func (t *Tailer) expand() []string {
	seen := make(map[string]bool)
	var out []string
	gz := make(map[string]bool)
	for _, g := range t.cfg.Include {
		paths := t.globs.expand(g) // the pattern was validated by the caller
		for _, p := range paths {
			if seen[p] || t.excluded(p) {
				continue
			}
			if strings.HasSuffix(p, ".gz") {
				// Compressed rotations (kubelet, logrotate) are never read as text.
				if gz[p] = true; !t.gzSkipped[p] {
					t.log.Info("not following a compressed file", "path", p)
				}
				continue
			}
			seen[p] = true
			out = append(out, p)
		}
	}
	t.gzSkipped = gz
	sort.Strings(out)
	return out
}

func (t *Tailer) excluded(p string) bool { return Excluded(t.cfg.Exclude, p) }

// Excluded reports whether an --exclude glob matches path p or its base name.
func Excluded(exclude []string, p string) bool {
	for _, g := range exclude {
		if ok, _ := filepath.Match(g, p); ok {
			return true
		}
		if ok, _ := filepath.Match(g, filepath.Base(p)); ok {
			return true
		}
	}
	return false
}

// scan reconciles the followed files with the file system: new files are
// picked up, renamed files keep their state, files no path leads to are
// drained, truncated files start over, grown files get a read turn.
//
// The globs are expanded at every scan, so new files are found, but a path
// is not stat'ed when its directory's watch vouches for it: the watch was on
// the directory at that path (checked at each scan) when the path was last
// stat'ed and found to lead to its file, by no symlink and with no other
// link that could be written through unnotified; and no event has named the
// path since (a rename, creation, removal or attribute change; a write is a
// read turn's business, which checks for truncation itself). Every
// Config.fullScanEvery poll intervals, after lost events, without
// notifications and with ExitOnEOF, every path is stat'ed.
func (t *Tailer) scan() {
	t.scans++
	seq := t.scans
	full := t.watcher == nil || !t.started || t.cfg.ExitOnEOF ||
		time.Since(t.lastFull)/t.cfg.PollInterval >= time.Duration(t.cfg.fullScanEvery)
	var moved, listed map[string]struct{}
	if t.watcher != nil {
		t.watcher.watchDirs(t.cfg.Include, seq)
		var lost bool
		moved, listed, lost = t.watcher.takeMoved() // before any stat: what moves after it is named at the next scan
		full = full || lost
	}
	if full {
		t.lastFull = time.Now()
	}
	paths := t.match(full, listed)
	if !t.started && len(t.restore) > 0 {
		t.recoverRenamed(identities(paths)) // before the files now at their paths, which follow them
	}
	seen := t.seen // reused: thousands of entries a second with thousands of files
	clear(seen)
	var since uint64
	vouched := false
	lastDir := "\x00" // the directory part of the previous path (paths are sorted, so grouped)
	for _, p := range paths {
		if i := strings.LastIndexByte(p, '/'); t.watcher != nil && (i < 0 || p[:i] != lastDir) {
			since, vouched = t.watcher.vouches(filepath.Dir(p))
			lastDir = p[:max(i, 0)]
		}
		known := t.byPath[p]
		if known != nil && (known.path != p || known.statSeq == 0) {
			known = nil
		}
		_, named := moved[p]
		if !full && vouched && known != nil && !named && known.plain && !known.gone && known.f != nil && since <= known.statSeq {
			seen[known.id] = true
			continue
		}
		var st syscall.Stat_t
		var err error
		link := false
		switch {
		case !vouched:
			err = syscall.Stat(p, &st) // follows symlinks
		case known != nil && known.link && !named:
			link = true // still the symlink it was: no event named it
			err = syscall.Stat(p, &st)
		default:
			if err = syscall.Lstat(p, &st); err == nil && st.Mode&syscall.S_IFMT == syscall.S_IFLNK {
				link = true
				err = syscall.Stat(p, &st)
			}
		}
		if err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFREG {
			continue
		}
		id := identity{dev: uint64(st.Dev), ino: st.Ino}
		if seen[id] {
			continue // a second path to a file already seen: read it once
		}
		seen[id] = true
		t.mu.Lock()
		f := t.files[id]
		t.mu.Unlock()
		if f == nil {
			t.discover(p, id)
			if f = t.byPath[p]; f != nil && f.id == id {
				f.stated(seq, vouched && !link && st.Nlink == 1, link)
			}
			continue
		}
		if f.path != p {
			if !t.pathLeadsTo(f.path, id) {
				t.log.Info("file renamed", "from", f.path, "to", p)
				t.unindex(f)
				t.mu.Lock()
				f.path = p
				t.mu.Unlock()
				t.byPath[p] = f
			}
		}
		if f.path == p {
			f.stated(seq, vouched && !link && st.Nlink == 1, link)
		}
		f.gone = false
		if st.Size > f.readPos && f.f != nil {
			// Grown: its read turn checks it (truncation, rewrite) as it
			// reads.
			t.enqueue(f)
		} else {
			t.check(f, st.Size)
		}
	}
	// Files no matching path leads to any more: drain them.
	for _, f := range t.snapshotFiles() {
		if seen[f.id] {
			continue
		}
		if !f.gone {
			f.gone = true
			f.goneAt = time.Now()
			t.log.Info("file rotated away or deleted; draining", "path", f.path)
		}
		if f.f != nil {
			var st syscall.Stat_t
			if err := syscall.Fstat(int(f.f.Fd()), &st); err == nil {
				f.deleted = st.Nlink == 0
				t.check(f, st.Size)
			}
		}
		t.enqueue(f)
	}
}

// unindex forgets f's path unless it already leads to another file.
func (t *Tailer) unindex(f *File) {
	if t.byPath[f.path] == f {
		delete(t.byPath, f.path)
	}
}

func (t *Tailer) pathLeadsTo(p string, id identity) bool {
	fi, err := os.Stat(p)
	if err != nil {
		return false
	}
	got, ok := identityOf(fi)
	return ok && got == id
}

// check compares a file's size with what was read: growth queues a read,
// shrinking or a changed fingerprint (copytruncate) starts a new generation.
func (t *Tailer) check(f *File, size int64) {
	truncated := size < f.readPos
	if !truncated && f.fpSize > 0 && size != f.size && f.f != nil {
		fp, _, err := readFingerprintN(f.f, f.fpSize)
		truncated = err == nil && fp != f.fp
	}
	if truncated {
		t.restart(f, size)
	} else {
		t.mu.Lock()
		f.size = size
		t.mu.Unlock()
	}
	if size > f.readPos || truncated || (!t.started && t.cfg.ExitOnEOF) {
		t.enqueue(f)
	}
}

// restart starts a new generation of a truncated or rewritten file, now
// size bytes long (as far as is known), read from 0.
func (t *Tailer) restart(f *File, size int64) {
	t.log.Warn("file truncated; reading it again from the start", "path", f.path, "size", size, "was_at", f.readPos)
	t.mu.Lock()
	f.size = size
	f.cursor = checkpoint.NewCursor(0)
	f.fp, f.fpSize = "", 0
	f.format = "" // decided again from the new content
	t.mu.Unlock()
	f.readPos, f.from = 0, 0
	f.tailLen, f.tailHash = 0, 0
	f.partial = f.partial[:0]
	f.skip = false
}

func readFingerprintN(fd *os.File, n int64) (string, int64, error) {
	return readFingerprint(fd, n)
}

// testHookBeforeOpen, when set by a test, runs between a file's stat and
// its open in discover.
var testHookBeforeOpen func(path string)

// discover starts following a new file: from its checkpoint when the
// identity and fingerprint match, else from the start (or, for files present
// at start-up with --start-at end, from the end of its last complete line).
func (t *Tailer) discover(p string, id identity) {
	t.reserveDescriptor() // before opening, so the bound holds at every instant
	if testHookBeforeOpen != nil {
		testHookBeforeOpen(p)
	}
	fd, err := openFile(p)
	if err != nil {
		t.rlog.Warn("open:"+p, "cannot open file; retrying at each poll", "path", p, "err", err)
		return
	}
	// The path may lead to another file than the one stat saw: a rotation
	// that shifts names (app.jsonl.1 → app.jsonl.2, app.jsonl →
	// app.jsonl.1) can rename one over it in between. Reading that file
	// under the other's identity would read it twice and the other never
	// (and take the mismatch for a truncation at every poll). The next scan
	// finds both where they are now.
	fi, err := fd.Stat()
	if err != nil {
		fd.Close()
		return
	}
	if got, ok := identityOf(fi); !ok || got != id {
		fd.Close() // the rename raised a notification; the poll comes within a second anyway
		return
	}
	size := fi.Size()
	var offset int64
	var format string
	how := "new file, from its start"
	if e, ok := t.restore[id]; ok {
		delete(t.restore, id)
		fp, _, err := readFingerprint(fd, e.FingerprintSize)
		switch {
		case err != nil || fp != e.Fingerprint:
			how = "inode reused by a new file (fingerprint differs), from its start"
		case e.Offset > size:
			how = "file shorter than its checkpoint (truncated), from its start"
		default:
			offset, format = e.Offset, e.Format
			how = "resumed from checkpoint"
		}
	} else if !t.started && t.cfg.StartAtEnd {
		offset = lastLineEnd(fd, size)
		how = "no checkpoint, --start-at end"
	}
	f := t.follow(fd, id, p, offset, size, format)
	t.byPath[p] = f // a newer file at a rotated file's path takes its notifications
	t.log.Info("following file", "path", p, "offset", offset, "size", size, "how", how)
}

// follow starts following the open file fd from offset. Reads are preads
// at File.readPos, so the descriptor's own offset does not matter.
func (t *Tailer) follow(fd *os.File, id identity, p string, offset, size int64, format string) *File {
	t.seq++
	f := &File{t: t, id: id, path: p, cursor: checkpoint.NewCursor(offset), seq: t.seq, from: offset,
		f: fd, sysfd: int(fd.Fd()), readPos: offset, size: size, format: format}
	f.fp, f.fpSize, _ = readFingerprint(fd, size)
	t.open++
	t.tick++
	f.lastUsed = t.tick
	t.mu.Lock()
	t.files[id] = f
	n := len(t.files)
	t.mu.Unlock()
	t.cfg.Metrics.FilesTracked.Set(float64(n))
	t.cfg.Metrics.FilesOpen.Set(float64(t.open))
	if size > offset || t.cfg.ExitOnEOF {
		t.enqueue(f)
	}
	return f
}

// lastLineEnd returns the offset just past the last '\n' in the file's first
// size bytes, so --start-at end never starts inside a line.
func lastLineEnd(fd *os.File, size int64) int64 {
	const window = 64 << 10
	for end := size; end > 0; {
		start := max(0, end-window)
		buf := make([]byte, end-start)
		if _, err := fd.ReadAt(buf, start); err != nil && err != io.EOF {
			return size
		}
		if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
			return start + int64(i) + 1
		}
		end = start
	}
	return 0
}

// descriptorBudget is the default bound on open span files: the process's
// RLIMIT_NOFILE (whose soft limit the Go runtime raises to the hard one at
// start-up) less 256 for sockets, the state directory and the rest, and at
// least 64. Below it every followed file keeps its descriptor; above it each
// read of a closed file costs a reopen and a fingerprint check, which with
// thousands of busy files costs more than everything else together.
func descriptorBudget() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > 1<<30 {
		return 1 << 16 // unknown or unlimited
	}
	return max(64, int(rl.Cur)-256)
}

// reserveDescriptor closes the least recently read file when the budget of
// open descriptors is used up. A closed file is reopened on its next turn; a
// file that is renamed out of the globs or deleted while closed cannot be
// drained (a loss window stated in design.md), so files with unread data are
// closed only when every open file has some.
func (t *Tailer) reserveDescriptor() {
	for t.open >= t.cfg.MaxOpenFiles {
		var victim *File
		for _, f := range t.snapshotFiles() {
			if f.f == nil {
				continue
			}
			idle := f.readPos >= f.size && !f.gone
			if victim == nil {
				victim = f
				continue
			}
			vIdle := victim.readPos >= victim.size && !victim.gone
			if idle && !vIdle || idle == vIdle && f.lastUsed < victim.lastUsed {
				victim = f
			}
		}
		if victim == nil {
			return
		}
		victim.close()
		t.open--
	}
	t.cfg.Metrics.FilesOpen.Set(float64(t.open))
}

// reopen opens a file closed for the descriptor budget, checking that its
// path still leads to the same file.
func (t *Tailer) reopen(f *File) error {
	t.reserveDescriptor()
	fd, err := openFile(f.openPath())
	if err != nil {
		return err
	}
	fi, err := fd.Stat()
	if err != nil {
		fd.Close()
		return err
	}
	if id, ok := identityOf(fi); !ok || id != f.id {
		fd.Close()
		return os.ErrNotExist // the path now leads elsewhere; the next scan finds the file by identity, if it can
	}
	if f.fpSize > 0 {
		// The inode may have been freed and reused while we held no descriptor.
		if fp, _, err := readFingerprint(fd, f.fpSize); err != nil || fp != f.fp {
			fd.Close()
			return os.ErrNotExist
		}
	}
	f.f, f.sysfd = fd, int(fd.Fd())
	t.open++
	t.cfg.Metrics.FilesOpen.Set(float64(t.open))
	return nil
}
