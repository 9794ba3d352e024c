package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"
)

// TestHeldStartsDoNotInflateResends: spans last 6 s, so thousands of starts
// are held at every moment, and the shipper is killed (-9) four times. The
// checkpoint does not wait for held starts (they are journaled), so each
// kill re-sends about what it does in pure end-only mode — what was in
// flight and acknowledged since the last checkpoint — not 6 s of spans.
// Both modes are run and their re-sends logged; no span lasts
// --orphan-after, so no start may arrive, and every end must.
func TestHeldStartsDoNotInflateResends(t *testing.T) {
	const rate, lasts, kills = 500, 6 * time.Second, 4 // spans/s; a span's duration
	resent := map[string]float64{}
	for _, after := range []string{"0", "1m"} {
		dir := t.TempDir()
		path := filepath.Join(dir, "agent.jsonl")
		w := spanFile{t, path}
		s := startSink(t)
		args := []string{"--path", path, "--endpoint", s.url(), "--state-dir", filepath.Join(dir, "state"),
			"--listen", "off", "--orphan-after", after}
		sh := startProc(t, "shipper-0.log", "spanshipper", args...)
		began := time.Now()
		started, ended := 0, 0
		killed := 0
		for ended < rate*10 {
			now := time.Since(began)
			var lines []string
			for ; started < rate*10 && time.Duration(started)*time.Second/rate <= now; started++ {
				lines = append(lines, spanLine("trace-long", fmt.Sprint(started), false))
			}
			for ; ended < started && time.Duration(ended)*time.Second/rate+lasts <= now; ended++ {
				lines = append(lines, spanLine("trace-long", fmt.Sprint(ended), true))
			}
			w.write(lines...)
			if killed < kills && now >= time.Duration(killed+1)*2*time.Second+time.Second {
				sh.cmd.Process.Signal(syscall.SIGKILL)
				sh.wait(t, 30*time.Second)
				killed++
				sh = startProc(t, fmt.Sprintf("shipper-%d.log", killed), "spanshipper", args...)
			}
			time.Sleep(10 * time.Millisecond)
		}
		waitFor(t, "every end", func() bool { return num(s.stats(t), "completed") == rate*10 })
		sh.cmd.Process.Signal(syscall.SIGTERM)
		if code := sh.wait(t, 30*time.Second); code != 0 {
			t.Fatalf("exit %d:\n%s", code, sh.output())
		}
		st := s.stats(t)
		if n := num(st, "starts_received"); n != 0 {
			t.Errorf("--orphan-after %s: %v starts arrived; no span lasted that long", after, n)
		}
		resent[after] = num(st, "items_received") - rate*10
		t.Logf("--orphan-after %s: %d kills, %.0f span ends re-sent (%.0f per kill)", after, kills, resent[after], resent[after]/kills)
	}
	// Waiting for held starts would re-send about 6 s of spans per kill.
	if limit := float64(kills) * rate * lasts.Seconds() / 2; resent["1m"] > limit {
		t.Errorf("with rescue on, %.0f re-sent over %d kills; holding starts must not hold the checkpoint back (limit %.0f)", resent["1m"], kills, limit)
	}
}

// TestOrphanRescueInContainerLogs: in a CRI container log at a kubelet
// path, a span that never ends is rescued with the pod metadata its end
// would have carried, and its long start line, split by the runtime into
// partial records, is rejoined before it is held.
func TestOrphanRescueInContainerLogs(t *testing.T) {
	dir := t.TempDir()
	logDir := filepath.Join(dir, "pods", "agents_worker-7_0b7c1a52-1111-2222-3333-444455556666", "agent")
	os.MkdirAll(logDir, 0o755)
	path := filepath.Join(logDir, "0.log")
	cri := func(content string) []string {
		var out []string
		for len(content) > 100 {
			out = append(out, "2026-11-26T03:00:00.000000001Z stdout P "+content[:100])
			content = content[100:]
		}
		return append(out, "2026-11-26T03:00:00.000000002Z stdout F "+content)
	}
	w := spanFile{t, path}
	w.write("2026-11-26T03:00:00.000000000Z stdout F agent starting")
	w.write(cri(spanLine("trace-pod", "never-ends", false))...)
	w.write(cri(spanLine("trace-pod", "ends", false))...)
	w.write(cri(spanLine("trace-pod", "ends", true))...)
	s := startSink(t)
	sh := startProc(t, "shipper.log", "spanshipper", "--path", filepath.Join(dir, "pods", "*", "*", "*.log"),
		"--endpoint", s.url(), "--state-dir", filepath.Join(dir, "state"), "--listen", "off", "--orphan-after", "1s")
	waitFor(t, "the rescue", func() bool { return len(s.starts(t)) == 1 })
	sh.cmd.Process.Signal(syscall.SIGTERM)
	if code := sh.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit %d:\n%s", code, sh.output())
	}
	if got := keys(s.starts(t)); !slices.Equal(got, []string{"trace-pod/never-ends"}) {
		t.Fatalf("starts received %v, want the span that never ends", got)
	}
	var it struct {
		EndTimestamp *string           `json:"end_timestamp"`
		Metadata     map[string]any    `json:"metadata"`
		Input        map[string]string `json:"input"`
	}
	json.Unmarshal(s.spans(t)["trace-pod/never-ends"], &it)
	if it.EndTimestamp != nil || it.Input["q"] != "never-ends" {
		t.Errorf("rescued item %+v", it)
	}
	for k, v := range map[string]string{"k8s.namespace.name": "agents", "k8s.pod.name": "worker-7", "k8s.container.name": "agent"} {
		if it.Metadata[k] != v {
			t.Errorf("rescued item metadata %s = %v, want %q (all: %v)", k, it.Metadata[k], v, it.Metadata)
		}
	}
}
