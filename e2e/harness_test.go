// Package e2e runs the real binaries as child processes against the local
// receiver and checks what arrives against the files, mapped independently
// with encoding/json.
package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "spanshipper-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	// spanshipper runs with the race detector when cgo can build it;
	// spanshipper-lean is the release build, for footprint measurements.
	builds := []struct {
		out, pkg string
		race     bool
	}{
		{"spanshipper", "spanshipper", raceAvailable() && os.Getenv("E2E_RACE") != "0"},
		{"spanshipper-lean", "spanshipper", false},
		{"spansink", "spansink", false},
		{"spangen", "spangen", false},
	}
	for _, bd := range builds {
		args := []string{"build", "-o", filepath.Join(dir, bd.out)}
		if bd.race {
			args = append(args, "-race")
		}
		b := exec.Command("go", append(args, "../cmd/"+bd.pkg)...)
		b.Stdout, b.Stderr = os.Stderr, os.Stderr
		if !bd.race {
			b.Env = append(os.Environ(), "CGO_ENABLED=0")
		}
		if err := b.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n", bd.out, err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// raceAvailable reports whether a C compiler for cgo (which -race needs) exists.
func raceAvailable() bool {
	out, err := exec.Command("go", "env", "CC").Output()
	if err != nil {
		return false
	}
	_, err = exec.LookPath(strings.TrimSpace(string(out)))
	return err == nil
}

func bin(name string) string { return filepath.Join(binDir, name) }

// proc is a child process whose output goes to a file in the test's dir.
type proc struct {
	cmd  *exec.Cmd
	out  string
	done chan struct{}
	err  error
}

func startProc(t *testing.T, logName string, name string, args ...string) *proc {
	t.Helper()
	return startProcEnv(t, logName, nil, name, args...)
}

// startProcEnv starts a child with extra environment variables.
func startProcEnv(t *testing.T, logName string, env []string, name string, args ...string) *proc {
	t.Helper()
	logf, err := os.Create(filepath.Join(t.TempDir(), logName))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin(name), args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, out: logf.Name(), done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); logf.Close(); close(p.done) }()
	t.Cleanup(func() { p.kill() })
	return p
}

func (p *proc) kill() {
	select {
	case <-p.done:
	default:
		p.cmd.Process.Kill()
		<-p.done
	}
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(t *testing.T, limit time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(limit):
		p.kill()
		t.Fatalf("%s did not exit within %v; output:\n%s", p.cmd.Path, limit, p.output())
	}
	if p.cmd.ProcessState == nil {
		return -1
	}
	return p.cmd.ProcessState.ExitCode()
}

func (p *proc) output() string {
	b, _ := os.ReadFile(p.out)
	if len(b) > 8000 {
		b = append([]byte("…"), b[len(b)-8000:]...)
	}
	return string(b)
}

// sink is a running spansink.
type sink struct {
	*proc
	addr string
}

func startSink(t *testing.T, args ...string) *sink {
	t.Helper()
	addrFile := filepath.Join(t.TempDir(), "addr")
	p := startProc(t, "sink.log", "spansink", append([]string{"--listen", "127.0.0.1:0", "--addr-file", addrFile}, args...)...)
	var addr string
	waitFor(t, "spansink address", func() bool {
		b, err := os.ReadFile(addrFile)
		addr = strings.TrimSpace(string(b))
		return err == nil && addr != ""
	})
	return &sink{proc: p, addr: addr}
}

func (s *sink) url() string { return "http://" + s.addr }

func (s *sink) stats(t *testing.T) map[string]any {
	t.Helper()
	resp, err := http.Get(s.url() + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// spans returns the stored items keyed by trace_id/id.
func (s *sink) spans(t *testing.T) map[string]json.RawMessage {
	t.Helper()
	resp, err := http.Get(s.url() + "/spans")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := make(map[string]json.RawMessage)
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var k struct{ ID, TraceID string }
		var raw struct {
			ID      string `json:"id"`
			TraceID string `json:"trace_id"`
		}
		line := bytes.Clone(sc.Bytes())
		if err := json.Unmarshal(line, &raw); err != nil {
			t.Fatalf("sink dump line: %v", err)
		}
		k.ID, k.TraceID = raw.ID, raw.TraceID
		out[k.TraceID+"/"+k.ID] = line
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func spangen(t *testing.T, out string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin("spangen"), append([]string{"--out", out}, args...)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("spangen: %v\n%s", err, b)
	}
}

func num(m map[string]any, key string) float64 {
	v, _ := m[key].(float64)
	return v
}

func readAll(t *testing.T, r io.Reader) string {
	b, _ := io.ReadAll(r)
	return string(b)
}
