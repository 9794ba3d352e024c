package checkpoint

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// FileName is the checkpoint file inside the state directory.
const FileName = "checkpoint.json"

// lockName is held (flock) for as long as a Store is open, so two shippers
// never share a state directory.
const lockName = "spanshipper.lock"

// tempPrefix names in-progress writes; leftovers are removed by Open.
const tempPrefix = ".checkpoint-"

// FingerprintBytes is how many leading bytes of a file identify it beside
// its device and inode.
const FingerprintBytes = 1024

// Version is the state format written by this code.
const Version = 1

// Entry is the checkpoint of one file generation: every record that ends at
// or before Offset has a final outcome.
type Entry struct {
	Path            string    `json:"path"`
	Dev             uint64    `json:"dev"`
	Ino             uint64    `json:"ino"`
	Fingerprint     string    `json:"fingerprint"`      // Fingerprint of the first FingerprintSize bytes
	FingerprintSize int64     `json:"fingerprint_size"` // 0 while the file was empty
	Offset          int64     `json:"offset"`
	Size            int64     `json:"size"`    // file size seen when written, for status
	Updated         time.Time `json:"updated"` // when Offset last moved
	// Format is how the file's lines are framed (span, cri, docker), as
	// decided from its first line: a file resumed mid-way keeps it.
	Format string `json:"format,omitempty"`
}

// State is the whole checkpoint file.
type State struct {
	Version int       `json:"version"`
	Written time.Time `json:"written"`
	Files   []Entry   `json:"files"`
}

// Fingerprint returns the identity hash of a file's first bytes.
func Fingerprint(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// Store writes checkpoints durably into one directory. It is not safe for
// concurrent Save calls; the agent's checkpointer is its only writer.
type Store struct {
	dir  string
	lock *os.File
	log  *slog.Logger
	buf  []byte // the encoded state, reused by Save
}

// Open creates dir if needed, takes its lock, removes temp files left by a
// crash mid-write and loads the current state. A checkpoint that cannot be
// parsed is renamed aside (checkpoint.json.corrupt-<time>) with a warning and
// an empty state is returned: files are then read per --start-at.
func Open(dir string, log *slog.Logger) (*Store, State, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, State{}, fmt.Errorf("create state dir: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, lockName), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, State{}, fmt.Errorf("open lock: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, State{}, fmt.Errorf("state dir %s is in use by another spanshipper: %w", dir, err)
	}
	s := &Store{dir: dir, lock: lock, log: log}
	s.sweep()

	st, err := Load(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return s, State{Version: Version}, nil
	case errors.Is(err, errCorrupt):
		aside := filepath.Join(dir, fmt.Sprintf("%s.corrupt-%s", FileName, time.Now().UTC().Format("20060102T150405Z")))
		if rerr := os.Rename(filepath.Join(dir, FileName), aside); rerr != nil {
			s.Close()
			return nil, State{}, fmt.Errorf("set aside corrupt checkpoint: %w", rerr)
		}
		log.Warn("checkpoint is corrupt; set aside, files are read per --start-at", "error", err, "moved_to", aside)
		return s, State{Version: Version}, nil
	case err != nil:
		s.Close()
		return nil, State{}, err
	}
	return s, st, nil
}

var errCorrupt = errors.New("checkpoint: corrupt")

// Load reads the checkpoint in dir without locking it (for `status`).
// A missing file wraps fs.ErrNotExist.
func Load(dir string) (State, error) {
	b, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		return State{}, fmt.Errorf("read checkpoint: %w", err)
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return State{}, fmt.Errorf("%w: %v", errCorrupt, err)
	}
	if st.Version != Version {
		return State{}, fmt.Errorf("%w: unknown version %d", errCorrupt, st.Version)
	}
	for _, e := range st.Files {
		if e.Offset < 0 || e.Path == "" {
			return State{}, fmt.Errorf("%w: bad entry for %q", errCorrupt, e.Path)
		}
	}
	return st, nil
}

// Save replaces the checkpoint atomically: write a temp file, fsync it,
// rename it over the old one, fsync the directory. A crash at any point
// leaves either the old or the new checkpoint, never a mix.
func (s *Store) Save(st State) error {
	st.Version = Version
	s.buf = appendState(s.buf[:0], &st)
	return WriteFileAtomic(filepath.Join(s.dir, FileName), tempPrefix, s.buf, nil)
}

// Close releases the directory lock.
func (s *Store) Close() error {
	if s.lock == nil {
		return nil
	}
	err := s.lock.Close()
	s.lock = nil
	return err
}

func (s *Store) sweep() {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), tempPrefix) {
			if err := os.Remove(filepath.Join(s.dir, e.Name())); err == nil {
				s.log.Info("removed checkpoint temp file left by a crash", "file", e.Name())
			}
		}
	}
}

// SyncDir makes a rename or a new file in dir durable (fsync of the
// directory).
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync state dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync state dir: %w", err)
	}
	return nil
}
