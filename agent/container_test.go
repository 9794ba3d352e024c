package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/spanshipper/spanshipper/batch"
	"github.com/spanshipper/spanshipper/checkpoint"
	"github.com/spanshipper/spanshipper/decode"
	"github.com/spanshipper/spanshipper/metrics"
	"github.com/spanshipper/spanshipper/tailer"
)

// receiver is a span batch API on 127.0.0.1 that keeps every item by id.
type receiver struct {
	*httptest.Server
	mu    sync.Mutex
	items map[string]map[string]any
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{items: map[string]map[string]any{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var body struct{ Items []map[string]any }
		b, _ := io.ReadAll(req.Body)
		if err := json.Unmarshal(b, &body); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		r.mu.Lock()
		for _, it := range body.Items {
			r.items[it["id"].(string)] = it
		}
		r.mu.Unlock()
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) item(id string) map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.items[id]
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.items)
}

func spanLine(id string, pad int) string {
	return fmt.Sprintf(`{"id":%q,"trace_id":"t","name":"n","start_time":"2026-11-25T10:00:00Z","end_time":"2026-11-25T10:00:01Z","input":{"pad":%q},"data":{"k":1}}`, id, strings.Repeat("x", pad))
}

const criTS = "2026-11-25T10:00:00.123456789Z"

func cri(stream, tag, content string) string {
	return criTS + " " + stream + " " + tag + " " + content + "\n"
}

// runAgent runs an agent over glob until stop is called; it returns the
// agent's metrics.
func runAgent(t *testing.T, glob, stateDir, endpoint string, exitOnEOF bool, opts ...func(*Config)) (*metrics.Metrics, func()) {
	t.Helper()
	m := metrics.New()
	cfg := Config{
		StateDir:           stateDir,
		Tailer:             tailer.Config{Include: []string{glob}, PollInterval: 50 * time.Millisecond, ExitOnEOF: exitOnEOF, RotateWait: 100 * time.Millisecond},
		Decode:             decode.Options{SkipStart: true},
		Batch:              batch.Options{MaxItems: 50, Linger: 10 * time.Millisecond},
		K8sMetadata:        true,
		Metrics:            m,
		CheckpointInterval: 10 * time.Millisecond,
	}
	for _, o := range opts {
		o(&cfg)
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a.cfg.Ship.Endpoint = endpoint
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("agent: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Error("agent did not stop")
			}
		})
	}
	if exitOnEOF {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("agent: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("agent did not finish")
		}
		return m, func() {}
	}
	t.Cleanup(stop)
	return m, stop
}

