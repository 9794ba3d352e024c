// Command spangen writes realistic agentex span-event lines for tests, the
// demo and the benchmark: deterministic by seed, optionally at a rate, with
// rename rotation and with lines split across writes.
//
//	spangen --out spans.jsonl --spans 1000000
//	spangen --out agent.jsonl --rate 2000 --rotate-bytes 2097152 --split-writes
//
// It prints one summary line to stderr. Bad flags exit 2; SIGINT and
// SIGTERM stop it cleanly, with what was generated written.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spanshipper/spanshipper/spangen"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("spangen", flag.ContinueOnError)
	seed := fs.Uint64("seed", 1, "random seed: the same seed writes the same bytes")
	spans := fs.Int("spans", 1000, "spans to generate (each a start and, mostly, an end record)")
	out := fs.String("out", "", "file to write, - for standard output (required)")
	rate := fs.Float64("rate", 0, "spans per second, lines at twice that (0: as fast as possible)")
	rotate := fs.Int64("rotate-bytes", 0, "rename-rotate the file once larger than this (0: never)")
	keep := fs.Int("keep", 5, "rotated files kept: path.1 … path.N")
	startOnly := fs.Float64("start-only-fraction", 0, "fraction of spans that never get an end record")
	bad := fs.Float64("bad-fraction", 0, "fraction of extra bad lines mixed in")
	split := fs.Bool("split-writes", false, "write each line in two write() calls")
	appendTo := fs.Bool("append", false, "append to the file instead of truncating it")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	usage := func(msg string) int {
		fmt.Fprintln(os.Stderr, "spangen: "+msg)
		fs.Usage()
		return 2
	}
	switch {
	case fs.NArg() > 0:
		return usage("unexpected arguments")
	case *out == "":
		return usage("--out is required")
	case *spans < 0:
		return usage("--spans must not be negative")
	case *rate < 0:
		return usage("--rate must not be negative")
	case *rotate < 0:
		return usage("--rotate-bytes must not be negative")
	case *rotate > 0 && *out == "-":
		return usage("--rotate-bytes needs a file, not standard output")
	case *keep < 1:
		return usage("--keep must be at least 1")
	case *startOnly < 0 || *startOnly > 1:
		return usage("--start-only-fraction must be within [0, 1]")
	case *bad < 0 || *bad >= 1:
		return usage("--bad-fraction must be within [0, 1)")
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	g := spangen.New(spangen.Options{Seed: *seed, Spans: *spans, StartOnlyFraction: *startOnly, BadFraction: *bad})
	w := &spangen.Writer{Path: *out, Rate: *rate, RotateBytes: *rotate, Keep: *keep, SplitWrites: *split, Append: *appendTo}
	began := time.Now()
	err := w.Run(ctx, g)
	secs := time.Since(began).Seconds()
	s := g.Stats()
	fmt.Fprintf(os.Stderr, "spangen: %d lines, %d starts, %d ends, %d start-only, %d bad, %d bytes, %.1f MB/s\n",
		s.Lines, s.Starts, s.Ends, s.StartOnly, s.Bad, s.Bytes, float64(s.Bytes)/1e6/max(secs, 1e-9))
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(os.Stderr, "spangen: %v\n", err)
		return 1
	}
	return 0
}
