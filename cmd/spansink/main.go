// Command spansink is a local receiver for the SGP span batch API, used by
// `make demo`, the end-to-end tests and the benchmark. See package sink for
// its routes; the fault flags set the initial faults, which
// PUT /admin/faults can replace at run time.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spanshipper/spanshipper/sink"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// options are the parsed flags.
type options struct {
	listen, addrFile string
	cfg              sink.Config
}

// parse reads the flags; it returns flag.ErrHelp for -h.
func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("spansink", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8080", "address to listen on (port 0: any free port)")
	fs.StringVar(&o.addrFile, "addr-file", "", "once listening, write the bound host:port to this file (atomically)")
	fs.StringVar(&o.cfg.APIKey, "api-key", "", "required x-api-key (empty: not checked)")
	fs.StringVar(&o.cfg.AccountID, "account-id", "", "required x-selected-account-id (empty: not checked)")
	fs.BoolVar(&o.cfg.Discard, "discard", false, "validate and count, do not store spans")
	latency := fs.Int("latency-ms", 0, "delay added to every batch request, in milliseconds")
	f := &o.cfg.Faults
	fs.Float64Var(&f.FailFraction, "fail-fraction", 0, "share of batch requests failed (500, 503, 429, connection reset)")
	fs.BoolVar(&f.Outage, "outage", false, "answer every batch request with 503")
	fs.BoolVar(&f.RejectAll, "reject-all", false, "answer every batch request with 422")
	fs.StringVar(&f.PoisonName, "poison-name", "", "reject with 422 any batch holding a span of this name")
	fs.Float64Var(&f.SlowFraction, "slow-fraction", 0, "share of batch requests delayed by --slow-ms")
	fs.IntVar(&f.SlowMS, "slow-ms", 0, "delay of slow requests, in milliseconds")
	fs.IntVar(&f.RetryAfter, "retry-after", 1, "Retry-After of 503 and 429 answers, in seconds")
	fs.Int64Var(&f.Seed, "seed", 1, "seed of the fault draws")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, errReported // the flag package has printed it
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected arguments: %q", fs.Args())
	case f.FailFraction < 0 || f.FailFraction > 1:
		return o, fmt.Errorf("--fail-fraction must be within [0, 1]")
	case f.SlowFraction < 0 || f.SlowFraction > 1:
		return o, fmt.Errorf("--slow-fraction must be within [0, 1]")
	case *latency < 0 || f.SlowMS < 0 || f.RetryAfter < 0:
		return o, fmt.Errorf("--latency-ms, --slow-ms and --retry-after must not be negative")
	}
	o.cfg.Latency = time.Duration(*latency) * time.Millisecond
	return o, nil
}

// errReported is a flag error already printed with the usage.
var errReported = errors.New("bad flags")

// run serves until SIGINT or SIGTERM and returns the exit code.
func run(args []string, stderr io.Writer) int {
	o, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		if !errors.Is(err, errReported) {
			fmt.Fprintln(stderr, "spansink:", err)
		}
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		log.Error("listen", "addr", o.listen, "err", err)
		return 1
	}
	addr := ln.Addr().String()
	if o.addrFile != "" {
		if err := writeAtomic(o.addrFile, addr); err != nil {
			ln.Close()
			log.Error("write address file", "path", o.addrFile, "err", err)
			return 1
		}
	}
	log.Info("spansink listening", "addr", addr, "discard", o.cfg.Discard)

	srv := &http.Server{Handler: sink.New(o.cfg), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		log.Info("shutting down")
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(shut); err != nil {
			srv.Close()
		}
		return 0
	case err := <-done:
		log.Error("serve", "err", err)
		return 1
	}
}

// writeAtomic writes content to path through a temporary file and a
// rename, so a reader never sees a partial address.
func writeAtomic(path, content string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, werr := tmp.WriteString(content)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}
