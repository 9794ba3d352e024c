package ship

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/spanshipper/spanshipper/checkpoint"
)

// DeadLetterLine is one line of the dead-letter file: its bytes and, when it
// parses, its letter. A line that does not parse is a partial line left by a
// crash mid-append (the letters were written again after it); it is kept,
// never sent.
type DeadLetterLine struct {
	Raw    []byte
	Letter DeadLetter
	OK     bool
}

// ReadDeadLetters reads the dead-letter file at path under its lock, so a
// letter being appended is read whole or not at all. A missing file has no
// letters.
// Without write access to the directory (no lock file can be made) it reads
// unlocked, at worst seeing a partial last line.
func ReadDeadLetters(path string) ([]DeadLetterLine, error) {
	var lines []DeadLetterLine
	read := func() error {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		lines = parseLetters(b)
		return nil
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	err := withLetterLock(path, read)
	if errors.Is(err, fs.ErrPermission) {
		err = read()
	}
	return lines, err
}

func parseLetters(b []byte) []DeadLetterLine {
	var out []DeadLetterLine
	for raw := range bytes.Lines(b) {
		raw = bytes.TrimRight(raw, "\n")
		if len(bytes.TrimSpace(raw)) == 0 {
			continue
		}
		l := DeadLetterLine{Raw: raw}
		l.OK = json.Unmarshal(raw, &l.Letter) == nil && len(l.Letter.Item) > 0
		out = append(out, l)
	}
	return out
}

// UpdateDeadLetters rewrites the dead-letter file at path atomically, under
// its lock: a line whose bytes are a key of change is dropped (a nil value)
// or replaced by the value; every other line is kept, including letters the
// agent appended since the file was read. It returns the letters left.
func UpdateDeadLetters(path string, change map[string][]byte) (int, error) {
	left := 0
	err := withLetterLock(path, func() error {
		fi, err := os.Stat(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		sweepLetterTemps(path)
		var out []byte
		for _, l := range parseLetters(b) {
			raw := l.Raw
			if repl, ok := change[string(raw)]; ok {
				if repl == nil {
					continue
				}
				raw = repl
			}
			if l.OK {
				left++
			}
			out = append(append(out, raw...), '\n')
		}
		return checkpoint.WriteFileAtomic(path, letterTempPrefix(path), out, fi)
	})
	return left, err
}

// withLetterLock runs fn holding the dead-letter file's lock, which the
// agent takes for each append.
func withLetterLock(path string, fn func() error) error {
	lock, err := openLetterLock(path)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := flock(lock, syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock dead letters: %w", err)
	}
	return fn() // closing the lock file releases the lock
}

func letterTempPrefix(path string) string { return "." + filepath.Base(path) + "-" }

// sweepLetterTemps removes temp files left by a rewrite that crashed; the
// caller holds the lock, so no rewrite is under way.
func sweepLetterTemps(path string) {
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), letterTempPrefix(path)+"*"))
	for _, p := range left {
		os.Remove(p)
	}
}
