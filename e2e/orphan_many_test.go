package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestManyHeldStartsSurviveKill9: 1,500 spans start with ~1 KiB inputs and
// none ends, so one checkpointer turn journals ~2 MB of hold lines, more
// than the journal keeps in memory before its fsync (it writes them as they
// gather). Killed (-9) once all are held and the checkpoint has passed their
// lines, the shipper restarts from the journal alone and ships exactly those
// starts, inputs intact, when --orphan-after has passed.
func TestManyHeldStartsSurviveKill9(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "agent.jsonl")
	state := filepath.Join(dir, "state")
	w := spanFile{t, path}
	const open = 1500
	pad := strings.Repeat("x", 1000)
	var lines []string
	want := map[string]int64{}
	for i := range open {
		id := fmt.Sprintf("open-%04d", i)
		lines = append(lines, strings.Replace(spanLine("trace-open", id, false), `{"q":`, `{"pad":"`+pad+`","q":`, 1))
		want["trace-open/"+id] = 1
		if i%10 == 0 {
			done := fmt.Sprintf("done-%d", i)
			lines = append(lines, spanLine("trace-done", done, false), spanLine("trace-done", done, true))
		}
	}
	w.write(lines...)
	s := startSink(t)
	args := []string{"--path", path, "--endpoint", s.url(), "--state-dir", state, "--listen", "127.0.0.1:0"}
	sh := startProc(t, "shipper-1.log", "spanshipper", append(args, "--orphan-after", "1h")...)
	waitFor(t, "every start held and journaled, the checkpoint at the end", func() bool {
		return heldStarts(t, state) == open && checkpointAt(t, state, path)
	})
	if fi, err := os.Stat(filepath.Join(state, "pending-starts.jsonl")); err != nil || fi.Size() < 2<<20*3/4 {
		t.Fatalf("journal %v (%v): want the ~2 MB of hold lines the test is about", fi, err)
	}
	if n := len(s.starts(t)); n != 0 {
		t.Fatalf("%d starts shipped before the kill, want none (--orphan-after 1h)", n)
	}
	sh.cmd.Process.Signal(syscall.SIGKILL)
	sh.wait(t, 30*time.Second)

	sh2 := startProc(t, "shipper-2.log", "spanshipper", append(args, "--orphan-after", "1s")...)
	waitFor(t, "every held start rescued from the journal", func() bool { return len(s.starts(t)) == open })
	sh2.cmd.Process.Signal(syscall.SIGTERM)
	if code := sh2.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit %d:\n%s", code, sh2.output())
	}
	if got := keys(s.starts(t)); !slices.Equal(got, keys(want)) {
		t.Fatalf("%d spans arrived in progress, want exactly the %d held", len(got), open)
	}
	got := s.spans(t)
	for k := range want {
		var it struct {
			Input struct{ Pad, Q string }
			End   *string `json:"end_timestamp"`
		}
		if err := json.Unmarshal(got[k], &it); err != nil || it.Input.Pad != pad || "trace-open/"+it.Input.Q != k || it.End != nil {
			t.Fatalf("%s arrived as %.200s", k, got[k])
		}
	}
	if n := num(s.stats(t), "completed"); n != open/10 {
		t.Errorf("%v spans completed, want the %d that ended", n, open/10)
	}
}
