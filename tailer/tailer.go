// Package tailer follows the files matching a set of globs and hands every
// complete line, with its exact byte range, to a Handler.
//
// It is written for spanshipper's delivery contract rather than built on
// github.com/nxadm/tail, which emits an
// unterminated fragment at EOF as if it were a line, splits long lines, and
// reopens a rotated path without first draining the old file (see
// tailer/design.md and nxadm_test.go). inotify (read directly, not through
// fsnotify: watch.go says why) wakes the reader; a poll every second is the
// ground truth, stat'ing what the watches cannot vouch for each time and
// every path every 10 s, so a lost or overflowed event delays a line by at
// most one poll and never loses it (a write through a hard link made after
// the last stat: at most 10 s; design.md, "What the poll stats").
package tailer

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spanshipper/spanshipper/checkpoint"
	"github.com/spanshipper/spanshipper/metrics"
	"github.com/spanshipper/spanshipper/ratelog"
)

// Handler receives the lines of every followed file.
type Handler interface {
	// HandleLine is called for each complete line of f, in file order; line
	// excludes the '\n' and occupies [start, end) in the file, newline
	// included. line is only valid during the call. HandleLine may block to
	// apply backpressure: reading stops until it returns. A non-nil error
	// stops the tailer.
	HandleLine(f *File, line []byte, start, end int64) error
	// HandleTooLong is called for a line over Config.MaxLineBytes occupying
	// [start, end); its bytes were discarded.
	HandleTooLong(f *File, start, end int64) error
}

// EOFHandler is implemented by a Handler that holds parts of records
// between lines (a container runtime's partial records). HandleEOF is
// called once a file is drained (rotated away or deleted and quiet, or at
// the end of an ExitOnEOF run), after its last line: whatever it still
// holds of that file is all there will be.
type EOFHandler interface {
	HandleEOF(f *File) error
}

// Config says what to follow and how. The zero value of each field but
// Include means its default.
type Config struct {
	Include      []string      // globs of files to follow
	Exclude      []string      // globs removed from Include's matches
	StartAtEnd   bool          // files with no checkpoint found at start-up are read from their end
	MaxOpenFiles int           // descriptors held at most; 0 means descriptorBudget()
	MaxLineBytes int           // longer lines are skipped; 0 means 4 MiB
	PollInterval time.Duration // stat and glob period; 0 means 1s
	RotateWait   time.Duration // how long a renamed-away file stays open after its last data; 0 means 2s
	ReadQuantum  int           // bytes read from one file before others get a turn; 0 means 1 MiB
	ExitOnEOF    bool          // Run returns once every file is read to its end
	PollOnly     bool          // no inotify: what the tailer falls back to when watches are exhausted
	// Coalesce is how long file-change notifications gather after each
	// wake-up of the reader, so the writes of that moment cost one
	// wake-up and one read turn rather than one per write(); 0 means
	// 250ms, the default batch linger (4 wake-ups a second at most: a
	// span waits about one linger to be read and at most one more to be
	// batched), negative none.
	Coalesce time.Duration
	Logger   *slog.Logger
	Metrics  *metrics.Metrics

	// fullScanEvery is how many poll intervals may pass between two scans
	// that stat every path, even those their directory's watch vouches
	// for (Tailer.scan); 0 means 10. Tests set it high to show what the
	// watches alone catch.
	fullScanEvery int
}

