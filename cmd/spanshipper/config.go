package main

import (
	"errors"
	"flag"
	"fmt"
	"github.com/spanshipper/spanshipper/ship"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spanshipper/spanshipper/decode"
	"github.com/spanshipper/spanshipper/frame"
	"github.com/spanshipper/spanshipper/kube"
)

// KV is one --metadata pair.
type KV struct{ Key, Value string }

// Config is spanshipper's whole configuration (SPEC §6), resolved from
// flags, SPANSHIPPER_* variables, upstream aliases and defaults, in that
// order of precedence.
type Config struct {
	Paths           []string
	Excludes        []string
	Endpoint        string
	APIKey          ship.Secret // prints as [redacted]
	APIKeySource    string      // where the key came from, for the start-up line
	AccountID       string
	SkipSpanStart   bool
	BatchSize       int
	Linger          time.Duration
	Concurrency     int
	MaxRetries      int
	MaxBuffered     int
	StateDir        string
	StartAt         string
	MaxOpenFiles    int
	MaxLineBytes    int
	Metadata        []KV
	Gzip            bool
	RequestTimeout  time.Duration
	Listen          string
	LogLevel        string
	LogFormat       string
	ExitOnEOF       bool
	ShutdownTimeout time.Duration
	Format          string // auto, span, cri or docker
	K8sMetadata     bool
	InsecureHTTP    bool // allow a key over http:// to a host that is not loopback

	// Orphan-start rescue (--orphan-after, --max-pending-starts).
	OrphanAfter      time.Duration // held span starts ship after this; 0: dropped at once
	MaxPendingStarts int

	// Source says, per flag name, what decided its value: "--flag", a
	// variable's name, or "default".
	Source map[string]string
}

// DefaultConfig returns the defaults of SPEC §6.
func DefaultConfig() Config {
	return Config{
		Endpoint:        "https://api.egp.scale.com",
		SkipSpanStart:   true,
		BatchSize:       200,
		Linger:          250 * time.Millisecond,
		Concurrency:     3,
		StateDir:        "/var/lib/spanshipper",
		StartAt:         "beginning",
		MaxOpenFiles:    0, // automatic: the descriptor limit less a reserve (tailer)
		MaxLineBytes:    4 << 20,
		RequestTimeout:  30 * time.Second,
		Listen:          "127.0.0.1:9464",
		LogLevel:        "info",
		LogFormat:       "text",
		ShutdownTimeout: 10 * time.Second,
		Format:          "auto",
		K8sMetadata:     true,
		Source:          map[string]string{},

		// Orphan-start rescue.
		OrphanAfter:      5 * time.Minute,
		MaxPendingStarts: 100000,
	}
}

// setting is one flag with its variables and how to parse a value.
type setting struct {
	flag, env, alias string
	usage            string
	isBool           bool
	list             bool                            // repeatable flag; variables are comma-separated
	parse            func(c *Config, v string) error // flag and SPANSHIPPER_* value
	parseAlias       func(c *Config, v string) error // alias value; nil means parse
	def              func(c *Config) string          // default, for usage
}

