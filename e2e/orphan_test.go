package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// spanFile appends agentex span lines to a file, as an agent would.
type spanFile struct {
	t    *testing.T
	path string
}

func (w spanFile) write(lines ...string) {
	w.t.Helper()
	f, err := os.OpenFile(w.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		w.t.Fatal(err)
	}
	defer f.Close()
	for _, l := range lines {
		if _, err := f.WriteString(l + "\n"); err != nil {
			w.t.Fatal(err)
		}
	}
}

func spanLine(trace, id string, ended bool) string {
	end := "null"
	if ended {
		end = `"2026-11-26T03:00:01.500000Z"`
	}
	return fmt.Sprintf(`{"id":%q,"trace_id":%q,"name":"step","parent_id":null,"start_time":"2026-11-26T03:00:00.250000Z","end_time":%s,"input":{"q":%q},"output":null,"data":{"__span_type__":"CUSTOM"}}`,
		id, trace, end, id)
}

// openSpans returns the lines of n spans that start and never end
// (trace-open/open-NNNN; pad, when not empty, is added to each input), with
// a span that starts and ends at once after every tenth, and their ids.
func openSpans(n int, pad string) (lines, ids []string) {
	for i := range n {
		id := fmt.Sprintf("open-%04d", i)
		l := spanLine("trace-open", id, false)
		if pad != "" {
			l = strings.Replace(l, `{"q":`, `{"pad":"`+pad+`","q":`, 1)
		}
		lines = append(lines, l)
		ids = append(ids, id)
		if i%10 == 0 {
			done := fmt.Sprintf("done-%d", i)
			lines = append(lines, spanLine("trace-done", done, false), spanLine("trace-done", done, true))
		}
	}
	return lines, ids
}

// complete writes n spans that start and end at once, named prefix-i.
func (w spanFile) complete(prefix string, n int) {
	var lines []string
	for i := range n {
		id := fmt.Sprintf("%s-%d", prefix, i)
		lines = append(lines, spanLine("trace-"+prefix, id, false), spanLine("trace-"+prefix, id, true))
	}
	w.write(lines...)
}

// starts returns what the receiver's /starts says: every span that ever
// arrived as an in-progress item.
func (s *sink) starts(t *testing.T) map[string]int64 {
	t.Helper()
	code, body := get(t, s.url()+"/starts")
	var m map[string]int64
	if code != 200 || json.Unmarshal([]byte(body), &m) != nil {
		t.Fatalf("GET /starts: %d %s", code, body)
	}
	return m
}

// heldStarts runs `spanshipper status --json` and returns its held count.
func heldStarts(t *testing.T, state string) int {
	t.Helper()
	out, err := exec.Command(bin("spanshipper-lean"), "status", "--state-dir", state, "--json").Output()
	if err != nil {
		return -1 // no checkpoint yet
	}
	var st struct {
		Held int `json:"held_span_starts"`
	}
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	return st.Held
}

// checkpointAt reports whether the checkpoint of path is at its end.
func checkpointAt(t *testing.T, state, path string) bool {
	t.Helper()
	var ck struct {
		Files []struct {
			Path   string
			Offset int64
		}
	}
	raw, err := os.ReadFile(filepath.Join(state, "checkpoint.json"))
	if err != nil || json.Unmarshal(raw, &ck) != nil {
		return false
	}
	fi, err := os.Stat(path)
	for _, f := range ck.Files {
		if f.Path == path {
			return err == nil && f.Offset == fi.Size()
		}
	}
	return false
}

