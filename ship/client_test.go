package ship

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spanshipper/spanshipper/batch"
)

// mkBatch builds a batch of items named by names, from file "src.jsonl".
func mkBatch(names ...string) *batch.Batch {
	bt := &batch.Batch{}
	bt.Body = append(bt.Body, `{"items":[`...)
	for i, n := range names {
		if i > 0 {
			bt.Body = append(bt.Body, ',')
		}
		lo := len(bt.Body)
		bt.Body = fmt.Appendf(bt.Body, `{"id":"%s","trace_id":"t","name":"%s"}`, n, n)
		bt.Items = append(bt.Items, batch.Item{Lo: lo, Hi: len(bt.Body), Path: "src.jsonl", Offset: int64(i * 100), End: true})
	}
	bt.Body = append(bt.Body, "]}"...)
	return bt
}

// backend is a test receiver: answer decides each attempt's fate.
type backend struct {
	t      *testing.T
	srv    *httptest.Server
	answer func(n int, names []string, w http.ResponseWriter) bool // n counts attempts from 1; false: already answered

	mu       sync.Mutex
	attempts int
	times    []time.Time
	got      []string // names of items accepted with 200
	headers  http.Header
}

func newBackend(t *testing.T, answer func(n int, names []string, w http.ResponseWriter) bool) *backend {
	b := &backend{t: t, answer: answer}
	b.srv = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *backend) serve(w http.ResponseWriter, r *http.Request) {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, "bad gzip", 400)
			return
		}
		body = zr
	}
	var req struct {
		Items []struct {
			Name string `json:"name"`
		} `json:"items"`
	}
	if err := json.NewDecoder(body).Decode(&req); err != nil || r.Method != http.MethodPut || r.URL.Path != Path {
		http.Error(w, "bad request shape", 400)
		return
	}
	names := make([]string, len(req.Items))
	for i, it := range req.Items {
		names[i] = it.Name
	}
	b.mu.Lock()
	b.attempts++
	n := b.attempts
	b.times = append(b.times, time.Now())
	b.headers = r.Header.Clone()
	b.mu.Unlock()
	if b.answer != nil && !b.answer(n, names, w) {
		return
	}
	b.mu.Lock()
	b.got = append(b.got, names...)
	b.mu.Unlock()
	w.WriteHeader(200)
}

func (b *backend) accepted() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := slices.Clone(b.got)
	slices.Sort(out)
	return out
}

type letters struct {
	mu  sync.Mutex
	got []DeadLetter
}

func (l *letters) Write(d []DeadLetter) error {
	l.mu.Lock()
	l.got = append(l.got, d...)
	l.mu.Unlock()
	return nil
}

func (l *letters) names() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, d := range l.got {
		var it struct{ Name string }
		json.Unmarshal(d.Item, &it)
		out = append(out, it.Name)
	}
	slices.Sort(out)
	return out
}

func newClient(t *testing.T, url string, mod func(*Config)) (*Client, *letters) {
	t.Helper()
	dl := &letters{}
	cfg := Config{Endpoint: url, APIKey: NewSecret("k-123"), AccountID: "acct", BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond,
		RequestTimeout: 2 * time.Second, DeadLetters: dl}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, dl
}

func fail(status int, hdr ...string) func(int, []string, http.ResponseWriter) bool {
	return func(n int, _ []string, w http.ResponseWriter) bool {
		if n > 3 {
			return true
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			w.Header().Set(hdr[i], hdr[i+1])
		}
		w.WriteHeader(status)
		fmt.Fprint(w, `{"detail":"try later"}`)
		return false
	}
}

func TestSendOK(t *testing.T) {
	for _, gz := range []bool{false, true} {
		t.Run(fmt.Sprintf("gzip=%v", gz), func(t *testing.T) {
			b := newBackend(t, nil)
			c, dl := newClient(t, b.srv.URL+"/", func(c *Config) { c.Gzip = gz })
			if err := c.Send(context.Background(), mkBatch("a", "b", "c")); err != nil {
				t.Fatal(err)
			}
			if got := b.accepted(); !slices.Equal(got, []string{"a", "b", "c"}) {
				t.Fatalf("accepted %v", got)
			}
			if len(dl.names()) != 0 {
				t.Fatal("dead letters on success")
			}
			h := b.headers
			if h.Get("x-api-key") != "k-123" || h.Get("x-selected-account-id") != "acct" || h.Get("Content-Type") != "application/json" {
				t.Fatalf("headers %v", h)
			}
			if ok, _ := c.Ready(); !ok {
				t.Fatal("not ready after success")
			}
		})
	}
}

