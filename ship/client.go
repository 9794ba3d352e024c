// Package ship sends sealed batches to the SGP span batch API
// (PUT {endpoint}/v5/spans/batch) and brings every item to a final outcome:
// acknowledged, or isolated and dead-lettered (SPEC §4).
//
// Attempts and retries go through github.com/hashicorp/go-retryablehttp with
// spanshipper's own retry classes (Classify) and backoff (Backoff). What
// retryablehttp does not do — splitting a rejected batch until the bad items
// stand alone, 413 splitting, dead letters — is Send's job.
package ship

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/klauspost/compress/gzip" // compress/gzip's API at 5x its speed (docs/performance.md)
	"github.com/prometheus/client_golang/prometheus"

	"github.com/spanshipper/spanshipper/batch"
	"github.com/spanshipper/spanshipper/metrics"
	"github.com/spanshipper/spanshipper/ratelog"
)

// Path is the span batch API's path below the endpoint.
const Path = "/v5/spans/batch"

// NewTransport returns the transport of a Client built without one (and of
// `spanshipper check`, so it asks as the agent does): HTTP/1.1 only, over
// TLS too, with up to 64 kept-alive connections (one per request in
// flight).
//
// Not HTTP/2, which net/http would otherwise negotiate over TLS: in the
// bulk run of `make bench` over https, this transport costs 0.88x the CPU
// per span of the HTTP/2 one (2.57 against 2.93 CPU-s per million spans)
// and ships 1.27x the spans a second (`bin/spanbench --only tls
// --baseline`, docs/performance.md, fifth round). Every request
// in flight shares one TCP connection there, whose body bytes also pass
// HTTP/2 flow control: a server's window smaller than the batches in
// flight (200 KB each) costs round trips per request on a distant link,
// and one lost packet stalls all of them. What HTTP/2 saves, fewer
// connections and handshakes, is nothing to an agent keeping a few alive.
func NewTransport() *http.Transport {
	t := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		MaxIdleConns:        64,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		// net/http copies a body of known length through io.LimitReader,
		// which hides bytes.Reader's WriteTo: with the default 4 KiB
		// buffer it then copies the rest through a 32 KiB buffer allocated
		// per request, in 32 KiB writes. A buffer that holds a whole
		// default batch (200 items of ~1 KiB) sends headers and body in one
		// write and allocates nothing per request.
		WriteBufferSize: writeBufferSize,
		Protocols:       new(http.Protocols),
	}
	t.Protocols.SetHTTP1(true)
	return t
}

// writeBufferSize is the HTTP/1.1 connection write buffer (see NewTransport).
const writeBufferSize = 256 << 10

// maxErrorBody is how much of a response body is kept for logs and dead letters.
const maxErrorBody = 1 << 10

// Config configures a Client. Zero values mean the documented defaults.
type Config struct {
	Endpoint       string            // base URL, e.g. https://api.egp.scale.com
	APIKey         Secret            // x-api-key; prints as [redacted]
	AccountID      string            // x-selected-account-id
	Gzip           bool              // compress request bodies
	MaxRetries     int               // attempts before a transiently failing batch is dead-lettered; 0 never gives up
	RequestTimeout time.Duration     // per attempt; 0 means 30s
	BackoffMin     time.Duration     // first retry wait; 0 means 250ms
	BackoffMax     time.Duration     // cap of the exponential backoff; 0 means 30s
	RetryAfterMax  time.Duration     // cap on a server's Retry-After; 0 means 5m
	Now            func() time.Time  // clock for Retry-After dates; nil means time.Now
	Rand           func() float64    // jitter source in [0,1); nil means math/rand/v2
	Transport      http.RoundTripper // nil means a pooled http.Transport
	DeadLetters    DeadLetterWriter  // required
	Logger         *slog.Logger
	Metrics        *metrics.Metrics

	// RejectStorm is how many single items in a row may be rejected
	// permanently, with no 2xx between, before batches are held and retried
	// instead of dead-lettered; 0 means DefaultRejectStorm, < 0 never.
	RejectStorm int
	// FailureLogPeriod is the least time between two lines about failed
	// attempts; 0 means FailureLogPeriod.
	FailureLogPeriod time.Duration
}

// DeadLetterWriter durably stores items that can never be delivered.
// Write must return only once the letters are on disk.
type DeadLetterWriter interface {
	Write([]DeadLetter) error
}

// Client sends batches. It is safe for concurrent use.
type Client struct {
	cfg  Config
	url  string
	http *retryablehttp.Client
	log  *slog.Logger
	m    *metrics.Metrics
	rlog *ratelog.Logger // repeated warnings and errors, once a minute per kind

	shipped prometheus.Counter
	health  health
	fails   *failureLog
	storm   storm
	backoff Backoff
	sending atomic.Int64 // items in Send calls, for the failure log
	gzips   sync.Pool
}

