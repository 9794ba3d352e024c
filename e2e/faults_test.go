package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestChaos: a writer appends spans with rename rotation while the receiver
// fails ~30% of requests in every way it knows (500, 503 and 429 with
// Retry-After, connection resets, slow answers), rejects a poison span name
// with 422, and the shipper is SIGKILLed at random moments at least 10
// times. At the end every span-end record is in the receiver or, for the
// poison ones only, in the dead-letter file.
func TestChaos(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	state := filepath.Join(dir, "state")
	const poison = "escalate_to_human" // about one span in 1000 (spangen.RareName)
	s := startSink(t, "--fail-fraction", "0.3", "--slow-fraction", "0.05", "--slow-ms", "300",
		"--poison-name", poison, "--retry-after", "1", "--seed", "7")
	// Rotated files keep matching the glob (agent.jsonl.N), as recommended
	// in tailer/design.md, so a file rotated while the shipper is down is
	// still read; --keep is large so the writer never deletes one.
	writer := startProc(t, "writer.log", "spangen", "--out", filepath.Join(logs, "agent.jsonl"), "--seed", "11",
		"--spans", "30000", "--rate", "1500", "--rotate-bytes", strconv.Itoa(4<<20), "--keep", "1000",
		"--start-only-fraction", "0.02", "--bad-fraction", "0.001")
	args := []string{"--path", filepath.Join(logs, "agent.jsonl*"), "--endpoint", s.url(),
		"--state-dir", state, "--listen", "127.0.0.1:0", "--log-level", "warn"}

	rng := rand.New(rand.NewPCG(3, 4))
	kills := 0
	for kills < 12 {
		sh := startProc(t, fmt.Sprintf("shipper-%d.log", kills), "spanshipper", args...)
		time.Sleep(time.Duration(500+rng.IntN(2500)) * time.Millisecond)
		sh.cmd.Process.Signal(syscall.SIGKILL)
		sh.wait(t, 30*time.Second)
		kills++
	}
	if code := writer.wait(t, 3*time.Minute); code != 0 {
		t.Fatalf("writer exit %d: %s", code, writer.output())
	}
	final := startProc(t, "shipper-final.log", "spanshipper", append(args, "--exit-on-eof")...)
	began := time.Now()
	if code := final.wait(t, 4*time.Minute); code != 0 {
		t.Fatalf("final run exit %d:\n%s", code, final.output())
	}

	ends, startOnly := expectations(t, filepath.Join(logs, "agent.jsonl*"))
	rotated, _ := filepath.Glob(filepath.Join(logs, "agent.jsonl.*"))
	if len(rotated) < 3 {
		t.Fatalf("only %d rotations; the test needs several", len(rotated))
	}
	poisoned := map[string]record{}
	for k, r := range ends {
		if r.str("name") == poison {
			poisoned[k] = r
			delete(ends, k)
		}
	}
	got := s.spans(t)
	checkDelivered(t, got, ends, startOnly, nil)
	for k := range poisoned {
		if _, ok := got[k]; ok {
			t.Errorf("poison span %s was accepted", k)
		}
	}
	letters := deadLetters(t, state)
	for k := range poisoned {
		if _, ok := letters[k]; !ok {
			t.Errorf("poison span %s is not in the dead-letter file", k)
		}
	}
	for k, st := range letters {
		if _, ok := poisoned[k]; !ok {
			t.Errorf("span %s dead-lettered (status %d) but it is not poison", k, st)
		}
	}
	st := s.stats(t)
	received := num(st, "items_received")
	t.Logf("final --exit-on-eof run took %v", time.Since(began).Round(time.Second))
	t.Logf("%d kills, %d rotated files, %d span ends (%d poison), %.0f items received, duplicate ratio %.3f, faults injected %.0f, statuses %v",
		kills, len(rotated), len(ends)+len(poisoned), len(poisoned), received, received/float64(len(ends))-1, num(st, "faults_injected"), st["status"])
}