// TestHTTP1OverTLS: the default transport sends batches over HTTP/1.1
// to an https endpoint that offers HTTP/2 too (see NewTransport).
func TestHTTP1OverTLS(t *testing.T) {
	var protos []string
	var mu sync.Mutex
	b := &backend{t: t}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		protos = append(protos, r.Proto)
		mu.Unlock()
		b.serve(w, r)
	}))
	srv.EnableHTTP2 = true
	conns := 0
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			mu.Lock()
			conns++
			mu.Unlock()
		}
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	tr := NewTransport()
	tr.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig // trusts srv's certificate
	t.Cleanup(tr.CloseIdleConnections)
	c, _ := newClient(t, srv.URL, func(c *Config) { c.Transport = tr })
	for range 3 {
		if err := c.Send(context.Background(), mkBatch("a", "b")); err != nil {
			t.Fatal(err)
		}
	}
	if got := b.accepted(); len(got) != 6 {
		t.Fatalf("accepted %v", got)
	}
	mu.Lock()
	gotProtos, gotConns := slices.Clone(protos), conns
	mu.Unlock()
	if !slices.Equal(gotProtos, []string{"HTTP/1.1", "HTTP/1.1", "HTTP/1.1"}) {
		t.Fatalf("requests came as %v, want HTTP/1.1", gotProtos)
	}
	if gotConns != 1 {
		t.Fatalf("3 batches one after the other took %d connections, want 1 kept alive (one TLS handshake)", gotConns)
	}
	// The server does offer HTTP/2: a client that asks gets it.
	h2 := srv.Client()
	h2.Transport.(*http.Transport).ForceAttemptHTTP2 = true
	resp, err := h2.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("the test server answered %s to an HTTP/2 client: the test proves nothing", resp.Proto)
	}
}

// TestTransientClassesAreRetried: each transient outcome of SPEC §4 is
// retried until it succeeds, and nothing is dead-lettered.
func TestTransientClassesAreRetried(t *testing.T) {
	cases := map[string]func(int, []string, http.ResponseWriter) bool{
		"500": fail(500), "502": fail(502), "503 Retry-After": fail(503, "Retry-After", "0"),
		"429": fail(429), "408": fail(408), "401": fail(401), "403": fail(403), "404": fail(404),
		"connection reset": func(n int, _ []string, w http.ResponseWriter) bool {
			if n > 3 {
				return true
			}
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.(*net.TCPConn).SetLinger(0)
				conn.Close()
			}
			return false
		},
		"timeout": func(n int, _ []string, w http.ResponseWriter) bool {
			if n > 2 {
				return true
			}
			time.Sleep(400 * time.Millisecond) // past the 200ms request timeout
			return true
		},
	}
	for name, answer := range cases {
		t.Run(name, func(t *testing.T) {
			b := newBackend(t, answer)
			c, dl := newClient(t, b.srv.URL, func(c *Config) { c.RequestTimeout = 200 * time.Millisecond })
			if err := c.Send(context.Background(), mkBatch("a", "b")); err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(b.accepted(), "a") || len(dl.names()) != 0 {
				t.Fatalf("accepted %v, dead letters %v", b.accepted(), dl.names())
			}
			if b.attempts < 3 {
				t.Fatalf("%d attempts, want retries", b.attempts)
			}
		})
	}
}

// TestPermanentRejectionsAreIsolated: one bad item in a batch of 20 makes
// every request holding it fail; bisection dead-letters exactly that item.
func TestPermanentRejectionsAreIsolated(t *testing.T) {
	for _, status := range []int{400, 409, 422} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			b := newBackend(t, func(_ int, names []string, w http.ResponseWriter) bool {
				if slices.Contains(names, "poison") || slices.Contains(names, "venom") {
					w.WriteHeader(status)
					fmt.Fprintf(w, `{"detail":"item rejected","pad":"%s"}`, strings.Repeat("x", 3000))
					return false
				}
				return true
			})
			c, dl := newClient(t, b.srv.URL, nil)
			var names []string
			for i := range 20 {
				names = append(names, fmt.Sprintf("n%02d", i))
			}
			names[7], names[15] = "poison", "venom"
			if err := c.Send(context.Background(), mkBatch(names...)); err != nil {
				t.Fatal(err)
			}
			if got := dl.names(); !slices.Equal(got, []string{"poison", "venom"}) {
				t.Fatalf("dead letters %v", got)
			}
			good := slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == "poison" || n == "venom" })
			slices.Sort(good)
			if got := b.accepted(); !slices.Equal(got, good) {
				t.Fatalf("accepted %v", got)
			}
			for _, d := range dl.got {
				if d.Status != status || d.Reason != "rejected" || d.File != "src.jsonl" || len(d.Response) != maxErrorBody {
					t.Fatalf("letter %+v", d)
				}
			}
		})
	}
}

