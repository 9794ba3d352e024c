package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRejectStormThenHealthy: a receiver answering 422 to every batch for a
// while (a bad deploy) gets at most 32 spans dead-lettered; then the
// shipper holds the batches, /readyz says why, an ERROR is logged once;
// when the receiver is healthy again everything else arrives, and a replay
// of the few dead letters leaves nothing lost.
func TestRejectStormThenHealthy(t *testing.T) {
	dir := t.TempDir()
	spangen(t, filepath.Join(dir, "agent.jsonl"), "--seed", "910", "--spans", "5000")
	s := startSink(t, "--reject-all")
	state := filepath.Join(dir, "state")
	sh := startProc(t, "shipper.log", "spanshipper", "--path", filepath.Join(dir, "*.jsonl"), "--endpoint", s.url(),
		"--state-dir", state, "--listen", "127.0.0.1:0")
	addr := metricsAddr(t, sh)
	waitFor(t, "/readyz to report the storm", func() bool {
		code, body := get(t, "http://"+addr+"/readyz")
		return code == 503 && strings.Contains(body, "reject storm")
	})
	// Held batches are retried, not dead-lettered.
	waitFor(t, "held batches retried", func() bool {
		st, _ := s.stats(t)["status"].(map[string]any)
		return num(st, "422") >= 60
	})
	if n := len(deadLetters(t, state)); n > 32 {
		t.Fatalf("%d spans dead-lettered during the storm, want at most 32", n)
	}
	out := sh.output()
	if strings.Count(out, "level=ERROR") != 1 || !strings.Contains(out, "the backend rejects every span") {
		t.Errorf("want one ERROR naming the storm:\n%s", out)
	}

	setFaults(t, s, `{}`)
	ends, startOnly := expectations(t, filepath.Join(dir, "*.jsonl"))
	letters := deadLetters(t, state)
	waitFor(t, "everything not dead-lettered to arrive", func() bool { return len(s.spans(t))+len(letters) >= len(ends) })
	waitFor(t, "ready again", func() bool { code, _ := get(t, "http://"+addr+"/readyz"); return code == 200 })
	if !strings.Contains(sh.output(), "reject storm over") {
		t.Errorf("no line when the storm ended:\n%s", tail(sh.output(), 10))
	}
	got := s.spans(t)
	for k := range letters {
		if _, ok := got[k]; ok {
			t.Errorf("span %s both delivered and dead-lettered", k)
		}
	}
	t.Logf("%d of %d span ends dead-lettered before the storm was recognised", len(letters), len(ends))

	// The agent keeps running while its dead letters are replayed.
	code, rout := runCmd(t, nil, "dead-letters", "replay", "--state-dir", state, "--endpoint", s.url())
	if code != 0 {
		t.Fatalf("replay exit %d:\n%s", code, rout)
	}
	checkDelivered(t, s.spans(t), ends, startOnly, nil)
}

// TestPoisonReplayed: poison spans are dead-lettered; `dead-letters list`
// summarises them; a replay while the receiver still rejects them keeps
// them (exit 1); once it accepts them a replay delivers them and empties
// the file (exit 0). The agent runs throughout, and letters it writes after
// a replay rewrote the file are in the file, not lost with the old one.
func TestPoisonReplayed(t *testing.T) {
	dir := t.TempDir()
	spangen(t, filepath.Join(dir, "a.jsonl"), "--seed", "700", "--spans", "4000")
	const poison = "guardrail_check"
	s := startSink(t, "--poison-name", poison)
	state := filepath.Join(dir, "state")
	sh := startProc(t, "shipper.log", "spanshipper", "--path", filepath.Join(dir, "*.jsonl"), "--endpoint", s.url(),
		"--state-dir", state, "--listen", "127.0.0.1:0")
	addr := metricsAddr(t, sh)
	ends, startOnly := expectations(t, filepath.Join(dir, "a.jsonl"))
	var poisoned int
	for _, r := range ends {
		if r.str("name") == poison {
			poisoned++
		}
	}
	waitFor(t, "every span final", func() bool { return len(s.spans(t))+len(deadLetters(t, state)) >= len(ends) })
	if n := len(deadLetters(t, state)); n != poisoned {
		t.Fatalf("%d dead letters, want the %d poison spans", n, poisoned)
	}

	code, out := runCmd(t, nil, "dead-letters", "list", "--state-dir", state)
	for _, want := range []string{"dead letters in " + filepath.Join(state, "dead-letter.jsonl"), "STATUS", "422", "poison span name",
		"REASON", "rejected", "SOURCE FILE", filepath.Join(dir, "a.jsonl")} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("list: exit %d, output lacks %q:\n%s", code, want, out)
		}
	}

	replay := []string{"dead-letters", "replay", "--state-dir", state, "--endpoint", s.url()}
	code, out = runCmd(t, nil, replay...)
	if code != 1 || !strings.Contains(out, "0 accepted and removed") || len(deadLetters(t, state)) != poisoned {
		t.Fatalf("replay while still rejected: exit %d, %d letters left, want 1 and %d:\n%s", code, len(deadLetters(t, state)), poisoned, out)
	}

	setFaults(t, s, `{}`)
	code, out = runCmd(t, nil, replay...)
	if code != 0 || !strings.Contains(out, "0 dead letters left") {
		t.Fatalf("replay once accepted: exit %d:\n%s", code, out)
	}
	checkDelivered(t, s.spans(t), ends, startOnly, nil)
	if b, err := os.ReadFile(filepath.Join(state, "dead-letter.jsonl")); err != nil || len(b) != 0 {
		t.Fatalf("dead-letter file after the replay: %q, %v", b, err)
	}

	// The running agent dead-letters into the rewritten file.
	setFaults(t, s, `{"poison_name":"`+poison+`"}`)
	spangen(t, filepath.Join(dir, "b.jsonl"), "--seed", "701", "--spans", "2000")
	more, _ := expectations(t, filepath.Join(dir, "b.jsonl"))
	var morePoison int
	for _, r := range more {
		if r.str("name") == poison {
			morePoison++
		}
	}
	waitFor(t, "the new file final", func() bool {
		return metric(t, addr, "spanshipper_lag_bytes") == 0 && metric(t, addr, "spanshipper_buffered_spans") == 0
	})
	deadline := time.Now().Add(30 * time.Second)
	for len(deadLetters(t, state)) < morePoison && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := len(deadLetters(t, state)); n != morePoison || morePoison == 0 {
		t.Fatalf("%d dead letters in the rewritten file, want the %d new poison spans", n, morePoison)
	}
}
