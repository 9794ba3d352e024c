package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// freeAddr returns a loopback address nothing listens on: a port just
// released, for a receiver that is down and comes up later.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// runCmd runs a spanshipper sub-command to its end: exit code and output.
func runCmd(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	p := startProcEnv(t, "cmd.log", env, "spanshipper", args...)
	code := p.wait(t, 2*time.Minute)
	return code, p.output()
}

var recoveredRE = regexp.MustCompile(`backend reachable again after \S+ \((\d+) failed attempts\)`)

// TestBackendDownThenUp: with the receiver down at start the first failed
// attempt is named at once (endpoint, cause, what happens next) and the
// following ones are not repeated; a glob matching nothing and a directory
// that does not exist are said once; when the receiver comes up a recovery
// line counts the failed attempts and everything arrives; SIGTERM says
// what it drains and for how long.
func TestBackendDownThenUp(t *testing.T) {
	dir := t.TempDir()
	spangen(t, filepath.Join(dir, "agent.jsonl"), "--seed", "900", "--spans", "2000")
	addr := freeAddr(t)
	missing := filepath.Join(dir, "missing", "*.jsonl")
	sh := startProc(t, "shipper.log", "spanshipper", "--path", filepath.Join(dir, "*.jsonl"), "--path", missing,
		"--endpoint", "http://"+addr, "--state-dir", filepath.Join(dir, "state"), "--listen", "127.0.0.1:0")
	metrics := metricsAddr(t, sh)
	waitFor(t, "the failure named", func() bool { return strings.Contains(sh.output(), "span API request failed") })
	waitFor(t, "a few failed attempts", func() bool { return metric(t, metrics, `spanshipper_request_retries_total`) >= 3 })
	out := sh.output()
	for _, want := range []string{"level=WARN", "endpoint=http://" + addr, "connection refused", "retrying with backoff", "nothing is dropped"} {
		if !strings.Contains(out, want) {
			t.Errorf("the failure line lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "span API request"); n != 1 {
		t.Errorf("%d lines about failed attempts within 30 s, want 1:\n%s", n, out)
	}
	if n := strings.Count(out, "no file matches --path glob"); n != 1 || !strings.Contains(out, "glob="+missing) {
		t.Errorf("the glob matching nothing said %d times, want once:\n%s", n, out)
	}
	if n := strings.Count(out, "cannot read a directory"); n != 1 || !strings.Contains(out, "dir="+filepath.Dir(missing)) {
		t.Errorf("the missing directory said %d times, want once:\n%s", n, out)
	}

	s := startSink(t, "--listen", addr)
	waitFor(t, "the recovery line", func() bool { return recoveredRE.MatchString(sh.output()) })
	m := recoveredRE.FindStringSubmatch(sh.output())
	if n, _ := strconv.Atoi(m[1]); n < 3 {
		t.Errorf("recovery line counts %d failed attempts, want at least 3", n)
	}
	ends, startOnly := expectations(t, filepath.Join(dir, "*.jsonl"))
	waitFor(t, "every span end shipped", func() bool { return len(s.spans(t)) >= len(ends) })
	checkDelivered(t, s.spans(t), ends, startOnly, nil)

	sh.cmd.Process.Signal(syscall.SIGTERM)
	if code := sh.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit %d:\n%s", code, sh.output())
	}
	out = sh.output()
	for _, want := range []string{"stopping: reading stopped", "spans_to_drain=", "within=10s", "drained_in=", "left_for_next_start=0"} {
		if !strings.Contains(out, want) {
			t.Errorf("the stop lines lack %q:\n%s", want, tail(out, 5))
		}
	}
}

// TestCheck: `spanshipper check` with the agent's flags and variables
// against a healthy receiver (exit 0), a wrong key and a closed port (exit
// 1), a configuration error (exit 2), and a state dir a running agent holds
// (reported, not a failure).
func TestCheck(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	spangen(t, filepath.Join(logs, "agent.jsonl"), "--seed", "901", "--spans", "300", "--bad-fraction", "0.02")
	c := countLines(t, filepath.Join(logs, "*.jsonl"))
	s := startSink(t, "--api-key", "right-key", "--account-id", "acct")
	state := filepath.Join(dir, "state")
	args := func(endpoint string, more ...string) []string {
		return append([]string{"check", "--path", filepath.Join(logs, "*.jsonl"), "--endpoint", endpoint,
			"--state-dir", state, "--account-id", "acct"}, more...)
	}
	right := []string{"SPANSHIPPER_API_KEY=right-key"}

	code, out := runCmd(t, right, args(s.url())...)
	if code != 0 {
		t.Fatalf("healthy: exit %d:\n%s", code, out)
	}
	counts := strconv.Itoa(c.starts) + " span starts, " + strconv.Itoa(c.ends) + " span ends, 0 not-span, " + strconv.Itoa(c.bad) + " bad"
	for _, want := range []string{"ok   config:", "ok   path " + filepath.Join(logs, "*.jsonl") + ": 1 files", "format span", counts,
		"ok   state dir " + state + ": does not exist yet", "ok   endpoint " + s.url() + ": reachable, credentials accepted"} {
		if !strings.Contains(out, want) {
			t.Errorf("healthy: output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "right-key") {
		t.Error("the key appears in the output")
	}

	// A container log: framing detected, partials joined, other output
	// counted as not-span; compressed rotations are never read.
	pods := filepath.Join(dir, "pods")
	os.MkdirAll(pods, 0o755)
	os.WriteFile(filepath.Join(pods, "0.log"), []byte(`2026-01-01T00:00:00.000000000Z stdout F hello world
2026-01-01T00:00:00.000000001Z stdout P {"id":"x","trace_id":"t","name":"n",
2026-01-01T00:00:00.000000002Z stdout F "start_time":"2026-01-01T00:00:00Z","end_time":"2026-01-01T00:00:01Z"}
2026-01-01T00:00:00.000000003Z stderr F {"trace_id": "t", "start_time": broken
`), 0o644)
	os.WriteFile(filepath.Join(pods, "0.log.1.gz"), []byte("\x1f\x8b"), 0o644)
	code, out = runCmd(t, right, args(s.url(), "--path", filepath.Join(pods, "*"))...)
	for _, want := range []string{"ok   path " + filepath.Join(pods, "*") + ": 2 files",
		"0.log: 319 bytes, format cri (detected), first MiB: 0 span starts, 1 span ends, 1 not-span, 1 bad",
		"0.log.1.gz: compressed, never read"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("container log: exit %d, output lacks %q:\n%s", code, want, out)
		}
	}

	code, out = runCmd(t, []string{"SPANSHIPPER_API_KEY=wrong-key"}, args(s.url())...)
	if code != 1 || !strings.Contains(out, "FAIL endpoint "+s.url()+": credentials rejected (status 401") {
		t.Errorf("wrong key: exit %d, want 1 naming the rejected credentials:\n%s", code, out)
	}

	closed := "http://" + freeAddr(t)
	code, out = runCmd(t, right, args(closed)...)
	if code != 1 || !strings.Contains(out, "FAIL endpoint "+closed+": unreachable: connection refused") {
		t.Errorf("closed port: exit %d, want 1 naming the refused connection:\n%s", code, out)
	}

	code, out = runCmd(t, right, args(s.url(), "--start-at", "middle")...)
	if code != 2 || !strings.Contains(out, "--start-at (SPANSHIPPER_START_AT)") {
		t.Errorf("config error: exit %d, want 2 naming the flag:\n%s", code, out)
	}

	code, out = runCmd(t, right, args(s.url(), "--path", filepath.Join(dir, "nothing", "*.jsonl"))...)
	if code != 1 || !strings.Contains(out, "FAIL path "+filepath.Join(dir, "nothing", "*.jsonl")+": no file matches") {
		t.Errorf("glob matching nothing: exit %d, want 1:\n%s", code, out)
	}

	agent := startProcEnv(t, "agent.log", right, "spanshipper", "--path", filepath.Join(logs, "*.jsonl"), "--endpoint", s.url(),
		"--state-dir", state, "--account-id", "acct", "--listen", "127.0.0.1:0")
	metricsAddr(t, agent)
	code, out = runCmd(t, right, args(s.url())...)
	if code != 0 || !strings.Contains(out, "ok   state dir "+state+": writable; a running spanshipper holds it") {
		t.Errorf("held state dir: exit %d, want 0 reporting the running agent:\n%s", code, out)
	}
}

// TestUnreadableDirectoryLoggedOnce: a directory the globs lead through that
// the shipper may not read is named once, with the permission error, and the
// readable ones are followed. Root reads everything, so under root the
// shipper runs as nobody.
func TestUnreadableDirectoryLoggedOnce(t *testing.T) {
	dir := t.TempDir()
	open, locked := filepath.Join(dir, "logs", "open"), filepath.Join(dir, "logs", "locked")
	os.MkdirAll(open, 0o755)
	os.MkdirAll(locked, 0o755)
	spangen(t, filepath.Join(open, "a.jsonl"), "--seed", "920", "--spans", "50")
	spangen(t, filepath.Join(locked, "b.jsonl"), "--seed", "921", "--spans", "50")
	state := filepath.Join(dir, "state")
	os.Mkdir(state, 0o700)
	exe := bin("spanshipper-lean")
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		// nobody must reach the binary, the logs and the state dir.
		for p := dir; p != filepath.Dir(p) && p != os.TempDir(); p = filepath.Dir(p) {
			os.Chmod(p, 0o755)
		}
		exe = filepath.Join(dir, "spanshipper")
		b, err := os.ReadFile(bin("spanshipper-lean"))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(exe, b, 0o755)
		os.Chown(state, 65534, 65534)
		os.Chmod(locked, 0o700) // root's alone
		cred = &syscall.Credential{Uid: 65534, Gid: 65534}
	} else {
		os.Chmod(locked, 0o000)
		t.Cleanup(func() { os.Chmod(locked, 0o755) })
	}
	s := startSink(t)
	logf := filepath.Join(dir, "shipper.log")
	f, err := os.Create(logf)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(exe, "--path", filepath.Join(dir, "logs", "*", "*.jsonl"), "--endpoint", s.url(),
		"--state-dir", state, "--listen", "off")
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Credential: cred}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	output := func() string { b, _ := os.ReadFile(logf); return string(b) }
	// Files appearing one after another in the readable directory show
	// that polls went by, each globbing through the locked one.
	for i := range 3 {
		if i > 0 {
			spangen(t, filepath.Join(open, fmt.Sprintf("more-%d.jsonl", i)), "--seed", fmt.Sprint(930+i), "--spans", "20")
		}
		ends, _ := expectations(t, filepath.Join(open, "*.jsonl"))
		waitFor(t, "the readable directory shipped", func() bool { return len(s.spans(t)) >= len(ends) })
	}
	out := output()
	if n := strings.Count(out, "cannot read a directory"); n != 1 || !strings.Contains(out, "dir="+locked) || !strings.Contains(out, "permission denied") {
		t.Fatalf("the unreadable directory said %d times, want once with the error:\n%s", n, out)
	}
}
