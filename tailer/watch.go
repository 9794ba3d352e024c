package tailer

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// watcher turns inotify events on the directories of the include globs into
// wake-ups for the reader. Its goroutine reads the inotify queue whole, in
// one read(2), then pauses: meanwhile the kernel queues what happens and
// folds repeated events (one per write() of an agent writing line by line)
// into one, so a busy file costs a wake-up per pause, not per write, and
// 2,000 files written in a pause cost one read. Events are gathered into a
// set, so a busy reader never blocks the watcher (nor lets the kernel queue
// overflow while a backlog is read). Nothing depends on an event arriving:
// the tailer's poll is the ground truth.
//
// Why not fsnotify, which the design named: it reads the queue as events
// come and hands them over one by one on a channel. Unbuffered, the drain
// after each wake-up got one event per pause (on one P the sender readied
// by a receive has not run when the next non-blocking receive looks): with
// 2,000 files written in turn, 214 of ~40,000 writes were notified and the
// rest waited for the poll (TestWatcherDeliversEveryWrittenPath). Buffered,
// every event arrives, but fsnotify's goroutine then reads each write's
// event as it happens, and the kernel no longer folds a busy file's writes:
// one file at 2,000 writes/s cost 4x the CPU per span (spanbench latency,
// one run). Only a reader that leaves the queue alone while it pauses gets
// both.
type watcher struct {
	f     *os.File // the inotify instance, non-blocking, in the runtime poller: Close ends a pending read
	fd    int      // its descriptor, for adding watches
	log   *slog.Logger
	wake  chan struct{} // capacity 1: "something changed"
	done  chan struct{}
	pause time.Duration // after each wake-up, let events gather this long

	mu     sync.Mutex
	paths  map[string]struct{} // files written to since the last take
	rescan bool                // a directory changed: files may have appeared or moved
	wds    map[int32][]string  // watch descriptor → the directory paths it was added for

	// Owned by the tailer's Run goroutine.
	dirs    map[string]watchedDir // directories watched, by path
	limited bool                  // watch limit hit: logged once
}

// watchedDir is a directory's watch and the directory it was added on.
type watchedDir struct {
	wd int32
	id identity
}

// watchMask is what fsnotify watched: changes to a directory's entries,
// writes to and attribute changes of the files in it, and the directory
// itself going away.
const watchMask = syscall.IN_CREATE | syscall.IN_DELETE | syscall.IN_MOVED_FROM | syscall.IN_MOVED_TO |
	syscall.IN_MODIFY | syscall.IN_ATTRIB | syscall.IN_DELETE_SELF | syscall.IN_MOVE_SELF

// entryChanged: the events after which a directory's names may lead
// elsewhere.
const entryChanged = syscall.IN_CREATE | syscall.IN_DELETE | syscall.IN_MOVED_FROM | syscall.IN_MOVED_TO

func newWatcher(log *slog.Logger, pause time.Duration) (*watcher, error) {
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC | syscall.IN_NONBLOCK)
	if err != nil {
		return nil, os.NewSyscallError("inotify_init1", err)
	}
	w := &watcher{
		f: os.NewFile(uintptr(fd), "inotify"), fd: fd, log: log, pause: pause,
		wake:  make(chan struct{}, 1),
		done:  make(chan struct{}),
		paths: make(map[string]struct{}),
		wds:   make(map[int32][]string),
		dirs:  make(map[string]watchedDir),
	}
	go w.loop()
	return w, nil
}

func (w *watcher) loop() {
	defer close(w.done)
	// Room for a pause's events of thousands of files; a read that may
	// have left more queued is followed at once by another.
	buf := make([]byte, 256<<10)
	for {
		n, err := w.f.Read(buf)
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			w.log.Warn("cannot read file notifications; rescanning", "err", err)
			w.mu.Lock()
			w.rescan = true
			w.mu.Unlock()
			n = 0
			time.Sleep(time.Second) // not a busy loop if the error stays
		} else {
			w.note(buf[:n])
		}
		select {
		case w.wake <- struct{}{}:
		default:
		}
		if n > len(buf)-(syscall.SizeofInotifyEvent+syscall.NAME_MAX+1) {
			continue
		}
		if w.pause > 0 {
			time.Sleep(w.pause)
		}
	}
}

