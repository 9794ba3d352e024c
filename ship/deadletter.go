package ship

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"
)

// DeadLetter is one item the backend will never accept, as written to
// {state-dir}/dead-letter.jsonl: the item, why, and where it came from.
type DeadLetter struct {
	Time     time.Time       `json:"time"`
	Reason   string          `json:"reason"`             // rejected, too_large, max_retries
	Status   int             `json:"status,omitempty"`   // HTTP status of the final answer; 0 for connection errors
	Response string          `json:"response,omitempty"` // first 1 KiB of the response body
	Error    string          `json:"error,omitempty"`
	File     string          `json:"file"`
	Offset   int64           `json:"offset"` // byte offset of the source line
	Item     json.RawMessage `json:"item"`
}

// DeadLetterFile appends dead letters durably. It is safe for concurrent
// use, and with `spanshipper dead-letters replay` rewriting the file at the
// same time: each append holds the file's lock ({path}.lock, flock) and
// follows a rewrite (a rename over the path) before writing.
type DeadLetterFile struct {
	mu   sync.Mutex
	path string
	lock *os.File
	f    *os.File
	buf  []byte
}

// OpenDeadLetters opens (creating) the dead-letter file for appending.
func OpenDeadLetters(path string) (*DeadLetterFile, error) {
	lock, err := openLetterLock(path)
	if err != nil {
		return nil, err
	}
	d := &DeadLetterFile{path: path, lock: lock}
	if err := d.locked(func() error { return nil }); err != nil {
		lock.Close()
		return nil, err
	}
	return d, nil
}

// locked runs fn holding the file's lock, with d.f open on the current file.
func (d *DeadLetterFile) locked(fn func() error) error {
	if err := flock(d.lock, syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock dead letters: %w", err)
	}
	defer flock(d.lock, syscall.LOCK_UN)
	if d.f != nil && !samePathFile(d.path, d.f) {
		d.f.Close() // replaced by a replay: append to the new file
		d.f = nil
	}
	if d.f == nil {
		f, err := openLetters(d.path)
		if err != nil {
			return err
		}
		d.f = f
	}
	return fn()
}

// openLetters opens the file for appending and ends a partial last line
// left by a crash mid-append, so the next letter starts on a line of its own.
func openLetters(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err == nil && fi.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, fi.Size()-1); err == nil && last[0] != '\n' {
			if _, err := f.Write([]byte{'\n'}); err != nil {
				f.Close()
				return nil, fmt.Errorf("repair dead-letter file: %w", err)
			}
		}
	}
	return f, nil
}

// Write appends the letters as JSON lines and fsyncs: when it returns nil
// they survive a crash, so their records may be checkpointed. A failed write
// may leave a partial last line, which a reader skips; the letters are
// written again by the retry.
func (d *DeadLetterFile) Write(letters []DeadLetter) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.buf = d.buf[:0]
	for _, l := range letters {
		b, err := json.Marshal(l)
		if err != nil {
			return fmt.Errorf("encode dead letter: %w", err)
		}
		d.buf = append(append(d.buf, b...), '\n')
	}
	return d.locked(func() error {
		if _, err := d.f.Write(d.buf); err != nil {
			return fmt.Errorf("append dead letters: %w", err)
		}
		if err := d.f.Sync(); err != nil {
			return fmt.Errorf("sync dead letters: %w", err)
		}
		return nil
	})
}

// Close closes the file.
func (d *DeadLetterFile) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var err error
	if d.f != nil {
		err = d.f.Close()
	}
	return errors.Join(err, d.lock.Close())
}

func openLetterLock(path string) (*os.File, error) {
	// Read-only is enough for flock, and 0644 lets the agent's user lock a
	// file that root created running a replay.
	lock, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open dead-letter lock: %w", err)
	}
	return lock, nil
}

// flock retries on EINTR, which a blocking flock returns on a signal.
func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if err != syscall.EINTR {
			return err
		}
	}
}

// samePathFile reports whether path still leads to the open file f.
func samePathFile(path string, f *os.File) bool {
	a, err := os.Stat(path)
	if err != nil {
		return false
	}
	b, err := f.Stat()
	return err == nil && os.SameFile(a, b)
}
