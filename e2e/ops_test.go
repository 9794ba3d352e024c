package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// lineCounts is what the shipper must count for a set of files.
type lineCounts struct{ lines, bad, starts, ends int }

func countLines(t *testing.T, glob string) lineCounts {
	t.Helper()
	var c lineCounts
	paths, _ := filepath.Glob(glob)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for line := range bytes.Lines(b) {
			c.lines++
			line = bytes.TrimRight(line, "\r\n")
			var r record
			switch {
			case !utf8.Valid(line) || json.Unmarshal(line, &r) != nil || !r.valid():
				c.bad++
			case r.null("end_time"):
				c.starts++
			default:
				c.ends++
			}
		}
	}
	return c
}

// scrape returns every sample of /metrics keyed by series, labels included
// as exposed, e.g. `spanshipper_span_events_total{kind="end"}`.
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	code, body := get(t, "http://"+addr+"/metrics")
	if code != 200 {
		t.Fatalf("GET /metrics: %d %s", code, body)
	}
	out := make(map[string]float64)
	for _, line := range strings.Split(body, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

func sumPrefix(m map[string]float64, prefix string) float64 {
	var s float64
	for k, v := range m {
		if strings.HasPrefix(k, prefix) {
			s += v
		}
	}
	return s
}

// TestMetricsAfterRun: after shipping known files, a scrape of /metrics
// shows each counter of SPEC §7 with the value the input dictates, the
// per-file lag at zero, and the Go and process collectors.
func TestMetricsAfterRun(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	for i := range 3 {
		spangen(t, filepath.Join(logs, fmt.Sprintf("agent-%d.jsonl", i)), "--seed", fmt.Sprint(700+i), "--spans", "1500", "--bad-fraction", "0.02")
	}
	want := countLines(t, filepath.Join(logs, "*.jsonl"))
	s := startSink(t, "--discard")
	sh := startProc(t, "shipper.log", "spanshipper", "--path", filepath.Join(logs, "*.jsonl"), "--endpoint", s.url(),
		"--state-dir", filepath.Join(dir, "state"), "--listen", "127.0.0.1:0")
	addr := metricsAddr(t, sh)
	waitFor(t, "every span end shipped and checkpointed", func() bool {
		m := scrape(t, addr)
		return m["spanshipper_spans_shipped_total"] >= float64(want.ends) && m["spanshipper_lag_bytes"] == 0
	})
	m := scrape(t, addr)
	st := s.stats(t)
	exact := map[string]float64{
		"spanshipper_lines_read_total":                         float64(want.lines),
		`spanshipper_span_events_total{kind="start"}`:          float64(want.starts),
		`spanshipper_span_events_total{kind="end"}`:            float64(want.ends),
		"spanshipper_spans_shipped_total":                      float64(want.ends),
		`spanshipper_spans_dropped_total{reason="span_start"}`: float64(want.starts),
		`spanshipper_requests_total{class="2xx"}`:              num(st, "requests_ok"),
		"spanshipper_buffered_spans":                           0,
		"spanshipper_requests_in_flight":                       0,
		"spanshipper_files_tracked":                            3,
		"spanshipper_backend_up":                               1,
		"spanshipper_lag_bytes":                                0,
		"spanshipper_batch_items_sum":                          float64(want.ends),
		"spanshipper_batch_items_count":                        num(st, "requests_ok"),
	}
	for k, v := range exact {
		if got, ok := m[k]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
	if got := sumPrefix(m, "spanshipper_bad_lines_total{"); got != float64(want.bad) || want.bad == 0 {
		t.Errorf("bad lines = %v, want %d (> 0)", got, want.bad)
	}
	var bytesIn float64
	for i := range 3 {
		p := filepath.Join(logs, fmt.Sprintf("agent-%d.jsonl", i))
		fi, _ := os.Stat(p)
		bytesIn += float64(fi.Size())
		if got, ok := m[fmt.Sprintf(`spanshipper_file_lag_bytes{path=%q}`, p)]; !ok || got != 0 {
			t.Errorf("file lag of %s = %v (present %v), want 0", p, got, ok)
		}
	}
	if got := m["spanshipper_read_bytes_total"]; got != bytesIn {
		t.Errorf("read bytes = %v, want %v", got, bytesIn)
	}
	if m[`spanshipper_checkpoint_writes_total{result="ok"}`] < 1 || m["spanshipper_checkpoint_last_write_timestamp_seconds"] < float64(time.Now().Add(-time.Hour).Unix()) {
		t.Errorf("no recent checkpoint write in the metrics")
	}
	if m["spanshipper_request_duration_seconds_count"] < num(st, "requests_ok") {
		t.Errorf("request duration count %v < requests %v", m["spanshipper_request_duration_seconds_count"], num(st, "requests_ok"))
	}
	for _, k := range []string{"go_goroutines", "process_resident_memory_bytes", "process_cpu_seconds_total"} {
		if _, ok := m[k]; !ok {
			t.Errorf("%s missing: Go runtime and process collectors expected", k)
		}
	}
	if sumPrefix(m, `spanshipper_spans_dead_lettered_total`) != 0 {
		t.Errorf("spans dead-lettered on a clean run")
	}
	// One core unless the environment says otherwise.
	procs := "1"
	if v, ok := os.LookupEnv("GOMAXPROCS"); ok {
		procs = v
	}
	if out := sh.output(); !strings.Contains(out, "gomaxprocs="+procs+" ") {
		t.Errorf("start-up line does not report gomaxprocs=%s:\n%s", procs, out)
	}
}

// TestReadyzFollowsTheReceiver: /readyz is 200 while the receiver answers,
// 503 once it is gone (connection refused), and 200 again when it returns
// on the same address; /healthz stays 200 throughout and nothing is lost.
func TestReadyzFollowsTheReceiver(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	s := startSink(t, "--discard")
	sh := startProc(t, "shipper.log", "spanshipper", "--path", filepath.Join(logs, "*.jsonl"), "--endpoint", s.url(),
		"--state-dir", filepath.Join(dir, "state"), "--listen", "127.0.0.1:0")
	addr := metricsAddr(t, sh)
	ready := func() int { code, _ := get(t, "http://"+addr+"/readyz"); return code }
	healthy := func() { // the process is alive whatever the backend does
		t.Helper()
		if code, _ := get(t, "http://"+addr+"/healthz"); code != 200 {
			t.Fatalf("/healthz = %d", code)
		}
	}

	spangen(t, filepath.Join(logs, "a.jsonl"), "--seed", "710", "--spans", "500")
	waitFor(t, "ready with the receiver up", func() bool { return ready() == 200 })
	waitFor(t, "the first file shipped", func() bool { return metric(t, addr, "spanshipper_spans_shipped_total") >= 500 })

	s.kill()
	spangen(t, filepath.Join(logs, "b.jsonl"), "--seed", "711", "--spans", "500")
	waitFor(t, "not ready with the receiver down", func() bool { return ready() == 503 })
	_, why := get(t, "http://"+addr+"/readyz")
	healthy()
	if metric(t, addr, "spanshipper_backend_up") != 0 {
		t.Errorf("backend_up still 1 with the receiver down")
	}

	// The receiver comes back on the same address.
	p := startProc(t, "sink2.log", "spansink", "--listen", s.addr, "--discard")
	s2 := &sink{proc: p, addr: s.addr}
	waitFor(t, "the receiver back", func() bool { code, _ := get(t, s2.url()+"/stats"); return code == 200 })
	waitFor(t, "ready again", func() bool { return ready() == 200 })
	healthy()
	ends, _ := expectations(t, filepath.Join(logs, "b.jsonl"))
	waitFor(t, "the second file shipped", func() bool { return num(s2.stats(t), "items_received") >= float64(len(ends)) })
	t.Logf("/readyz while down: %s", strings.TrimSpace(why))
}

// TestStatusMatchesStateDir: after a run, `spanshipper status` lists every
// file with its checkpoint offset, size, bytes behind and checkpoint age, for
// a person and as JSON; a file grown since shows the bytes behind.
func TestStatusMatchesStateDir(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	state := filepath.Join(dir, "state")
	os.MkdirAll(logs, 0o755)
	a, b := filepath.Join(logs, "a.jsonl"), filepath.Join(logs, "b.jsonl")
	spangen(t, a, "--seed", "720", "--spans", "300")
	spangen(t, b, "--seed", "721", "--spans", "200")
	s := startSink(t, "--discard")
	run := startProc(t, "shipper.log", "spanshipper", "--path", filepath.Join(logs, "*.jsonl"), "--endpoint", s.url(),
		"--state-dir", state, "--listen", "off", "--exit-on-eof")
	if code := run.wait(t, time.Minute); code != 0 {
		t.Fatalf("exit %d:\n%s", code, run.output())
	}
	sizeA := fileSize(t, a)
	spangen(t, b, "--seed", "722", "--spans", "10", "--append")
	sizeB := fileSize(t, b)

	out, err := exec.Command(bin("spanshipper"), "status", "--state-dir", state, "--json").Output()
	if err != nil {
		t.Fatalf("status --json: %v", err)
	}
	var doc struct {
		StateDir string `json:"state_dir"`
		Files    []struct {
			Path       string  `json:"path"`
			Offset     int64   `json:"offset"`
			Size       int64   `json:"size"`
			Behind     int64   `json:"behind"`
			AgeSeconds float64 `json:"checkpoint_age_seconds"`
			SameFile   bool    `json:"same_file"`
		} `json:"files"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	rows := doc.Files
	if doc.StateDir != state {
		t.Errorf("state_dir %q, want %q", doc.StateDir, state)
	}
	if len(rows) != 2 || rows[0].Path != a || rows[1].Path != b {
		t.Fatalf("status rows %+v, want a.jsonl and b.jsonl", rows)
	}
	if r := rows[0]; r.Offset != sizeA || r.Size != sizeA || r.Behind != 0 || !r.SameFile {
		t.Errorf("a.jsonl: %+v, want offset = size = %d, behind 0", r, sizeA)
	}
	if r := rows[1]; r.Size != sizeB || r.Behind != sizeB-r.Offset || r.Behind <= 0 || !r.SameFile {
		t.Errorf("b.jsonl: %+v, want size %d and the appended bytes behind", r, sizeB)
	}
	for _, r := range rows {
		if r.AgeSeconds < 0 || r.AgeSeconds > 600 {
			t.Errorf("%s: checkpoint age %v s", r.Path, r.AgeSeconds)
		}
	}

	text, err := exec.Command(bin("spanshipper"), "status", "--state-dir", state).Output()
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(text)), "\n")
	if len(lines) < 3 {
		t.Fatalf("status printed %q", text)
	}
	if !strings.Contains(lines[0], state) {
		t.Errorf("status first line %q does not name the state dir", lines[0])
	}
	for _, col := range []string{"FILE", "OFFSET", "SIZE", "BEHIND", "CHECKPOINT AGE"} {
		if !strings.Contains(lines[1], col) {
			t.Errorf("status header %q lacks %s", lines[1], col)
		}
	}
	if !strings.Contains(string(text), b) || !strings.Contains(string(text), strconv.FormatInt(sizeB-rows[1].Offset, 10)) {
		t.Errorf("status text lacks b.jsonl's bytes behind:\n%s", text)
	}

	// No state yet: a clear message and exit 1.
	cmd := exec.Command(bin("spanshipper"), "status", "--state-dir", filepath.Join(dir, "nothing"))
	msg, _ := cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 1 || !strings.Contains(string(msg), "no checkpoint") {
		t.Errorf("status of an empty state dir: exit %d, %q", cmd.ProcessState.ExitCode(), msg)
	}
}

func fileSize(t *testing.T, p string) int64 {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
