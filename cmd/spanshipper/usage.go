package main

import (
	"fmt"
	"log/slog"
	"strings"
)

// LogAttrs is the resolved configuration for the start-up line. The API key
// is never part of it, only where it came from.
func (c *Config) LogAttrs() []slog.Attr {
	spanStart := "skipped (end-only ingest)"
	if !c.SkipSpanStart {
		spanStart = "shipped as in-progress items"
	}
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
		slog.String("span_start", spanStart), slog.String("span_start_decided_by", c.Source["skip-span-start"]),
		slog.Int("batch_size", c.BatchSize), slog.Duration("linger", c.Linger), slog.Int("concurrency", c.Concurrency),
		slog.Int("max_retries", c.MaxRetries), slog.Int("max_buffered", c.MaxBuffered),
		slog.String("state_dir", c.StateDir), slog.String("start_at", c.StartAt),
		slog.Int("max_open_files", c.MaxOpenFiles), slog.Int("max_line_bytes", c.MaxLineBytes),
		slog.Any("metadata_keys", md), slog.Bool("gzip", c.Gzip), slog.Duration("request_timeout", c.RequestTimeout),
		slog.String("listen", c.Listen), slog.Bool("exit_on_eof", c.ExitOnEOF), slog.Duration("shutdown_timeout", c.ShutdownTimeout),
		slog.String("format", c.Format), slog.Bool("k8s_metadata", c.K8sMetadata),
	}
}

// usage is the text of --help.
func usage() string {
	var b strings.Builder
	b.WriteString(`Usage:
  spanshipper --path GLOB [flags]         tail span files and ship span-end records
  spanshipper status --state-dir DIR [--json]
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