// New returns a Client for cfg.
func New(cfg Config) (*Client, error) {
	if cfg.Endpoint == "" {
		return nil, errors.New("ship: no endpoint")
	}
	if cfg.DeadLetters == nil {
		return nil, errors.New("ship: no dead-letter writer")
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 30 * time.Second
	}
	if cfg.BackoffMin <= 0 {
		cfg.BackoffMin = 250 * time.Millisecond
	}
	if cfg.BackoffMax <= 0 {
		cfg.BackoffMax = 30 * time.Second
	}
	if cfg.RetryAfterMax <= 0 {
		cfg.RetryAfterMax = 5 * time.Minute
	}
	if cfg.RejectStorm == 0 {
		cfg.RejectStorm = DefaultRejectStorm
	}
	if cfg.FailureLogPeriod <= 0 {
		cfg.FailureLogPeriod = FailureLogPeriod
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New()
	}
	if cfg.Transport == nil {
		cfg.Transport = NewTransport()
	}
	c := &Client{
		cfg: cfg, url: strings.TrimRight(cfg.Endpoint, "/") + Path,
		log: cfg.Logger, m: cfg.Metrics, rlog: ratelog.New(cfg.Logger, time.Minute),
		shipped: cfg.Metrics.SpansShipped,
		storm:   storm{threshold: cfg.RejectStorm},
		backoff: Backoff{Min: cfg.BackoffMin, Max: cfg.BackoffMax, RetryAfterMax: cfg.RetryAfterMax, Now: cfg.Now, Rand: cfg.Rand},
	}
	c.fails = newFailureLog(cfg.Logger, cfg.Endpoint, cfg.FailureLogPeriod, cfg.Now, c.sending.Load)
	c.health.set(true, "no request yet")
	backoff := c.backoff
	retryMax := math.MaxInt
	if cfg.MaxRetries > 0 {
		retryMax = cfg.MaxRetries - 1 // RetryMax counts retries, --max-retries attempts
	}
	c.http = &retryablehttp.Client{
		HTTPClient: &http.Client{
			Transport: &observer{next: cfg.Transport, c: c},
			Timeout:   cfg.RequestTimeout,
		},
		Logger:       nil, // a library must not write to stderr on its own
		RetryWaitMin: cfg.BackoffMin,
		RetryWaitMax: cfg.BackoffMax,
		RetryMax:     retryMax,
		CheckRetry:   c.checkRetry,
		Backoff: func(_, _ time.Duration, attempt int, resp *http.Response) time.Duration {
			return backoff.Wait(attempt+1, resp)
		},
		RequestLogHook: func(_ retryablehttp.Logger, _ *http.Request, retry int) {
			if retry > 0 {
				c.m.RequestRetries.Inc()
			}
		},
		ErrorHandler: func(resp *http.Response, err error, attempts int) (*http.Response, error) {
			if resp != nil {
				defer resp.Body.Close()
			}
			if err == nil && resp != nil {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
			return nil, &gaveUpError{attempts: attempts, status: statusOf(resp), body: readErrorBody(resp), err: err}
		},
	}
	return c, nil
}

func statusOf(resp *http.Response) int {
	if resp == nil {
		return 0
	}
	return resp.StatusCode
}

// gaveUpError is returned by an exchange that retried --max-retries times,
// or was stopped by its context (then err is the context's error).
type gaveUpError struct {
	attempts int
	status   int
	body     string
	err      error
}

func (e *gaveUpError) Error() string {
	return fmt.Sprintf("gave up after %d attempts: %v", e.attempts, e.err)
}

func (e *gaveUpError) Unwrap() error { return e.err }

// checkRetry is retryablehttp's retry policy: retry transient outcomes,
// stop when the request's context ends. It sees every attempt, so it names
// failures to the operator and notices the backend's return.
func (c *Client) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	status := statusOf(resp)
	if Classify(status, err) != Transient {
		c.fails.success()
		return false, nil
	}
	c.fails.failure(Cause(status, peekBody(resp), err, c.cfg.RequestTimeout))
	return true, nil
}

// peekBody returns the first bytes of a failed response's body and leaves
// them readable for whoever reads the body next.
func peekBody(resp *http.Response) string {
	if resp == nil || resp.Body == nil {
		return ""
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxCauseBody+1))
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(b), resp.Body), resp.Body}
	return string(b)
}

// Ready reports whether the backend answered the last attempt with anything
// but a transient failure and is not in a reject storm, and why not.
func (c *Client) Ready() (bool, string) {
	if on, why := c.storm.state(); on {
		return false, why
	}
	return c.health.get()
}

// Close releases idle connections.
func (c *Client) Close() { c.http.HTTPClient.CloseIdleConnections() }

