package tailer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/spanshipper/spanshipper/checkpoint"
)

// checkpointAfter reads the files at p to their end with a fresh tailer and
// returns the checkpoint it would write: a run of spanshipper before a stop.
func checkpointAfter(t *testing.T, p string) checkpoint.State {
	t.Helper()
	tl, err := New(Config{Include: []string{p}, ExitOnEOF: true}, checkpoint.State{}, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	if err := tl.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return checkpoint.State{Version: 1, Files: tl.Snapshot()}
}

// TestRenamedWhileDownIsDrained: a file rotated out of the globs while
// spanshipper was down is found beside its path by its identity and read
// on from its checkpoint, before the new file at its path; the matches are
// the rotated names of a kubelet, of logrotate (number and date) and of
// docker behind a kubelet's symlink.
func TestRenamedWhileDownIsDrained(t *testing.T) {
	for _, tc := range []struct{ name, rotated string }{
		{"kubelet", "0.log.20261126-040436"},
		{"logrotate", "0.log.1"},
		{"dateext", "0.log-20261126"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "0.log")
			appendFile(t, p, lines("a", 0, 10))
			st := checkpointAfter(t, p)
			appendFile(t, p, lines("a", 10, 20)+"a-frag")
			os.Rename(p, filepath.Join(dir, tc.rotated))
			os.WriteFile(filepath.Join(dir, "0.log.20261126-040436.gz"), []byte("not text"), 0o644)
			appendFile(t, p, lines("b", 0, 5))
			tl, r, _ := start(t, Config{Include: []string{p}, RotateWait: 100 * time.Millisecond}, st)
			wantAll := append(append(want("a", 10, 20), "a-frag"), want("b", 0, 5)...)
			waitFor(t, "both files", func() bool { return len(r.texts()) >= len(wantAll) })
			time.Sleep(200 * time.Millisecond)
			sameSet(t, r.texts(), wantAll)
			r.mu.Lock()
			for _, l := range r.lines {
				if l.path != p {
					t.Errorf("%q handed on as read at %s: want the path it was followed at, %s", l.line, l.path, p)
				}
			}
			r.mu.Unlock()
			waitFor(t, "the renamed file let go", func() bool { return len(tl.Snapshot()) == 1 })
		})
	}
	t.Run("docker", func(t *testing.T) {
		root := t.TempDir()
		target := filepath.Join(root, "containers", "abc", "abc-json.log")
		link := filepath.Join(root, "pods", "ns_pod_uid", "c", "0.log")
		os.MkdirAll(filepath.Dir(target), 0o755)
		os.MkdirAll(filepath.Dir(link), 0o755)
		appendFile(t, target, lines("a", 0, 10))
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		glob := filepath.Join(root, "pods", "*", "*", "*.log")
		st := checkpointAfter(t, glob)
		appendFile(t, target, lines("a", 10, 20))
		os.Rename(target, target+".1")
		appendFile(t, target, lines("b", 0, 5))
		_, r, _ := start(t, Config{Include: []string{glob}, RotateWait: 100 * time.Millisecond}, st)
		wantAll := append(want("a", 10, 20), want("b", 0, 5)...)
		waitFor(t, "both files", func() bool { return len(r.texts()) >= len(wantAll) })
		time.Sleep(200 * time.Millisecond)
		sameSet(t, r.texts(), wantAll)
	})
}

// TestRenamedWhileDownNotConfused: a checkpointed inode now held by an
// unrelated file beside the path (reused) is not resumed: the file at
// 0.log.1 has the entry's device and inode, but not the fingerprint of
// the file the entry was written for.
func TestRenamedWhileDownNotConfused(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "0.log")
	appendFile(t, p, lines("a", 0, 10))
	st := checkpointAfter(t, p)
	st.Files[0].Fingerprint = checkpoint.Fingerprint([]byte(lines("x", 0, 20)[:st.Files[0].FingerprintSize]))
	os.Rename(p, p+".1")
	appendFile(t, p+".1", lines("x", 0, 20))
	appendFile(t, p, lines("b", 0, 5))
	_, r, _ := start(t, Config{Include: []string{p}, RotateWait: 100 * time.Millisecond}, st)
	waitFor(t, "the new file", func() bool { return len(r.texts()) >= 5 })
	time.Sleep(300 * time.Millisecond)
	sameSet(t, r.texts(), want("b", 0, 5))
}

// acker hands every line on as a record its cursor must see acknowledged.
type acker struct {
	mu    sync.Mutex
	marks []checkpoint.Mark
}

func (a *acker) HandleLine(f *File, line []byte, start, end int64) error {
	a.mu.Lock()
	a.marks = append(a.marks, f.Cursor().Add(start, end))
	a.mu.Unlock()
	return nil
}

func (a *acker) HandleTooLong(f *File, start, end int64) error {
	f.Cursor().Skip(end)
	return nil
}

// TestDrainedFileKeptUntilSettled: a file rotated away and read to its end
// keeps its checkpoint entry while any of its records is in flight, so a
// crash then finds it again; once they are final the entry goes.
func TestDrainedFileKeptUntilSettled(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "app.jsonl")
	appendFile(t, p, lines("a", 0, 10))
	a := &acker{}
	tl, err := New(Config{Include: []string{p}, PollInterval: 20 * time.Millisecond, RotateWait: 50 * time.Millisecond}, checkpoint.State{}, a)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tl.Run(ctx) }()
	defer func() { cancel(); <-done }()
	count := func() int { a.mu.Lock(); defer a.mu.Unlock(); return len(a.marks) }
	waitFor(t, "the lines", func() bool { return count() == 10 })
	os.Rename(p, p+".1")
	appendFile(t, p, lines("b", 0, 3))
	waitFor(t, "the new file", func() bool { return count() == 13 })
	entries := func() string {
		var s []string
		for _, e := range tl.Snapshot() {
			s = append(s, fmt.Sprintf("%s@%d", filepath.Base(e.Path), e.Offset))
		}
		return fmt.Sprint(s)
	}
	time.Sleep(500 * time.Millisecond) // the renamed file is drained and let go meanwhile
	if got := len(tl.Snapshot()); got != 2 {
		t.Fatalf("checkpoint entries while the renamed file's records are in flight: %s, want both files", entries())
	}
	a.mu.Lock()
	for _, m := range a.marks[:9] {
		m.Done()
	}
	a.mu.Unlock()
	if s := entries(); len(tl.Snapshot()) != 2 {
		t.Fatalf("entries with one record in flight: %s", s)
	}
	a.mu.Lock()
	a.marks[9].Done()
	a.mu.Unlock()
	if got := tl.Snapshot(); len(got) != 1 || got[0].Offset != 0 {
		t.Fatalf("entries once the renamed file's records are final: %s, want only the new file's", entries())
	}
}
