// Command spansink is a local receiver for the SGP span batch API, used by
// `make demo`, the end-to-end tests and the benchmark. See package sink.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
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
	fs := flag.NewFlagSet("spansink", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8080", "address to listen on (port 0: any free port)")
	addrFile := fs.String("addr-file", "", "write the bound host:port to this file once listening")
	apiKey := fs.String("api-key", "", "required x-api-key (empty: any)")
	account := fs.String("account-id", "", "required x-selected-account-id (empty: any)")
	discard := fs.Bool("discard", false, "validate and count, do not store spans")
	latency := fs.Int("latency-ms", 0, "delay every batch request")
	var f sink.Faults
	fs.Float64Var(&f.FailFraction, "fail-fraction", 0, "share of batch requests failed (500, 503, 429, connection reset)")
	fs.BoolVar(&f.Outage, "outage", false, "answer every batch request with 503")
	fs.StringVar(&f.PoisonName, "poison-name", "", "reject with 422 any batch holding a span of this name")
	fs.Float64Var(&f.SlowFraction, "slow-fraction", 0, "share of requests delayed by --slow-ms")
	fs.IntVar(&f.SlowMS, "slow-ms", 0, "delay of slow requests")
	fs.IntVar(&f.RetryAfter, "retry-after", 1, "Retry-After seconds on 503 and 429")
	fs.Uint64Var(&f.Seed, "seed", 1, "seed of the fault draws")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Error("listen", "addr", *listen, "err", err)
		os.Exit(2)
	}
	addr := ln.Addr().String()
	if *addrFile != "" {
		if err := writeAtomic(*addrFile, addr); err != nil {
			log.Error("write address file", "err", err)
			os.Exit(1)
		}
	}
	log.Info("spansink listening", "addr", addr, "discard", *discard)
	srv := &http.Server{
		Handler: sink.New(sink.Config{APIKey: *apiKey, AccountID: *account, Discard: *discard,
			Latency: time.Duration(*latency) * time.Millisecond, Faults: f}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shut)
	case err := <-done:
		if !errors.Is(err, http.ErrServerClosed) {
			log.Error("serve", "err", err)
			os.Exit(1)
		}
	}
}

func writeAtomic(path, content string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".addr-*")
	if err != nil {
		return err
	}
	if _, err := fmt.Fprint(tmp, content); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	tmp.Close()
	return os.Rename(tmp.Name(), path)
}
