package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The agent side (integrations/agentex): its Python tests, and its files shipped by the real
// binary. They run against a stand-in for the agentex SDK (which cannot be installed here; see
// integrations/agentex/tests/sdk_standin/agentex/__init__.py) and need a python3 with pydantic.

const agentexDir = "../integrations/agentex"

// eachPython runs f as a subtest, named for its pydantic version, with each distinct python3
// that imports pydantic, among
// $SPANSHIPPER_PYTHON, python3 on PATH and /usr/bin/python3 (where Debian's python3-pydantic
// installs), each with its pydantic version: the processors are tested on each (pydantic v2 as
// the SDK requires, v1 from Debian 12). Without one the test is skipped, unless
// SPANSHIPPER_REQUIRE_TOOLS is set (.ci/run sets it and installs the package).
func eachPython(t *testing.T, f func(t *testing.T, py string)) {
	t.Helper()
	candidates := []string{os.Getenv("SPANSHIPPER_PYTHON")}
	if p, err := exec.LookPath("python3"); err == nil {
		candidates = append(candidates, p)
	}
	candidates = append(candidates, "/usr/bin/python3")
	seen := map[string]bool{}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		out, err := exec.Command(c, "-c", "import sys, pydantic; print(sys.executable, pydantic.VERSION)").Output()
		if err != nil || seen[string(out)] {
			continue
		}
		seen[string(out)] = true
		t.Run("pydantic-"+strings.Fields(string(out))[1], func(t *testing.T) { f(t, c) })
	}
	if len(seen) > 0 {
		return
	}
	msg := "no python3 that imports pydantic (Debian package python3-pydantic; .ci/run installs it)"
	if _, required := os.LookupEnv("SPANSHIPPER_REQUIRE_TOOLS"); required {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// runPython runs a Python program in its own process group, killed whole (forked workers
// included) if it outlives limit or the test. It returns stdout; a non-zero exit fails the test.
func runPython(t *testing.T, py string, limit time.Duration, env []string, dir string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, args...)
	cmd.Dir = dir
	standin, err := filepath.Abs(filepath.Join(agentexDir, "tests", "sdk_standin"))
	if err != nil {
		t.Fatal(err)
	}
	// No __pycache__ in the source tree.
	cmd.Env = append(append(os.Environ(), "PYTHONPATH="+standin, "PYTHONDONTWRITEBYTECODE=1"), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // nothing it forked outlives it
	}
	if err != nil {
		t.Fatalf("%s %v: %v\nstdout:\n%s\nstderr:\n%s", py, args, err, stdout.Bytes(), stderr.Bytes())
	}
	if stderr.Len() > 0 {
		t.Logf("%s", stderr.Bytes())
	}
	return stdout.Bytes()
}

// TestAgentexProcessorPythonTests runs the processors' own tests: the records carry the data
// the SDK's SGP processor sends and leave the caller's span unchanged; register() adds both
// processors as the SDK adds its own; rotation keeps its backups; threads and forked processes
// share a stdout pipe without torn lines; the async processor never blocks the event loop.
func TestAgentexProcessorPythonTests(t *testing.T) {
	eachPython(t, func(t *testing.T, py string) {
		runPython(t, py, 3*time.Minute, nil, filepath.Join(agentexDir, "tests"), "-m", "unittest", "-v")
	})
}

// writeSpans runs integrations/agentex/tests/write_spans.py in dir and returns its stdout.
func writeSpans(t *testing.T, py, dir string, env []string, args ...string) []byte {
	t.Helper()
	script, err := filepath.Abs(filepath.Join(agentexDir, "tests", "write_spans.py"))
	if err != nil {
		t.Fatal(err)
	}
	return runPython(t, py, 3*time.Minute, env, dir, append([]string{script}, args...)...)
}

// TestAgentexProcessorShipsEverySpanEnd: threads, two forked processes (sharing the
// processor, with two threads each) and an event loop's tasks write spans of 200 B to 40 KiB
// through the processors into one file that rotates every MiB, while spanshipper follows it. No line is
// torn or interleaved, and every span-end record arrives mapped exactly, with the agent's
// identity in its metadata.
func TestAgentexProcessorShipsEverySpanEnd(t *testing.T) {
	eachPython(t, shipAgentexSpans)
}