func keys(m map[string]int64) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestOrphanRescueSurvivesKill9: 12 spans start; 7 never end and 5 end 6 s
// later, among spans that end at once. With --orphan-after 3s the shipper
// is killed (-9) once the 12 starts are held and the checkpoint has passed
// their lines, so only the journal knows them. After a restart exactly
// those 12 starts reach the receiver, the 5 late ends follow, and no start
// of any other span ever arrives.
func TestOrphanRescueSurvivesKill9(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	state := filepath.Join(dir, "state")
	path := filepath.Join(logs, "agent.jsonl")
	w := spanFile{t, path}
	w.complete("before", 100)
	s := startSink(t)
	args := []string{"--path", filepath.Join(logs, "*.jsonl"), "--endpoint", s.url(), "--state-dir", state,
		"--listen", "127.0.0.1:0", "--orphan-after", "3s"}
	sh := startProc(t, "shipper-1.log", "spanshipper", args...)
	waitFor(t, "the first spans", func() bool { return num(s.stats(t), "completed") == 100 })

	var long, never, late []string
	var lines []string
	for i := range 12 {
		id := fmt.Sprintf("long-%d", i)
		long = append(long, "trace-long/"+id)
		if i < 7 {
			never = append(never, id)
		} else {
			late = append(late, id)
		}
		lines = append(lines, spanLine("trace-long", id, false), spanLine("trace-mid", fmt.Sprintf("mid-%d", i), false), spanLine("trace-mid", fmt.Sprintf("mid-%d", i), true))
	}
	w.write(lines...)
	written := time.Now()
	waitFor(t, "the 12 starts held and journaled, the checkpoint past them", func() bool {
		return heldStarts(t, state) == 12 && checkpointAt(t, state, path)
	})
	held := time.Since(written)
	if n := num(s.stats(t), "starts_received"); n != 0 {
		t.Fatalf("%v starts arrived before the kill; the machine is too slow for a 3s --orphan-after", n)
	}
	sh.cmd.Process.Signal(syscall.SIGKILL)
	sh.wait(t, 30*time.Second)
	t.Logf("killed %v after the starts were written, with 12 held", held.Round(time.Millisecond))

	sh2 := startProc(t, "shipper-2.log", "spanshipper", args...)
	addr := metricsAddr(t, sh2)
	waitFor(t, "the 12 starts rescued", func() bool { return len(s.starts(t)) == 12 })
	rescuedAfter := time.Since(written)
	if rescuedAfter < 3*time.Second {
		t.Errorf("starts rescued %v after they were written, before --orphan-after 3s", rescuedAfter)
	}
	if got := keys(s.starts(t)); !slices.Equal(got, keys(map[string]int64{
		long[0]: 0, long[1]: 0, long[2]: 0, long[3]: 0, long[4]: 0, long[5]: 0,
		long[6]: 0, long[7]: 0, long[8]: 0, long[9]: 0, long[10]: 0, long[11]: 0})) {
		t.Fatalf("starts received %v, want exactly %v", got, long)
	}
	time.Sleep(time.Until(written.Add(6 * time.Second))) // the late ends come 6 s after the rest
	var ends []string
	for _, id := range late {
		ends = append(ends, spanLine("trace-long", id, true))
	}
	w.write(ends...)
	w.complete("after", 50)
	waitFor(t, "every end", func() bool { return num(s.stats(t), "completed") == 100+12+5+50 })
	waitFor(t, "nothing held", func() bool { return metric(t, addr, "spanshipper_pending_starts") == 0 })
	sh2.cmd.Process.Signal(syscall.SIGTERM)
	if code := sh2.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit %d:\n%s", code, sh2.output())
	}

	st := s.stats(t)
	if got := len(s.starts(t)); got != 12 {
		t.Errorf("%d spans arrived in progress, want the 12 long ones only: %v", got, keys(s.starts(t)))
	}
	if n := num(st, "in_progress"); n != 7 {
		t.Errorf("%v spans stored in progress, want the 7 that never end", n)
	}
	got := s.spans(t)
	for _, id := range never {
		var it map[string]json.RawMessage
		json.Unmarshal(got["trace-long/"+id], &it)
		if _, ok := it["end_timestamp"]; ok || string(it["start_timestamp"]) != `"2026-11-26T03:00:00.250000Z"` || string(it["type"]) != `"CUSTOM"` {
			t.Errorf("rescued start %s arrived as %s", id, got["trace-long/"+id])
		}
	}
	for _, id := range late {
		var it map[string]json.RawMessage
		json.Unmarshal(got["trace-long/"+id], &it)
		if string(it["end_timestamp"]) != `"2026-11-26T03:00:01.500000Z"` {
			t.Errorf("late span %s stored as %s, want its end", id, got["trace-long/"+id])
		}
	}
	t.Logf("starts rescued %v after they were written; %v items received for %d span ends and 12 starts",
		rescuedAfter.Round(100*time.Millisecond), num(st, "items_received"), 100+12+5+50)
}

