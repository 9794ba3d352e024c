package checkpoint

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Held reports whether a running spanshipper holds the state directory dir
// (its lock is taken). A directory or lock file that does not exist is not
// held.
func Held(dir string) (bool, error) {
	lock, err := os.Open(filepath.Join(dir, lockName))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("open lock: %w", err)
	}
	defer lock.Close()
	err = syscall.Flock(int(lock.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("test lock: %w", err)
	}
	syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	return false, nil
}

// WriteFileAtomic replaces path with b: write a temp file (named with
// prefix, in path's directory), fsync it, rename it over path, fsync the
// directory. A crash at any point leaves either the old or the new content,
// never a mix; the temp file is removed on error. The new file gets the
// mode and, where the caller may give it, the owner of like (a file written
// by root for a service user stays the service's); nil means mode 0600 and
// the caller's ownership.
func WriteFileAtomic(path, prefix string, b []byte, like fs.FileInfo) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, prefix+"*")
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if like != nil {
		if err := tmp.Chmod(like.Mode().Perm()); err != nil {
			return fmt.Errorf("write %s: %w", filepath.Base(path), err)
		}
		if st, ok := like.Sys().(*syscall.Stat_t); ok {
			tmp.Chown(int(st.Uid), int(st.Gid)) // fails unless root or already the owner: harmless
		}
	}
	if _, err := tmp.Write(b); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", filepath.Base(path), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", filepath.Base(path), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename %s: %w", filepath.Base(path), err)
	}
	ok = true
	return SyncDir(dir)
}