func shipAgentexSpans(t *testing.T, py string) {
	dir := t.TempDir()
	path := filepath.Join(dir, "spans.jsonl")
	s := startSink(t)
	sh := startProc(t, "shipper.log", "spanshipper", "--path", path+"*", "--endpoint", s.url(),
		"--state-dir", filepath.Join(dir, "state"), "--listen", "127.0.0.1:0")
	addr := metricsAddr(t, sh)
	defer func() {
		if t.Failed() {
			t.Logf("receiver stats %v; spanshipper's output:\n%s", s.stats(t), sh.output())
		}
	}()

	out := writeSpans(t, py, dir,
		[]string{"AGENT_NAME=e2e-agent", "AGENT_ID=agent-14", "ACP_TYPE=async", "ACP_URL=http://127.0.0.1:1"},
		"--path", path, "--max-bytes", "1048576", "--backups", "1000",
		"--threads", "3", "--forks", "2", "--async-tasks", "3", "--spans", "150", "--seed", "14", "--verify")
	var summary struct {
		Lines   int `json:"lines"`
		Files   int `json:"files"`
		MinLine int `json:"min_line"`
		MaxLine int `json:"max_line"`
	}
	if err := json.Unmarshal(out, &summary); err != nil {
		t.Fatalf("writer summary %q: %v", out, err)
	}
	// Without --verify's checks passing, write_spans.py exits non-zero: every line is whole JSON
	// and every record is there exactly once. Here: the run covered what it claims.
	if summary.Files < 5 || summary.MinLine > 1024 || summary.MaxLine < 32<<10 || summary.MaxLine > 40<<10 {
		t.Fatalf("writer covered too little: %+v (want ≥ 5 files, lines from under 1 KiB to over 32 KiB, none over 40 KiB)", summary)
	}

	ends, startOnly := expectations(t, path+"*")
	const workers, spans = 1 + 3 + 2*2 + 3, 150 // the parent's first, threads, forked processes' threads, tasks
	if want := workers * (spans - spans/40); len(ends) != want || len(startOnly) != workers*(spans/40) {
		t.Fatalf("files hold %d span ends and %d start-only spans, want %d and %d", len(ends), len(startOnly), want, workers*(spans/40))
	}
	waitFor(t, "every span-end record", func() bool {
		return metric(t, addr, "spanshipper_spans_shipped_total") >= float64(len(ends))
	})
	got := s.spans(t)
	checkDelivered(t, got, ends, startOnly, nil)
	if n := metric(t, addr, "spanshipper_bad_lines_total"); n != 0 {
		t.Errorf("%v bad lines", n)
	}

	// The agent's identity comes from the processor (as the SDK's SGP processor adds it), not
	// from the shipper: check it arrived on every span whose data is an object.
	var objects, errors int
	for k, rec := range ends {
		var data map[string]any
		if json.Unmarshal(rec["data"], &data) != nil || data == nil {
			continue // a list: the SDK leaves it alone
		}
		objects++
		if _, ok := data["__error__"].(map[string]any); ok {
			errors++
		}
		var item struct {
			Metadata map[string]any `json:"metadata"`
		}
		json.Unmarshal(got[k], &item)
		for key, want := range map[string]string{"__source__": "agentex", "__agent_name__": "e2e-agent", "__agent_id__": "agent-14", "__acp_type__": "async"} {
			if item.Metadata[key] != want {
				t.Errorf("%s: metadata.%s = %v, want %q", k, key, item.Metadata[key], want)
			}
		}
	}
	if objects == 0 || errors == 0 || objects == len(ends) {
		t.Errorf("span data covered too little: %d of %d objects, %d errors", objects, len(ends), errors)
	}
	t.Logf("writer: %+v; %d span ends shipped (%d with object data, %d errors)", summary, len(ends), objects, errors)
}

// TestAgentexStdoutShipsFromContainerLog: the Kubernetes path. Threads and forked processes
// write spans through the processor to stdout (a pipe, as a container's), the output is laid
// out as the container runtime writes it (CRI lines, split into P records at 16 KiB, among
// the agent's ordinary log lines on stdout and stderr) at a kubelet pod-log path, and every
// span-end record arrives mapped exactly, with the pod's metadata.
func TestAgentexStdoutShipsFromContainerLog(t *testing.T) {
	eachPython(t, shipAgentexStdout)
}

func shipAgentexStdout(t *testing.T, py string) {
	dir := t.TempDir()
	out := writeSpans(t, py, dir, []string{"AGENT_NAME=pod-agent", "ACP_URL=http://127.0.0.1:1"},
		"--stdout", "--threads", "2", "--forks", "2", "--spans", "60", "--seed", "15")
	raw := filepath.Join(dir, "stdout.jsonl") // what the agent printed: the expectations
	if err := os.WriteFile(raw, out, 0o644); err != nil {
		t.Fatal(err)
	}
	const uid = "6f1c2d3e-0000-4000-8000-000000000014"
	logPath := filepath.Join(dir, "pods", "agents_pod-a_"+uid, "agent", "0.log")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		t.Fatal(err)
	}
	var cri bytes.Buffer
	ts := time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)
	record := func(stream, tag, content string) {
		ts = ts.Add(time.Millisecond)
		cri.WriteString(ts.Format(time.RFC3339Nano) + " " + stream + " " + tag + " " + content + "\n")
	}
	split := 0
	for i, line := range strings.SplitAfter(string(out), "\n") {
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			continue
		}
		if i%50 == 0 {
			record("stderr", "F", "INFO agent: still working")
			record("stdout", "F", "plain text the agent printed")
		}
		for len(line) > 16<<10 { // containerd's default split
			record("stdout", "P", line[:16<<10])
			line = line[16<<10:]
			split++
		}
		record("stdout", "F", line)
	}
	if err := os.WriteFile(logPath, cri.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if split == 0 {
		t.Fatal("no line was long enough to be split into P records")
	}

	s := startSink(t)
	sh := startProc(t, "shipper.log", "spanshipper", "--path", filepath.Join(dir, "pods", "*", "*", "*.log"),
		"--endpoint", s.url(), "--state-dir", filepath.Join(dir, "state"), "--listen", "off", "--exit-on-eof")
	if code := sh.wait(t, 3*time.Minute); code != 0 {
		t.Fatalf("spanshipper exit %d; output:\n%s", code, sh.output())
	}
	ends, startOnly := expectations(t, raw)
	if len(ends) == 0 || len(startOnly) == 0 {
		t.Fatalf("stdout held %d span ends and %d start-only spans", len(ends), len(startOnly))
	}
	got := s.spans(t)
	checkDelivered(t, got, ends, startOnly, map[string]string{
		"k8s.namespace.name": "agents", "k8s.pod.name": "pod-a", "k8s.pod.uid": uid, "k8s.container.name": "agent",
	})
	if len(got) != len(ends) {
		t.Errorf("receiver holds %d spans, want %d", len(got), len(ends))
	}
	t.Logf("%d span ends from %d bytes of stdout, %d P records", len(ends), len(out), split)
}