// Send brings every item of bt to a final outcome: it returns nil once each
// was acknowledged by a 2xx or durably dead-lettered. Transient failures are
// retried (forever, or --max-retries attempts, then dead-lettered); a
// permanent rejection or a 413 splits the batch in halves until the bad
// items stand alone, and only those are dead-lettered. An error means ctx
// ended first: some items may have been delivered, none may be acked.
func (c *Client) Send(ctx context.Context, bt *batch.Batch) error {
	if bt.Len() == 0 {
		return nil
	}
	c.m.BatchItems.Observe(float64(bt.Len()))
	c.m.BatchBytes.Observe(float64(len(bt.Body)))
	idx := make([]int, bt.Len())
	for i := range idx {
		idx[i] = i
	}
	c.sending.Add(int64(len(idx)))
	defer c.sending.Add(-int64(len(idx)))
	return c.send(ctx, bt, idx, bt.Body)
}

// send delivers the items idx of bt, whose request body is body.
func (c *Client) send(ctx context.Context, bt *batch.Batch, idx []int, body []byte) error {
	status, respBody, err := c.exchange(ctx, body)
	if err == nil && Classify(status, nil) == Permanent {
		status, respBody, err = c.holdInStorm(ctx, bt, idx, body, status, respBody)
	}
	if err != nil {
		var gu *gaveUpError
		if ctx.Err() != nil || !errors.As(err, &gu) {
			return fmt.Errorf("send batch: %w", err)
		}
		c.log.Error("giving up on a batch after --max-retries attempts; dead-lettering it", "items", len(idx), "attempts", gu.attempts, "status", gu.status, "err", gu.err)
		return c.deadLetter(ctx, bt, idx, gu.status, gu.body, gu.err.Error(), "max_retries")
	}
	switch Classify(status, nil) {
	case OK:
		c.stormOver()
		c.shipped.Add(float64(len(idx)))
		return nil
	case Permanent, TooLarge:
		if len(idx) == 1 {
			reason := "rejected"
			if status == http.StatusRequestEntityTooLarge {
				reason = "too_large"
			}
			c.rlog.Warn("dead-letter:"+strconv.Itoa(status), "span rejected by the backend; dead-lettered", "status", status, "response", respBody,
				"file", bt.Items[idx[0]].Path, "offset", bt.Items[idx[0]].Offset)
			return c.deadLetter(ctx, bt, idx, status, respBody, "", reason)
		}
		// Isolate the bad items: each half is sent on its own.
		half := len(idx) / 2
		for _, part := range [][]int{idx[:half], idx[half:]} {
			if err := c.send(ctx, bt, part, c.body(bt, part)); err != nil {
				return err
			}
		}
		return nil
	default:
		// exchange only returns a response that is not transient.
		return fmt.Errorf("send batch: unexpected status %d", status)
	}
}

// body encodes the request body for the items idx of bt.
func (c *Client) body(bt *batch.Batch, idx []int) []byte {
	items := make([][]byte, len(idx))
	for i, j := range idx {
		items[i] = bt.ItemJSON(j)
	}
	return batch.AppendBody(nil, items...)
}

// exchange performs one logical request with its retries, returning the
// final status and the first KiB of the response body.
func (c *Client) exchange(ctx context.Context, body []byte) (int, string, error) {
	payload := body
	if c.cfg.Gzip {
		payload = c.compress(body)
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPut, c.url, payload)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-api-key", c.cfg.APIKey.Reveal())
	req.Header.Set("x-selected-account-id", c.cfg.AccountID)
	if c.cfg.Gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var msg string
	if resp.StatusCode >= 300 {
		msg = readErrorBody(resp)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	return resp.StatusCode, msg, nil
}

func readErrorBody(resp *http.Response) string {
	if resp == nil || resp.Body == nil {
		return ""
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	return string(b)
}

func (c *Client) compress(body []byte) []byte {
	var buf bytes.Buffer
	buf.Grow(len(body) / 4)
	zw, _ := c.gzips.Get().(*gzip.Writer)
	if zw == nil {
		zw, _ = gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	} else {
		zw.Reset(&buf)
	}
	zw.Write(body)
	zw.Close()
	c.gzips.Put(zw)
	return buf.Bytes()
}

// deadLetter writes the items idx durably, retrying while the disk refuses
// (until ctx ends): an item is final only once its letter is on disk.
func (c *Client) deadLetter(ctx context.Context, bt *batch.Batch, idx []int, status int, respBody, errText, reason string) error {
	now := c.cfg.Now().UTC()
	letters := make([]DeadLetter, len(idx))
	for i, j := range idx {
		it := bt.Items[j]
		letters[i] = DeadLetter{
			Time: now, Reason: reason, Status: status, Response: respBody, Error: errText,
			File: it.Path, Offset: it.Offset, Item: bt.ItemJSON(j),
		}
	}
	wait := c.cfg.BackoffMin
	for {
		err := c.cfg.DeadLetters.Write(letters)
		if err == nil {
			c.m.SpansDeadLettered.WithLabelValues(reason).Add(float64(len(idx)))
			return nil
		}
		c.log.Error("cannot write dead letters; retrying (the records stay behind the checkpoint)", "err", err)
		if err := sleep(ctx, wait); err != nil {
			return fmt.Errorf("write dead letters: %w", err)
		}
		wait = min(wait*2, c.cfg.BackoffMax)
	}
}