func checkpointOf(t *testing.T, stateDir, path string) (checkpoint.Entry, bool) {
	b, err := os.ReadFile(filepath.Join(stateDir, checkpoint.FileName))
	if err != nil {
		return checkpoint.Entry{}, false
	}
	var st checkpoint.State
	if json.Unmarshal(b, &st) != nil {
		return checkpoint.Entry{}, false
	}
	for _, e := range st.Files {
		if e.Path == path {
			return e, true
		}
	}
	return checkpoint.Entry{}, false
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCRIFile: spans among app output, partial records interleaved across
// stdout and stderr, a malformed header, and a group cut by the end of the
// file; pod metadata from the path.
func TestCRIFile(t *testing.T) {
	dir := t.TempDir()
	logDir := filepath.Join(dir, "pods", "agents_planner-1_0b9f-uid", "agent")
	os.MkdirAll(logDir, 0o755)
	big := spanLine("big", 100)
	content := "\n" + // a blank line before the first record: the format is decided by the next
		cri("stdout", "F", spanLine("a", 0)) +
		cri("stdout", "F", "INFO starting worker") +
		cri("stdout", "P", big[:30]) +
		cri("stderr", "P", "Traceback (most recent call last):") +
		cri("stdout", "P", big[30:60]) +
		cri("stderr", "F", `  File "x.py", line 1`) +
		cri("stdout", "F", big[60:]) +
		cri("stdout", "F:tag2", `{"level":"info","trace_id":"t","msg":"no start"}`) +
		"2026-11-25 10:00:00 stdout F bad header\n" +
		cri("stderr", "F", spanLine("err-stream", 0)) +
		cri("stdout", "P", spanLine("cut", 0)[:90]) // cut by the end of the file: looks like a span, malformed
	path := filepath.Join(logDir, "0.log")
	os.WriteFile(path, []byte(content), 0o644)

	r := newReceiver(t)
	state := filepath.Join(dir, "state")
	m, _ := runAgent(t, filepath.Join(dir, "pods", "*", "*", "*.log"), state, r.URL, true)

	for _, id := range []string{"a", "big", "err-stream"} {
		it := r.item(id)
		if it == nil {
			t.Fatalf("span %s not shipped; got %d items", id, r.count())
		}
		md := it["metadata"].(map[string]any)
		want := map[string]any{"k": float64(1), "__source__": "agentex", "k8s.namespace.name": "agents", "k8s.pod.name": "planner-1", "k8s.pod.uid": "0b9f-uid", "k8s.container.name": "agent"}
		for k, v := range want {
			if md[k] != v {
				t.Errorf("%s: metadata[%s] = %v, want %v", id, k, md[k], v)
			}
		}
	}
	if r.item("big")["input"].(map[string]any)["pad"] != strings.Repeat("x", 100) {
		t.Error("joined record's content differs")
	}
	if n := r.count(); n != 3 {
		t.Errorf("%d items shipped, want 3", n)
	}
	if got := testutil.ToFloat64(m.LinesSkipped.WithLabelValues("not_span")); got != 3 {
		t.Errorf("not_span = %v, want 3 (the app line, the stderr traceback rejoined, the JSON log)", got)
	}
	if got := testutil.ToFloat64(m.BadLines.WithLabelValues("invalid_frame")); got != 1 {
		t.Errorf("invalid_frame = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.BadLines.WithLabelValues("invalid_json")); got != 1 {
		t.Errorf("invalid_json = %v, want 1 (the span cut by the end of the file)", got)
	}
	e, ok := checkpointOf(t, state, path)
	if !ok || e.Offset != int64(len(content)) || e.Format != "cri" {
		t.Errorf("checkpoint %+v, want offset %d and format cri", e, len(content))
	}
}

// TestCheckpointNeverInsideAGroup: while a partial record is open the
// checkpoint stays at its first line; a restart then reads the group whole,
// and a checkpoint without its format decision still reads the file as CRI.
func TestCheckpointNeverInsideAGroup(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "0.log")
	big := spanLine("big", 200)
	head := cri("stdout", "F", spanLine("a", 0))
	open1 := cri("stdout", "P", big[:100])
	mid := cri("stderr", "F", spanLine("b", 0)) + cri("stderr", "F", "app line")
	os.WriteFile(path, []byte(head+open1+mid), 0o644)

	r := newReceiver(t)
	state := filepath.Join(dir, "state")
	_, stop := runAgent(t, filepath.Join(dir, "*.log"), state, r.URL, false)
	waitUntil(t, "spans a and b", func() bool { return r.item("a") != nil && r.item("b") != nil })
	// Let checkpoints be written, then check none passed the open group.
	waitUntil(t, "a checkpoint", func() bool { _, ok := checkpointOf(t, state, path); return ok })
	time.Sleep(100 * time.Millisecond)
	stop()
	e, _ := checkpointOf(t, state, path)
	if e.Offset != int64(len(head)) {
		t.Fatalf("checkpoint at %d with a partial record open at %d", e.Offset, len(head))
	}

	// The decision kept with the checkpoint is dropped (as by an older
	// version): the format is decided from the file's first line.
	b, _ := os.ReadFile(filepath.Join(state, checkpoint.FileName))
	os.WriteFile(filepath.Join(state, checkpoint.FileName), []byte(strings.ReplaceAll(string(b), `"format":"cri"`, `"format":""`)), 0o600)

	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(cri("stdout", "F", big[100:]))
	f.Close()
	r2 := newReceiver(t)
	_, stop = runAgent(t, filepath.Join(dir, "*.log"), state, r2.URL, false)
	waitUntil(t, "the joined span after a restart", func() bool { return r2.item("big") != nil })
	if r2.item("a") != nil {
		t.Error("span a re-sent: it was before the checkpoint")
	}
	waitUntil(t, "the checkpoint at the end", func() bool {
		e, _ := checkpointOf(t, state, path)
		return e.Offset == int64(len(head+open1+mid)+len(cri("stdout", "F", big[100:]))) && e.Format == "cri"
	})
	stop()
}

// TestDockerFile: docker json-file records, partials joined per stream,
// metadata from a /var/log/containers name.
func TestDockerFile(t *testing.T) {
	dir := t.TempDir()
	id := strings.Repeat("ab", 32)
	path := filepath.Join(dir, "planner-1_agents_agent-"+id+".log")
	rec := func(log, stream string) string {
		b, _ := json.Marshal(map[string]string{"log": log, "stream": stream, "time": "2026-11-25T10:00:00.1Z"})
		return string(b) + "\n"
	}
	big := spanLine("big", 50)
	os.WriteFile(path, []byte(
		rec(spanLine("a", 0)+"\n", "stdout")+
			rec(big[:40], "stdout")+
			rec("warning: ", "stderr")+
			rec(big[40:]+"\n", "stdout")+
			rec("x\n", "stderr")+
			rec("plain app log\n", "stdout")+
			`{"log":"no stream\n"}`+"\n"), 0o644)
	r := newReceiver(t)
	m, _ := runAgent(t, filepath.Join(dir, "*.log"), filepath.Join(dir, "state"), r.URL, true)
	if r.count() != 2 || r.item("a") == nil || r.item("big") == nil {
		t.Fatalf("got %d items", r.count())
	}
	md := r.item("big")["metadata"].(map[string]any)
	if md["k8s.pod.name"] != "planner-1" || md["k8s.namespace.name"] != "agents" || md["k8s.container.name"] != "agent" || md["k8s.pod.uid"] != nil {
		t.Errorf("metadata %v", md)
	}
	if got := testutil.ToFloat64(m.LinesSkipped.WithLabelValues("not_span")); got != 2 {
		t.Errorf("not_span = %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.BadLines.WithLabelValues("invalid_frame")); got != 1 {
		t.Errorf("invalid_frame = %v, want 1", got)
	}
}

// TestLineSplitByRotation: the runtime reopened its log in the middle of a
// line (kubelet rotation), so the line's first pieces end the renamed file
// and its rest begins the new one. The pieces are joined whichever file is
// read first; a new file's first record waits only while an older file of
// its directory drains.
func TestLineSplitByRotation(t *testing.T) {
	for _, tc := range []struct {
		name      string
		drainLate bool // the new file appears only after the renamed one was drained
	}{{"new file read first", false}, {"renamed file drained first", true}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			logDir := filepath.Join(dir, "pods", "ns_pod_uid", "c")
			os.MkdirAll(logDir, 0o755)
			path := filepath.Join(logDir, "0.log")
			x := spanLine("x", 300)
			y := spanLine("y", 50)
			os.WriteFile(path, []byte(cri("stdout", "F", spanLine("a", 0))+cri("stdout", "P", x[:100])+cri("stderr", "F", "warn")+cri("stdout", "P", x[100:200])), 0o644)

			r := newReceiver(t)
			m, stop := runAgent(t, filepath.Join(dir, "pods", "*", "*", "*.log"), filepath.Join(dir, "state"), r.URL, false)
			waitUntil(t, "span a", func() bool { return r.item("a") != nil })
			os.Rename(path, path+".20261125-101500")
			if tc.drainLate {
				time.Sleep(600 * time.Millisecond) // RotateWait is 100ms, the poll 50ms
			}
			os.WriteFile(path, []byte(cri("stdout", "F", x[200:])+cri("stdout", "F", y)+cri("stderr", "F", spanLine("z", 0))), 0o644)
			waitUntil(t, "spans x, y, z", func() bool { return r.item("x") != nil && r.item("y") != nil && r.item("z") != nil })
			stop()
			if got := r.item("x")["input"].(map[string]any)["pad"]; got != strings.Repeat("x", 300) {
				t.Errorf("joined span's content differs")
			}
			for _, reason := range []string{"invalid_json", "invalid_frame"} {
				if n := testutil.ToFloat64(m.BadLines.WithLabelValues(reason)); n != 0 {
					t.Errorf("%v lines counted %s", n, reason)
				}
			}
			if n := testutil.ToFloat64(m.LinesSkipped.WithLabelValues("not_span")); n != 1 {
				t.Errorf("not_span = %v, want 1 (the warning)", n)
			}
		})
	}
}

