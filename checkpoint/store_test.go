package checkpoint

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func sampleState(n int) State {
	st := State{Version: Version, Written: time.Unix(1700000000, 0).UTC()}
	for i := range n {
		st.Files = append(st.Files, Entry{
			Path: fmt.Sprintf("/var/log/agent/%d.jsonl", i), Dev: 2049, Ino: uint64(1000 + i),
			Fingerprint: Fingerprint([]byte(strconv.Itoa(i))), FingerprintSize: 1024,
			Offset: int64(i * 100), Size: int64(i * 200), Updated: time.Unix(1700000000, 0).UTC(),
		})
	}
	return st
}

func TestSaveLoadRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s, st, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if len(st.Files) != 0 {
		t.Fatalf("fresh dir: got %d files", len(st.Files))
	}
	want := sampleState(3)
	if err := s.Save(want); err != nil {
		t.Fatal(err)
	}
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("round trip:\n got %v\nwant %v", got, want)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("state dir mode: %v %v", fi.Mode(), err)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), tempPrefix) {
			t.Fatalf("temp file left behind: %s", e.Name())
		}
	}
}

func TestLoadMissing(t *testing.T) {
	if _, err := Load(t.TempDir()); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("want ErrNotExist, got %v", err)
	}
}

// A checkpoint cut short (the promtail positions.yaml failure) or holding
// garbage is set aside with a warning; the shipper starts with an empty state.
func TestCorruptCheckpointSetAside(t *testing.T) {
	good, _ := jsonOf(sampleState(5))
	cases := map[string][]byte{
		"truncated":     good[:len(good)/2],
		"empty":         {},
		"garbage":       []byte("\x00\x01not json"),
		"wrong version": []byte(`{"version":99,"files":[]}`),
		"negative":      []byte(`{"version":1,"files":[{"path":"/a","offset":-5}]}`),
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, FileName), body, 0o600); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			s, st, err := Open(dir, slog.New(slog.NewTextHandler(&logs, nil)))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if len(st.Files) != 0 {
				t.Fatalf("got %d files from a corrupt checkpoint", len(st.Files))
			}
			if !strings.Contains(logs.String(), "checkpoint is corrupt") {
				t.Fatalf("no warning logged: %q", logs.String())
			}
			aside, _ := filepath.Glob(filepath.Join(dir, FileName+".corrupt-*"))
			if len(aside) != 1 {
				t.Fatalf("corrupt file not set aside: %v", aside)
			}
			if b, _ := os.ReadFile(aside[0]); !bytes.Equal(b, body) {
				t.Fatal("set-aside file differs from the original")
			}
			if err := s.Save(sampleState(1)); err != nil {
				t.Fatal(err)
			}
			if st, err := Load(dir); err != nil || len(st.Files) != 1 {
				t.Fatalf("save after corrupt: %v %v", st, err)
			}
		})
	}
}

func TestLockExcludesSecondStore(t *testing.T) {
	dir := t.TempDir()
	s, _, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Open(dir, nil); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second Open: want in-use error, got %v", err)
	}
	s.Close()
	s2, _, err := Open(dir, nil)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	s2.Close()
}

func TestSweepsTempFiles(t *testing.T) {
	dir := t.TempDir()
	leftover := filepath.Join(dir, tempPrefix+"12345")
	if err := os.WriteFile(leftover, []byte(`{"version":1`), 0o600); err != nil {
		t.Fatal(err)
	}
	s, _, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := os.Stat(leftover); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("leftover temp file not removed: %v", err)
	}
}

// TestKillDuringSave SIGKILLs a child process that saves checkpoints in a
// tight loop, many times at random moments; every time, the checkpoint left
// behind must load and be one the child wrote whole.
func TestKillDuringSave(t *testing.T) {
	if os.Getenv("CHECKPOINT_SAVE_LOOP") != "" {
		saveLoop(os.Getenv("CHECKPOINT_SAVE_LOOP"))
		return
	}
	dir := t.TempDir()
	for round := range 15 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillDuringSave$")
		cmd.Env = append(os.Environ(), "CHECKPOINT_SAVE_LOOP="+dir)
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Let it get through at least one save, then kill it at an arbitrary point.
		deadline := time.Now().Add(30 * time.Second)
		for {
			if _, err := os.Stat(filepath.Join(dir, FileName)); err == nil {
				break
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatal("child never wrote a checkpoint")
			}
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(time.Duration(round*3) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()

		s, st, err := Open(dir, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatalf("round %d: open: %v", round, err)
		}
		if aside, _ := filepath.Glob(filepath.Join(dir, FileName+".corrupt-*")); len(aside) > 0 {
			t.Fatalf("round %d: checkpoint corrupt after kill -9", round)
		}
		if len(st.Files) == 0 || len(st.Files) != int(st.Files[0].Offset) {
			t.Fatalf("round %d: checkpoint not whole: %d files, marker %v", round, len(st.Files), st.Files)
		}
		s.Close()
	}
}

// saveLoop writes checkpoints of growing size forever; each one's first
// entry records how many entries it has, so a torn write is detectable.
func saveLoop(dir string) {
	s, _, err := Open(dir, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for i := 1; ; i++ {
		st := sampleState(i%500 + 1)
		st.Files[0].Offset = int64(len(st.Files))
		if err := s.Save(st); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}

func jsonOf(st State) ([]byte, error) {
	dir, err := os.MkdirTemp("", "ck")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	s, _, err := Open(dir, nil)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if err := s.Save(st); err != nil {
		return nil, err
	}
	return os.ReadFile(filepath.Join(dir, FileName))
}