// note records the events in b, whole inotify_event records.
func (w *watcher) note(b []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for len(b) >= syscall.SizeofInotifyEvent {
		ev := (*syscall.InotifyEvent)(unsafe.Pointer(&b[0]))
		end := syscall.SizeofInotifyEvent + int(ev.Len)
		if end > len(b) {
			break
		}
		name := b[syscall.SizeofInotifyEvent:end]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i] // the name is padded with NULs
		}
		b = b[end:]
		switch {
		case ev.Mask&syscall.IN_Q_OVERFLOW != 0:
			w.log.Warn("file notification queue overflowed; rescanning")
			w.rescan = true
		case ev.Mask&syscall.IN_IGNORED != 0:
			// The directory is gone or unwatched; the next scan watches
			// what is at its path now.
			delete(w.wds, ev.Wd)
			w.rescan = true
		case len(name) == 0 || ev.Mask&entryChanged != 0:
			// An entry changed, or the directory itself moved or went.
			w.rescan = true
		default:
			for _, d := range w.wds[ev.Wd] {
				w.paths[filepath.Join(d, string(name))] = struct{}{} // as the globs build paths
			}
		}
	}
}

// take returns and clears what changed since the last call.
func (w *watcher) take() (map[string]struct{}, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	paths, rescan := w.paths, w.rescan
	w.paths = make(map[string]struct{})
	w.rescan = false
	return paths, rescan
}

// watchDirs watches every existing directory the include globs can match
// files in. A watch follows its directory, not the path: one the kernel
// dropped (IN_IGNORED) or whose path now leads to another directory is
// replaced by a watch on what is there now.
func (w *watcher) watchDirs(globs []string) {
	for _, g := range globs {
		dirs, _ := filepath.Glob(filepath.Dir(g))
		for _, d := range dirs {
			var st syscall.Stat_t
			if err := syscall.Stat(d, &st); err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
				continue
			}
			id := identity{dev: uint64(st.Dev), ino: st.Ino}
			if wd, ok := w.dirs[d]; ok {
				w.mu.Lock()
				live := slices.Contains(w.wds[wd.wd], d)
				w.mu.Unlock()
				if live && wd.id == id {
					continue
				}
				w.unwatch(d, wd.wd)
			}
			wd, err := syscall.InotifyAddWatch(w.fd, d, watchMask)
			if err != nil {
				if !w.limited {
					w.limited = true
					w.log.Warn("cannot watch directory; relying on polling for it", "dir", d, "err", err)
				}
				continue
			}
			w.mu.Lock()
			if !slices.Contains(w.wds[int32(wd)], d) {
				// Two paths to one directory share its watch.
				w.wds[int32(wd)] = append(w.wds[int32(wd)], d)
			}
			w.mu.Unlock()
			// If d changed between the stat and the watch, the next scan
			// finds id wrong and moves the watch.
			w.dirs[d] = watchedDir{wd: int32(wd), id: id}
		}
	}
}

// unwatch stops watching d, and removes its watch unless another path to
// the same directory shares it.
func (w *watcher) unwatch(d string, wd int32) {
	delete(w.dirs, d)
	w.mu.Lock()
	defer w.mu.Unlock()
	rest := slices.DeleteFunc(slices.Clone(w.wds[wd]), func(s string) bool { return s == d })
	if len(rest) > 0 {
		w.wds[wd] = rest
		return
	}
	if _, ok := w.wds[wd]; ok {
		delete(w.wds, wd)
		syscall.InotifyRmWatch(w.fd, uint32(wd))
	}
}

func (w *watcher) close() {
	w.f.Close()
	<-w.done
}
