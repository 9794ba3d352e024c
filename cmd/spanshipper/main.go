// Command spanshipper tails span-event files written by AI agents and ships
// span-end records to the SGP span batch API, never losing one.
//
//	spanshipper --path '/var/log/agents/*.jsonl' [flags]   run the agent
//	spanshipper status --state-dir DIR [--json]            show checkpoints
//	spanshipper check [flags]                              check a configuration
//	spanshipper dead-letters list|replay --state-dir DIR   summarise or re-send dead letters
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
	"runtime/pprof"
	"sync"
	"syscall"
	"time"

	"github.com/spanshipper/spanshipper/agent"
	"github.com/spanshipper/spanshipper/metrics"
	"github.com/spanshipper/spanshipper/sdnotify"
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
		case "check":
			return runCheck(args[1:], getenv, stdout, stderr)
		case "dead-letters":
			return runDeadLetters(args[1:], getenv, stdout, stderr)
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
	// With --exit-on-eof on a terminal a progress line shares stderr with
	// the log; not on a terminal (a pipe, journald, a file) there is none.
	lw := &lineWriter{w: stderr}
	progress := cfg.ExitOnEOF && isTerminal(stderr)
	log := newLogger(cfg.LogLevel, cfg.LogFormat, lw)
	for _, w := range warnings {
		log.Warn(w)
	}
	// One P (scheduler thread running Go code) unless GOMAXPROCS says
	// otherwise. The pipeline is one reader goroutine feeding senders that
	// mostly wait; with a P per core, handing work between threads cost
	// more than it ran in parallel: CPU per span 0.86x in the throughput
	// run, 0.89x with 2,000 files (docs/performance.md). One core still
	// ships ~300,000 spans/s, and the agents on the node keep the rest.
	if _, ok := getenv("GOMAXPROCS"); !ok {
		runtime.GOMAXPROCS(1)
	}
	log.LogAttrs(context.Background(), slog.LevelInfo, "spanshipper starting",
		append([]slog.Attr{slog.String("version", version), slog.Int("gomaxprocs", runtime.GOMAXPROCS(0))}, cfg.LogAttrs()...)...)

	// A developer's knob, not a setting: `make bench` profiles through it.
	if p, ok := getenv("SPANSHIPPER_CPUPROFILE"); ok && p != "" {
		stopProfile, err := startCPUProfile(p)
		if err != nil {
			log.Warn("cpu profile", "err", err)
		} else {
			defer stopProfile()
		}
	}

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

	// Under systemd (Type=notify): READY=1 once serving, STOPPING=1 on the
	// way out, and WATCHDOG=1 keep-alives while the pipeline is not wedged.
	sd, err := sdnotify.FromEnv(getenv)
	if err != nil {
		log.Warn("systemd notification disabled", "err", err)
	}
	bg, stopBg := context.WithCancel(context.Background())
	var bgDone sync.WaitGroup
	defer func() { stopBg(); bgDone.Wait() }()
	if sd.Enabled() {
		bgDone.Go(func() {
			select {
			case <-a.Started():
			case <-bg.Done():
				return
			}
			if err := sd.Notify("READY=1\nSTATUS=shipping spans"); err != nil {
				log.Warn("sd_notify READY=1", "err", err)
			}
			sd.RunWatchdog(bg, a.Alive, func(err error) { log.Warn("systemd watchdog keep-alive not sent", "err", err) })
		})
	}
	if progress {
		bgDone.Go(func() { showProgress(bg, lw, a.Progress, time.Second) })
	}

	err = a.Run(ctx)
	sd.Notify("STOPPING=1")
	stopBg()
	bgDone.Wait()
	if err != nil {
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

// startCPUProfile writes a CPU profile to path until the returned func runs.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
