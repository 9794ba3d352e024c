package ship

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// syncBuf is a log destination safe for the client's goroutines.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuf) count(sub string) int { return strings.Count(s.String(), sub) }

// TestFailureLogOnceThenSummary: the first failure is logged at once with
// its cause and what happens next; the failures within the period are
// counted into the next line; the first success after a logged failure says
// how long the backend was away and how many attempts failed.
func TestFailureLogOnceThenSummary(t *testing.T) {
	var buf syncBuf
	now := time.Unix(1_800_000_000, 0)
	f := newFailureLog(slog.New(slog.NewTextHandler(&buf, nil)), "https://api.example", 30*time.Second,
		func() time.Time { return now }, func() int64 { return 600 })

	f.failure("connection refused")
	if buf.count("span API request failed") != 1 || !strings.Contains(buf.String(), "connection refused") ||
		!strings.Contains(buf.String(), "600 spans wait") || !strings.Contains(buf.String(), "nothing is dropped") ||
		!strings.Contains(buf.String(), "endpoint=https://api.example") {
		t.Fatalf("first failure not named at once:\n%s", buf.String())
	}
	for range 100 {
		now = now.Add(100 * time.Millisecond)
		f.failure("status 503: busy")
	}
	if n := strings.Count(buf.String(), "\n"); n != 1 {
		t.Fatalf("failures within the period were logged (%d lines):\n%s", n, buf.String())
	}
	now = now.Add(21 * time.Second) // 31 s after the first line
	f.failure("status 503: busy")
	if buf.count("span API requests keep failing") != 1 || !strings.Contains(buf.String(), "failed_attempts=101") {
		t.Fatalf("no summary after the period:\n%s", buf.String())
	}
	now = now.Add(time.Second)
	f.success()
	if !regexp.MustCompile(`backend reachable again after 32s \(102 failed attempts\)`).MatchString(buf.String()) {
		t.Fatalf("no recovery line:\n%s", buf.String())
	}
	f.success()
	if buf.count("reachable again") != 1 {
		t.Fatal("recovery logged twice")
	}
	// An intermittent failure soon after: counted, not logged, and no
	// recovery line for a failure nobody was told about.
	now = now.Add(time.Second)
	f.failure("connection reset by the peer")
	f.success()
	if n := strings.Count(buf.String(), "\n"); n != 3 {
		t.Fatalf("intermittent failure flooded the log (%d lines):\n%s", n, buf.String())
	}
	// Past the period the next failure summarises the one held back.
	now = now.Add(time.Minute)
	f.failure("connection refused")
	if !strings.Contains(buf.String(), "failed_attempts=2") {
		t.Fatalf("the held-back failure is not in the summary:\n%s", buf.String())
	}
}

func TestCause(t *testing.T) {
	cases := []struct {
		status int
		body   string
		err    error
		want   string
	}{
		{503, `{"detail":"maintenance"}`, nil, `status 503: {"detail":"maintenance"}`},
		{401, "", nil, "status 401 (the span API rejects the credentials"},
		{404, "not found", nil, "status 404 (no span API at this path"},
		{502, strings.Repeat("x", 500), nil, "status 502: " + strings.Repeat("x", 200) + "…"},
		{0, "", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, "connection refused"},
		{0, "", &net.DNSError{Err: "no such host", Name: "nope.invalid", IsNotFound: true}, "DNS lookup failed: lookup nope.invalid: no such host"},
		{0, "", fmt.Errorf("wrapped: %w", context.DeadlineExceeded), "timeout: no answer within --request-timeout 2s"},
		{0, "", errors.New("tls: first record does not look like a TLS handshake"), "TLS: tls: first record"},
	}
	for _, c := range cases {
		if got := Cause(c.status, c.body, c.err, 2*time.Second); !strings.HasPrefix(got, c.want) {
			t.Errorf("Cause(%d, %q, %v) = %q, want prefix %q", c.status, c.body, c.err, got, c.want)
		}
	}
}

// TestFailuresLoggedThroughClient: a real refused connection, then a
// backend that answers: one WARN naming the cause, one recovery line.
func TestFailuresLoggedThroughClient(t *testing.T) {
	b := newBackend(t, fail(503))
	var buf syncBuf
	c, _ := newClient(t, b.srv.URL, func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(&buf, nil)) })
	if err := c.Send(context.Background(), mkBatch("a", "b")); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Count(out, "level=WARN") != 1 || !strings.Contains(out, `status 503: {\"detail\":\"try later\"}`) || !strings.Contains(out, "2 spans wait") {
		t.Fatalf("want one warning naming the status and body:\n%s", out)
	}
	if !strings.Contains(out, "backend reachable again after") || !strings.Contains(out, "(3 failed attempts)") {
		t.Fatalf("no recovery line:\n%s", out)
	}
}

