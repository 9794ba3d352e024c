package tailer

import (
	"errors"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/spanshipper/spanshipper/checkpoint"
)

// openFile opens a followed file for reading without updating its access
// time. With the usual relatime mount option, a read after a write updates
// atime, and on ext4 or xfs that dirties the inode in the journal: a
// shipper reading many files a few lines at a time made an inode write per
// read (5% of its CPU with 2,000 busy files, more in the kernel's writeback).
// O_NOATIME is allowed only to the file's owner or with CAP_FOWNER (as
// root in a DaemonSet); otherwise the open is retried without it.
func openFile(name string) (*os.File, error) {
	fd, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NOATIME, 0)
	if err != nil && errors.Is(err, syscall.EPERM) {
		fd, err = os.Open(name)
	}
	return fd, err
}

// identity is what makes two paths the same file: device and inode.
// Inode reuse is told apart by the fingerprint (see File.fp).
type identity struct{ dev, ino uint64 }

func identityOf(fi os.FileInfo) (identity, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return identity{}, false
	}
	return identity{dev: uint64(st.Dev), ino: st.Ino}, true
}

// File is one followed file generation: a file identity read from some offset.
// A truncation starts a new generation (a new Cursor from 0).
//
// Its exported methods are for the Handler, which runs on the reader goroutine.
type File struct {
	t      *Tailer
	id     identity
	path   string             // where it was last seen; guarded by Tailer.mu for writers, read freely on the reader goroutine
	cursor *checkpoint.Cursor // generation's ack cursor
	seq    uint64             // order in which the tailer began following files
	from   int64              // the generation's first read offset (its checkpoint when resumed)
	found  string             // for a file found renamed away at start-up (Tailer.recoverRenamed): its name now; reopened there

	f        *os.File // nil while closed (descriptor budget) or after drain
	sysfd    int      // f's descriptor: a read turn calls pread without touching *os.File (a cache miss per file with thousands of files)
	readPos  int64    // offset of the next byte to read
	partial  []byte   // incomplete last line, ending at readPos
	tailLen  int      // how many bytes before readPos tailHash covers (0: none, the next read checks nothing)
	tailHash uint64   // maphash of those bytes as read, checked by the next read (readChunk)
	skip     bool     // discarding an over-long line that started at skipFrom
	skipFrom int64

	size     int64  // last size seen by stat
	fp       string // fingerprint of the first fpSize bytes
	fpSize   int64
	gone     bool      // no matching path leads to it any more (renamed away or deleted)
	deleted  bool      // link count 0
	goneAt   time.Time // when gone was first seen
	lastData time.Time // last time a read returned data
	lastUsed uint64    // tick of the last read, for closing the least recently used descriptor
	queued   bool      // in the ready queue
	statSeq  uint64    // the scan that last stat'ed path and found it leading here (0: none)
	plain    bool      // then: path was no symlink, the file had one link, and its directory's watch vouched for it
	link     bool      // then: path was a symlink

	format string // the handler's format decision, kept with the checkpoint; guarded by Tailer.mu for writers
	state  any    // the handler's own per-file state
}

// Gone reports whether no matching path leads to the file any more (renamed
// away or deleted): it is being drained. For the handler, on the reader
// goroutine.
func (f *File) Gone() bool { return f.gone }

// Format returns the format decision kept with the file's checkpoint ("" when
// none was made yet, or the file was truncated since).
func (f *File) Format() string { return f.format }

// SetFormat records the handler's format decision, to be kept with the
// file's checkpoint.
func (f *File) SetFormat(s string) {
	f.t.mu.Lock()
	f.format = s
	f.t.mu.Unlock()
}

// State returns what the handler stored with SetState.
func (f *File) State() any { return f.state }

// SetState stores the handler's per-file state; it lives as long as the file
// is followed.
func (f *File) SetState(v any) { f.state = v }

// ReadHead reads the file's first bytes into buf, whatever the read
// position; for a handler that resumes mid-file and must see how the file
// begins.
func (f *File) ReadHead(buf []byte) (int, error) {
	if f.f == nil {
		return 0, os.ErrClosed
	}
	n, err := f.f.ReadAt(buf, 0)
	if err == io.EOF {
		err = nil
	}
	return n, err
}

// ReadAt reads the file at off, whatever the read position (io.ReaderAt).
func (f *File) ReadAt(buf []byte, off int64) (int, error) {
	if f.f == nil {
		return 0, os.ErrClosed
	}
	return f.f.ReadAt(buf, off)
}

// Path returns the path the file was last seen at.
func (f *File) Path() string { return f.path }

// Seq orders files by when the tailer began following them: a file found
// renamed away at start-up comes before the files its path leads to now.
func (f *File) Seq() uint64 { return f.seq }

// From returns the offset the file's current generation was first read
// from: its checkpoint when it was resumed, else 0 (or the end, with
// --start-at end).
func (f *File) From() int64 { return f.from }

// Cursor returns the ack cursor of the file's current generation.
func (f *File) Cursor() *checkpoint.Cursor { return f.cursor }

// ReadTime is when the last read of f that returned data was made: for the
// lines being handed on, when they were read (the whole chunk at once).
func (f *File) ReadTime() time.Time { return f.lastData }

// lineStart is the offset where the pending partial line begins.
func (f *File) lineStart() int64 { return f.readPos - int64(len(f.partial)) }

// stated records what the scan seq's stat of f's path found.
func (f *File) stated(seq uint64, plain, link bool) {
	f.statSeq, f.plain, f.link = seq, plain, link
}

func (f *File) close() {
	if f.f != nil {
		f.f.Close()
		f.f, f.sysfd = nil, -1
	}
}

// readFingerprint hashes the first min(size, FingerprintBytes) bytes of the
// open file.
func readFingerprint(fd *os.File, size int64) (string, int64, error) {
	n := min(size, checkpoint.FingerprintBytes)
	if n <= 0 {
		return "", 0, nil
	}
	buf := make([]byte, n)
	m, err := fd.ReadAt(buf, 0)
	if int64(m) < n {
		if err == nil {
			err = os.ErrClosed
		}
		return "", 0, err
	}
	return checkpoint.Fingerprint(buf), n, nil
}
