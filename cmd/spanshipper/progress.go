package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/spanshipper/spanshipper/agent"
)

// isTerminal reports whether w is a terminal, so the progress line is drawn
// for a person and never written into a log file or a pipe.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// lineWriter shares stderr between log records and the progress line: each
// log record first erases the line, which the next tick redraws.
type lineWriter struct {
	mu    sync.Mutex
	w     io.Writer
	drawn bool // the progress line is on screen
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.drawn {
		io.WriteString(l.w, "\r\x1b[K")
		l.drawn = false
	}
	return l.w.Write(p)
}

// draw replaces the progress line with s; "" erases it, and a final
// newline leaves it on screen for good.
func (l *lineWriter) draw(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	io.WriteString(l.w, "\r\x1b[K"+s)
	l.drawn = s != "" && !strings.HasSuffix(s, "\n")
}

// showProgress redraws the progress line every interval until ctx ends,
// then leaves the last figures on their own line.
func showProgress(ctx context.Context, lw *lineWriter, get func() agent.Progress, interval time.Duration) {
	t0, p0 := time.Now(), get()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			lw.draw(progressLine(get(), p0, time.Since(t0)) + "\n")
			return
		case <-tick.C:
			lw.draw(progressLine(get(), p0, time.Since(t0)))
		}
	}
}

// progressLine formats how far a run is: bytes done of total, spans/s and
// the time left at the rate so far, from p0 at the start of a run of length
// elapsed to p now.
func progressLine(p, p0 agent.Progress, elapsed time.Duration) string {
	pct := 100.0
	if p.Total > 0 {
		pct = 100 * float64(p.Done) / float64(p.Total)
	}
	secs := elapsed.Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(p.Shipped-p0.Shipped) / secs
	}
	eta := "--"
	if done := p.Done - p0.Done; done > 0 && secs > 0 {
		left := time.Duration(float64(p.Total-p.Done) / (float64(done) / secs) * float64(time.Second))
		eta = left.Round(time.Second).String()
	}
	return fmt.Sprintf("%s of %s shipped (%.1f%%), %.0f spans/s, ETA %s",
		bytesIEC(p.Done), bytesIEC(p.Total), pct, rate, eta)
}

func bytesIEC(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
