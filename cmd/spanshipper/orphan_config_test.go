package main

import (
	"strings"
	"testing"
	"time"
)

// TestSpanStartMode: the start-up line's span-start mode and what decided
// it, for each way of setting it (SPEC §6).
func TestSpanStartMode(t *testing.T) {
	for _, tc := range []struct {
		name     string
		args     []string
		env      func(string) (string, bool)
		mode, by string
		after    time.Duration
	}{
		{"default", nil, env(), "skipped, rescued after 5m", "default", 5 * time.Minute},
		{"orphan-after flag", []string{"--orphan-after", "90s"}, env(), "skipped, rescued after 1m30s", "--orphan-after", 90 * time.Second},
		{"pure end-only from env", nil, env("SPANSHIPPER_ORPHAN_AFTER", "0"), "skipped (pure end-only)", "SPANSHIPPER_ORPHAN_AFTER", 0},
		{"both decided", []string{"--orphan-after", "2h"}, env("AGENTEX_TRACING_SKIP_SPAN_START", "yes"), "skipped, rescued after 2h", "AGENTEX_TRACING_SKIP_SPAN_START and --orphan-after", 2 * time.Hour},
		{"shipped by the upstream variable", []string{"--orphan-after", "1m"}, env("AGENTEX_TRACING_SKIP_SPAN_START", "off"), "shipped", "AGENTEX_TRACING_SKIP_SPAN_START", time.Minute},
		{"shipped by the flag", []string{"--skip-span-start=false"}, env(), "shipped", "--skip-span-start", 5 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := LoadConfig(append([]string{"--path", "/x"}, tc.args...), tc.env)
			if err != nil {
				t.Fatal(err)
			}
			mode, by := c.SpanStartMode()
			if mode != tc.mode || by != tc.by || c.OrphanAfter != tc.after {
				t.Fatalf("mode %q by %q after %v; want %q by %q after %v", mode, by, c.OrphanAfter, tc.mode, tc.by, tc.after)
			}
		})
	}
}

func TestOrphanFlagsValidated(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--orphan-after", "-1s"}, "--orphan-after (SPANSHIPPER_ORPHAN_AFTER)"},
		{[]string{"--max-pending-starts", "0"}, "--max-pending-starts (SPANSHIPPER_MAX_PENDING_STARTS)"},
	} {
		_, _, err := LoadConfig(append([]string{"--path", "/x"}, tc.args...), env())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one naming %s", tc.args, err, tc.want)
		}
	}
	c, _, err := LoadConfig([]string{"--path", "/x"}, env("SPANSHIPPER_MAX_PENDING_STARTS", "500"))
	if err != nil || c.MaxPendingStarts != 500 {
		t.Fatalf("max pending starts %d (%v), want 500", c.MaxPendingStarts, err)
	}
}