// TestRejectStorm: a backend that rejects every item stops dead-lettering
// after DefaultRejectStorm single items, holds the batches (not ready, the
// reason given) and ships them all once it accepts again.
func TestRejectStorm(t *testing.T) {
	var mu sync.Mutex
	rejecting := true
	b := newBackend(t, func(_ int, _ []string, w http.ResponseWriter) bool {
		mu.Lock()
		defer mu.Unlock()
		if rejecting {
			w.WriteHeader(422)
			fmt.Fprint(w, `{"detail":"schema mismatch"}`)
			return false
		}
		return true
	})
	var buf syncBuf
	c, dl := newClient(t, b.srv.URL, func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(&buf, nil)) })
	names := make([]string, 100)
	for i := range names {
		names[i] = fmt.Sprintf("s%03d", i)
	}
	done := make(chan error, 1)
	go func() { done <- c.Send(context.Background(), mkBatch(names...)) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if ok, why := c.Ready(); !ok && strings.Contains(why, "reject storm") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no reject storm reported by Ready")
		}
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	rejecting = false
	mu.Unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := len(dl.names()); got != DefaultRejectStorm {
		t.Fatalf("%d dead-lettered, want %d (then the storm holds the rest)", got, DefaultRejectStorm)
	}
	if got := len(b.accepted()); got != len(names)-DefaultRejectStorm {
		t.Fatalf("%d accepted, want %d", got, len(names)-DefaultRejectStorm)
	}
	if ok, why := c.Ready(); !ok {
		t.Fatalf("still not ready after the storm: %s", why)
	}
	if buf.count("level=ERROR") != 1 || buf.count("reject storm over") != 1 {
		t.Fatalf("want one ERROR about the storm and one line when it ends:\n%s", buf.String())
	}
}

// TestPoisonAmongGoodIsNotAStorm: many poison items, each among good ones,
// are all isolated and dead-lettered: the 2xx between them keep the run short.
func TestPoisonAmongGoodIsNotAStorm(t *testing.T) {
	b := newBackend(t, func(_ int, names []string, w http.ResponseWriter) bool {
		for _, n := range names {
			if strings.HasPrefix(n, "bad") {
				w.WriteHeader(422)
				return false
			}
		}
		return true
	})
	c, dl := newClient(t, b.srv.URL, nil)
	var names []string
	for i := range 3 * DefaultRejectStorm {
		names = append(names, fmt.Sprintf("bad%03d", i), fmt.Sprintf("good%03d", i))
	}
	for i := 0; i < len(names); i += 8 {
		if err := c.Send(context.Background(), mkBatch(names[i:i+8]...)); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(dl.names()); got != 3*DefaultRejectStorm {
		t.Fatalf("%d dead-lettered, want every poison item (%d)", got, 3*DefaultRejectStorm)
	}
}

// TestStormEndsDespitePoisonInHeldBatches: every held batch holds a truly
// bad span; once the backend accepts good spans again, a probe with one
// item ends the storm and the poison is isolated as usual — the senders do
// not wait forever.
func TestStormEndsDespitePoisonInHeldBatches(t *testing.T) {
	var mu sync.Mutex
	rejectAll := true
	b := newBackend(t, func(_ int, names []string, w http.ResponseWriter) bool {
		mu.Lock()
		defer mu.Unlock()
		for _, n := range names {
			if rejectAll || strings.HasPrefix(n, "bad") {
				w.WriteHeader(422)
				return false
			}
		}
		return true
	})
	c, dl := newClient(t, b.srv.URL, func(c *Config) { c.RejectStorm = 2 })
	done := make(chan error, 2)
	go func() { done <- c.Send(context.Background(), mkBatch("bad1", "bad2", "bad3")) }()
	deadline := time.Now().Add(10 * time.Second)
	for ok, _ := c.Ready(); ok; ok, _ = c.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("no storm")
		}
		time.Sleep(time.Millisecond)
	}
	mu.Lock()
	rejectAll = false
	mu.Unlock()
	go func() { done <- c.Send(context.Background(), mkBatch("good1", "bad4", "good2")) }()
	for range 2 {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("a batch holding a bad span kept the storm going after the backend recovered")
		}
	}
	if got := dl.names(); !slices.Equal(got, []string{"bad1", "bad2", "bad3", "bad4"}) {
		t.Fatalf("dead-lettered %v", got)
	}
	if got := b.accepted(); !slices.Contains(got, "good1") || !slices.Contains(got, "good2") {
		t.Fatalf("accepted %v", got)
	}
}

// TestTimeoutMakesNotReady: an attempt that runs out of --request-timeout
// counts against the backend in /readyz, named as a timeout.
func TestTimeoutMakesNotReady(t *testing.T) {
	var c *Client
	var why atomic.Value
	b := newBackend(t, func(n int, _ []string, w http.ResponseWriter) bool {
		if n == 3 {
			_, reason := c.Ready()
			why.Store(reason)
		}
		if n < 3 {
			time.Sleep(300 * time.Millisecond)
		}
		return true
	})
	c, _ = newClient(t, b.srv.URL, func(c *Config) { c.RequestTimeout = 50 * time.Millisecond })
	if err := c.Send(context.Background(), mkBatch("a")); err != nil {
		t.Fatal(err)
	}
	if got, _ := why.Load().(string); !strings.Contains(got, "timeout: no answer within --request-timeout 50ms") {
		t.Fatalf("/readyz reason during timeouts: %q", got)
	}
}

// TestFailureLogRecoveryCountsOnce: failures counted by a recovery line are
// not summarised again by the next failure.
func TestFailureLogRecoveryCountsOnce(t *testing.T) {
	var buf syncBuf
	now := time.Unix(1_800_000_000, 0)
	f := newFailureLog(slog.New(slog.NewTextHandler(&buf, nil)), "e", 30*time.Second, func() time.Time { return now }, func() int64 { return 0 })
	f.failure("connection refused")
	f.failure("connection refused")
	f.failure("connection refused")
	f.success()
	now = now.Add(time.Hour)
	f.failure("connection refused")
	if !strings.Contains(buf.String(), "(3 failed attempts)") || buf.count("span API request failed") != 2 || buf.count("keep failing") != 0 {
		t.Fatalf("want a recovery line for 3 attempts, then a fresh failure line:\n%s", buf.String())
	}
}
