package ship

import (
	"encoding/json"
	"fmt"
	"os"
	"sync"
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

// DeadLetterFile appends dead letters durably. It is safe for concurrent use.
type DeadLetterFile struct {
	mu  sync.Mutex
	f   *os.File
	buf []byte
}

// OpenDeadLetters opens (creating) the dead-letter file for appending.
func OpenDeadLetters(path string) (*DeadLetterFile, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	// A crash mid-append leaves a partial last line: end it, so the next
	// letter starts on a line of its own.
	if fi, err := f.Stat(); err == nil && fi.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, fi.Size()-1); err == nil && last[0] != '\n' {
			if _, err := f.Write([]byte{'\n'}); err != nil {
				f.Close()
				return nil, fmt.Errorf("repair dead-letter file: %w", err)
			}
		}
	}
	return &DeadLetterFile{f: f}, nil
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
	if _, err := d.f.Write(d.buf); err != nil {
		return fmt.Errorf("append dead letters: %w", err)
	}
	if err := d.f.Sync(); err != nil {
		return fmt.Errorf("sync dead letters: %w", err)
	}
	return nil
}

// Close closes the file.
func (d *DeadLetterFile) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.f.Close()
}
