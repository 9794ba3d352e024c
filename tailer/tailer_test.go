package tailer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/spanshipper/spanshipper/checkpoint"
)

// recorder is a Handler that keeps every line with its range and settles it
// at once.
type recorder struct {
	delay   atomic.Int64 // nanoseconds per line, to make a slow reader
	mu      sync.Mutex
	lines   []rec
	tooLong []rec
}

type rec struct {
	path       string
	line       string
	start, end int64
}

func (r *recorder) HandleLine(f *File, line []byte, start, end int64) error {
	if d := r.delay.Load(); d > 0 {
		time.Sleep(time.Duration(d))
	}
	r.mu.Lock()
	r.lines = append(r.lines, rec{f.Path(), string(line), start, end})
	r.mu.Unlock()
	f.Cursor().Skip(end)
	return nil
}

func (r *recorder) HandleTooLong(f *File, start, end int64) error {
	r.mu.Lock()
	r.tooLong = append(r.tooLong, rec{f.Path(), "", start, end})
	r.mu.Unlock()
	f.Cursor().Skip(end)
	return nil
}

func (r *recorder) texts() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.lines))
	for i, l := range r.lines {
		out[i] = l.line
	}
	return out
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// start runs a tailer over cfg in the background and stops it at cleanup.
func start(t *testing.T, cfg Config, st checkpoint.State) (*Tailer, *recorder, func() error) {
	t.Helper()
	r := &recorder{}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 50 * time.Millisecond
	}
	tl, err := New(cfg, st, r)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tl.Run(ctx) }()
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(15 * time.Second):
			t.Fatal("tailer did not stop")
			return nil
		}
	}
	t.Cleanup(func() { stop() })
	return tl, r, stop
}

func lines(prefix string, from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "%s-%d\n", prefix, i)
	}
	return b.String()
}

func want(prefix string, from, to int) []string {
	return strings.Split(strings.TrimSuffix(lines(prefix, from, to), "\n"), "\n")
}

func TestTailerExactOffsetsAndPartialLines(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.jsonl")
	appendFile(t, p, "one\ntwo\r\nthr")
	_, r, _ := start(t, Config{Include: []string{filepath.Join(dir, "*.jsonl")}}, checkpoint.State{})
	waitFor(t, "two lines", func() bool { return len(r.texts()) == 2 })
	time.Sleep(100 * time.Millisecond) // a fragment must be held, not emitted
	if got := r.texts(); len(got) != 2 {
		t.Fatalf("fragment emitted early: %q", got)
	}
	appendFile(t, p, "ee\n\nfour\n")
	waitFor(t, "all lines", func() bool { return len(r.texts()) == 5 })
	r.mu.Lock()
	defer r.mu.Unlock()
	wantRecs := []rec{{p, "one", 0, 4}, {p, "two\r", 4, 9}, {p, "three", 9, 15}, {p, "", 15, 16}, {p, "four", 16, 21}}
	for i, w := range wantRecs {
		if r.lines[i] != w {
			t.Errorf("line %d = %+v, want %+v", i, r.lines[i], w)
		}
	}
}

func TestTailerPicksUpNewFilesAndExcludes(t *testing.T) {
	dir := t.TempDir()
	_, r, _ := start(t, Config{Include: []string{filepath.Join(dir, "*.jsonl")}, Exclude: []string{"*skip*"}}, checkpoint.State{})
	appendFile(t, filepath.Join(dir, "late.jsonl"), "x\n")
	appendFile(t, filepath.Join(dir, "skip.jsonl"), "no\n")
	appendFile(t, filepath.Join(dir, "other.txt"), "no\n")
	waitFor(t, "new file", func() bool { return len(r.texts()) == 1 })
	time.Sleep(150 * time.Millisecond)
	if got := r.texts(); len(got) != 1 || got[0] != "x" {
		t.Fatalf("lines = %q", got)
	}
}

func TestTailerTooLongLines(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.jsonl")
	long := strings.Repeat("x", 300)
	appendFile(t, p, "ok1\n"+long+"\nok2\n"+long)
	_, r, _ := start(t, Config{Include: []string{p}, MaxLineBytes: 100}, checkpoint.State{})
	waitFor(t, "lines", func() bool { return len(r.texts()) == 2 })
	appendFile(t, p, "tail\nok3\n")
	waitFor(t, "ok3", func() bool { return len(r.texts()) == 3 })
	r.mu.Lock()
	defer r.mu.Unlock()
	if fmt.Sprint(r.texts2()) != "[ok1 ok2 ok3]" {
		t.Fatalf("lines = %v", r.texts2())
	}
	if len(r.tooLong) != 2 || r.tooLong[0].start != 4 || r.tooLong[0].end != 305 || r.tooLong[1].start != 309 || r.tooLong[1].end != 309+305 {
		t.Fatalf("too long = %+v", r.tooLong)
	}
}

func (r *recorder) texts2() []string {
	out := make([]string, len(r.lines))
	for i, l := range r.lines {
		out[i] = l.line
	}
	return out
}