func TestTooLargeSplits(t *testing.T) {
	b := newBackend(t, func(_ int, names []string, w http.ResponseWriter) bool {
		if len(names) > 3 || slices.Contains(names, "huge") {
			w.WriteHeader(413)
			return false
		}
		return true
	})
	c, dl := newClient(t, b.srv.URL, nil)
	names := []string{"a", "b", "c", "d", "e", "f", "g", "huge", "i", "j"}
	if err := c.Send(context.Background(), mkBatch(names...)); err != nil {
		t.Fatal(err)
	}
	if got := b.accepted(); len(got) != 9 {
		t.Fatalf("accepted %v", got)
	}
	if got := dl.names(); !slices.Equal(got, []string{"huge"}) || dl.got[0].Reason != "too_large" {
		t.Fatalf("dead letters %v", got)
	}
}

func TestMaxRetriesDeadLetters(t *testing.T) {
	b := newBackend(t, func(_ int, _ []string, w http.ResponseWriter) bool {
		w.WriteHeader(503)
		return false
	})
	c, dl := newClient(t, b.srv.URL, func(c *Config) { c.MaxRetries = 3 })
	if err := c.Send(context.Background(), mkBatch("a", "b")); err != nil {
		t.Fatal(err)
	}
	if b.attempts != 3 {
		t.Fatalf("%d attempts, want 3", b.attempts)
	}
	if got := dl.names(); !slices.Equal(got, []string{"a", "b"}) || dl.got[0].Reason != "max_retries" || dl.got[0].Status != 503 {
		t.Fatalf("dead letters %+v", dl.got)
	}
	if ok, why := c.Ready(); ok || !strings.Contains(why, "503") {
		t.Fatalf("ready %v %q during an outage", ok, why)
	}
}

// TestNeverGivesUpByDefault: with --max-retries 0 an outage only ends by the
// context; nothing is dead-lettered and Send reports it did not finish.
func TestNeverGivesUpByDefault(t *testing.T) {
	b := newBackend(t, func(_ int, _ []string, w http.ResponseWriter) bool {
		w.WriteHeader(503)
		return false
	})
	c, dl := newClient(t, b.srv.URL, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Send(ctx, mkBatch("a")) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b.mu.Lock()
		n := b.attempts
		b.mu.Unlock()
		if n >= 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d attempts", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err == nil {
		t.Fatal("Send returned nil though nothing was delivered")
	}
	if len(dl.names()) != 0 {
		t.Fatal("dead-lettered during an outage")
	}
}

// TestRetryAfterHonoured: a 503 with Retry-After: 1 delays the next attempt
// by a second although the backoff would retry after a millisecond.
func TestRetryAfterHonoured(t *testing.T) {
	b := newBackend(t, func(n int, _ []string, w http.ResponseWriter) bool {
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(503)
			return false
		}
		return true
	})
	c, _ := newClient(t, b.srv.URL, nil)
	if err := c.Send(context.Background(), mkBatch("a")); err != nil {
		t.Fatal(err)
	}
	if gap := b.times[1].Sub(b.times[0]); gap < 900*time.Millisecond {
		t.Fatalf("second attempt after %v; Retry-After asked for 1s", gap)
	}
}

func TestDeadLetterFileDurableAndRepaired(t *testing.T) {
	p := filepath.Join(t.TempDir(), "dead-letter.jsonl")
	os.WriteFile(p, []byte(`{"item":{"id":"half`), 0o600) // a crash mid-append
	d, err := OpenDeadLetters(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Write([]DeadLetter{{Reason: "rejected", Status: 422, File: "f", Offset: 7, Item: json.RawMessage(`{"id":"x"}`)}}); err != nil {
		t.Fatal(err)
	}
	d.Close()
	f, _ := os.Open(p)
	defer f.Close()
	sc := bufio.NewScanner(f)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) != 2 {
		t.Fatalf("lines %q", lines)
	}
	var got DeadLetter
	if err := json.Unmarshal([]byte(lines[1]), &got); err != nil || got.Offset != 7 || string(got.Item) != `{"id":"x"}` || got.Status != 422 {
		t.Fatalf("letter %+v %v", got, err)
	}
}
