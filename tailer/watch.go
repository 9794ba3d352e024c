package tailer

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// watcher turns inotify events on the directories of the include globs into
// wake-ups for the reader. Its goroutine reads the inotify queue whole, in
// one read(2), then pauses: meanwhile the kernel queues what happens and
// folds repeated events (one per write() of an agent writing line by line)
// into one, so a busy file costs a wake-up per pause, not per write, and
// 2,000 files written in a pause cost one read. Events are gathered into
// sets, so a busy reader never blocks the watcher (nor lets the kernel
// queue overflow while a backlog is read). Nothing depends on an event
// arriving in time: the tailer's poll is the ground truth.
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
	fd    int // the inotify instance, non-blocking, waited on by poll(2) in loop: not in the runtime poller
	stopE int // an eventfd: written by close, it ends loop's wait
	log   *slog.Logger
	wake  chan struct{} // capacity 1: "something changed"
	stop  chan struct{} // closed by close: ends loop's pause
	done  chan struct{}
	pause time.Duration // after each wake-up, let events gather this long

	mu     sync.Mutex
	paths  map[string]struct{} // files written to since the last take
	rescan bool                // a directory changed: files may have appeared or moved
	moved  map[string]struct{} // names created, removed, renamed or whose attributes changed since the last takeMoved
	lost   bool                // events may have been lost (queue overflow, read error) since the last takeMoved
	listed map[string]struct{} // directories whose entries (or which themselves) changed since the last takeMoved
	wds    map[int32][]string  // watch descriptor → the directory paths it was added for

	// Owned by the tailer's Run goroutine.
	dirs    map[string]*watchedDir // directories watched, by path
	limited bool                   // watch limit hit: logged once
}

// watchedDir is a directory watch and what it can vouch for.
type watchedDir struct {
	wd    int32
	id    identity // the directory the watch is on, as stat saw it at its path
	since uint64   // the scan that added the watch
	local bool     // on a local file system, where every change made on this host is notified
}

// entryEvents change which file a name in the directory leads to, or
// whether there is one.
const entryEvents = syscall.IN_CREATE | syscall.IN_DELETE | syscall.IN_MOVED_FROM | syscall.IN_MOVED_TO

// watchMask: what changes a directory's entries, and writes to and
// attribute changes of the files in it (IN_ATTRIB: link count, among
// others).
const watchMask = entryEvents | syscall.IN_MODIFY | syscall.IN_ATTRIB | syscall.IN_DELETE_SELF | syscall.IN_MOVE_SELF

func newWatcher(log *slog.Logger, pause time.Duration) (*watcher, error) {
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC | syscall.IN_NONBLOCK)
	if err != nil {
		return nil, os.NewSyscallError("inotify_init1", err)
	}
	stopE, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		syscall.Close(fd)
		return nil, os.NewSyscallError("eventfd", err)
	}
	w := &watcher{
		fd: fd, stopE: stopE, log: log, pause: pause,
		wake:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		paths:  make(map[string]struct{}),
		moved:  make(map[string]struct{}),
		listed: make(map[string]struct{}),
		wds:    make(map[int32][]string),
		dirs:   make(map[string]*watchedDir),
	}
	go w.loop()
	return w, nil
}

// loop waits for the first event, reads the whole queue, wakes the reader
// and pauses, over and over.
//
// The inotify descriptor is not in the runtime's poller (an os.File of a
// non-blocking descriptor would be): epoll there wakes the thread blocked
// in it at every event the kernel queues that it cannot fold into the last
// one, which with 2,000 files written in turn was ~900 wake-ups a second
// for nothing, while this goroutine paused (perf: half the files run's CPU
// was the scheduler going idle and waking). Instead loop blocks in poll(2),
// on a thread of its own, only when it wants the next event: during the
// pause nobody waits on the queue, so events only queue up.
func (w *watcher) loop() {
	defer close(w.done)
	// Room for a full pause's events of thousands of files; a read that
	// fills it is followed at once by another.
	buf := make([]byte, 256<<10)
	fds := []unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLIN}, {Fd: int32(w.stopE), Events: unix.POLLIN}}
	var pause *time.Timer
	for {
		fds[0].Revents, fds[1].Revents = 0, 0
		_, err := unix.Poll(fds, -1)
		if fds[1].Revents != 0 {
			return
		}
		n := 0
		if err == nil {
			n, err = unix.Read(w.fd, buf)
		}
		switch {
		case err == unix.EINTR || err == unix.EAGAIN:
			continue
		case err != nil:
			w.log.Warn("cannot read file notifications; rescanning", "err", err)
			w.mu.Lock()
			w.rescan, w.lost = true, true
			w.mu.Unlock()
			n = 0
		default:
			w.note(buf[:n])
		}
		select {
		case w.wake <- struct{}{}:
		default:
		}
		if n > len(buf)-(syscall.SizeofInotifyEvent+syscall.NAME_MAX+1) {
			continue // there may be more queued
		}
		d := w.pause
		if err != nil {
			d = max(d, time.Second) // not a busy loop on a lasting error; the poll goes on meanwhile
		}
		if d <= 0 {
			continue
		}
		if pause == nil {
			pause = time.NewTimer(d)
		} else {
			pause.Reset(d)
		}
		select {
		case <-pause.C:
		case <-w.stop:
			return
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
			name = name[:i]
		}
		b = b[end:]
		if ev.Mask&syscall.IN_Q_OVERFLOW != 0 {
			w.log.Warn("file notification queue overflowed; rescanning")
			w.rescan, w.lost = true, true
			continue
		}
		dirs := w.wds[ev.Wd]
		if len(name) == 0 || ev.Mask&entryEvents != 0 {
			for _, d := range dirs {
				w.listed[d] = struct{}{}
			}
		}
		if ev.Mask&syscall.IN_IGNORED != 0 {
			delete(w.wds, ev.Wd) // the directory is gone (or unwatched): the next scan re-adds it if it returns
			w.rescan = true
			continue
		}
		if len(name) == 0 {
			// The directory itself was moved or deleted.
			w.rescan = true
			continue
		}
		for _, d := range dirs {
			p := joinName(d, name)
			if ev.Mask&(entryEvents|syscall.IN_ATTRIB) != 0 {
				// What the name leads to may have changed.
				w.moved[p] = struct{}{}
			}
			if ev.Mask&entryEvents != 0 {
				w.rescan = true
			} else {
				w.paths[p] = struct{}{}
			}
		}
	}
}