// TestOrphanAfterZeroShipsNoStart: --orphan-after 0 is upstream's pure
// end-only ingest: spans that never end are never seen.
func TestOrphanAfterZeroShipsNoStart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "agent.jsonl")
	w := spanFile{t, path}
	w.complete("a", 40)
	for i := range 10 {
		w.write(spanLine("trace-open", fmt.Sprintf("open-%d", i), false))
	}
	w.complete("b", 40)
	s := startSink(t)
	state := filepath.Join(dir, "state")
	sh := startProc(t, "shipper.log", "spanshipper", "--path", path, "--endpoint", s.url(), "--state-dir", state,
		"--listen", "off", "--orphan-after", "0", "--exit-on-eof")
	if code := sh.wait(t, time.Minute); code != 0 {
		t.Fatalf("exit %d:\n%s", code, sh.output())
	}
	if n := len(s.starts(t)); n != 0 {
		t.Errorf("%d starts shipped with --orphan-after 0", n)
	}
	if n := num(s.stats(t), "completed"); n != 80 {
		t.Errorf("%v span ends arrived, want 80", n)
	}
	if n := heldStarts(t, state); n != 0 {
		t.Errorf("status shows %d held starts, want 0", n)
	}
	if !checkpointAt(t, state, path) {
		t.Error("the checkpoint is not at the end of the file")
	}
}

// TestPendingStartsLimit: thousands of spans stay open, more than
// --max-pending-starts: the oldest ship early (reason pending_limit), none
// is dropped, the rest stay held across a kill -9.
func TestPendingStartsLimit(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "agent.jsonl")
	w := spanFile{t, path}
	const open, limit = 3000, 1000
	lines, ids := openSpans(open, "")
	want := map[string]int64{}
	for _, id := range ids[:open-limit] {
		want["trace-open/"+id] = 1
	}
	w.write(lines...)
	s := startSink(t)
	state := filepath.Join(dir, "state")
	args := []string{"--path", path, "--endpoint", s.url(), "--state-dir", state, "--listen", "127.0.0.1:0",
		"--max-pending-starts", fmt.Sprint(limit), "--orphan-after", "1h"}
	sh := startProc(t, "shipper-1.log", "spanshipper", args...)
	addr := metricsAddr(t, sh)
	waitFor(t, "the oldest starts shipped and the rest journaled", func() bool {
		return len(s.starts(t)) == open-limit && checkpointAt(t, state, path) && heldStarts(t, state) == limit
	})
	m := scrape(t, addr)
	if got := m[`spanshipper_spans_rescued_total{reason="pending_limit"}`]; got != open-limit {
		t.Errorf("rescued for pending_limit: %v, want %d", got, open-limit)
	}
	if got := m["spanshipper_pending_starts"]; got != limit {
		t.Errorf("pending starts %v, want %d", got, limit)
	}
	if got := keys(s.starts(t)); !slices.Equal(got, keys(want)) {
		t.Errorf("the starts shipped are not the %d oldest", open-limit)
	}
	sh.cmd.Process.Signal(syscall.SIGKILL)
	sh.wait(t, 30*time.Second)

	sh2 := startProc(t, "shipper-2.log", "spanshipper", args...)
	addr = metricsAddr(t, sh2)
	waitFor(t, "the held starts restored", func() bool { return metric(t, addr, "spanshipper_pending_starts") == limit })
	if got := len(s.starts(t)); got != open-limit {
		t.Errorf("%d spans arrived in progress after the restart, want still %d", got, open-limit)
	}
	// One more start is one over the limit: the oldest held one ships;
	// then its end drops it.
	w.complete("later", 1)
	waitFor(t, "the later span", func() bool { return num(s.stats(t), "completed") == open/10+1 })
	want[fmt.Sprintf("trace-open/open-%04d", open-limit)] = 1
	if got := keys(s.starts(t)); !slices.Equal(got, keys(want)) {
		t.Errorf("%d spans arrived in progress, want the %d oldest", len(got), len(want))
	}
	waitFor(t, "status to show one start fewer held", func() bool { return heldStarts(t, state) == limit-1 })
}

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
	lines, ids := openSpans(open, pad)
	want := map[string]int64{}
	for _, id := range ids {
		want["trace-open/"+id] = 1
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
	checkOpenRescued(t, s, want, pad)
}

