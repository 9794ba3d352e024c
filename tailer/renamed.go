package tailer

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spanshipper/spanshipper/checkpoint"
)

// recoverRenamed finds, at start-up, the files of checkpoint entries that no
// matching path leads to any more (matched holds the identities the globs
// found) because they were renamed while spanshipper was down, or while
// their last records were in flight at a crash: a kubelet's 0.log is now
// 0.log.<time>, docker's <id>-json.log is <id>-json.log.1, logrotate's
// app.jsonl is app.jsonl.1 or app.jsonl-<date>. It looks beside the path
// and beside the file a symlink at the path leads to, among the names that
// begin with the file's name, for the entry's device and inode, and checks
// the fingerprint. A file found is drained from its checkpoint like any
// file rotated away (its descriptor read to the end, let go once quiet),
// under its old path, which is what the handler and the metadata know it
// by. A file already compressed or deleted is not found: its unread rest is
// lost (design.md).
func (t *Tailer) recoverRenamed(matched map[identity]bool) {
	var dirs map[string][]os.DirEntry // each directory read once
	for id, e := range t.restore {
		if matched[id] || e.Path == "" {
			continue
		}
		if dirs == nil {
			dirs = make(map[string][]os.DirEntry)
		}
		name := ""
		for _, p := range renameCandidates(e.Path) {
			dir := filepath.Dir(p)
			entries, ok := dirs[dir]
			if !ok {
				entries, _ = os.ReadDir(dir)
				dirs[dir] = entries
			}
			if name = siblingNamedAfter(dir, entries, filepath.Base(p), id); name != "" {
				break
			}
		}
		if name == "" {
			continue
		}
		delete(t.restore, id)
		t.resumeRenamed(id, e, name)
	}
}

// resumeRenamed follows the file of checkpoint entry e, found at name.
func (t *Tailer) resumeRenamed(id identity, e checkpoint.Entry, name string) {
	t.reserveDescriptor()
	fd, err := openFile(name)
	if err != nil {
		t.log.Warn("cannot open a file renamed away while spanshipper was down; its unread rest is lost", "path", e.Path, "now_at", name, "err", err)
		return
	}
	fi, err := fd.Stat()
	if err != nil {
		fd.Close()
		return
	}
	if got, ok := identityOf(fi); !ok || got != id {
		fd.Close()
		return // renamed again meanwhile
	}
	if fp, _, err := readFingerprint(fd, e.FingerprintSize); err != nil || fp != e.Fingerprint || e.Offset > fi.Size() {
		fd.Close()
		return // the inode was reused by another file
	}
	f := t.follow(fd, id, e.Path, e.Offset, fi.Size(), e.Format)
	f.found = name
	f.gone, f.goneAt = true, time.Now()
	t.log.Info("following file renamed away while spanshipper was down; draining", "path", e.Path, "now_at", name,
		"offset", e.Offset, "size", fi.Size())
}

// identities returns the identities of the files at paths.
func identities(paths []string) map[identity]bool {
	out := make(map[identity]bool, len(paths))
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil {
			if id, ok := identityOf(fi); ok {
				out[id] = true
			}
		}
	}
	return out
}

// renameCandidates returns where a file last seen at p may be now: p
// itself (renamed within its directory) and, when p is a symlink, the file
// it leads to.
func renameCandidates(p string) []string {
	out := []string{p}
	if target, err := filepath.EvalSymlinks(p); err == nil && target != p {
		out = append(out, target)
	}
	return out
}

// siblingNamedAfter returns the path of the file in dir (whose entries
// are given) that is id and whose name begins with base and goes on
// ("0.log.20261126-040436", "app.jsonl.1", "app.jsonl-20261126"), or "".
func siblingNamedAfter(dir string, entries []os.DirEntry, base string, id identity) string {
	for _, de := range entries {
		n := de.Name()
		if len(n) <= len(base) || !strings.HasPrefix(n, base) || !de.Type().IsRegular() {
			continue
		}
		fi, err := de.Info()
		if err != nil {
			continue
		}
		if got, ok := identityOf(fi); ok && got == id {
			return filepath.Join(dir, n)
		}
	}
	return ""
}

// openPath is where a closed descriptor is reopened.
func (f *File) openPath() string {
	if f.found != "" {
		return f.found
	}
	return f.path
}