func settings() []setting {
	str := func(f func(c *Config) *string) func(*Config, string) error {
		return func(c *Config, v string) error { *f(c) = v; return nil }
	}
	num := func(f func(c *Config) *int) func(*Config, string) error {
		return func(c *Config, v string) error {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("%q is not an integer", v)
			}
			*f(c) = n
			return nil
		}
	}
	dur := func(f func(c *Config) *time.Duration) func(*Config, string) error {
		return func(c *Config, v string) error {
			d, err := time.ParseDuration(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("%q is not a duration (e.g. 250ms, 10s)", v)
			}
			*f(c) = d
			return nil
		}
	}
	boolean := func(f func(c *Config) *bool) func(*Config, string) error {
		return func(c *Config, v string) error {
			b, err := parseBool(v)
			if err != nil {
				return err
			}
			*f(c) = b
			return nil
		}
	}
	return []setting{
		{flag: "path", env: "SPANSHIPPER_PATH", list: true, usage: "glob of span files to follow (repeatable; required)",
			parse: func(c *Config, v string) error { c.Paths = append(c.Paths, v); return nil }},
		{flag: "exclude", env: "SPANSHIPPER_EXCLUDE", list: true, usage: "glob of files not to follow (repeatable)",
			parse: func(c *Config, v string) error { c.Excludes = append(c.Excludes, v); return nil }},
		{flag: "endpoint", env: "SPANSHIPPER_ENDPOINT", alias: "SGP_CLIENT_BASE_URL", usage: "span API base URL",
			parse: str(func(c *Config) *string { return &c.Endpoint }), def: func(c *Config) string { return c.Endpoint }},
		{flag: "api-key-file", env: "SPANSHIPPER_API_KEY", alias: "SGP_API_KEY", usage: "file holding the API key (the variables hold the key itself)",
			parse: func(c *Config, v string) error {
				b, err := os.ReadFile(v)
				if err != nil {
					return fmt.Errorf("read key file: %w", err)
				}
				c.APIKey = ship.NewSecret(strings.TrimSpace(string(b)))
				if c.APIKey.IsZero() {
					return fmt.Errorf("key file %s is empty", v)
				}
				return nil
			},
			parseAlias: func(c *Config, v string) error { c.APIKey = ship.NewSecret(strings.TrimSpace(v)); return nil }},
		{flag: "account-id", env: "SPANSHIPPER_ACCOUNT_ID", alias: "SGP_ACCOUNT_ID", usage: "account id (x-selected-account-id)",
			parse: str(func(c *Config) *string { return &c.AccountID })},
		{flag: "skip-span-start", env: "SPANSHIPPER_SKIP_SPAN_START", alias: "AGENTEX_TRACING_SKIP_SPAN_START", isBool: true,
			usage: "drop span-start records, ship span-end records only",
			parse: boolean(func(c *Config) *bool { return &c.SkipSpanStart }),
			parseAlias: func(c *Config, v string) error {
				switch strings.ToLower(strings.TrimSpace(v)) {
				case "0", "false", "no", "off":
					c.SkipSpanStart = false
				default: // upstream: anything else keeps skipping on
					c.SkipSpanStart = true
				}
				return nil
			},
			def: func(c *Config) string { return strconv.FormatBool(c.SkipSpanStart) }},
		{flag: "orphan-after", env: "SPANSHIPPER_ORPHAN_AFTER", usage: "with skipping on, a span start whose end has not come after this ships as in-progress (0: drop starts at once)",
			parse: dur(func(c *Config) *time.Duration { return &c.OrphanAfter }), def: func(c *Config) string { return c.OrphanAfter.String() }},
		{flag: "max-pending-starts", env: "SPANSHIPPER_MAX_PENDING_STARTS", usage: "span starts held at most; past it the oldest ships early",
			parse: num(func(c *Config) *int { return &c.MaxPendingStarts }), def: func(c *Config) string { return strconv.Itoa(c.MaxPendingStarts) }},
		{flag: "batch-size", env: "SPANSHIPPER_BATCH_SIZE", alias: "AGENTEX_SPAN_QUEUE_BATCH_SIZE", usage: "items per request, clamped to 1..1000",
			parse: num(func(c *Config) *int { return &c.BatchSize }), def: func(c *Config) string { return strconv.Itoa(c.BatchSize) }},
		{flag: "linger", env: "SPANSHIPPER_LINGER", alias: "AGENTEX_SPAN_QUEUE_LINGER_MS", usage: "longest wait after a batch's first item (alias in ms)",
			parse: dur(func(c *Config) *time.Duration { return &c.Linger }),
			parseAlias: func(c *Config, v string) error {
				ms, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil {
					return fmt.Errorf("%q is not a number of milliseconds", v)
				}
				c.Linger = time.Duration(ms * float64(time.Millisecond))
				return nil
			},
			def: func(c *Config) string { return c.Linger.String() }},
		{flag: "concurrency", env: "SPANSHIPPER_CONCURRENCY", alias: "AGENTEX_SPAN_QUEUE_CONCURRENCY", usage: "requests in flight",
			parse: num(func(c *Config) *int { return &c.Concurrency }), def: func(c *Config) string { return strconv.Itoa(c.Concurrency) }},
		{flag: "max-retries", env: "SPANSHIPPER_MAX_RETRIES", alias: "AGENTEX_SPAN_QUEUE_MAX_RETRIES", usage: "attempts before a failing batch is dead-lettered; 0 never gives up",
			parse: num(func(c *Config) *int { return &c.MaxRetries }), def: func(c *Config) string { return strconv.Itoa(c.MaxRetries) }},
		{flag: "max-buffered", env: "SPANSHIPPER_MAX_BUFFERED", alias: "AGENTEX_SPAN_QUEUE_MAX_SIZE", usage: "spans read but not yet final; reading pauses there (0 = automatic)",
			parse: num(func(c *Config) *int { return &c.MaxBuffered }), def: func(c *Config) string { return strconv.Itoa(c.MaxBuffered) }},
		{flag: "state-dir", env: "SPANSHIPPER_STATE_DIR", alias: "STATE_DIRECTORY", usage: "checkpoint and dead-letter directory",
			parse: str(func(c *Config) *string { return &c.StateDir }),
			parseAlias: func(c *Config, v string) error {
				c.StateDir = strings.Split(v, ":")[0] // systemd lists several directories with ':'
				return nil
			},
			def: func(c *Config) string { return c.StateDir }},
		{flag: "start-at", env: "SPANSHIPPER_START_AT", usage: "where files without a checkpoint are read from: beginning or end",
			parse: str(func(c *Config) *string { return &c.StartAt }), def: func(c *Config) string { return c.StartAt }},
		{flag: "max-open-files", env: "SPANSHIPPER_MAX_OPEN_FILES", usage: "file descriptors held on span files at most (0 = automatic: RLIMIT_NOFILE less 256)",
			parse: num(func(c *Config) *int { return &c.MaxOpenFiles }), def: func(c *Config) string { return strconv.Itoa(c.MaxOpenFiles) }},
		{flag: "max-line-bytes", env: "SPANSHIPPER_MAX_LINE_BYTES", usage: "longer lines are skipped as bad input (e.g. 4MiB)",
			parse: func(c *Config, v string) error {
				n, err := parseSize(v)
				c.MaxLineBytes = n
				return err
			},
			def: func(c *Config) string { return "4MiB" }},
		{flag: "metadata", env: "SPANSHIPPER_METADATA", list: true, usage: "key=value added to every span's metadata when absent (repeatable)",
			parse: func(c *Config, v string) error {
				k, val, ok := strings.Cut(v, "=")
				if !ok || strings.TrimSpace(k) == "" {
					return fmt.Errorf("%q is not key=value", v)
				}
				c.Metadata = append(c.Metadata, KV{strings.TrimSpace(k), val})
				return nil
			}},
		{flag: "gzip", env: "SPANSHIPPER_GZIP", isBool: true, usage: "compress request bodies",
			parse: boolean(func(c *Config) *bool { return &c.Gzip })},
		{flag: "request-timeout", env: "SPANSHIPPER_REQUEST_TIMEOUT", usage: "timeout of one HTTP attempt",
			parse: dur(func(c *Config) *time.Duration { return &c.RequestTimeout }), def: func(c *Config) string { return c.RequestTimeout.String() }},
		{flag: "listen", env: "SPANSHIPPER_LISTEN", usage: "address of /metrics, /healthz, /readyz (port 0: any; off: none)",
			parse: str(func(c *Config) *string { return &c.Listen }), def: func(c *Config) string { return c.Listen }},
		{flag: "log-level", env: "SPANSHIPPER_LOG_LEVEL", usage: "debug, info, warn or error",
			parse: str(func(c *Config) *string { return &c.LogLevel }), def: func(c *Config) string { return c.LogLevel }},
		{flag: "log-format", env: "SPANSHIPPER_LOG_FORMAT", usage: "text or json",
			parse: str(func(c *Config) *string { return &c.LogFormat }), def: func(c *Config) string { return c.LogFormat }},
		{flag: "exit-on-eof", env: "SPANSHIPPER_EXIT_ON_EOF", isBool: true, usage: "ship everything present, checkpoint, exit 0",
			parse: boolean(func(c *Config) *bool { return &c.ExitOnEOF })},
		{flag: "shutdown-timeout", env: "SPANSHIPPER_SHUTDOWN_TIMEOUT", usage: "time to ship what was read after SIGTERM",
			parse: dur(func(c *Config) *time.Duration { return &c.ShutdownTimeout }), def: func(c *Config) string { return c.ShutdownTimeout.String() }},
		{flag: "format", env: "SPANSHIPPER_FORMAT", usage: "line format: auto (per file, from its first line), span, cri or docker",
			parse: str(func(c *Config) *string { return &c.Format }), def: func(c *Config) string { return c.Format }},
		{flag: "k8s-metadata", env: "SPANSHIPPER_K8S_METADATA", isBool: true, usage: "add pod metadata from kubelet log paths to each item",
			parse: boolean(func(c *Config) *bool { return &c.K8sMetadata }), def: func(c *Config) string { return strconv.FormatBool(c.K8sMetadata) }},
		{flag: "insecure-http", env: "SPANSHIPPER_INSECURE_HTTP", isBool: true, usage: "allow sending the API key over http:// to a host that is not loopback",
			parse: boolean(func(c *Config) *bool { return &c.InsecureHTTP })},
	}
}

