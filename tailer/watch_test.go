package tailer

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// TestWatcherDeliversEveryWrittenPath writes to many files at once and
// expects every one of them to be noted within a few pauses. With fsnotify's
// unbuffered Events channel, the drain after a wake-up took one event per
// pause on one P (the sender is readied by the first receive but has not run
// when the next non-blocking receive looks), so with 2,000 container logs a
// write waited for the 1 s poll instead of the notification.
func TestWatcherDeliversEveryWrittenPath(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1)) // as the agent runs by default
	dir := t.TempDir()
	const n = 200
	var files []*os.File
	for i := range n {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("f%03d.log", i)))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		files = append(files, f)
	}
	w, err := newWatcher(slog.New(slog.DiscardHandler), 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	w.watchDirs([]string{filepath.Join(dir, "*.log")}, 1)
	for _, f := range files {
		if _, err := f.WriteString("{}\n"); err != nil {
			t.Fatal(err)
		}
	}

	seen := make(map[string]bool)
	deadline := time.After(10 * time.Second)
	for len(seen) < n {
		select {
		case <-w.wake:
			paths, _ := w.take()
			for p := range paths {
				seen[p] = true
			}
		case <-deadline:
			t.Fatalf("after 10 s of 100 ms pauses only %d of %d written files were notified", len(seen), n)
		}
	}
}
