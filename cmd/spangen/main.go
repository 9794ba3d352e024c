// Command spangen writes realistic agentex span-event lines for tests, the
// demo and the benchmark: deterministic by seed, optionally at a rate, with
// rotation and with lines split across writes.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spanshipper/spanshipper/spangen"
)

func main() {
	fs := flag.NewFlagSet("spangen", flag.ContinueOnError)
	seed := fs.Uint64("seed", 1, "random seed: the same seed writes the same bytes")
	spans := fs.Int("spans", 1000, "spans to generate (each a start and, mostly, an end record)")
	out := fs.String("out", "", "file to write (required)")
	rate := fs.Float64("rate", 0, "span records per second (0: as fast as possible)")
	rotate := fs.Int64("rotate-bytes", 0, "rename-rotate the file at this size (0: never)")
	keep := fs.Int("keep", 5, "rotated files kept")
	startOnly := fs.Float64("start-only-fraction", 0, "fraction of spans that never get an end record")
	bad := fs.Float64("bad-fraction", 0, "fraction of extra bad lines")
	split := fs.Bool("split-writes", false, "write each line in two write() calls")
	appendTo := fs.Bool("append", false, "append instead of truncating")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if *out == "" {
		fmt.Fprintln(os.Stderr, "spangen: --out is required")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	g := spangen.New(spangen.Options{Seed: *seed, Spans: *spans, StartOnlyFraction: *startOnly, BadFraction: *bad})
	w := &spangen.Writer{Path: *out, Rate: *rate, RotateBytes: *rotate, Keep: *keep, SplitWrites: *split, Append: *appendTo}
	began := time.Now()
	if err := w.Run(ctx, g); err != nil {
		fmt.Fprintf(os.Stderr, "spangen: %v\n", err)
		os.Exit(1)
	}
	s := g.Stats()
	secs := time.Since(began).Seconds()
	fmt.Fprintf(os.Stderr, "spangen: %d lines (%d starts, %d ends, %d start-only, %d bad), %d bytes, %.0f MB/s\n",
		s.Lines, s.Starts, s.Ends, s.StartOnly, s.Bad, s.Bytes, float64(s.Bytes)/1e6/secs)
}