// parseBool accepts what strconv.ParseBool does plus yes/no/on/off.
func parseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "t", "true", "yes", "y", "on":
		return true, nil
	case "0", "f", "false", "no", "n", "off":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean", v)
}

// parseSize reads a byte count with an optional unit: 4194304, 4MiB, 512KiB, 4M.
func parseSize(v string) (int, error) {
	s := strings.TrimSpace(v)
	mult := 1
	for _, u := range []struct {
		suffix string
		mult   int
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > (1<<31)/mult {
		return 0, fmt.Errorf("%q is not a size (e.g. 4MiB)", v)
	}
	return n * mult, nil
}

// LoadConfig resolves the configuration from args and the environment.
// Warnings (unparsable variables, clamped values) are returned for the
// caller to log. Errors name the flag and its variable; flag.ErrHelp means
// -h was asked for.
func LoadConfig(args []string, getenv func(string) (string, bool)) (Config, []string, error) {
	c, warnings, err := load(args, getenv, settings())
	if err != nil {
		return c, nil, err
	}
	warnings = append(warnings, c.clamp()...)
	return c, warnings, c.Validate()
}

// load resolves the settings all (the agent's, or a sub-command's share of
// them) from args and the environment, without validating.
func load(args []string, getenv func(string) (string, bool), all []setting) (Config, []string, error) {
	c := DefaultConfig()
	var warnings []string
	fs := flag.NewFlagSet("spanshipper", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	for _, s := range all {
		parse := s.parse
		name := s.flag
		if s.isBool {
			fs.BoolFunc(name, s.usage, func(v string) error { return parse(&c, v) })
		} else {
			fs.Func(name, s.usage, func(v string) error { return parse(&c, v) })
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, nil, err
		}
		return c, nil, fmt.Errorf("%v (see --help)", err)
	}
	if fs.NArg() > 0 {
		return c, nil, fmt.Errorf("unexpected argument %q (globs go in --path)", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	for _, s := range all {
		if set[s.flag] {
			c.Source[s.flag] = "--" + s.flag
			continue
		}
		c.Source[s.flag] = "default"
		for _, src := range []struct {
			name  string
			parse func(*Config, string) error
		}{{s.env, s.parse}, {s.alias, s.parseAlias}} {
			if src.name == "" {
				continue
			}
			if src.parse == nil {
				src.parse = s.parse
			}
			v, ok := getenv(src.name)
			if !ok || strings.TrimSpace(v) == "" {
				continue
			}
			if s.flag == "api-key-file" {
				// Both variables hold the key itself, not a file name.
				c.APIKey = ship.NewSecret(strings.TrimSpace(v))
				c.Source[s.flag] = src.name
				break
			}
			// Parse into a copy: an unparsable value leaves c untouched.
			tmp := c
			var err error
			if s.list {
				for _, part := range strings.Split(v, ",") {
					if part = strings.TrimSpace(part); part != "" && err == nil {
						err = src.parse(&tmp, part)
					}
				}
			} else {
				err = src.parse(&tmp, v)
			}
			if err != nil {
				warnings = append(warnings, fmt.Sprintf("ignoring %s: %v; using the %s", src.name, err, nextSource(s, src.name)))
				continue
			}
			c = tmp
			c.Source[s.flag] = src.name
			break
		}
	}
	if c.Source["api-key-file"] != "default" {
		c.APIKeySource = c.Source["api-key-file"]
	}
	return c, warnings, nil
}

// nextSource names what is used when variable name is unusable.
func nextSource(s setting, name string) string {
	if name == s.env && s.alias != "" {
		return s.alias + " or the default"
	}
	return "default"
}

// clamp brings --batch-size into 1..1000 as SPEC §6 says, with a warning.
func (c *Config) clamp() []string {
	n := min(max(c.BatchSize, 1), 1000)
	if n == c.BatchSize {
		return nil
	}
	w := fmt.Sprintf("--batch-size %d clamped to %d (the backend takes at most 1000 items per request)", c.BatchSize, n)
	c.BatchSize = n
	return []string{w}
}

// maxMetadata is how many --metadata pairs are taken: a decoder holds
// decode.MaxMetadata, and a file's pod metadata needs room for its own.
const maxMetadata = decode.MaxMetadata - kube.MaxAttrs

// Validate checks the resolved configuration; each error names the flag and
// its variable.
func (c *Config) Validate() error {
	bad := func(flagName, env, format string, a ...any) error {
		return fmt.Errorf("--%s (%s): %s", flagName, env, fmt.Sprintf(format, a...))
	}
	if len(c.Paths) == 0 {
		return bad("path", "SPANSHIPPER_PATH", "at least one glob is required")
	}
	for _, g := range append(append([]string(nil), c.Paths...), c.Excludes...) {
		if _, err := filepath.Match(g, ""); err != nil {
			return bad("path", "SPANSHIPPER_PATH", "bad glob %q: %v", g, err)
		}
	}
	if err := c.ValidateEndpoint(); err != nil {
		return err
	}
	switch {
	case c.Linger <= 0:
		return bad("linger", "SPANSHIPPER_LINGER, AGENTEX_SPAN_QUEUE_LINGER_MS", "must be positive, got %v", c.Linger)
	case c.Concurrency < 1 || c.Concurrency > 256:
		return bad("concurrency", "SPANSHIPPER_CONCURRENCY, AGENTEX_SPAN_QUEUE_CONCURRENCY", "must be 1..256, got %d", c.Concurrency)
	case c.MaxRetries < 0:
		return bad("max-retries", "SPANSHIPPER_MAX_RETRIES, AGENTEX_SPAN_QUEUE_MAX_RETRIES", "must be 0 (never give up) or more, got %d", c.MaxRetries)
	case c.OrphanAfter < 0:
		return bad("orphan-after", "SPANSHIPPER_ORPHAN_AFTER", "must be 0 (drop starts at once) or more, got %v", c.OrphanAfter)
	case c.MaxPendingStarts < 1:
		return bad("max-pending-starts", "SPANSHIPPER_MAX_PENDING_STARTS", "must be at least 1, got %d", c.MaxPendingStarts)
	case c.MaxBuffered < 0:
		return bad("max-buffered", "SPANSHIPPER_MAX_BUFFERED, AGENTEX_SPAN_QUEUE_MAX_SIZE", "must be 0 (automatic) or more, got %d", c.MaxBuffered)
	case c.MaxBuffered > 0 && c.MaxBuffered < c.BatchSize:
		return bad("max-buffered", "SPANSHIPPER_MAX_BUFFERED, AGENTEX_SPAN_QUEUE_MAX_SIZE", "%d is below --batch-size %d: no batch could fill", c.MaxBuffered, c.BatchSize)
	case c.StateDir == "":
		return bad("state-dir", "SPANSHIPPER_STATE_DIR, STATE_DIRECTORY", "must not be empty")
	case c.StartAt != "beginning" && c.StartAt != "end":
		return bad("start-at", "SPANSHIPPER_START_AT", "must be beginning or end, got %q", c.StartAt)
	case c.MaxOpenFiles < 0:
		return bad("max-open-files", "SPANSHIPPER_MAX_OPEN_FILES", "must be 0 (automatic) or more, got %d", c.MaxOpenFiles)
	case c.MaxLineBytes < 1024:
		return bad("max-line-bytes", "SPANSHIPPER_MAX_LINE_BYTES", "must be at least 1KiB, got %d", c.MaxLineBytes)
	case len(c.Metadata) > maxMetadata:
		return bad("metadata", "SPANSHIPPER_METADATA", "at most %d pairs, got %d", maxMetadata, len(c.Metadata))
	case c.RequestTimeout <= 0:
		return bad("request-timeout", "SPANSHIPPER_REQUEST_TIMEOUT", "must be positive, got %v", c.RequestTimeout)
	case c.ShutdownTimeout <= 0:
		return bad("shutdown-timeout", "SPANSHIPPER_SHUTDOWN_TIMEOUT", "must be positive, got %v", c.ShutdownTimeout)
	case c.LogFormat != "text" && c.LogFormat != "json":
		return bad("log-format", "SPANSHIPPER_LOG_FORMAT", "must be text or json, got %q", c.LogFormat)
	}
	if _, err := frame.ParseFormat(c.Format); err != nil {
		return bad("format", "SPANSHIPPER_FORMAT", "must be auto, span, cri or docker, got %q", c.Format)
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return bad("log-level", "SPANSHIPPER_LOG_LEVEL", "must be debug, info, warn or error, got %q", c.LogLevel)
	}
	if c.Listen != "off" && c.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			return bad("listen", "SPANSHIPPER_LISTEN", "%q is not host:port (or off)", c.Listen)
		}
	}
	return nil
}

// ValidateEndpoint checks the endpoint and its credentials; each error names
// the flag and its variable.
func (c *Config) ValidateEndpoint() error {
	bad := func(flagName, env, format string, a ...any) error {
		return fmt.Errorf("--%s (%s): %s", flagName, env, fmt.Sprintf(format, a...))
	}
	u, err := url.Parse(c.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return bad("endpoint", "SPANSHIPPER_ENDPOINT, SGP_CLIENT_BASE_URL", "%q is not an http(s) URL", c.Endpoint)
	}
	if c.RequestTimeout <= 0 {
		return bad("request-timeout", "SPANSHIPPER_REQUEST_TIMEOUT", "must be positive, got %v", c.RequestTimeout)
	}
	if !loopback(u.Hostname()) {
		if u.Scheme == "http" && !c.APIKey.IsZero() && !c.InsecureHTTP {
			return bad("insecure-http", "SPANSHIPPER_INSECURE_HTTP", "endpoint %s would send the API key in clear text to a host that is not loopback; use https://, or allow it with --insecure-http", c.Endpoint)
		}
		if c.APIKey.IsZero() {
			return bad("api-key-file", "SPANSHIPPER_API_KEY, SGP_API_KEY", "an API key is required for endpoint %s", c.Endpoint)
		}
		if c.AccountID == "" {
			return bad("account-id", "SPANSHIPPER_ACCOUNT_ID, SGP_ACCOUNT_ID", "an account id is required for endpoint %s", c.Endpoint)
		}
	}
	return nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
