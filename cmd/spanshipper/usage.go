package main

import (
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// LogAttrs is the resolved configuration for the start-up line. The API key
// is never part of it, only where it came from.
func (c *Config) LogAttrs() []slog.Attr {
	spanStart, decidedBy := c.SpanStartMode()
	key := "none"
	if !c.APIKey.IsZero() {
		key = "set from " + c.APIKeySource
	}
	md := make([]string, len(c.Metadata))
	for i, kv := range c.Metadata {
		md[i] = kv.Key
	}
	return []slog.Attr{
		slog.Any("path", c.Paths), slog.Any("exclude", c.Excludes),
		slog.String("endpoint", c.Endpoint), slog.String("api_key", key), slog.String("account_id", c.AccountID),
		slog.String("span_start", spanStart), slog.String("span_start_decided_by", decidedBy),
		slog.Int("max_pending_starts", c.MaxPendingStarts),
		slog.Int("batch_size", c.BatchSize), slog.Duration("linger", c.Linger), slog.Int("concurrency", c.Concurrency),
		slog.Int("max_retries", c.MaxRetries), slog.Int("max_buffered", c.MaxBuffered),
		slog.String("state_dir", c.StateDir), slog.String("start_at", c.StartAt),
		slog.Int("max_open_files", c.MaxOpenFiles), slog.Int("max_line_bytes", c.MaxLineBytes),
		slog.Any("metadata_keys", md), slog.Bool("gzip", c.Gzip), slog.Duration("request_timeout", c.RequestTimeout),
		slog.String("listen", c.Listen), slog.Bool("exit_on_eof", c.ExitOnEOF), slog.Duration("shutdown_timeout", c.ShutdownTimeout),
		slog.String("format", c.Format), slog.Bool("k8s_metadata", c.K8sMetadata),
		slog.Bool("insecure_http", c.InsecureHTTP),
	}
}

// SpanStartMode names what happens to span-start records (SPEC §6:
// "shipped", "skipped, rescued after 5m", "skipped (pure end-only)") and
// which flags or variables decided it.
func (c *Config) SpanStartMode() (mode, decidedBy string) {
	skip := c.Source["skip-span-start"]
	if skip == "" {
		skip = "default"
	}
	if !c.SkipSpanStart {
		return "shipped", skip
	}
	after := c.Source["orphan-after"]
	if after == "" {
		after = "default"
	}
	by := skip
	switch {
	case after == "default":
	case skip == "default":
		by = after
	default:
		by = skip + " and " + after
	}
	if c.OrphanAfter <= 0 {
		return "skipped (pure end-only)", by
	}
	return "skipped, rescued after " + shortDuration(c.OrphanAfter), by
}

// shortDuration prints 5m rather than 5m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// usage is the text of --help.
func usage() string {
	var b strings.Builder
	b.WriteString(`Usage:
  spanshipper --path GLOB [flags]         tail span files and ship span-end records
  spanshipper status --state-dir DIR [--json]
  spanshipper check [flags]               check the files, state dir and endpoint these flags name
  spanshipper dead-letters list|replay --state-dir DIR [flags]
  spanshipper version

Precedence: flag > SPANSHIPPER_* variable > upstream variable > default.

Flags:
`)
	d := DefaultConfig()
	for _, s := range settings() {
		fmt.Fprintf(&b, "  --%s\n      %s", s.flag, s.usage)
		if s.def != nil {
			fmt.Fprintf(&b, " (default %s)", s.def(&d))
		}
		fmt.Fprintf(&b, "\n      env %s", s.env)
		if s.alias != "" {
			fmt.Fprintf(&b, ", %s", s.alias)
		}
		b.WriteString("\n")
	}
	return b.String()
}
