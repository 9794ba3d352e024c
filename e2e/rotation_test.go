package e2e

import (
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestLiveRotation: a writer at a steady rate rotates its file every 2 MiB
// (rename + create, the rotated names outside the glob) while the shipper
// runs. Every span-end record arrives, also those written to a file just
// before it was renamed away.
func TestLiveRotation(t *testing.T) {
	dir := t.TempDir()
	s := startSink(t)
	p := filepath.Join(dir, "agent.jsonl")
	sh := startProc(t, "shipper.log", "spanshipper", "--path", p, "--endpoint", s.url(),
		"--state-dir", filepath.Join(dir, "state"), "--listen", "127.0.0.1:0")
	addr := metricsAddr(t, sh)
	writer := startProc(t, "writer.log", "spangen", "--out", p, "--seed", "900", "--spans", "12000",
		"--rate", "2000", "--rotate-bytes", strconv.Itoa(2<<20), "--keep", "1000", "--split-writes")
	if code := writer.wait(t, 2*time.Minute); code != 0 {
		t.Fatalf("writer exit %d: %s", code, writer.output())
	}
	// Everything written, including the rotated files, is what must arrive.
	ends, startOnly := expectations(t, p, p+".*")
	rotated, _ := filepath.Glob(p + ".*")
	if len(rotated) < 5 {
		t.Fatalf("only %d rotations", len(rotated))
	}
	waitFor(t, "every span-end record", func() bool {
		return metric(t, addr, "spanshipper_spans_shipped_total") >= float64(len(ends))
	})
	checkDelivered(t, s.spans(t), ends, startOnly, nil)
	if n := metric(t, addr, "spanshipper_bad_lines_total"); n != 0 {
		t.Errorf("%v bad lines: split writes were read as broken lines", n)
	}
	t.Logf("%d rotations, %d span ends", len(rotated), len(ends))
}
