package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/spanshipper/spanshipper/agent"
)

func TestProgressLine(t *testing.T) {
	p0 := agent.Progress{Done: 0, Total: 4 << 30}
	p := agent.Progress{Done: 1 << 30, Total: 4 << 30, Shipped: 500_000}
	got := progressLine(p, p0, 10*time.Second)
	want := "1.0 GiB of 4.0 GiB shipped (25.0%), 50000 spans/s, ETA 30s"
	if got != want {
		t.Fatalf("progressLine = %q, want %q", got, want)
	}
	if got := progressLine(agent.Progress{}, agent.Progress{}, 0); !strings.Contains(got, "ETA --") {
		t.Fatalf("nothing done yet: %q", got)
	}
}

// TestLogLinesEraseTheProgressLine: a log record written while the
// progress line is drawn starts on a clean line, and the final line stays.
func TestLogLinesEraseTheProgressLine(t *testing.T) {
	var out bytes.Buffer
	lw := &lineWriter{w: &out}
	lw.draw("10%")
	lw.Write([]byte("level=WARN msg=x\n"))
	lw.Write([]byte("level=WARN msg=y\n"))
	lw.draw("100%\n")
	lw.Write([]byte("level=INFO msg=stopped\n"))
	want := "\r\x1b[K10%" + "\r\x1b[K" + "level=WARN msg=x\n" + "level=WARN msg=y\n" + "\r\x1b[K100%\n" + "level=INFO msg=stopped\n"
	if out.String() != want {
		t.Fatalf("terminal got %q\nwant %q", out.String(), want)
	}
}
