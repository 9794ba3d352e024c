package ratelog

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestOncePerPeriodPerKind(t *testing.T) {
	var buf bytes.Buffer
	l := New(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})), 10*time.Second)
	now := time.Unix(1_800_000_000, 0)
	l.now = func() time.Time { return now }

	for range 1000 {
		l.Warn("bad:invalid_json", "skipping bad input line")
	}
	l.Error("auth", "credentials rejected")
	now = now.Add(9 * time.Second)
	l.Warn("bad:invalid_json", "skipping bad input line")
	now = now.Add(2 * time.Second)
	l.Warn("bad:invalid_json", "skipping bad input line", "offset", 7)

	want := strings.Join([]string{
		`level=WARN msg="skipping bad input line"`,
		`level=ERROR msg="credentials rejected"`,
		`level=WARN msg="skipping bad input line" offset=7 suppressed=1000`,
	}, "\n") + "\n"
	if buf.String() != want {
		t.Fatalf("logged:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func TestKindsAreBounded(t *testing.T) {
	var buf bytes.Buffer
	l := New(slog.New(slog.NewTextHandler(&buf, nil)), time.Hour)
	for i := range 3 * maxKinds {
		l.Warn(fmt.Sprintf("open:/logs/%d.jsonl", i), "open file")
	}
	if n := len(l.kinds); n > maxKinds {
		t.Fatalf("%d kinds remembered, want at most %d", n, maxKinds)
	}
	if lines := strings.Count(buf.String(), "\n"); lines != 3*maxKinds {
		t.Fatalf("%d lines for %d distinct kinds", lines, 3*maxKinds)
	}
}