// TestLineSplitByRotationWhileDown: the kubelet rotates a container log
// while spanshipper is down, in the middle of a line. At the restart the
// renamed file is found by its identity and drained from its checkpoint
// (the open group's start), before the new 0.log, and the split line is
// joined.
func TestLineSplitByRotationWhileDown(t *testing.T) {
	path, glob, state, x, _ := splitLineLog(t)
	y := spanLine("y", 50)

	r := newReceiver(t)
	_, stop := runAgent(t, glob, state, r.URL, false)
	waitUntil(t, "span a", func() bool { return r.item("a") != nil })
	stop()
	os.Rename(path, path+".20261125-101500")
	os.WriteFile(path, []byte(cri("stdout", "F", x[200:])+cri("stdout", "F", y)+cri("stderr", "F", spanLine("z", 0))), 0o644)

	m, _ := runAgent(t, glob, state, r.URL, false)
	waitUntil(t, "spans x, y, z", func() bool { return r.item("x") != nil && r.item("y") != nil && r.item("z") != nil })
	if got := r.item("x")["input"].(map[string]any)["pad"]; got != strings.Repeat("x", 300) {
		t.Errorf("joined span's content differs")
	}
	if got := r.item("x")["metadata"].(map[string]any)["k8s.pod.name"]; got != "pod" {
		t.Errorf("joined span's pod = %v, want the one of the path it was followed at", got)
	}
	checkNoBadLines(t, m, "")
}

