package tailer

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestGlobberMatchesLikeFilepathGlob: the same matches as filepath.Glob.
func TestGlobberMatchesLikeFilepathGlob(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"a/x.jsonl", "a/y.jsonl", "a/z.log", "b/c/x.jsonl", "d.jsonl"} {
		p = filepath.Join(dir, p)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, nil, 0o644)
	}
	g := newGlobber(slog.New(slog.DiscardHandler))
	for _, pat := range []string{"*/*.jsonl", "a/*", "*/*/*.jsonl", "d.jsonl", "nope/*.jsonl", "a/[xy].jsonl", "*"} {
		pat = filepath.Join(dir, pat)
		want, _ := filepath.Glob(pat)
		if got := g.expand(pat); !slices.Equal(got, want) {
			t.Errorf("%s: got %v, want %v", pat, got, want)
		}
	}
}

// TestGlobberSaysOnce: a glob matching nothing and a directory that cannot
// be read are each logged once, however many polls go by.
func TestGlobberSaysOnce(t *testing.T) {
	dir := t.TempDir()
	var buf bytes.Buffer
	g := newGlobber(slog.New(slog.NewTextHandler(&buf, nil)))
	os.WriteFile(filepath.Join(dir, "file"), nil, 0o644)
	empty := filepath.Join(dir, "*.jsonl")
	broken := filepath.Join(dir, "file", "logs", "*.jsonl") // "file" is not a directory
	for range 5 {
		g.expand(empty)
		g.expand(broken)
	}
	out := buf.String()
	if strings.Count(out, "no file matches --path glob") != 2 || !strings.Contains(out, "glob="+empty) {
		t.Fatalf("want each empty glob logged once:\n%s", out)
	}
	if strings.Count(out, "cannot read a directory") != 1 || !strings.Contains(out, "dir="+filepath.Join(dir, "file", "logs")) ||
		!strings.Contains(out, "not a directory") {
		t.Fatalf("want the unreadable directory logged once with its error:\n%s", out)
	}
	// Files appearing later are found, and nothing more is said.
	os.WriteFile(filepath.Join(dir, "a.jsonl"), nil, 0o644)
	if got := g.expand(empty); len(got) != 1 {
		t.Fatalf("got %v", got)
	}
	if buf.String() != out {
		t.Fatalf("logged again:\n%s", buf.String())
	}
}

// TestGlobberPermissionDenied: a directory without read permission is named
// with the error. Root reads every directory, so it runs unprivileged only.
func TestGlobberPermissionDenied(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root can read any directory (e2e TestUnreadableDirectoryLoggedOnce runs the shipper as nobody)")
	}
	dir := t.TempDir()
	locked := filepath.Join(dir, "locked")
	os.Mkdir(locked, 0o000)
	t.Cleanup(func() { os.Chmod(locked, 0o755) })
	var buf bytes.Buffer
	g := newGlobber(slog.New(slog.NewTextHandler(&buf, nil)))
	g.expand(filepath.Join(locked, "*.jsonl"))
	g.expand(filepath.Join(locked, "*.jsonl"))
	if strings.Count(buf.String(), "permission denied") != 1 {
		t.Fatalf("want one line naming the permission error:\n%s", buf.String())
	}
}