func TestTailerExitOnEOFEmitsFragment(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.jsonl")
	appendFile(t, p, lines("a", 0, 1000)+"frag")
	r := &recorder{}
	tl, err := New(Config{Include: []string{p}, ExitOnEOF: true}, checkpoint.State{}, r)
	if err != nil {
		t.Fatal(err)
	}
	if err := tl.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := r.texts()
	if len(got) != 1001 || got[1000] != "frag" {
		t.Fatalf("got %d lines, last %q", len(got), got[len(got)-1])
	}
	snap := tl.Snapshot()
	fi, _ := os.Stat(p)
	if len(snap) != 1 || snap[0].Offset != fi.Size() {
		t.Fatalf("snapshot %+v, want offset %d", snap, fi.Size())
	}
}

func TestTailerResumesFromCheckpoint(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.jsonl")
	appendFile(t, p, lines("a", 0, 10))
	r := &recorder{}
	tl, _ := New(Config{Include: []string{p}, ExitOnEOF: true}, checkpoint.State{}, r)
	tl.Run(context.Background())
	st := checkpoint.State{Version: 1, Files: tl.Snapshot()}
	appendFile(t, p, lines("a", 10, 20))
	_, r2, _ := start(t, Config{Include: []string{p}}, st)
	waitFor(t, "new lines", func() bool { return len(r2.texts()) == 10 })
	if got := r2.texts(); fmt.Sprint(got) != fmt.Sprint(want("a", 10, 20)) {
		t.Fatalf("resumed lines = %v", got)
	}
}

func TestTailerStartAtEnd(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.jsonl")
	appendFile(t, p, lines("old", 0, 5)+"partial-old")
	_, r, _ := start(t, Config{Include: []string{filepath.Join(dir, "*.jsonl")}, StartAtEnd: true}, checkpoint.State{})
	time.Sleep(100 * time.Millisecond)
	appendFile(t, p, "-rest\nnew\n")
	appendFile(t, filepath.Join(dir, "b.jsonl"), "b0\n") // appears later: read from its start
	waitFor(t, "lines", func() bool { return len(r.texts()) == 3 })
	got := strings.Join(r.texts(), ",")
	if !strings.Contains(got, "partial-old-rest") || !strings.Contains(got, "new") || !strings.Contains(got, "b0") {
		t.Fatalf("lines = %s", got)
	}
}

// atime is a file's access time.
func atime(t *testing.T, p string) time.Time {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	return time.Unix(st.Atim.Unix())
}

// TestReadsLeaveAccessTime: following a file does not update its access
// time (O_NOATIME), which on a relatime mount would dirty the inode at every
// read after a write.
func TestReadsLeaveAccessTime(t *testing.T) {
	dir := t.TempDir()
	old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	control := filepath.Join(dir, "control.txt")
	appendFile(t, control, "x\n")
	if err := os.Chtimes(control, old, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.ReadFile(control); err != nil {
		t.Fatal(err)
	}
	if atime(t, control).Equal(old) {
		t.Skip("this mount does not update access times on read (noatime), so there is nothing to avoid")
	}

	p := filepath.Join(dir, "a.jsonl")
	appendFile(t, p, lines("a", 0, 3))
	if err := os.Chtimes(p, old, time.Now()); err != nil {
		t.Fatal(err)
	}
	_, r, _ := start(t, Config{Include: []string{filepath.Join(dir, "*.jsonl")}}, checkpoint.State{})
	waitFor(t, "the first lines", func() bool { return len(r.texts()) == 3 })
	appendFile(t, p, lines("a", 3, 6)) // a read after a write: relatime would update atime now
	waitFor(t, "the appended lines", func() bool { return len(r.texts()) == 6 })
	if got := atime(t, p); !got.Equal(old) {
		t.Fatalf("access time changed from %v to %v by following the file", old, got)
	}
}

// TestOpenFileNotOwner: a file the shipper may read but does not own (no
// O_NOATIME for it) still opens. As root, the open runs on a thread whose
// file-system uid is nobody's, which drops CAP_FOWNER as a non-root user
// lacks it.
func TestOpenFileNotOwner(t *testing.T) {
	const p = "/etc/passwd" // owned by root, readable by all
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil || st.Uid != 0 || st.Mode&0o004 == 0 {
		t.Skipf("%s is not a world-readable file owned by root here", p)
	}
	type result struct{ raw, ours error }
	done := make(chan result, 1)
	go func() {
		if os.Getuid() == 0 {
			// The thread is left locked, so it ends with this goroutine and
			// its file-system uid never serves other code.
			runtime.LockOSThread()
			unix.Setfsuid(65534)
			if got, _ := unix.SetfsuidRetUid(-1); got != 65534 {
				done <- result{raw: fmt.Errorf("setfsuid did not take (fsuid %d)", got)}
				return
			}
		} else if int(st.Uid) == os.Getuid() {
			done <- result{raw: fmt.Errorf("runs as the owner of %s", p)}
			return
		}
		var r result
		fd, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOATIME, 0)
		if err == nil {
			fd.Close()
		}
		r.raw = err
		if fd, err := openFile(p); err != nil {
			r.ours = err
		} else {
			_, r.ours = fd.Read(make([]byte, 16))
			fd.Close()
		}
		done <- r
	}()
	r := <-done
	if !errors.Is(r.raw, syscall.EPERM) {
		t.Fatalf("opening %s with O_NOATIME as a non-owner gave %v, want EPERM: the test does not reach the fallback", p, r.raw)
	}
	if r.ours != nil {
		t.Fatalf("openFile(%s) as a non-owner: %v", p, r.ours)
	}
}