// TestOutageKeepsMemoryFlat: the receiver is down while more than 100 MiB of
// spans are written. The shipper stops reading at --max-buffered, reports
// not ready, and its peak RSS stays under 128 MiB; when the receiver comes
// back everything arrives.
func TestOutageKeepsMemoryFlat(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	s := startSink(t, "--outage", "--retry-after", "1", "--discard")
	sh := startProc(t, "shipper.log", "spanshipper-lean", "--path", filepath.Join(logs, "*.jsonl"), "--endpoint", s.url(),
		"--state-dir", filepath.Join(dir, "state"), "--listen", "127.0.0.1:0")
	addr := metricsAddr(t, sh)
	var total int64
	for i := range 4 {
		p := filepath.Join(logs, fmt.Sprintf("agent-%d.jsonl", i))
		spangen(t, p, "--seed", fmt.Sprint(500+i), "--spans", "16000")
		fi, _ := os.Stat(p)
		total += fi.Size()
	}
	if total < 100<<20 {
		t.Fatalf("wrote only %d bytes; the test needs 100 MiB", total)
	}
	waitFor(t, "readiness to report the outage", func() bool {
		code, body := get(t, "http://"+addr+"/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "503")
	})
	time.Sleep(3 * time.Second) // let it push against the outage for a while
	if n := metric(t, addr, "spanshipper_buffered_spans"); n > 1000 {
		t.Errorf("%v spans buffered during the outage; --max-buffered is 1000", n)
	}

	setFaults(t, s, `{}`)
	ends, _ := expectations(t, filepath.Join(logs, "*.jsonl"))
	waitFor(t, "the backlog to drain", func() bool {
		return metric(t, addr, "spanshipper_spans_shipped_total") >= float64(len(ends))
	})
	hwm := vmHWM(t, sh.cmd.Process.Pid)
	if code, _ := get(t, "http://"+addr+"/readyz"); code != 200 {
		t.Errorf("not ready after the backend returned")
	}
	if got := num(s.stats(t), "items_received"); got < float64(len(ends)) {
		t.Errorf("receiver got %.0f items, want %d", got, len(ends))
	}
	t.Logf("wrote %d MiB during the outage; peak RSS %d MiB", total>>20, hwm>>20)
	if hwm > 128<<20 {
		t.Errorf("peak RSS %d MiB, want under 128 MiB", hwm>>20)
	}
}

// TestPoisonIsDeadLettered: the receiver rejects with 422 every batch that
// holds a span of one name. All other spans arrive; exactly the poison
// span-end records are in the dead-letter file, with status and source.
func TestPoisonIsDeadLettered(t *testing.T) {
	dir := t.TempDir()
	spangen(t, filepath.Join(dir, "agent.jsonl"), "--seed", "700", "--spans", "4000")
	const poison = "guardrail_check"
	s := startSink(t, "--poison-name", poison)
	state := filepath.Join(dir, "state")
	sh := startProc(t, "shipper.log", "spanshipper", "--path", filepath.Join(dir, "*.jsonl"), "--endpoint", s.url(),
		"--state-dir", state, "--listen", "127.0.0.1:0", "--log-level", "error", "--exit-on-eof")
	if code := sh.wait(t, 2*time.Minute); code != 0 {
		t.Fatalf("exit %d:\n%s", code, sh.output())
	}
	ends, startOnly := expectations(t, filepath.Join(dir, "*.jsonl"))
	want := map[string]bool{}
	for k, r := range ends {
		if r.str("name") == poison {
			want[k] = true
			delete(ends, k)
		}
	}
	if len(want) < 50 {
		t.Fatalf("only %d poison spans generated", len(want))
	}
	checkDelivered(t, s.spans(t), ends, startOnly, nil)
	letters := deadLetters(t, state)
	if len(letters) != len(want) {
		t.Errorf("%d dead letters, want %d", len(letters), len(want))
	}
	for k, status := range letters {
		if !want[k] || status != 422 {
			t.Errorf("dead letter %s (status %d) is not a poison span", k, status)
		}
	}
}

// TestWrongKeyLosesNothing: with a wrong API key every request gets 401;
// nothing is dead-lettered and the checkpoint does not move past anything.
// Once the key is fixed everything arrives.
func TestWrongKeyLosesNothing(t *testing.T) {
	dir := t.TempDir()
	spangen(t, filepath.Join(dir, "agent.jsonl"), "--seed", "600", "--spans", "3000")
	s := startSink(t, "--api-key", "right-key", "--account-id", "acct")
	state := filepath.Join(dir, "state")
	args := []string{"--path", filepath.Join(dir, "*.jsonl"), "--endpoint", s.url(), "--state-dir", state,
		"--listen", "127.0.0.1:0", "--account-id", "acct", "--shutdown-timeout", "1s"}
	wrong := startProcEnv(t, "wrong.log", []string{"SPANSHIPPER_API_KEY=wrong-key"}, "spanshipper", args...)
	waitFor(t, "401s", func() bool {
		st, _ := s.stats(t)["status"].(map[string]any)
		return num(st, "401") >= 5
	})
	wrong.cmd.Process.Signal(syscall.SIGTERM)
	if code := wrong.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit %d:\n%s", code, wrong.output())
	}
	if !strings.Contains(wrong.output(), "rejects the credentials") {
		t.Errorf("no loud log line about the credentials:\n%s", wrong.output())
	}
	if strings.Contains(wrong.output(), "wrong-key") {
		t.Errorf("the API key appears in the log")
	}
	if len(deadLetters(t, state)) != 0 {
		t.Fatal("dead-lettered during an auth failure")
	}
	// Dropped span-start records are final, so the checkpoint may pass the
	// starts at the head of the file, but never the first span-end record.
	firstEnd := int64(-1)
	b, _ := os.ReadFile(filepath.Join(dir, "agent.jsonl"))
	for off := 0; off < len(b); {
		n := bytes.IndexByte(b[off:], '\n') + 1
		if !bytes.Contains(b[off:off+n], []byte(`"end_time":null`)) {
			firstEnd = int64(off)
			break
		}
		off += n
	}
	var ck struct{ Files []struct{ Offset int64 } }
	if raw, err := os.ReadFile(filepath.Join(state, "checkpoint.json")); err == nil {
		json.Unmarshal(raw, &ck)
	}
	for _, f := range ck.Files {
		if f.Offset > firstEnd {
			t.Fatalf("checkpoint at %d, past the first span-end record at %d, though nothing was accepted", f.Offset, firstEnd)
		}
	}
	right := startProcEnv(t, "right.log", []string{"SGP_API_KEY=right-key"}, "spanshipper", append(args, "--exit-on-eof")...)
	if code := right.wait(t, 2*time.Minute); code != 0 {
		t.Fatalf("exit %d:\n%s", code, right.output())
	}
	ends, startOnly := expectations(t, filepath.Join(dir, "*.jsonl"))
	checkDelivered(t, s.spans(t), ends, startOnly, nil)
}

