package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spanshipper/spanshipper/spangen"
)

// manyFiles follows n files that are each written about every period (two
// span records, one write() per line, as the SDK writes) for dur, with the
// shipper's default flags, and reports its CPU per span: what a node with
// many busy container logs costs.
//
// The files run takes the records from one generator in turn, so a span's
// start and end mostly land in different files, read at different times,
// close together. With own (the files-own run) each file has its own
// generator: each agent writes its own spans, start and end to the same
// file, as agents do, a few writes (seconds) apart, so held starts live
// through checkpointer turns. That layout measured costlier.
func manyFiles(s shipper, n int, period, dur time.Duration, own bool) error {
	name := "files"
	if own {
		name = "files-own"
	}
	dir, err := os.MkdirTemp("", "spanbench-files")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	files := make([]*os.File, n)
	for i := range files {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("agent-%04d.jsonl", i)))
		if err != nil {
			return err
		}
		defer f.Close()
		files[i] = f
	}
	r, err := receiverFor(s, false)
	if err != nil {
		return err
	}
	defer r.close()
	rate := float64(n) / period.Seconds()
	fmt.Printf("\n== %s%s: %d files, each written every %v (%.0f spans/s in all) for %v, default flags\n", name, s.tag(), n, period, rate, dur)
	sh, err := follow(s, name, filepath.Join(dir, "*.jsonl"), dir, r)
	if err != nil {
		return err
	}
	defer sh.end()
	time.Sleep(500 * time.Millisecond) // the shipper has found the (empty) files
	// The steady state's own CPU, as in the latency run: from the first
	// write to the last ack, without start-up (2,000 files opened) and
	// shutdown.
	steadyFrom, err := sh.cpu()
	if err != nil {
		return err
	}
	gens := []*spangen.Generator{spangen.New(spangen.Options{Seed: 4, Spans: int(rate*dur.Seconds()) + n})}
	if own {
		gens = make([]*spangen.Generator, n)
		for i := range gens {
			gens[i] = spangen.New(spangen.Options{Seed: 1000 + uint64(i), Spans: int(dur/period) + 4})
		}
	}
	var line []byte
	var ends int64
	start := time.Now()
	for i := 0; time.Since(start) < dur; i++ {
		if d := time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))); d > 0 {
			time.Sleep(d)
		}
		f := files[i%n]
		g := gens[0]
		if own {
			g = gens[i%n]
		}
		// Two records, one write each, as the SDK writes them.
		for range 2 {
			var ok bool
			if line, ok = g.Next(line[:0]); !ok {
				return fmt.Errorf("generator ran dry")
			}
			if _, err := f.Write(line); err != nil {
				return err
			}
		}
	}
	for _, g := range gens {
		ends += g.Stats().Ends
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && r.stats().ItemsReceived < ends {
		time.Sleep(100 * time.Millisecond)
	}
	steadyTo, err := sh.cpu()
	res := sh.end()
	if err != nil {
		return err
	}
	steady := steadyTo - steadyFrom
	measured.steady[name+"/"+s.label] = perMillion(steady, int(ends))
	got := r.stats().ItemsReceived
	if got < ends {
		return fmt.Errorf("receiver got %d of %d span-end records", got, ends)
	}
	fmt.Printf("RESULT %s%s: %d files, %d span-end records at %.0f/s: shipper CPU %.2fs over %.0fs = %.2f CPU-seconds per million spans%s, peak RSS %.1f MiB; writing to last ack only (no start-up, shutdown): %.2fs = %.2f%s\n",
		name, s.tag(), n, ends, rate, res.cpu.Seconds(), res.wall.Seconds(), perMillion(res.cpu, int(ends)), againstBulk(s, perMillion(res.cpu, int(ends))),
		float64(res.maxRSS)/(1<<20), steady.Seconds(), perMillion(steady, int(ends)), againstBulk(s, perMillion(steady, int(ends))))
	return nil
}
