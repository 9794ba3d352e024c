package tailer

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spanshipper/spanshipper/checkpoint"
)

// sameSet fails unless got holds exactly the lines of want, each once.
func sameSet(t *testing.T, got, want []string) {
	t.Helper()
	g := append([]string(nil), got...)
	w := append([]string(nil), want...)
	sort.Strings(g)
	sort.Strings(w)
	if strings.Join(g, "\n") != strings.Join(w, "\n") {
		count := map[string]int{}
		for _, l := range g {
			count[l]++
		}
		var missing, dup []string
		for _, l := range w {
			if count[l] == 0 {
				missing = append(missing, l)
			}
			if count[l] > 1 {
				dup = append(dup, l)
			}
		}
		t.Fatalf("got %d lines, want %d; missing %d (e.g. %v), repeated %d (e.g. %v)",
			len(g), len(w), len(missing), missing[:min(5, len(missing))], len(dup), dup[:min(5, len(dup))])
	}
}

func TestRenameRotationDrainsOldFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "app.jsonl")
	appendFile(t, p, lines("a", 0, 100))
	_, r, _ := start(t, Config{Include: []string{p}, RotateWait: 200 * time.Millisecond}, checkpoint.State{})
	waitFor(t, "first lines", func() bool { return len(r.texts()) == 100 })
	// A writer holding the old file writes just before and after the rename.
	old, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	old.WriteString(lines("a", 100, 150))
	os.Rename(p, p+".1") // out of the glob
	old.WriteString(lines("a", 150, 160) + "a-frag")
	old.Close()
	appendFile(t, p, lines("b", 0, 50))
	want := append(append(want("a", 0, 160), "a-frag"), want("b", 0, 50)...)
	waitFor(t, "both files", func() bool { return len(r.texts()) >= len(want) })
	time.Sleep(300 * time.Millisecond)
	sameSet(t, r.texts(), want)
}

// TestRapidRotationsLoseNothing rotates the file many times while the reader
// is far behind: every generation was opened while it had the name, but most
// are renamed (and the oldest renamed over, i.e. unlinked) long before they
// are read to the end.
func TestRapidRotationsLoseNothing(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "app.jsonl")
	tl, r, _ := start(t, Config{Include: []string{p}, RotateWait: 100 * time.Millisecond}, checkpoint.State{})
	r.delay.Store(int64(20 * time.Microsecond))
	var all []string
	for gen := 0; gen < 20; gen++ {
		prefix := fmt.Sprintf("g%d", gen)
		appendFile(t, p, lines(prefix, 0, 200))
		all = append(all, want(prefix, 0, 200)...)
		fi, _ := os.Stat(p)
		id, _ := identityOf(fi)
		waitFor(t, "generation discovered", func() bool {
			for _, e := range tl.Snapshot() {
				if e.Dev == id.dev && e.Ino == id.ino {
					return true
				}
			}
			return false
		})
		// logrotate with rotate 3: the oldest is renamed over, i.e. deleted.
		for k := 3; k > 1; k-- {
			os.Rename(fmt.Sprintf("%s.%d", p, k-1), fmt.Sprintf("%s.%d", p, k))
		}
		os.Rename(p, p+".1")
	}
	waitFor(t, "every generation", func() bool { return len(r.texts()) >= len(all) })
	time.Sleep(200 * time.Millisecond)
	sameSet(t, r.texts(), all)
	waitFor(t, "rotated files let go", func() bool { return openFDsTo(t, dir) == 0 })
}

func TestRotatedNameStillMatchingKeepsItsState(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "app.jsonl")
	appendFile(t, p, lines("a", 0, 100))
	_, r, _ := start(t, Config{Include: []string{p + "*"}}, checkpoint.State{})
	waitFor(t, "lines", func() bool { return len(r.texts()) == 100 })
	os.Rename(p, p+".1") // still matches: same file, same offset, no re-read
	appendFile(t, p+".1", lines("a", 100, 110))
	appendFile(t, p, lines("b", 0, 10))
	waitFor(t, "lines", func() bool { return len(r.texts()) >= 120 })
	time.Sleep(200 * time.Millisecond)
	sameSet(t, r.texts(), append(want("a", 0, 110), want("b", 0, 10)...))
}

