package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// env is an environment with credentials (so the default endpoint is
// usable) plus kv.
func env(kv ...string) func(string) (string, bool) {
	return bare(append([]string{"SGP_API_KEY", "k", "SGP_ACCOUNT_ID", "a"}, kv...)...)
}

// bare is an environment holding kv only.
func bare(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestPrecedence(t *testing.T) {
	base := []string{"--path", "/x/*.jsonl"}
	cases := []struct {
		name string
		args []string
		env  func(string) (string, bool)
		get  func(Config) any
		want any
		src  string
	}{
		{"default", nil, env(), func(c Config) any { return c.BatchSize }, 200, "default"},
		{"alias", nil, env("AGENTEX_SPAN_QUEUE_BATCH_SIZE", "50"), func(c Config) any { return c.BatchSize }, 50, "AGENTEX_SPAN_QUEUE_BATCH_SIZE"},
		{"own variable beats alias", nil, env("AGENTEX_SPAN_QUEUE_BATCH_SIZE", "50", "SPANSHIPPER_BATCH_SIZE", "70"), func(c Config) any { return c.BatchSize }, 70, "SPANSHIPPER_BATCH_SIZE"},
		{"flag beats all", []string{"--batch-size", "90"}, env("AGENTEX_SPAN_QUEUE_BATCH_SIZE", "50", "SPANSHIPPER_BATCH_SIZE", "70"), func(c Config) any { return c.BatchSize }, 90, "--batch-size"},
		{"linger alias in ms", nil, env("AGENTEX_SPAN_QUEUE_LINGER_MS", "100"), func(c Config) any { return c.Linger }, 100 * time.Millisecond, "AGENTEX_SPAN_QUEUE_LINGER_MS"},
		{"linger duration", nil, env("SPANSHIPPER_LINGER", "1s"), func(c Config) any { return c.Linger }, time.Second, "SPANSHIPPER_LINGER"},
		{"endpoint alias", nil, env("SGP_CLIENT_BASE_URL", "http://127.0.0.1:9"), func(c Config) any { return c.Endpoint }, "http://127.0.0.1:9", "SGP_CLIENT_BASE_URL"},
		{"state dir from systemd", nil, env("STATE_DIRECTORY", "/var/lib/a:/var/lib/b"), func(c Config) any { return c.StateDir }, "/var/lib/a", "STATE_DIRECTORY"},
		{"concurrency alias", nil, env("AGENTEX_SPAN_QUEUE_CONCURRENCY", "5"), func(c Config) any { return c.Concurrency }, 5, "AGENTEX_SPAN_QUEUE_CONCURRENCY"},
		{"max retries alias", nil, env("AGENTEX_SPAN_QUEUE_MAX_RETRIES", "4"), func(c Config) any { return c.MaxRetries }, 4, "AGENTEX_SPAN_QUEUE_MAX_RETRIES"},
		{"max buffered alias", nil, env("AGENTEX_SPAN_QUEUE_MAX_SIZE", "5000"), func(c Config) any { return c.MaxBuffered }, 5000, "AGENTEX_SPAN_QUEUE_MAX_SIZE"},
		{"paths from env, comma-separated", []string{}, env("SPANSHIPPER_PATH", "/a/*.jsonl, /b/*.jsonl"), func(c Config) any { return strings.Join(c.Paths, "|") }, "/a/*.jsonl|/b/*.jsonl", "SPANSHIPPER_PATH"},
		{"metadata from env", nil, env("SPANSHIPPER_METADATA", "env=prod,host=h1"), func(c Config) any { return len(c.Metadata) }, 2, "SPANSHIPPER_METADATA"},
		{"max line bytes with unit", []string{"--max-line-bytes", "64KiB"}, env(), func(c Config) any { return c.MaxLineBytes }, 64 << 10, "--max-line-bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append(append([]string(nil), base...), c.args...)
			if c.src == "SPANSHIPPER_PATH" {
				args = c.args
			}
			cfg, warns, err := LoadConfig(args, c.env)
			if err != nil {
				t.Fatal(err)
			}
			if len(warns) != 0 {
				t.Fatalf("warnings %v", warns)
			}
			if got := c.get(cfg); got != c.want {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			flagName := map[string]string{"default": "batch-size"}[c.src]
			for f, s := range cfg.Source {
				if s == c.src {
					flagName = f
				}
			}
			if cfg.Source[flagName] != c.src {
				t.Fatalf("source %v", cfg.Source)
			}
		})
	}
}

func TestSkipSpanStartAlias(t *testing.T) {
	cases := []struct {
		v    string
		want bool
	}{
		{"0", false}, {"false", false}, {"FALSE", false}, {" no ", false}, {"Off", false},
		{"1", true}, {"true", true}, {"yes", true}, {"", true}, {"banana", true}, {"nope", true},
	}
	for _, c := range cases {
		cfg, warns, err := LoadConfig([]string{"--path", "/x"}, env("AGENTEX_TRACING_SKIP_SPAN_START", c.v))
		if err != nil || len(warns) != 0 {
			t.Fatalf("%q: %v %v", c.v, err, warns)
		}
		if cfg.SkipSpanStart != c.want {
			t.Errorf("AGENTEX_TRACING_SKIP_SPAN_START=%q: skip %v, want %v", c.v, cfg.SkipSpanStart, c.want)
		}
	}
	// The flag and the own variable beat the alias.
	cfg, _, _ := LoadConfig([]string{"--path", "/x", "--skip-span-start=true"}, env("AGENTEX_TRACING_SKIP_SPAN_START", "0"))
	if !cfg.SkipSpanStart || cfg.Source["skip-span-start"] != "--skip-span-start" {
		t.Fatal("flag did not win")
	}
	cfg, _, _ = LoadConfig([]string{"--path", "/x"}, env("AGENTEX_TRACING_SKIP_SPAN_START", "1", "SPANSHIPPER_SKIP_SPAN_START", "false"))
	if cfg.SkipSpanStart || cfg.Source["skip-span-start"] != "SPANSHIPPER_SKIP_SPAN_START" {
		t.Fatal("own variable did not win")
	}
	cfg, _, _ = LoadConfig([]string{"--path", "/x", "--skip-span-start=false"}, env())
	if cfg.SkipSpanStart {
		t.Fatal("--skip-span-start=false did not turn skipping off")
	}
}

// TestUnparsableVariables: a warning naming the variable, then the next
// source (alias, then default).
func TestUnparsableVariables(t *testing.T) {
	cfg, warns, err := LoadConfig([]string{"--path", "/x"}, env("SPANSHIPPER_BATCH_SIZE", "lots", "AGENTEX_SPAN_QUEUE_LINGER_MS", "soon"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BatchSize != 200 || cfg.Linger != 250*time.Millisecond {
		t.Fatalf("defaults not used: %d %v", cfg.BatchSize, cfg.Linger)
	}
	joined := strings.Join(warns, "\n")
	if !strings.Contains(joined, "SPANSHIPPER_BATCH_SIZE") || !strings.Contains(joined, "AGENTEX_SPAN_QUEUE_LINGER_MS") {
		t.Fatalf("warnings %q", joined)
	}
	cfg, _, _ = LoadConfig([]string{"--path", "/x"}, env("SPANSHIPPER_BATCH_SIZE", "lots", "AGENTEX_SPAN_QUEUE_BATCH_SIZE", "20"))
	if cfg.BatchSize != 20 {
		t.Fatalf("alias not used after a bad own variable: %d", cfg.BatchSize)
	}
}

func TestBatchSizeClamped(t *testing.T) {
	for in, want := range map[string]int{"0": 1, "-5": 1, "5000": 1000, "1000": 1000} {
		cfg, warns, err := LoadConfig([]string{"--path", "/x", "--batch-size", in}, env())
		if err != nil {
			t.Fatal(err)
		}
		if cfg.BatchSize != want || (in != "1000") != (len(warns) == 1) {
			t.Errorf("--batch-size %s: %d (warnings %v), want %d", in, cfg.BatchSize, warns, want)
		}
	}
}

// TestConfigErrorsExit2 runs the command: every configuration error exits 2
// with a message naming the flag and its variable.
func TestConfigErrorsExit2(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		args []string
		env  func(string) (string, bool)
		want []string
	}{
		{nil, bare(), []string{"--path", "SPANSHIPPER_PATH"}},
		{[]string{"--path", "/x", "--linger", "soon"}, env(), []string{"-linger"}},
		{[]string{"--path", "/x", "--nope"}, env(), []string{"-nope"}},
		{[]string{"--path", "/x", "--endpoint", "https://api.example.com"}, bare(), []string{"--api-key-file", "SPANSHIPPER_API_KEY", "SGP_API_KEY"}},
		{[]string{"--path", "/x", "--endpoint", "https://api.example.com"}, bare("SGP_API_KEY", "k"), []string{"--account-id", "SGP_ACCOUNT_ID"}},
		{[]string{"--path", "/x", "--api-key-file", filepath.Join(dir, "missing")}, env(), []string{"-api-key-file"}},
		{[]string{"--path", "/x", "--endpoint", "ftp://x"}, env(), []string{"--endpoint", "SGP_CLIENT_BASE_URL"}},
		{[]string{"--path", "/x", "--start-at", "middle"}, env(), []string{"--start-at", "SPANSHIPPER_START_AT"}},
		{[]string{"--path", "/x", "--concurrency", "0"}, env(), []string{"--concurrency", "AGENTEX_SPAN_QUEUE_CONCURRENCY"}},
		{[]string{"--path", "/x", "--max-retries", "-1"}, env(), []string{"--max-retries"}},
		{[]string{"--path", "/x", "--log-format", "xml"}, env(), []string{"--log-format"}},
		{[]string{"--path", "/x", "--log-level", "loud"}, env(), []string{"--log-level"}},
		{[]string{"--path", "/x", "--metadata", "novalue"}, env(), []string{"-metadata"}},
		{[]string{"--path", "[x"}, env(), []string{"--path", "bad glob"}},
		{[]string{"--path", "/x", "--listen", "nonsense"}, env(), []string{"--listen"}},
		{[]string{"--path", "/x", "--max-line-bytes", "big"}, env(), []string{"-max-line-bytes"}},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		code := run(c.args, c.env, &out, &errb)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", c.args, code, errb.String())
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(errb.String(), w) {
				t.Errorf("%v: message %q does not name %q", c.args, errb.String(), w)
			}
		}
	}
}

func TestAPIKeyFileAndNeverLogged(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "key")
	os.WriteFile(keyFile, []byte("sk-secret-123\n"), 0o600)
	cfg, _, err := LoadConfig([]string{"--path", "/x", "--api-key-file", keyFile, "--endpoint", "https://api.example.com", "--account-id", "a"}, env("SGP_API_KEY", "sk-other"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.APIKey.Reveal() != "sk-secret-123" {
		t.Fatalf("key %q", cfg.APIKey.Reveal())
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).LogAttrs(context.Background(), slog.LevelInfo, "start", cfg.LogAttrs()...)
	if strings.Contains(buf.String(), "secret") {
		t.Fatalf("key in the start-up line: %s", buf.String())
	}
	if !strings.Contains(buf.String(), `"api_key":"set from --api-key-file"`) || !strings.Contains(buf.String(), `"span_start_decided_by":"default"`) {
		t.Fatalf("start-up line %s", buf.String())
	}
	cfg, _, _ = LoadConfig([]string{"--path", "/x"}, bare("SPANSHIPPER_API_KEY", "sk-env", "SGP_API_KEY", "sk-alias"))
	if cfg.APIKey.Reveal() != "sk-env" || cfg.APIKeySource != "SPANSHIPPER_API_KEY" {
		t.Fatalf("key from env: %q %q", cfg.APIKey.Reveal(), cfg.APIKeySource)
	}
}

func TestHelpAndVersion(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"--help"}, env(), &out, &errb); code != 0 || !strings.Contains(out.String(), "AGENTEX_TRACING_SKIP_SPAN_START") {
		t.Fatalf("help: %d %q", code, out.String())
	}
	out.Reset()
	if code := run([]string{"version"}, env(), &out, &errb); code != 0 || !strings.Contains(out.String(), "spanshipper") {
		t.Fatalf("version: %d %q", code, out.String())
	}
}
