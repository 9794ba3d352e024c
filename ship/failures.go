package ship

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// FailureLogPeriod is the least time between two lines about failed
// attempts: the first failure is logged at once, the ones that follow within
// the period are counted into the next line (SPEC §7).
const FailureLogPeriod = 30 * time.Second

// maxCauseBody is how much of a failed response's body is quoted in a log
// line: enough to recognise a proxy's error page or the API's message.
const maxCauseBody = 200

// failureLog names failed attempts to the operator without flooding the
// log: a WARN at once with the endpoint, the cause and what happens next;
// later failures are counted into a summary at most every period; the first
// success after a logged failure says how long the backend was away.
type failureLog struct {
	log      *slog.Logger
	endpoint string
	period   time.Duration
	now      func() time.Time
	waiting  func() int64 // spans held in requests, for "what happens next"

	mu         sync.Mutex
	lastLogged time.Time      // the last failure line; zero: none yet
	held       int            // failures since that line, not logged
	heldCauses map[string]int // their causes, for the summary
	spellStart time.Time      // first failure since the last success; zero: none
	spellFails int            // failures since the last success
	spellShown bool           // a line about this spell was logged
}

func newFailureLog(log *slog.Logger, endpoint string, period time.Duration, now func() time.Time, waiting func() int64) *failureLog {
	return &failureLog{log: log, endpoint: endpoint, period: period, now: now, waiting: waiting, heldCauses: map[string]int{}}
}

// failure records one failed attempt with its cause.
func (f *failureLog) failure(cause string) {
	f.mu.Lock()
	now := f.now()
	if f.spellFails == 0 {
		f.spellStart = now
	}
	f.spellFails++
	if !f.lastLogged.IsZero() && now.Sub(f.lastLogged) < f.period {
		f.held++
		f.heldCauses[cause]++
		f.mu.Unlock()
		return
	}
	held, causes, since := f.held, f.causeSummary(), now.Sub(f.lastLogged)
	first := f.lastLogged.IsZero() || held == 0
	f.lastLogged, f.held, f.spellShown = now, 0, true
	clear(f.heldCauses)
	failing := now.Sub(f.spellStart)
	f.mu.Unlock()

	next := fmt.Sprintf("retrying with backoff; %d spans wait in requests, the rest wait in the files; nothing is dropped", f.waiting())
	if first {
		f.log.Warn("span API request failed", "endpoint", f.endpoint, "cause", cause, "next", next)
		return
	}
	f.log.Warn("span API requests keep failing", "endpoint", f.endpoint, "cause", cause,
		"failed_attempts", held+1, "in_last", since.Round(time.Second).String(), "other_causes", causes,
		"failing_for", failing.Round(time.Second).String(), "next", next)
}

// success records an attempt the backend answered.
func (f *failureLog) success() {
	f.mu.Lock()
	if f.spellFails == 0 {
		f.mu.Unlock()
		return
	}
	n, d, shown := f.spellFails, f.now().Sub(f.spellStart), f.spellShown
	f.spellFails, f.spellStart, f.spellShown = 0, time.Time{}, false
	if shown {
		// The recovery line counts them; a later summary must not again.
		f.held = 0
		clear(f.heldCauses)
	}
	f.mu.Unlock()
	if shown {
		f.log.Info(fmt.Sprintf("backend reachable again after %s (%d failed attempts)", d.Round(time.Millisecond), n), "endpoint", f.endpoint)
	}
}

// causeSummary renders the held causes; f.mu is held.
func (f *failureLog) causeSummary() string {
	parts := make([]string, 0, len(f.heldCauses))
	for c, n := range f.heldCauses {
		parts = append(parts, fmt.Sprintf("%dx %s", n, c))
	}
	if len(parts) > 5 {
		parts = append(parts[:5], "…")
	}
	return strings.Join(parts, "; ")
}

// Cause names why an attempt failed the way an operator thinks about it:
// connection refused, DNS, TLS, timeout, or the status and the first bytes
// of the response body.
func Cause(status int, body string, err error, timeout time.Duration) string {
	if err == nil {
		s := fmt.Sprintf("status %d", status)
		switch status {
		case 401, 403:
			s += " (the span API rejects the credentials: check the API key and account id)"
		case 404:
			s += " (no span API at this path: check the endpoint)"
		}
		if body = strings.TrimSpace(body); body != "" {
			if len(body) > maxCauseBody {
				body = body[:maxCauseBody] + "…"
			}
			s += ": " + body
		}
		return s
	}
	var dns *net.DNSError
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	var header tls.RecordHeaderError
	var netErr net.Error
	switch {
	case errors.As(err, &dns):
		return "DNS lookup failed: " + dns.Error()
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused (is the backend up, and the endpoint's host and port right?)"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by the peer"
	case errors.As(err, &verify), errors.As(err, &unknownAuthority), errors.As(err, &hostname), errors.As(err, &invalid):
		return "TLS certificate not accepted: " + innermost(err)
	case errors.As(err, &header):
		return "TLS handshake failed (does the endpoint speak https?): " + innermost(err)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Sprintf("timeout: no answer within --request-timeout %s", timeout)
	case strings.Contains(err.Error(), "tls:"):
		return "TLS: " + innermost(err)
	}
	return innermost(err)
}

// innermost drops the "Put \"url\": " wrapping of a url.Error: the
// endpoint is logged on its own.
func innermost(err error) string {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err.Error()
	}
	return err.Error()
}