// TestResumedPastSplitLine: a crash after a split line was joined and
// acknowledged (the new 0.log's checkpoint is past its first record) but
// while an earlier record of the renamed file was in flight (its entry is
// still at its start). At the restart the renamed file is read again; its
// cut piece went with the new file's first record and is dropped, not
// joined to the next record the new file gets.
func TestResumedPastSplitLine(t *testing.T) {
	path, glob, state, x, _ := splitLineLog(t)
	rotated := path + ".20261125-101500"
	r := newReceiver(t)
	_, stop := runAgent(t, glob, state, r.URL, false)
	waitUntil(t, "span a", func() bool { return r.item("a") != nil })
	os.Rename(path, rotated)
	os.WriteFile(path, []byte(cri("stderr", "F", "starting")+cri("stdout", "F", x[200:])+cri("stdout", "F", spanLine("y", 0))), 0o644)
	waitUntil(t, "spans x, y", func() bool { return r.item("x") != nil && r.item("y") != nil })
	waitUntil(t, "the renamed file let go", func() bool {
		st, _ := checkpoint.Load(state)
		return len(st.Files) == 1 && st.Files[0].Offset > 0
	})
	stop()

	// The checkpoint of the crash: the renamed file's entry at its start.
	st, err := checkpoint.Load(state)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(rotated)
	fi, _ := os.Stat(rotated)
	sys := fi.Sys().(*syscall.Stat_t)
	n := min(int64(len(b)), checkpoint.FingerprintBytes)
	st.Files = append(st.Files, checkpoint.Entry{Path: path, Dev: uint64(sys.Dev), Ino: sys.Ino,
		Fingerprint: checkpoint.Fingerprint(b[:n]), FingerprintSize: n, Offset: 0, Size: fi.Size(), Format: "cri"})
	store, _, err := checkpoint.Open(state, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Save(st); err != nil {
		t.Fatal(err)
	}
	store.Close()

	r2 := newReceiver(t)
	m, _ := runAgent(t, glob, state, r2.URL, false)
	waitUntil(t, "span a again", func() bool { return r2.item("a") != nil })
	time.Sleep(500 * time.Millisecond) // the renamed file is drained (RotateWait 100ms)
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(cri("stdout", "F", spanLine("w", 10)))
	f.Close()
	waitUntil(t, "span w", func() bool { return r2.item("w") != nil })
	if r2.item("x") != nil || r2.item("y") != nil {
		t.Errorf("x or y sent again: the new file was resumed past them")
	}
	checkNoBadLines(t, m, "the renamed file's piece was joined to another record")
}

// TestSplitLineInFlightAtStop: the line a rotation split is joined and
// handed on, but not acknowledged when spanshipper stops (or crashes): the
// renamed file's checkpoint entry stays at the cut record, so the restart
// finds the renamed file, reads the piece again and joins it again.
func TestSplitLineInFlightAtStop(t *testing.T) {
	path, glob, state, x, head := splitLineLog(t)
	rotated := path + ".20261125-101500"

	var refused atomic.Int64
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if b, _ := io.ReadAll(req.Body); bytes.Contains(b, []byte(`"id":"x"`)) {
			refused.Add(1)
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
		}
	}))
	defer down.Close()
	shortStop := func(c *Config) { c.ShutdownTimeout = 100 * time.Millisecond }
	_, stop := runAgent(t, glob, state, down.URL, false, shortStop)
	waitUntil(t, "span a's checkpoint", func() bool {
		e, ok := checkpointOf(t, state, path)
		return ok && e.Offset == head
	})
	os.Rename(path, rotated)
	os.WriteFile(path, []byte(cri("stdout", "F", x[200:])+cri("stdout", "F", spanLine("y", 0))), 0o644)
	waitUntil(t, "the joined line refused", func() bool { return refused.Load() > 0 })
	time.Sleep(500 * time.Millisecond) // the renamed file is drained and let go (RotateWait 100ms)
	stop()
	st, err := checkpoint.Load(state)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(rotated)
	kept := false
	for _, e := range st.Files {
		kept = kept || e.Ino == fi.Sys().(*syscall.Stat_t).Ino && e.Offset <= head
	}
	if !kept {
		t.Fatalf("checkpoint %+v: the renamed file's entry is gone while the line it began was not acknowledged", st.Files)
	}

	r := newReceiver(t)
	m, _ := runAgent(t, glob, state, r.URL, false)
	waitUntil(t, "spans x, y", func() bool { return r.item("x") != nil && r.item("y") != nil })
	if got := r.item("x")["input"].(map[string]any)["pad"]; got != strings.Repeat("x", 300) {
		t.Errorf("joined span's content differs")
	}
	checkNoBadLines(t, m, "")
}