func TestCopyTruncateRereadsFromStart(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "app.jsonl")
	appendFile(t, p, lines("a", 0, 50))
	_, r, _ := start(t, Config{Include: []string{p}}, checkpoint.State{})
	waitFor(t, "lines", func() bool { return len(r.texts()) == 50 })
	// copytruncate: copy (outside the glob), truncate in place, write on.
	b, _ := os.ReadFile(p)
	os.WriteFile(p+".1", b, 0o644)
	os.Truncate(p, 0)
	appendFile(t, p, lines("b", 0, 5))
	waitFor(t, "after truncation", func() bool { return len(r.texts()) == 55 })
	sameSet(t, r.texts(), append(want("a", 0, 50), want("b", 0, 5)...))
}

func TestTruncateAndRegrowPastOffsetIsDetected(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "app.jsonl")
	appendFile(t, p, lines("a", 0, 10))
	tl, r, stop := start(t, Config{Include: []string{p}}, checkpoint.State{})
	waitFor(t, "lines", func() bool { return len(r.texts()) == 10 })
	// Live: truncate and write more than before in one go, so the size
	// alone does not show it; the fingerprint does.
	os.WriteFile(p, []byte(lines("b", 0, 30)), 0o644)
	waitFor(t, "new content", func() bool { return len(r.texts()) >= 40 })
	time.Sleep(100 * time.Millisecond)
	sameSet(t, r.texts(), append(want("a", 0, 10), want("b", 0, 30)...))
	stop()

	// Across a restart: the checkpoint's fingerprint no longer matches.
	st := checkpoint.State{Files: tl.Snapshot()}
	os.WriteFile(p, []byte(lines("c", 0, 40)), 0o644)
	_, r2, _ := start(t, Config{Include: []string{p}}, st)
	waitFor(t, "rewritten content", func() bool { return len(r2.texts()) >= 40 })
	time.Sleep(100 * time.Millisecond)
	sameSet(t, r2.texts(), want("c", 0, 40))
}

// TestRewriteWithSameHeadIsDetected rewrites a file in place
// (copytruncate) with new content that begins with the same first KiB as
// before, a header line, and reaches past the read offset before it is read:
// neither the size nor the fingerprint of the first bytes tells it from
// growth, the bytes before the read offset do. The poll is slow, so the
// change notification's read turn must see it by itself.
func TestRewriteWithSameHeadIsDetected(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "app.jsonl")
	head := strings.Repeat("h", 2*checkpoint.FingerprintBytes) + "\n"
	appendFile(t, p, head+lines("a", 0, 10))
	_, r, _ := start(t, Config{Include: []string{p}, PollInterval: time.Hour}, checkpoint.State{})
	waitFor(t, "lines", func() bool { return len(r.texts()) == 11 })
	os.WriteFile(p, []byte(head+lines("b", 0, 30)), 0o644)
	waitFor(t, "new content", func() bool { return len(r.texts()) >= 42 })
	time.Sleep(100 * time.Millisecond)
	sameSet(t, r.texts(), append(append([]string{head[:len(head)-1]}, want("a", 0, 10)...),
		append([]string{head[:len(head)-1]}, want("b", 0, 30)...)...))
}

// TestTruncationSeenByReadAlone truncates a file and writes less than was
// read before, with a slow poll: the read turn of the change notification,
// which makes no fstat, must take the short file for a truncation.
func TestTruncationSeenByReadAlone(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "app.jsonl")
	appendFile(t, p, lines("a", 0, 50))
	_, r, _ := start(t, Config{Include: []string{p}, PollInterval: time.Hour}, checkpoint.State{})
	waitFor(t, "lines", func() bool { return len(r.texts()) == 50 })
	os.WriteFile(p, []byte(lines("b", 0, 5)), 0o644)
	waitFor(t, "new content", func() bool { return len(r.texts()) >= 55 })
	time.Sleep(100 * time.Millisecond)
	sameSet(t, r.texts(), append(want("a", 0, 50), want("b", 0, 5)...))
}

func openFDsTo(t *testing.T, path string) int {
	t.Helper()
	ents, _ := os.ReadDir("/proc/self/fd")
	n := 0
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		// The directory itself is opened briefly by each glob; count files only.
		if err == nil && strings.HasPrefix(target, path) && target != path {
			n++
		}
	}
	return n
}

