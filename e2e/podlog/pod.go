package main

import (
	"bufio"
	"errors"
	"flag"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"time"
)

// podOptions configure the agent container.
type podOptions struct {
	spans             int
	seed              uint64
	bigFraction       float64
	startOnlyFraction float64
	applogFraction    float64 // of stdout lines, app logs rather than span records
	applogs           int     // app log lines printed after the spans
	rate              float64 // stdout lines per second; 0: as fast as the runtime reads
	expect            string
	wholeRunes        bool
}

func podMain(args []string) error {
	o := podOptions{}
	fs := flag.NewFlagSet("podlog pod", flag.ContinueOnError)
	fs.IntVar(&o.spans, "spans", 1000, "spans to print")
	fs.Uint64Var(&o.seed, "seed", 1, "the same seed prints the same bytes")
	fs.Float64Var(&o.bigFraction, "big-fraction", 0.05, "fraction of spans of 20–60 KiB, which the runtime splits")
	fs.Float64Var(&o.startOnlyFraction, "start-only-fraction", 0.02, "fraction of spans printed without an end record")
	fs.Float64Var(&o.applogFraction, "applog-fraction", 0.5, "fraction of stdout lines that are app logs, not spans (below 1)")
	fs.IntVar(&o.applogs, "applogs", 0, "app log lines printed after the spans (a pod that prints no spans: --spans 0 --applogs N)")
	fs.Float64Var(&o.rate, "rate", 0, "stdout lines per second (0: as fast as the runtime reads)")
	fs.StringVar(&o.expect, "expect", "", "append every span line printed to this file")
	fs.BoolVar(&o.wholeRunes, "whole-runes", false, "keep multi-byte characters off the 16 KiB split points (for docker, whose json-file logger mangles a split character)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case o.expect == "":
		return errors.New("--expect is required")
	case o.applogFraction < 0 || o.applogFraction >= 1:
		return errors.New("--applog-fraction must be in [0, 1)")
	case o.spans < 0 || o.applogs < 0 || o.rate < 0:
		return errors.New("--spans, --applogs and --rate must not be negative")
	}
	return pod(o, os.Stdout, os.Stderr)
}

// pod prints spans mixed with app logs on stdout while another goroutine
// prints warnings and stack traces on stderr, big lines on both streams
// at the same moments so that their partial records interleave.
func pod(o podOptions, stdout, stderr io.Writer) error {
	ef, err := os.OpenFile(o.expect, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	expect := bufio.NewWriter(ef)
	gen := newSpanGen(o)
	r := rand.New(rand.NewPCG(o.seed, 0xa99))

	// stderr gets a message per tick; a true tick asks for a big one.
	ticks := make(chan bool, 4)
	var wg sync.WaitGroup
	var stderrErr error
	wg.Go(func() {
		er := rand.New(rand.NewPCG(o.seed, 0xe77))
		var buf []byte
		for big := range ticks {
			buf = stderrLog(er, buf[:0], big)
			if stderrErr == nil {
				stderrErr = writeLine(stderr, buf)
			}
		}
	})

	var (
		buf     []byte
		lines   int
		began   = time.Now()
		spansOK = true
		applogs = o.applogs
		outErr  error
	)
	for outErr == nil {
		var big, isSpan bool
		buf = buf[:0]
		switch {
		case spansOK && r.Float64() >= o.applogFraction:
			buf, big, spansOK = gen.next(buf)
			isSpan = spansOK
			if !spansOK {
				continue
			}
		case spansOK:
			buf = appLog(r, buf, gen.clock)
		case applogs > 0:
			buf = appLog(r, buf, gen.clock)
			applogs--
		}
		if len(buf) == 0 && !spansOK && applogs == 0 {
			break
		}
		if big || r.IntN(10) == 0 { // a big span: a big warning at the same time
			ticks <- big
		}
		if isSpan {
			if _, err := expect.Write(buf); err != nil {
				outErr = err
				break
			}
		}
		outErr = writeLine(stdout, buf)
		lines++
		if o.rate > 0 {
			due := began.Add(time.Duration(float64(lines) / o.rate * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			} else if d < -250*time.Millisecond {
				// Held back (the runtime stopped reading, or the pod was
				// stopped): go on at the rate, not in a burst.
				began = began.Add(-d)
			}
		}
	}
	close(ticks)
	wg.Wait()
	return errors.Join(outErr, stderrErr, expect.Flush(), ef.Close())
}

// writeLine writes a line; a big one in 4 KiB pieces with a pause between,
// as a program does that streams a document out, so the other stream gets
// its turn in the middle.
func writeLine(w io.Writer, line []byte) error {
	const piece = 4096
	for len(line) > piece {
		if _, err := w.Write(line[:piece]); err != nil {
			return err
		}
		line = line[piece:]
		time.Sleep(time.Millisecond)
	}
	_, err := w.Write(line)
	return err
}
