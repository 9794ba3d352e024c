package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"
)

var podlogBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "podlog-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	podlogBin = filepath.Join(dir, "podlog")
	b := exec.Command("go", "build", "-o", podlogBin, ".")
	b.Stdout, b.Stderr = os.Stderr, os.Stderr
	if err := b.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build podlog:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// podlog runs the binary to completion and returns its exit code.
func podlog(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(podlogBin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		<-done
		t.Fatalf("podlog %v did not exit; output:\n%s", args, out.String())
	}
	return cmd.ProcessState.ExitCode(), out.String()
}

// physical is one record of a container log file.
type physical struct {
	stream  string
	partial bool
	content []byte // without framing; a docker log's final \n stripped
	first   bool   // the first record of a file
}

// logFiles returns path's rotated files, oldest first, then path.
func logFiles(t *testing.T, path string, docker bool) []string {
	t.Helper()
	names, _ := filepath.Glob(path + ".*")
	if docker { // PATH.1 is the newest rotated file
		sort.Slice(names, func(i, j int) bool { return rotation(names[i]) > rotation(names[j]) })
	} else {
		sort.Slice(names, func(i, j int) bool {
			return strings.TrimSuffix(names[i], ".gz") < strings.TrimSuffix(names[j], ".gz")
		})
	}
	return append(names, path)
}

func rotation(name string) int {
	var n int
	fmt.Sscanf(filepath.Ext(strings.TrimSuffix(name, ".gz")), ".%d", &n)
	return n
}

