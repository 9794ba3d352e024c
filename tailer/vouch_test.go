package tailer

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spanshipper/spanshipper/checkpoint"
)

// These tests turn the periodic full stat pass off (fullScanEvery), so
// what is found is found by the scans that stat only what the directory
// watches cannot vouch for. Each change below raises no notification on
// the watched directory.

const never = 1 << 30

// TestSymlinkTargetRotatedUnwatched follows a symlink into a directory no
// glob names: the target is rotated by rename there, so only a stat of the
// symlink's path shows the new file.
func TestSymlinkTargetRotatedUnwatched(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	target := filepath.Join(other, "real.jsonl")
	appendFile(t, target, lines("a", 0, 20))
	p := filepath.Join(dir, "app.jsonl")
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
	_, r, _ := start(t, Config{Include: []string{filepath.Join(dir, "*.jsonl")}, RotateWait: 100 * time.Millisecond,
		fullScanEvery: never}, checkpoint.State{})
	waitFor(t, "first lines", func() bool { return len(r.texts()) == 20 })
	time.Sleep(200 * time.Millisecond) // a few scans: the path would be vouched for by now if it could be
	appendFile(t, target+".new", lines("b", 0, 10))
	os.Rename(target+".new", target)
	appendFile(t, target, lines("b", 10, 15))
	waitFor(t, "the new target", func() bool { return len(r.texts()) >= 35 })
	time.Sleep(100 * time.Millisecond)
	sameSet(t, r.texts(), append(want("a", 0, 20), want("b", 0, 15)...))
}

// TestHardLinkWrittenElsewhere writes a followed file through a second
// hard link in a directory no glob names: inotify reports the writes to
// that directory only.
func TestHardLinkWrittenElsewhere(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	p := filepath.Join(dir, "app.jsonl")
	appendFile(t, p, lines("a", 0, 20))
	if err := os.Link(p, filepath.Join(other, "x.jsonl")); err != nil {
		t.Fatal(err)
	}
	_, r, _ := start(t, Config{Include: []string{filepath.Join(dir, "*.jsonl")}, PollInterval: 50 * time.Millisecond,
		Coalesce: -1, fullScanEvery: never}, checkpoint.State{})
	waitFor(t, "first lines", func() bool { return len(r.texts()) == 20 })
	time.Sleep(200 * time.Millisecond)
	appendFile(t, filepath.Join(other, "x.jsonl"), lines("a", 20, 30))
	waitFor(t, "lines written through the other link", func() bool { return len(r.texts()) >= 30 })
	sameSet(t, r.texts(), want("a", 0, 30))
}

// TestWatchedDirectoryReplaced globs through a symlinked directory that is
// switched to another directory: the watch stays on the old one, which
// sees nothing of the switch, so the scan must notice its path now leads
// elsewhere, and list it again. The old file is drained, the new ones read.
func TestWatchedDirectoryReplaced(t *testing.T) {
	root := t.TempDir()
	v1, v2 := filepath.Join(root, "v1"), filepath.Join(root, "v2")
	os.Mkdir(v1, 0o755)
	os.Mkdir(v2, 0o755)
	appendFile(t, filepath.Join(v1, "app.jsonl"), lines("a", 0, 20))
	cur := filepath.Join(root, "cur")
	if err := os.Symlink("v1", cur); err != nil {
		t.Fatal(err)
	}
	_, r, _ := start(t, Config{Include: []string{filepath.Join(cur, "*.jsonl")}, RotateWait: 100 * time.Millisecond,
		fullScanEvery: never}, checkpoint.State{})
	waitFor(t, "first lines", func() bool { return len(r.texts()) == 20 })
	time.Sleep(200 * time.Millisecond)
	appendFile(t, filepath.Join(v2, "app.jsonl"), lines("b", 0, 10))
	appendFile(t, filepath.Join(v2, "new.jsonl"), lines("c", 0, 10)) // a name the old directory has not
	os.Symlink("v2", cur+".new")
	os.Rename(cur+".new", cur) // atomic switch, as deployment tools do
	waitFor(t, "the new directory's files", func() bool { return len(r.texts()) >= 40 })
	// The old file is let go: it is no longer reached by any path.
	waitFor(t, "the old file let go", func() bool { return openFDsTo(t, v1) == 0 })
	sameSet(t, r.texts(), append(append(want("a", 0, 20), want("b", 0, 10)...), want("c", 0, 10)...))
}

