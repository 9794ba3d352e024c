package e2e

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestShipsEverySpanEndAsMapped: 3 files × 5,000 spans through the real
// binary with --exit-on-eof. Every span-end record arrives exactly as mapped,
// no start-only span arrives, requests hold at most 200 items, exit 0.
func TestShipsEverySpanEndAsMapped(t *testing.T) {
	dir := t.TempDir()
	for i := range 3 {
		spangen(t, filepath.Join(dir, fmt.Sprintf("agent-%d.jsonl", i)),
			"--seed", fmt.Sprint(100+i), "--spans", "5000", "--start-only-fraction", "0.03", "--bad-fraction", "0.002")
	}
	s := startSink(t)
	sh := startProc(t, "shipper.log", "spanshipper",
		"--path", filepath.Join(dir, "*.jsonl"), "--endpoint", s.url(),
		"--state-dir", filepath.Join(dir, "state"), "--listen", "127.0.0.1:0",
		"--metadata", "env=e2e", "--metadata", "__span_type__=never-used",
		"--exit-on-eof")
	if code := sh.wait(t, 3*time.Minute); code != 0 {
		t.Fatalf("spanshipper exit %d; output:\n%s", code, sh.output())
	}
	ends, startOnly := expectations(t, filepath.Join(dir, "*.jsonl"))
	if len(ends) < 14000 || len(startOnly) == 0 {
		t.Fatalf("generator produced %d ends and %d start-only spans; the test needs both", len(ends), len(startOnly))
	}
	got := s.spans(t)
	checkDelivered(t, got, ends, startOnly, map[string]string{"env": "e2e", "__span_type__": "never-used"})
	if len(got) != len(ends) {
		t.Errorf("receiver holds %d spans, want %d", len(got), len(ends))
	}
	st := s.stats(t)
	if m := num(st, "max_items_in_request"); m > 200 || m == 0 {
		t.Errorf("max items in one request = %v, want 1..200", m)
	}
	if !strings.Contains(sh.output(), "skipping bad input line") || !strings.Contains(sh.output(), "offset=") {
		t.Errorf("no log line for bad input naming file and offset:\n%s", sh.output())
	}
	t.Logf("receiver stats: %v", st)
}

// TestSIGTERMDrainsAndExits0: SIGTERM mid-stream stops reading, ships what
// was read, writes the checkpoint and exits 0 within --shutdown-timeout; a
// second run then ships the rest and nothing is missing.
func TestSIGTERMDrainsAndExits0(t *testing.T) {
	dir := t.TempDir()
	spangen(t, filepath.Join(dir, "agent.jsonl"), "--seed", "300", "--spans", "20000")
	s := startSink(t, "--latency-ms", "20")
	args := []string{"--path", filepath.Join(dir, "*.jsonl"), "--endpoint", s.url(),
		"--state-dir", filepath.Join(dir, "state"), "--listen", "127.0.0.1:0", "--shutdown-timeout", "5s"}
	for i, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		before := num(s.stats(t), "items_received")
		sh := startProc(t, fmt.Sprintf("shipper-%d.log", i), "spanshipper", args...)
		waitFor(t, "shipping", func() bool { return num(s.stats(t), "items_received") > before })
		sh.cmd.Process.Signal(syscall.SIGHUP) // ignored
		sh.cmd.Process.Signal(sig)
		if code := sh.wait(t, 30*time.Second); code != 0 {
			t.Fatalf("%v: exit %d:\n%s", sig, code, sh.output())
		}
		if !strings.Contains(sh.output(), "msg=stopped") {
			t.Fatalf("%v: no clean stop logged:\n%s", sig, sh.output())
		}
	}
	// What the signalled runs acknowledged is checkpointed: the final run
	// re-sends at most what was in flight.
	acked := num(s.stats(t), "items_received")
	final := startProc(t, "shipper-final.log", "spanshipper", append(args, "--exit-on-eof")...)
	if code := final.wait(t, 3*time.Minute); code != 0 {
		t.Fatalf("final run exit %d:\n%s", code, final.output())
	}
	ends, startOnly := expectations(t, filepath.Join(dir, "*.jsonl"))
	checkDelivered(t, s.spans(t), ends, startOnly, nil)
	dups := num(s.stats(t), "items_received") - float64(len(ends))
	if dups > 2*3*200 {
		t.Errorf("%.0f items re-sent after two clean stops (acked before: %.0f); the checkpoint lagged", dups, acked)
	}
}

// TestSurvivesKill9: the shipper is SIGKILLed mid-stream several times and
// restarted; at the end nothing is missing.
func TestSurvivesKill9(t *testing.T) {
	dir := t.TempDir()
	for i := range 3 {
		spangen(t, filepath.Join(dir, fmt.Sprintf("agent-%d.jsonl", i)),
			"--seed", fmt.Sprint(200+i), "--spans", "15000")
	}
	s := startSink(t, "--latency-ms", "5")
	args := []string{"--path", filepath.Join(dir, "*.jsonl"), "--endpoint", s.url(),
		"--state-dir", filepath.Join(dir, "state"), "--listen", "127.0.0.1:0"}
	rng := rand.New(rand.NewPCG(1, 2))
	kills := 0
	for kills < 6 {
		before := num(s.stats(t), "items_received")
		sh := startProc(t, fmt.Sprintf("shipper-%d.log", kills), "spanshipper", args...)
		// Kill at a random moment once it is shipping.
		waitFor(t, "shipping to resume", func() bool { return num(s.stats(t), "items_received") > before })
		time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond)
		sh.cmd.Process.Kill()
		sh.wait(t, 30*time.Second)
		kills++
	}
	final := startProc(t, "shipper-final.log", "spanshipper", append(args, "--exit-on-eof")...)
	if code := final.wait(t, 3*time.Minute); code != 0 {
		t.Fatalf("final run exit %d:\n%s", code, final.output())
	}
	ends, startOnly := expectations(t, filepath.Join(dir, "*.jsonl"))
	checkDelivered(t, s.spans(t), ends, startOnly, nil)
	st := s.stats(t)
	received := num(st, "items_received")
	t.Logf("%d kills; %d span ends; %.0f items received: duplicate ratio %.3f", kills, len(ends), received, received/float64(len(ends))-1)
}
