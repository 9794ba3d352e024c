package tailer

import (
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watcher turns fsnotify events on the directories of the include globs into
// wake-ups for the reader. Events are gathered into a set by the watcher's
// own goroutine so a busy reader never blocks fsnotify (and so the kernel
// queue does not overflow while a backlog is read). Nothing depends on an
// event arriving: the tailer's poll is the ground truth.
type watcher struct {
	w     *fsnotify.Watcher
	log   *slog.Logger
	wake  chan struct{} // capacity 1: "something changed"
	done  chan struct{}
	pause time.Duration // after each wake-up, let events gather this long

	mu      sync.Mutex
	paths   map[string]struct{} // files written to since the last take
	rescan  bool                // a directory changed: files may have appeared or moved
	dirs    map[string]bool     // directories watched
	limited bool                // watch limit hit: logged once
}

func newWatcher(log *slog.Logger, pause time.Duration) (*watcher, error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	w := &watcher{
		w: fw, log: log, pause: pause,
		wake:  make(chan struct{}, 1),
		done:  make(chan struct{}),
		paths: make(map[string]struct{}),
		dirs:  make(map[string]bool),
	}
	go w.loop()
	return w, nil
}

func (w *watcher) loop() {
	defer close(w.done)
	for {
		select {
		case ev, ok := <-w.w.Events:
			if !ok {
				return
			}
			w.note(ev)
		case err, ok := <-w.w.Errors:
			if !ok {
				return
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				w.log.Warn("file notification queue overflowed; rescanning")
			}
			w.mu.Lock()
			w.rescan = true
			w.mu.Unlock()
		}
		// Take what else is queued, wake the reader once for all of it,
		// then pause: meanwhile fsnotify stops reading and the kernel
		// folds repeated events (one per write() of an agent writing line
		// by line) into one, so a busy file costs a wake-up per pause,
		// not per write.
		for drained := false; !drained; {
			select {
			case ev, ok := <-w.w.Events:
				if !ok {
					return
				}
				w.note(ev)
			default:
				drained = true
			}
		}
		select {
		case w.wake <- struct{}{}:
		default:
		}
		if w.pause > 0 {
			time.Sleep(w.pause)
		}
	}
}

func (w *watcher) note(ev fsnotify.Event) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if ev.Op&(fsnotify.Create|fsnotify.Remove|fsnotify.Rename) != 0 {
		w.rescan = true
	} else {
		w.paths[ev.Name] = struct{}{}
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
// files in. Directories that disappear drop out of the kernel's watch list
// by themselves.
func (w *watcher) watchDirs(globs []string) {
	for _, g := range globs {
		dirs, _ := filepath.Glob(filepath.Dir(g))
		for _, d := range dirs {
			if w.dirs[d] {
				continue
			}
			if err := w.w.Add(d); err != nil {
				if !w.limited {
					w.limited = true
					w.log.Warn("cannot watch directory; relying on polling for it", "dir", d, "err", err)
				}
				continue
			}
			w.dirs[d] = true
		}
	}
	// Forget directories the kernel dropped, so they are re-added if they return.
	listed := make(map[string]bool)
	for _, d := range w.w.WatchList() {
		listed[d] = true
	}
	for d := range w.dirs {
		if !listed[d] {
			delete(w.dirs, d)
		}
	}
}

func (w *watcher) close() {
	w.w.Close()
	<-w.done
}