func TestDeletedFileIsDrainedAndClosed(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "app.jsonl")
	appendFile(t, p, lines("a", 0, 10))
	tl, r, _ := start(t, Config{Include: []string{p}, RotateWait: 300 * time.Millisecond}, checkpoint.State{})
	waitFor(t, "lines", func() bool { return len(r.texts()) == 10 })
	w, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	os.Remove(p)
	w.WriteString(lines("a", 10, 20) + "frag")
	w.Close()
	waitFor(t, "drain", func() bool { return len(r.texts()) == 21 })
	waitFor(t, "descriptor closed", func() bool { return openFDsTo(t, p) == 0 })
	sameSet(t, r.texts(), append(want("a", 0, 20), "frag"))
	if n := len(tl.Snapshot()); n != 0 {
		t.Fatalf("checkpoint of the deleted file not pruned: %d entries", n)
	}
}

func TestInodeReuseIsANewFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "app.jsonl")
	appendFile(t, p, lines("a", 0, 20))
	fi, _ := os.Stat(p)
	id, _ := identityOf(fi)
	// A checkpoint for this very inode, but with another file's fingerprint:
	// the inode was freed and reused since.
	st := checkpoint.State{Files: []checkpoint.Entry{{Path: p, Dev: id.dev, Ino: id.ino,
		Fingerprint: checkpoint.Fingerprint([]byte("some other file's first bytes")), FingerprintSize: 29, Offset: 100}}}
	_, r, _ := start(t, Config{Include: []string{p}}, st)
	waitFor(t, "lines", func() bool { return len(r.texts()) == 20 })
	sameSet(t, r.texts(), want("a", 0, 20))
}

func TestSymlinkedDirAndTwoPathsReadOnce(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "pods", "p1")
	os.MkdirAll(real, 0o755)
	link := filepath.Join(dir, "containers")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(real, "c.log")
	appendFile(t, p, lines("a", 0, 30))
	os.Symlink(p, filepath.Join(real, "alias.log"))
	_, r, _ := start(t, Config{Include: []string{filepath.Join(link, "*.log"), filepath.Join(real, "*.log")}}, checkpoint.State{})
	waitFor(t, "lines", func() bool { return len(r.texts()) >= 30 })
	appendFile(t, p, lines("a", 30, 40))
	waitFor(t, "more lines", func() bool { return len(r.texts()) >= 40 })
	time.Sleep(200 * time.Millisecond)
	sameSet(t, r.texts(), want("a", 0, 40))
}

func TestManyFilesWithFewDescriptors(t *testing.T) {
	dir := t.TempDir()
	const files = 2000
	var all []string
	for i := range files {
		prefix := fmt.Sprintf("f%d", i)
		appendFile(t, filepath.Join(dir, prefix+".jsonl"), lines(prefix, 0, 3))
		all = append(all, want(prefix, 0, 3)...)
	}
	tl, r, _ := start(t, Config{Include: []string{filepath.Join(dir, "*.jsonl")}, MaxOpenFiles: 50}, checkpoint.State{})
	waitFor(t, "every file", func() bool { return len(r.texts()) >= len(all) })
	if n := openFDsTo(t, dir); n > 50 {
		t.Fatalf("%d descriptors open, bound is 50", n)
	}
	// Appends to files whose descriptors were closed are still found.
	for i := 0; i < files; i += 100 {
		prefix := fmt.Sprintf("f%d", i)
		appendFile(t, filepath.Join(dir, prefix+".jsonl"), lines(prefix, 3, 4))
		all = append(all, want(prefix, 3, 4)...)
	}
	waitFor(t, "appended lines", func() bool { return len(r.texts()) >= len(all) })
	if n := openFDsTo(t, dir); n > 50 {
		t.Fatalf("%d descriptors open, bound is 50", n)
	}
	sameSet(t, r.texts(), all)
	if n := len(tl.Snapshot()); n != files {
		t.Fatalf("snapshot has %d files, want %d", n, files)
	}
}