// readRecords parses every record of the files, in order.
func readRecords(t *testing.T, files []string, docker bool) []physical {
	t.Helper()
	var recs []physical
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		var r io.Reader = f
		if strings.HasSuffix(name, ".gz") {
			if r, err = gzip.NewReader(f); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for first := true; sc.Scan(); first = false {
			var p physical
			if docker {
				p, err = parseDocker(sc.Bytes())
			} else {
				p, err = parseCRI(sc.Bytes())
			}
			if err != nil {
				t.Fatalf("%s: %v: %.200q", name, err, sc.Text())
			}
			p.first = first
			recs = append(recs, p)
		}
		if err := sc.Err(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		f.Close()
	}
	return recs
}

// parseCRI parses `<RFC3339Nano> <stream> <P|F> <content>`.
func parseCRI(line []byte) (physical, error) {
	f := bytes.SplitN(line, []byte(" "), 4)
	if len(f) != 4 {
		return physical{}, fmt.Errorf("not a CRI record")
	}
	if _, err := time.Parse(time.RFC3339Nano, string(f[0])); err != nil {
		return physical{}, err
	}
	if s := string(f[1]); s != "stdout" && s != "stderr" || string(f[2]) != "P" && string(f[2]) != "F" {
		return physical{}, fmt.Errorf("bad stream or tag")
	}
	return physical{stream: string(f[1]), partial: string(f[2]) == "P", content: bytes.Clone(f[3])}, nil
}

// parseDocker parses `{"log":...,"stream":...,"time":...}`.
func parseDocker(line []byte) (physical, error) {
	var m struct {
		Log    string    `json:"log"`
		Stream string    `json:"stream"`
		Time   time.Time `json:"time"`
	}
	if err := json.Unmarshal(line, &m); err != nil {
		return physical{}, err
	}
	if m.Stream != "stdout" && m.Stream != "stderr" || m.Time.IsZero() {
		return physical{}, fmt.Errorf("bad stream or time")
	}
	content, full := strings.CutSuffix(m.Log, "\n")
	return physical{stream: m.Stream, partial: !full, content: []byte(content)}, nil
}

// framing is what the records show about partial groups.
type framing struct {
	partials    map[string]int // partial records per stream
	interleaved map[string]int // records of a stream while the other had a group open
	midRune     int            // partial records that end inside a UTF-8 character
	straddling  int            // groups that go on in the next file
	lines       map[string][][]byte
}

func reassemble(recs []physical) framing {
	fr := framing{partials: map[string]int{}, interleaved: map[string]int{}, lines: map[string][][]byte{}}
	open := map[string][]byte{}
	other := map[string]string{"stdout": "stderr", "stderr": "stdout"}
	for _, r := range recs {
		if r.first {
			fr.straddling += len(open)
		}
		if _, ok := open[other[r.stream]]; ok {
			fr.interleaved[r.stream]++
		}
		group := append(open[r.stream], r.content...)
		if r.partial {
			fr.partials[r.stream]++
			if !utf8.Valid(r.content) {
				fr.midRune++
			}
			open[r.stream] = group
			continue
		}
		delete(open, r.stream)
		fr.lines[r.stream] = append(fr.lines[r.stream], append(group, '\n'))
	}
	return fr
}

// spanLines returns the stdout lines that are span records.
func (fr framing) spanLines() [][]byte {
	var out [][]byte
	for _, l := range fr.lines["stdout"] {
		if bytes.HasPrefix(l, []byte(`{"id":`)) {
			out = append(out, l)
		}
	}
	return out
}

func readLines(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, l := range bytes.SplitAfter(b, []byte("\n")) {
		if len(l) > 0 {
			out = append(out, l)
		}
	}
	return out
}

// checkSpans asserts that the spans read back from the log are the ones
// the pod printed, byte for byte and in order.
func checkSpans(t *testing.T, fr framing, expectFile string) {
	t.Helper()
	want, got := readLines(t, expectFile), fr.spanLines()
	if len(got) != len(want) {
		t.Fatalf("%d span lines in the log, the pod printed %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("span line %d differs:\n got %.300q\nwant %.300q", i, got[i], want[i])
		}
	}
}

func checkFraming(t *testing.T, fr framing) {
	t.Helper()
	for _, s := range []string{"stdout", "stderr"} {
		if fr.partials[s] == 0 {
			t.Errorf("no partial records on %s", s)
		}
		if fr.interleaved[s] == 0 {
			t.Errorf("no %s record inside an open partial group of the other stream", s)
		}
	}
	t.Logf("partial records %v, interleaved %v, partials ending mid-character %d, groups going on in the next file %d, lines: stdout %d, stderr %d",
		fr.partials, fr.interleaved, fr.midRune, fr.straddling, len(fr.lines["stdout"]), len(fr.lines["stderr"]))
}

// TestCRI: containerd's CRI logger writes P and F records of both streams,
// interleaved, some split inside a UTF-8 character; kubelet-style rotation
// leaves timestamped files, all but the newest gzipped, and with
// --reopen-mid-span a span goes on from each file into the next; the spans
// read back, joined across files, are the ones printed.
func TestCRI(t *testing.T) {
	dir := t.TempDir()
	log, expect := filepath.Join(dir, "0.log"), filepath.Join(dir, "expect.jsonl")
	code, out := podlog(t, "run", "--format", "cri", "--log", log, "--rotate-bytes", "1000000", "--max-files", "1000", "--reopen-mid-span",
		"--", podlogBin, "pod", "--spans", "1500", "--seed", "7", "--big-fraction", "0.08", "--expect", expect)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	files := logFiles(t, log, false)
	rotated := files[:len(files)-1]
	if len(rotated) < 3 {
		t.Fatalf("%d rotations, want at least 3: %v", len(rotated), files)
	}
	for i, n := range rotated {
		newest := i == len(rotated)-1
		if strings.HasSuffix(n, ".gz") == newest {
			t.Errorf("%s: every rotated file but the newest is gzipped", filepath.Base(n))
		}
		if strings.HasSuffix(n, ".tmp") {
			t.Errorf("%s left behind", n)
		}
	}
	fr := reassemble(readRecords(t, files, false))
	checkFraming(t, fr)
	if fr.midRune == 0 {
		t.Errorf("no partial record ends inside a UTF-8 character")
	}
	if fr.straddling < len(rotated)/2 {
		t.Errorf("%d groups went on in the next file over %d rotations: --reopen-mid-span should make it about one a rotation", fr.straddling, len(rotated))
	}
	checkSpans(t, fr, expect)
}

// TestCRIPrunes: with --max-files 3 only the log and two rotated files
// remain, the older one gzipped.
func TestCRIPrunes(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "0.log")
	code, out := podlog(t, "run", "--format", "cri", "--log", log, "--rotate-bytes", "200000", "--max-files", "3", "--rotate-wait", "10ms",
		"--", podlogBin, "pod", "--spans", "800", "--seed", "8", "--expect", filepath.Join(dir, "expect.jsonl"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	files := logFiles(t, log, false)
	if len(files) != 3 || !strings.HasSuffix(files[0], ".gz") || strings.HasSuffix(files[1], ".gz") {
		t.Errorf("files %v, want an older gzipped file, the newest rotated one, the log", files)
	}
}

// TestDocker: docker's json-file logger writes partial messages (a log
// without its \n) of both streams, interleaved; its own rotation gzips;
// the spans read back are the ones printed.
func TestDocker(t *testing.T) {
	dir := t.TempDir()
	log, expect := filepath.Join(dir, "0.log"), filepath.Join(dir, "expect.jsonl")
	code, out := podlog(t, "run", "--format", "docker", "--log", log, "--rotate-bytes", "1000000", "--max-files", "1000",
		"--", podlogBin, "pod", "--spans", "1500", "--seed", "7", "--big-fraction", "0.08", "--whole-runes", "--expect", expect)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	files := logFiles(t, log, true)
	gz := 0
	for _, n := range files {
		if strings.HasSuffix(n, ".gz") {
			gz++
		}
	}
	if len(files) < 4 || gz < len(files)-2 {
		t.Fatalf("files %v: want at least 3 rotations, gzipped", files)
	}
	fr := reassemble(readRecords(t, files, true))
	checkFraming(t, fr)
	checkSpans(t, fr, expect)
}

// TestExitStatus: the command's exit status is podlog's; output without a
// final newline is written at exit, as a partial record.
func TestExitStatus(t *testing.T) {
	for _, format := range []string{"cri", "docker"} {
		dir := t.TempDir()
		log := filepath.Join(dir, "0.log")
		code, out := podlog(t, "run", "--format", format, "--log", log, "--", "sh", "-c", `echo hello; printf 'no newline' >&2; exit 3`)
		if code != 3 {
			t.Fatalf("%s: exit %d, want 3: %s", format, code, out)
		}
		recs := readRecords(t, []string{log}, format == "docker")
		want := []physical{{stream: "stdout", content: []byte("hello")}, {stream: "stderr", partial: true, content: []byte("no newline")}}
		for i := range recs {
			recs[i].first = false
		}
		sort.Slice(recs, func(i, j int) bool { return recs[i].stream > recs[j].stream })
		if fmt.Sprint(recs) != fmt.Sprint(want) {
			t.Errorf("%s: records %v, want %v", format, recs, want)
		}
	}
}

// TestForwardsSIGTERM: SIGTERM to podlog reaches the command, and podlog
// exits with its status.
func TestForwardsSIGTERM(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "0.log")
	cmd := exec.Command(podlogBin, "run", "--log", log, "--", "sh", "-c", "echo ready; exec sleep 60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-done })
	deadline := time.Now().Add(30 * time.Second)
	for b, _ := os.ReadFile(log); !bytes.Contains(b, []byte("ready")); b, _ = os.ReadFile(log) {
		if time.Now().After(deadline) {
			t.Fatal("the command never started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("podlog did not exit on SIGTERM")
	}
	if code := cmd.ProcessState.ExitCode(); code != 128+int(syscall.SIGTERM) {
		t.Errorf("exit %d, want %d", code, 128+int(syscall.SIGTERM))
	}
}
