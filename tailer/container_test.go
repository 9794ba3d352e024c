package tailer

import (
	"bytes"
	"compress/gzip"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/spanshipper/spanshipper/checkpoint"
)

// eofRecorder also records HandleEOF calls.
type eofRecorder struct {
	recorder
	emu  sync.Mutex
	eofs []string
}

func (r *eofRecorder) HandleEOF(f *File) error {
	r.emu.Lock()
	r.eofs = append(r.eofs, f.Path())
	r.emu.Unlock()
	return nil
}

// TestCompressedFilesNeverRead: a glob that matches kubelet's compressed
// rotations skips them, logging each once; the text files are read.
func TestCompressedFilesNeverRead(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "0.log"), []byte("text\n"), 0o644)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("compressed\n"))
	zw.Close()
	os.WriteFile(filepath.Join(dir, "0.log.20261125-101500.gz"), gz.Bytes(), 0o644)
	var logs bytes.Buffer
	r := &eofRecorder{}
	tl, err := New(Config{Include: []string{filepath.Join(dir, "0.log*")}, ExitOnEOF: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))}, checkpoint.State{}, r)
	if err != nil {
		t.Fatal(err)
	}
	if err := tl.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := r.texts(); len(got) != 1 || got[0] != "text" {
		t.Fatalf("lines %q, want only the text file's", got)
	}
	if n := strings.Count(logs.String(), "not following a compressed file"); n != 1 {
		t.Errorf("%d log lines about the .gz file, want 1:\n%s", n, logs.String())
	}
	if len(r.eofs) != 1 {
		t.Errorf("HandleEOF called for %v, want the one text file at the end of the run", r.eofs)
	}
	for _, e := range tl.Snapshot() {
		if strings.HasSuffix(e.Path, ".gz") {
			t.Errorf("tracking %s", e.Path)
		}
	}
}

// TestFormatKeptWithCheckpoint: a format decision set by the handler is in
// the snapshot and comes back with the checkpoint.
func TestFormatKeptWithCheckpoint(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "0.log")
	os.WriteFile(p, []byte("a\nb\n"), 0o644)
	h := &formatSetter{}
	tl, _ := New(Config{Include: []string{p}, ExitOnEOF: true}, checkpoint.State{}, h)
	tl.Run(context.Background())
	snap := tl.Snapshot()
	if len(snap) != 1 || snap[0].Format != "cri" || snap[0].Offset != 4 {
		t.Fatalf("snapshot %+v", snap)
	}
	appendFile(t, p, "c\n")
	h2 := &formatSetter{check: func(f *File) {
		if f.Format() != "cri" {
			t.Errorf("resumed file's format %q, want cri", f.Format())
		}
	}}
	tl2, _ := New(Config{Include: []string{p}, ExitOnEOF: true}, checkpoint.State{Files: snap}, h2)
	tl2.Run(context.Background())
	if got := h2.texts(); len(got) != 1 || got[0] != "c" {
		t.Fatalf("resumed lines %q", got)
	}
}

type formatSetter struct {
	recorder
	check func(*File)
}

func (h *formatSetter) HandleLine(f *File, line []byte, start, end int64) error {
	if h.check != nil {
		h.check(f)
	} else {
		f.SetFormat("cri")
	}
	return h.recorder.HandleLine(f, line, start, end)
}