// joinName is filepath.Join(dir, name), as the globs build paths, for a
// clean dir and a name without '/', in one allocation.
func joinName(dir string, name []byte) string {
	if dir == "." || dir == "/" {
		return filepath.Join(dir, string(name))
	}
	return dir + "/" + string(name)
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

// takeMoved returns and clears the names whose directory entry may have
// changed since the last call, the directories whose list of entries may
// have, and whether events may have been lost meanwhile (then anything may
// have).
func (w *watcher) takeMoved() (moved, listed map[string]struct{}, lost bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.moved) > 0 {
		moved = w.moved
		w.moved = make(map[string]struct{})
	}
	if len(w.listed) > 0 {
		listed = w.listed
		w.listed = make(map[string]struct{})
	}
	lost = w.lost
	w.lost = false
	return moved, listed, lost
}

// vouches reports the scan since which the watch on dir has reported every
// change of its entries and of the files in it written through them, made
// on this host: dir is watched, the watch is on the directory at that path
// (checked at each scan by watchDirs), and the file system is local.
func (w *watcher) vouches(dir string) (uint64, bool) {
	d := w.dirs[dir]
	if d == nil || !d.local {
		return 0, false
	}
	return d.since, true
}

// watchDirs watches every existing directory the include globs can match
// files in, at scan seq. Directories that disappear drop out of the kernel's
// watch list by themselves; a path that leads to another directory than the
// one watched (the directory, or one above it, renamed or replaced) has its
// watch moved there, as of this scan.
func (w *watcher) watchDirs(globs []string, seq uint64) {
	// Forget directories the kernel dropped, so they are re-added if they return.
	w.mu.Lock()
	for d, wd := range w.dirs {
		if !slices.Contains(w.wds[wd.wd], d) {
			delete(w.dirs, d)
		}
	}
	w.mu.Unlock()
	for _, g := range globs {
		dirs, _ := filepath.Glob(filepath.Dir(g))
		for _, d := range dirs {
			var st syscall.Stat_t
			if err := syscall.Stat(d, &st); err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
				continue
			}
			id := identity{dev: uint64(st.Dev), ino: st.Ino}
			if wd := w.dirs[d]; wd != nil {
				if wd.id == id {
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
			w.dirs[d] = &watchedDir{wd: int32(wd), id: id, since: seq, local: localFS(d)}
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
	delete(w.wds, wd)
	syscall.InotifyRmWatch(w.fd, uint32(wd))
}

// localFS reports whether dir is on a file system whose changes are all
// made through this kernel, so inotify sees them: not NFS, FUSE, overlay
// and the like, whose files may change under it.
func localFS(dir string) bool {
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err != nil {
		return false
	}
	switch uint32(fs.Type) {
	case 0xEF53, // ext2, ext3, ext4
		0x58465342, // xfs
		0x9123683E, // btrfs
		0x01021994, // tmpfs
		0xF2F52010, // f2fs
		0x2FC12FC1: // zfs
		return true
	}
	return false
}

func (w *watcher) close() {
	close(w.stop)
	unix.Write(w.stopE, []byte{1, 0, 0, 0, 0, 0, 0, 0}) // an eventfd takes a native-endian uint64
	<-w.done
	syscall.Close(w.fd)
	syscall.Close(w.stopE)
}