func TestLinesSplitAcrossWrites(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "app.jsonl")
	_, r, _ := start(t, Config{Include: []string{p}}, checkpoint.State{})
	appendFile(t, p, "")
	var all []string
	for i := range 50 {
		l := fmt.Sprintf(`{"n":%d,"pad":"%s"}`, i, strings.Repeat("x", i*37%200))
		appendFile(t, p, l[:len(l)/2])
		time.Sleep(2 * time.Millisecond)
		appendFile(t, p, l[len(l)/2:]+"\n")
		all = append(all, l)
	}
	waitFor(t, "lines", func() bool { return len(r.texts()) >= 50 })
	sameSet(t, r.texts(), all)
}

// TestPollingAloneFindsEverything: without inotify (the fallback when the
// watch limit is hit or the queue overflows) new files, appends, rotations
// and truncations are all found by the poll.
func TestPollingAloneFindsEverything(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "app.jsonl")
	appendFile(t, p, lines("a", 0, 10))
	_, r, _ := start(t, Config{Include: []string{filepath.Join(dir, "*.jsonl")}, PollOnly: true, RotateWait: 100 * time.Millisecond}, checkpoint.State{})
	waitFor(t, "first lines", func() bool { return len(r.texts()) == 10 })
	appendFile(t, filepath.Join(dir, "new.jsonl"), lines("n", 0, 5))
	appendFile(t, p, lines("a", 10, 15))
	os.Rename(p, p+".1")
	appendFile(t, p, lines("b", 0, 5))
	waitFor(t, "all lines", func() bool { return len(r.texts()) >= 25 })
	time.Sleep(200 * time.Millisecond)
	sameSet(t, r.texts(), append(append(want("a", 0, 15), want("n", 0, 5)...), want("b", 0, 5)...))
}

// TestRenamedOverBetweenStatAndOpen: a rotation that shifts names renames
// one file over a path between the tailer's stat of it and its open. Each
// file is still read once, under its own identity, and nothing is taken
// for a truncation.
func TestRenamedOverBetweenStatAndOpen(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "app.jsonl")
	appendFile(t, p, lines("x", 0, 30))
	appendFile(t, p+".1", lines("y", 0, 20))
	var once sync.Once
	testHookBeforeOpen = func(path string) {
		if path != p {
			return
		}
		once.Do(func() { // app.jsonl → app.jsonl.2, app.jsonl.1 → app.jsonl
			os.Rename(p, p+".2")
			os.Rename(p+".1", p)
		})
	}
	defer func() { testHookBeforeOpen = nil }()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil))
	_, r, stop := start(t, Config{Include: []string{p + "*"}, Logger: log}, checkpoint.State{})
	wantAll := append(want("x", 0, 30), want("y", 0, 20)...)
	waitFor(t, "both files", func() bool { return len(r.texts()) >= len(wantAll) })
	time.Sleep(300 * time.Millisecond) // a re-read would show by now
	stop()
	sameSet(t, r.texts(), wantAll)
	if bytes.Contains(logs.Bytes(), []byte("truncated")) {
		t.Errorf("a file was taken for truncated:\n%s", logs.String())
	}
}

// syncWriter serialises writes to w.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

// TestFingerprintGrowsFromReads checks the fingerprint hashed from the read
// buffer while a file is shorter than checkpoint.FingerprintBytes: it must
// be the hash of the file's first bytes, as a restart computes it.
func TestFingerprintGrowsFromReads(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "app.jsonl")
	tl, r, _ := start(t, Config{Include: []string{p + "*"}}, checkpoint.State{})
	n := 0
	for i, chunk := range []string{lines("a", 0, 3), "frag", "ment\n" + lines("b", 0, 40), lines("c", 0, 100)} {
		appendFile(t, p, chunk)
		n += strings.Count(chunk, "\n")
		waitFor(t, "lines", func() bool { return len(r.texts()) == n })
		b, _ := os.ReadFile(p)
		head := b[:min(len(b), checkpoint.FingerprintBytes)]
		waitFor(t, fmt.Sprintf("the fingerprint of the first %d bytes after write %d", len(head), i), func() bool {
			snap := tl.Snapshot()
			return len(snap) == 1 && snap[0].Fingerprint == checkpoint.Fingerprint(head) && snap[0].FingerprintSize == int64(len(head))
		})
	}
}
