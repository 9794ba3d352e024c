// Command spanshipper tails span-event files written by AI agents and ships
// span-end records to the SGP span batch API, never losing one.
//
//	spanshipper --path '/var/log/agents/*.jsonl' [flags]   run the agent
//	spanshipper status --state-dir DIR [--json]            show checkpoints
//	spanshipper version                                    print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/spanshipper/spanshipper/agent"
	"github.com/spanshipper/spanshipper/metrics"
)

// Stamped by the Makefile.
var (
	version = "dev"
	commit  = "unknown"
)

func main() {
	os.Exit(run(os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr))
}

// run is main with its inputs and outputs passed in; it returns the exit
// code: 0 clean stop, 1 runtime failure, 2 usage or configuration error.
func run(args []string, getenv func(string) (string, bool), stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "version", "--version", "-version":
			fmt.Fprintf(stdout, "spanshipper %s (commit %s, %s, %s/%s)\n", version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return 0
		case "status":
			return runStatus(args[1:], getenv, stdout, stderr)
		}
	}
	cfg, warnings, err := LoadConfig(args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usage())
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "spanshipper: %v\n", err)
		return 2
	}
	log := newLogger(cfg.LogLevel, cfg.LogFormat, stderr)
	for _, w := range warnings {
		log.Warn(w)
	}
	log.LogAttrs(context.Background(), slog.LevelInfo, "spanshipper starting",
		append([]slog.Attr{slog.String("version", version)}, cfg.LogAttrs()...)...)

	m := metrics.New()
	a, err := agent.New(agentConfig(cfg, log, m))
	if err != nil {
		fmt.Fprintf(stderr, "spanshipper: %v\n", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	signal.Ignore(syscall.SIGHUP) // reopens nothing (SPEC §7)

	srv, err := serve(cfg.Listen, m, a, log)
	if err != nil {
		log.Error("listen", "addr", cfg.Listen, "err", err)
		return 2
	}
	if srv != nil {
		defer srv.Close()
	}

	if err := a.Run(ctx); err != nil {
		log.Error("spanshipper stopped with an error", "err", err)
		return 1
	}
	return 0
}

func newLogger(level, format string, w io.Writer) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