// deadLetters reads the dead-letter file: trace_id/id → HTTP status.
func deadLetters(t *testing.T, state string) map[string]int {
	t.Helper()
	out := map[string]int{}
	f, err := os.Open(filepath.Join(state, "dead-letter.jsonl"))
	if os.IsNotExist(err) {
		return out
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var l struct {
			Status int             `json:"status"`
			File   string          `json:"file"`
			Item   json.RawMessage `json:"item"`
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue // a line cut by a crash; its letter was written again
		}
		var it struct{ ID, TraceID string }
		var raw struct {
			ID      string `json:"id"`
			TraceID string `json:"trace_id"`
		}
		json.Unmarshal(l.Item, &raw)
		it.ID, it.TraceID = raw.ID, raw.TraceID
		if l.File == "" {
			t.Errorf("dead letter without its source file: %s", sc.Text())
		}
		out[it.TraceID+"/"+it.ID] = l.Status
	}
	return out
}

var addrRE = regexp.MustCompile(`serving metrics and health.*addr=(\S+)`)

// metricsAddr waits for the shipper to log the address --listen bound.
func metricsAddr(t *testing.T, p *proc) string {
	t.Helper()
	var addr string
	waitFor(t, "the metrics address", func() bool {
		m := addrRE.FindStringSubmatch(p.output())
		if m != nil {
			addr = m[1]
		}
		return addr != ""
	})
	return addr
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	return resp.StatusCode, readAll(t, resp.Body)
}

// metric returns the value of an unlabelled series (or the sum of a labelled one).
func metric(t *testing.T, addr, name string) float64 {
	t.Helper()
	_, body := get(t, "http://"+addr+"/metrics")
	var sum float64
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, name+" ") && !strings.HasPrefix(line, name+"{") {
			continue
		}
		f := strings.Fields(line)
		v, _ := strconv.ParseFloat(f[len(f)-1], 64)
		sum += v
	}
	return sum
}

func setFaults(t *testing.T, s *sink, body string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, s.url()+"/admin/faults", strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// vmHWM returns a process's peak resident set size in bytes.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			kb, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}
