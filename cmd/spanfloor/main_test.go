package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spanshipper/spanshipper/sink"
	"github.com/spanshipper/spanshipper/spangen"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "spanfloor-test")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "spanfloor")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		panic("go build: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// lines generates n spans (with some bad lines) and returns their lines,
// each with its '\n', and the number of span-end records.
func lines(seed uint64, n int) ([][]byte, int64) {
	g := spangen.New(spangen.Options{Seed: seed, Spans: n, BadFraction: 0.02})
	var out [][]byte
	for {
		l, ok := g.Next(nil)
		if !ok {
			return out, g.Stats().Ends
		}
		out = append(out, l)
	}
}

// startSink serves a validating spansink on 127.0.0.1 and returns it and
// its URL.
func startSink(t *testing.T) (*sink.Server, string) {
	t.Helper()
	s := sink.New(sink.Config{})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv.URL
}

func run(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// TestShipsFilesThenExits: with --exit-on-eof every span-end record of the
// matching files arrives once, as a completed item; no start does; a final
// line without '\n' counts.
func TestShipsFilesThenExits(t *testing.T) {
	s, url := startSink(t)
	dir := t.TempDir()
	var ends int64
	for i, n := range []int{700, 300} {
		ls, e := lines(uint64(i+1), n)
		ends += e
		var b []byte
		for _, l := range ls {
			b = append(b, l...)
		}
		if i == 1 {
			b = b[:len(b)-1] // the last line has no '\n'
		}
		if err := os.WriteFile(filepath.Join(dir, "agent-"+string(rune('a'+i))+".jsonl"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := run(t, "--path", filepath.Join(dir, "*.jsonl"), "--endpoint", url, "--exit-on-eof",
		"--state-dir", dir, "--listen", "off", "--log-level", "warn", "--batch-size", "200", "--concurrency", "3")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("spanfloor: %v", err)
	}
	st := s.Stats()
	if st.Completed != ends || st.ItemsReceived != ends || st.InProgress != 0 {
		t.Fatalf("sink: %d completed, %d items, %d in progress; want %d, %d, 0", st.Completed, st.ItemsReceived, st.InProgress, ends, ends)
	}
	if st.MaxItemsInRequest != 200 {
		t.Fatalf("largest request %d items, want --batch-size 200", st.MaxItemsInRequest)
	}
}

// TestFollowsWrites: lines written in pieces (lines split across writes)
// to the files present at start and to one created later all arrive, the
// last partial batch once it has lingered; SIGTERM ends it with exit 0.
func TestFollowsWrites(t *testing.T) {
	s, url := startSink(t)
	dir := t.TempDir()
	paths := []string{filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")}
	for _, p := range paths {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "other.log"), nil, 0o644) // does not match
	cmd := run(t, "--path", filepath.Join(dir, "*.jsonl"), "--endpoint", url,
		"--state-dir", dir, "--listen", "off", "--log-level", "warn")
	time.Sleep(200 * time.Millisecond) // watching
	paths = append(paths, filepath.Join(dir, "c.jsonl"))
	files := make([]*os.File, len(paths))
	for i, p := range paths {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		files[i] = f
	}
	ls, ends := lines(7, 900)
	for i, l := range ls {
		f := files[i%len(files)]
		// Each line in two writes, the cut inside it.
		f.Write(l[:len(l)/2])
		if i%50 == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		f.Write(l[len(l)/2:])
		// Unrelated writes wake it but are not read.
		if i%100 == 0 {
			os.WriteFile(filepath.Join(dir, "other.log"), l, 0o644)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for s.Stats().Completed < ends && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if st := s.Stats(); st.Completed != ends || st.ItemsReceived != ends || st.InProgress != 0 {
		t.Fatalf("sink: %d completed, %d items, %d in progress; want %d, %d, 0", st.Completed, st.ItemsReceived, st.InProgress, ends, ends)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("spanfloor after SIGTERM: %v", err)
	}
}

// TestRawSendsEndLinesAsWritten: with --raw each span-end line is an item
// byte for byte, in order; starts and blank lines are left out.
func TestRawSendsEndLinesAsWritten(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req struct{ Items []json.RawMessage }
		if err := json.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		for _, it := range req.Items {
			got = append(got, string(it))
		}
		mu.Unlock()
	}))
	defer srv.Close()
	g := spangen.New(spangen.Options{Seed: 3, Spans: 400})
	var want []string
	var b []byte
	for i := 0; ; i++ {
		l, ok := g.Next(nil)
		if !ok {
			break
		}
		b = append(b, l...)
		if i%97 == 0 {
			b = append(b, " \n"...)
		}
		if !bytes.Contains(l, []byte(`"end_time":null`)) {
			want = append(want, string(bytes.TrimSuffix(l, []byte("\n"))))
		}
	}
	p := filepath.Join(t.TempDir(), "a.jsonl")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run(t, "--path", p, "--endpoint", srv.URL, "--exit-on-eof", "--raw").Wait(); err != nil {
		t.Fatalf("spanfloor --raw: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(got, want) {
		t.Fatalf("got %d items, want the %d span-end lines as written", len(got), len(want))
	}
}