// checkOpenRescued checks that the spans of openSpans arrived as want says:
// each open one exactly once in progress, with its input (pad), and the
// others completed.
func checkOpenRescued(t *testing.T, s *sink, want map[string]int64, pad string) {
	t.Helper()
	starts := s.starts(t)
	if got := keys(starts); !slices.Equal(got, keys(want)) {
		t.Fatalf("%d spans arrived in progress, want exactly the %d open", len(got), len(want))
	}
	for k, n := range starts {
		if n != 1 {
			t.Errorf("%s arrived %d times in progress, want once", k, n)
		}
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
	if n := num(s.stats(t), "completed"); n != float64(len(want)/10) {
		t.Errorf("%v spans completed, want the %d that ended", n, len(want)/10)
	}
}

// TestCatchUpPastTheBudgetSurvivesKill9: a backlog with 12,000 spans open
// (~13 MB of start lines, past the 4 MiB the held starts keep in memory),
// read at full speed, so the oldest starts are journaled early, from the
// reader, not by a checkpointer turn. The shipper is killed (-9) mid
// catch-up, as soon as the journal has anything in it, or once the
// checkpoint is at the end of the file, past every start. After a restart every
// open span arrives exactly once, in progress, with its input: from the
// journal or from the file read again, never from both, and never lost.
func TestCatchUpPastTheBudgetSurvivesKill9(t *testing.T) {
	for _, tc := range []struct {
		name       string
		checkpoint bool // kill only once the checkpoint is at the end
	}{{"mid catch-up", false}, {"checkpoint at the end", true}} {
		t.Run(tc.name, func(t *testing.T) { catchUpKill9(t, tc.checkpoint) })
	}
}

func catchUpKill9(t *testing.T, checkpointed bool) {
	dir := t.TempDir()
	path := filepath.Join(dir, "agent.jsonl")
	state := filepath.Join(dir, "state")
	w := spanFile{t, path}
	const open = 12000 // past twice the budget: it is checked when the arena compacts
	pad := strings.Repeat("x", 1000)
	lines, ids := openSpans(open, pad)
	w.write(lines...)
	s := startSink(t)
	args := []string{"--path", path, "--endpoint", s.url(), "--state-dir", state, "--listen", "127.0.0.1:0"}
	// The release build: the race detector's reads are slow enough that
	// checkpointer turns, not the budget, journal what is held.
	sh := startProc(t, "shipper-1.log", "spanshipper-lean", append(args, "--orphan-after", "1h")...)
	journal := filepath.Join(state, "pending-starts.jsonl")
	ckpt := filepath.Join(state, "checkpoint.json")
	waitFor(t, "hold lines in the journal", func() bool {
		fi, err := os.Stat(journal)
		return err == nil && fi.Size() > 0 && (!checkpointed || checkpointAt(t, state, path))
	})
	sh.cmd.Process.Signal(syscall.SIGKILL)
	sh.wait(t, 30*time.Second)
	fi, _ := os.Stat(journal)
	_, ckErr := os.Stat(ckpt)
	t.Logf("killed with %d bytes of journal, a checkpoint: %v, %d starts shipped", fi.Size(), ckErr == nil, len(s.starts(t)))

	sh2 := startProc(t, "shipper-2.log", "spanshipper", append(args, "--orphan-after", "1s")...)
	waitFor(t, "every open span rescued", func() bool { return len(s.starts(t)) >= open })
	sh2.cmd.Process.Signal(syscall.SIGTERM)
	if code := sh2.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit %d:\n%s", code, sh2.output())
	}
	want := map[string]int64{}
	for _, id := range ids {
		want["trace-open/"+id] = 1
	}
	checkOpenRescued(t, s, want, pad)
}