// splitLineLog lays out a pod's 0.log that holds span a and then span x cut
// short by a rotation (two P pieces around a stderr line, the rest to come
// in the next file). It returns the log's path, the glob and state
// directory to run the agent with, x, and where x's pieces begin.
func splitLineLog(t *testing.T) (path, glob, state, x string, head int64) {
	t.Helper()
	dir := t.TempDir()
	logDir := filepath.Join(dir, "pods", "ns_pod_uid", "c")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(logDir, "0.log")
	x = spanLine("x", 300)
	a := cri("stdout", "F", spanLine("a", 0))
	if err := os.WriteFile(path, []byte(a+cri("stdout", "P", x[:100])+cri("stderr", "F", "warn")+cri("stdout", "P", x[100:200])), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, filepath.Join(dir, "pods", "*", "*", "*.log"), filepath.Join(dir, "state"), x, int64(len(a))
}

// checkNoBadLines fails the test if any line was counted bad input; why
// says what that would mean.
func checkNoBadLines(t *testing.T, m *metrics.Metrics, why string) {
	t.Helper()
	for _, reason := range []string{"invalid_json", "invalid_frame"} {
		if n := testutil.ToFloat64(m.BadLines.WithLabelValues(reason)); n != 0 {
			t.Errorf("%v lines counted %s %s", n, reason, why)
		}
	}
}