// TestVouchedRotationsAndTruncations rotates, deletes and truncates files
// in a watched directory with the full pass off: the notifications alone
// must lead the scans to every change.
func TestVouchedRotationsAndTruncations(t *testing.T) {
	dir := t.TempDir()
	a, b, c := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl"), filepath.Join(dir, "c.jsonl")
	appendFile(t, a, lines("a", 0, 10))
	appendFile(t, b, lines("b", 0, 10))
	appendFile(t, c, lines("c", 0, 10))
	_, r, _ := start(t, Config{Include: []string{filepath.Join(dir, "*.jsonl")}, RotateWait: 100 * time.Millisecond,
		fullScanEvery: never}, checkpoint.State{})
	waitFor(t, "first lines", func() bool { return len(r.texts()) == 30 })
	// A new a.jsonl renamed over the old one, which is unlinked: the path
	// is never missing from the glob, so only the rename's notification
	// tells the scan to stat it. The old file is drained, including what
	// was written just before.
	appendFile(t, a+".tmp", lines("a2", 0, 5))
	appendFile(t, a, lines("a", 10, 12))
	os.Rename(a+".tmp", a)
	os.Remove(b)
	os.WriteFile(c, []byte(lines("c2", 0, 30)), 0o644) // truncated and regrown past the offset
	wantAll := append(append(want("a", 0, 12), want("b", 0, 10)...), want("c", 0, 10)...)
	wantAll = append(append(wantAll, want("a2", 0, 5)...), want("c2", 0, 30)...)
	waitFor(t, "every change", func() bool { return len(r.texts()) >= len(wantAll) })
	waitFor(t, "renamed and deleted files let go", func() bool { return openFDsTo(t, dir) == 2 })
	sameSet(t, r.texts(), wantAll)
}

// TestWriteNotifiedWithRescan writes to a followed file in the same
// gathering of notifications as a file is created: the rescan the creation
// asks for does not stat the written file (its directory's watch vouches
// for it), so the write's own notification must still give it a read turn.
func TestWriteNotifiedWithRescan(t *testing.T) {
	dir := t.TempDir()
	c := filepath.Join(dir, "c.jsonl")
	appendFile(t, c, lines("c", 0, 10))
	_, r, _ := start(t, Config{Include: []string{filepath.Join(dir, "*.jsonl")}, PollInterval: time.Hour,
		fullScanEvery: never}, checkpoint.State{})
	waitFor(t, "first lines", func() bool { return len(r.texts()) == 10 })
	// An unmatched file's write wakes the watcher, which then gathers for
	// its pause (100 ms): the creation and the write below fall in it.
	appendFile(t, filepath.Join(dir, "other.txt"), "x\n")
	time.Sleep(20 * time.Millisecond)
	appendFile(t, filepath.Join(dir, "d.jsonl"), lines("d", 0, 5))
	appendFile(t, c, lines("c", 10, 20))
	waitFor(t, "both files", func() bool { return len(r.texts()) >= 25 })
	sameSet(t, r.texts(), append(want("c", 0, 20), want("d", 0, 5)...))
}

func TestJoinNameIsFilepathJoin(t *testing.T) {
	for _, dir := range []string{".", "/", "/var/log", "logs", "../x"} {
		if got, want := joinName(dir, []byte("a.jsonl")), filepath.Join(dir, "a.jsonl"); got != want {
			t.Errorf("joinName(%q) = %q, want %q", dir, got, want)
		}
	}
}