func (c *Config) setDefaults() {
	if c.MaxOpenFiles <= 0 {
		c.MaxOpenFiles = descriptorBudget()
	}
	if c.MaxLineBytes <= 0 {
		c.MaxLineBytes = 4 << 20
	}
	if c.PollInterval <= 0 {
		c.PollInterval = time.Second
	}
	if c.RotateWait <= 0 {
		c.RotateWait = 2 * time.Second
	}
	if c.fullScanEvery <= 0 {
		c.fullScanEvery = 10
	}
	if c.Coalesce == 0 {
		c.Coalesce = 250 * time.Millisecond
	}
	if c.ReadQuantum <= 0 {
		c.ReadQuantum = 1 << 20
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Metrics == nil {
		c.Metrics = metrics.New()
	}
}

// Tailer follows files. Build it with New, run it with Run.
type Tailer struct {
	cfg     Config
	handler Handler
	log     *slog.Logger
	rlog    *ratelog.Logger // warnings that repeat at each poll: once a minute per file
	globs   *globber        // the --path globs, each problem logged once

	restore   map[identity]checkpoint.Entry // checkpoints not yet matched to a file
	gzSkipped map[string]bool               // compressed files matched by the last scan, each logged once

	mu    sync.Mutex // guards files, settling and the fields Snapshot reads
	files map[identity]*File
	// settling holds drained files whose last records are not final yet:
	// their checkpoint entries stay until they are, so a crash meanwhile
	// finds them again (recoverRenamed) and re-reads those records.
	settling []*File
	seq      uint64 // the last File.seq given

	// Owned by the Run goroutine.
	ready      []*File
	open       int
	tick       uint64
	buf        []byte
	seed       maphash.Seed // for File.tailHash
	started    bool
	watcher    *watcher
	scans      uint64            // scans made
	lastFull   time.Time         // when a scan last stat'ed every path
	matched    []string          // the last expansion of the globs (match); not to be modified
	matchedSeq uint64            // the scan that made it
	seen       map[identity]bool // scan's, reused
	byPath     map[string]*File  // the file each path last led to, for change notifications

	scannedC chan struct{} // closed once the first scan is done
	beat     atomic.Int64  // unix nanoseconds of the Run loop's last turn
}

// New returns a tailer that resumes from st's checkpoints.
func New(cfg Config, st checkpoint.State, h Handler) (*Tailer, error) {
	cfg.setDefaults()
	if len(cfg.Include) == 0 {
		return nil, errors.New("tailer: no include globs")
	}
	t := &Tailer{
		cfg:      cfg,
		handler:  h,
		log:      cfg.Logger,
		rlog:     ratelog.New(cfg.Logger, time.Minute),
		globs:    newGlobber(cfg.Logger),
		restore:  make(map[identity]checkpoint.Entry, len(st.Files)),
		files:    make(map[identity]*File),
		byPath:   make(map[string]*File),
		seen:     make(map[identity]bool),
		buf:      make([]byte, 256<<10),
		seed:     maphash.MakeSeed(),
		scannedC: make(chan struct{}),
	}
	for _, e := range st.Files {
		t.restore[identity{e.Dev, e.Ino}] = e
	}
	return t, nil
}

// Run follows the files until ctx ends (returning nil), the handler fails
// (returning its error), or, with ExitOnEOF, every file is read to its end.
func (t *Tailer) Run(ctx context.Context) error {
	if !t.cfg.PollOnly {
		w, err := newWatcher(t.log, t.cfg.Coalesce)
		if err != nil {
			t.log.Warn("file notifications unavailable, polling only", "err", err)
		} else {
			t.watcher = w
		}
	}
	defer func() {
		if t.watcher != nil {
			t.watcher.close()
		}
		t.closeAll()
	}()
	poll := time.NewTicker(t.cfg.PollInterval)
	defer poll.Stop()

	t.scan()
	if !t.started {
		close(t.scannedC)
	}
	t.started = true
	for {
		t.beat.Store(time.Now().UnixNano())
		if err := ctx.Err(); err != nil {
			return nil
		}
		var wake <-chan struct{}
		if t.watcher != nil {
			wake = t.watcher.wake
		}
		if len(t.ready) > 0 {
			// Busy reading a backlog: still notice new, renamed and
			// truncated files, without waiting.
			select {
			case <-poll.C:
				t.scan()
			case <-wake:
				t.onEvents()
			default:
			}
			f := t.ready[0]
			t.ready = t.ready[1:]
			f.queued = false
			if err := t.readTurn(ctx, f); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			continue
		}
		if t.cfg.ExitOnEOF {
			t.scan() // files that appeared meanwhile, and sizes
			if len(t.ready) > 0 {
				continue
			}
			return t.finishAll(ctx)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-poll.C:
			t.scan()
		case <-wake:
			t.onEvents()
		}
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// finishAll treats every file as drained: unterminated fragments count as
// lines (SPEC --exit-on-eof).
func (t *Tailer) finishAll(ctx context.Context) error {
	for _, f := range t.snapshotFiles() {
		if err := t.flushFragment(ctx, f); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	return nil
}

func (t *Tailer) snapshotFiles() []*File {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]*File, 0, len(t.files))
	for _, f := range t.files {
		out = append(out, f)
	}
	return out
}

func (t *Tailer) enqueue(f *File) {
	if !f.queued {
		f.queued = true
		t.ready = append(t.ready, f)
	}
}

// onEvents handles a wake-up from the watcher: changed paths get a read turn,
// directory changes a rescan.
func (t *Tailer) onEvents() {
	paths, rescan := t.watcher.take()
	if rescan {
		t.scan()
	}
	for p := range paths { // the scan does not stat (so queue) every grown file
		if f, ok := t.byPath[p]; ok {
			t.enqueue(f)
		}
	}
}

// drop stops following f and releases its descriptor.
func (t *Tailer) drop(f *File, why string) {
	if f.f != nil {
		t.open--
		t.cfg.Metrics.FilesOpen.Set(float64(t.open))
	}
	f.close()
	t.mu.Lock()
	if t.files[f.id] == f {
		delete(t.files, f.id)
	}
	if !settled(f.cursor) {
		t.settling = append(t.settling, f)
	}
	n := len(t.files)
	t.mu.Unlock()
	t.unindex(f)
	t.cfg.Metrics.FilesTracked.Set(float64(n))
	t.log.Info("stopped following file", "path", f.path, "offset", f.readPos, "reason", why)
}

func (t *Tailer) closeAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, f := range t.files {
		f.close()
	}
	t.open = 0
}

// Snapshot returns a checkpoint entry for every followed file. It is safe to
// call from any goroutine.
func (t *Tailer) Snapshot() []checkpoint.Entry {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]checkpoint.Entry, 0, len(t.files)+len(t.settling))
	entry := func(f *File) checkpoint.Entry {
		return checkpoint.Entry{
			Path: f.path, Dev: f.id.dev, Ino: f.id.ino,
			Fingerprint: f.fp, FingerprintSize: f.fpSize,
			Offset: f.cursor.Committed(), Size: f.size, Format: f.format,
		}
	}
	for _, f := range t.files {
		out = append(out, entry(f))
	}
	kept := t.settling[:0]
	for _, f := range t.settling {
		if settled(f.cursor) {
			continue
		}
		if t.files[f.id] == nil { // not found again (a hard link matching the globs)
			out = append(out, entry(f))
		}
		kept = append(kept, f)
	}
	clear(t.settling[len(kept):])
	t.settling = kept
	return out
}

// settled reports whether every record a drained file's cursor was given
// is final.
func settled(c *checkpoint.Cursor) bool { return c.Pending() == 0 }

func (t *Tailer) String() string { return fmt.Sprintf("tailer(%v)", t.cfg.Include) }

// Scanned reports whether the first scan is done, so a checkpoint taken now
// covers every file that had one. Safe from any goroutine.
func (t *Tailer) Scanned() bool {
	select {
	case <-t.scannedC:
		return true
	default:
		return false
	}
}

// ScannedC is closed once the first scan is done.
func (t *Tailer) ScannedC() <-chan struct{} { return t.scannedC }

// LastBeat returns when the Run loop last turned: at least every
// PollInterval unless a handler call blocks (back-pressure) or the loop is
// wedged. Zero before Run. Safe from any goroutine.
func (t *Tailer) LastBeat() time.Time {
	if n := t.beat.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}
