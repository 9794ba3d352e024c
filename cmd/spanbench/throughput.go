package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"time"

	"github.com/spanshipper/spanshipper/sink"
)

// shipper is a binary under measurement: the one under test, or the
// --baseline it is compared with.
type shipper struct {
	label string // "" for the binary under test
	bin   string
	args  []string // added to its flags
	raw   bool     // sends span records undecoded (spanfloor --raw): a receiver that does not validate
}

// profile names a CPU profile of s in run.
func (s shipper) profile(run string) string {
	name := "shipper"
	if s.label != "" {
		name = s.label
	}
	return name + "-" + run + ".pprof"
}

func (s shipper) tag() string {
	if s.label == "" {
		return ""
	}
	return " [" + s.label + "]"
}

// bulk is one kind of throughput run: a file shipped whole with --exit-on-eof.
type bulk struct {
	name  string // throughput, gzip, cri
	file  string
	spans int
	ends  int64
	args  []string // added to the shipper's flags
	env   []string // added to the shipper's environment
	tls   bool     // https to a receiver with a self-signed certificate
}

// bulkRuns are the results of one binary in one kind of bulk run.
type bulkRuns struct {
	runs []result
	st   sink.Stats // of the last run
}

func (b bulkRuns) medianCPU() time.Duration {
	return median(b.runs, func(r result) time.Duration { return r.cpu })
}

func (b bulkRuns) medianWall() time.Duration {
	return median(b.runs, func(r result) time.Duration { return r.wall })
}

func (b bulkRuns) peakRSS() int64 {
	return slices.MaxFunc(b.runs, func(a, b result) int { return int(a.maxRSS - b.maxRSS) }).maxRSS
}

func median[T any](xs []T, f func(T) time.Duration) time.Duration {
	ds := make([]time.Duration, len(xs))
	for i, x := range xs {
		ds[i] = f(x)
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// perMillion is CPU seconds per million spans.
func perMillion(cpu time.Duration, spans int) float64 { return cpu.Seconds() / float64(spans) * 1e6 }

// measured keeps the medians of this invocation's runs so later runs can
// print their cost as a ratio of them: CPU-s per million spans.
var measured = struct {
	floor  float64
	bulk   map[string]float64 // the throughput run's, by shipper label
	steady map[string]float64 // the latency and files runs' steady state, by run and label ("files/spanfloor")
}{bulk: map[string]float64{}, steady: map[string]float64{}}

// runBulk runs each shipper runs times on b.file, interleaved (the order
// alternates from run to run, so drift on a shared host hits both alike), and
// measures the floor on the same file before each round. It prints every run,
// the medians and the ratios.
func runBulk(b bulk, ships []shipper, runs int) (map[string]bulkRuns, error) {
	size, err := warm(b.file)
	if err != nil {
		return nil, err
	}
	how := "counting and validating every item (spansink --discard, in this process)"
	if nullReceiver {
		how = "reading and counting bodies only (--null-receiver)"
	}
	fmt.Printf("\n== %s: %d spans (%d span-end records, %.2f GiB, 2 lines per span) from one file on %s %v; receiver on 127.0.0.1 %s\n",
		b.name, b.spans, b.ends, float64(size)/(1<<30), filepath.Dir(b.file), b.args, how)
	if profileDir != "" {
		f, err := os.Create(filepath.Join(profileDir, "receiver-"+b.name+".pprof"))
		if err != nil {
			return nil, err
		}
		pprof.StartCPUProfile(f)
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	out := make(map[string]bulkRuns)
	var floors []time.Duration
	for i := range runs {
		fcpu, lines, err := floor(b.file)
		if err != nil {
			return nil, err
		}
		floors = append(floors, fcpu)
		fmt.Printf("run %d: floor %.3f CPU-s per million spans (%d lines)\n", i+1, perMillion(fcpu, b.spans), lines)
		order := slices.Clone(ships)
		if i%2 == 1 {
			slices.Reverse(order)
		}
		for _, s := range order {
			res, st, err := shipOnce(b, s, i)
			if err != nil {
				return nil, fmt.Errorf("%s%s: %w", s.bin, s.tag(), err)
			}
			fmt.Printf("run %d%s: %.0f span-end records/s, %.2f CPU-s per million spans (%.2fx the floor), peak RSS %.1f MiB, %d requests, %.1f items/request (wall %.2fs, cpu %.2fs)\n",
				i+1, s.tag(), float64(b.ends)/res.wall.Seconds(), perMillion(res.cpu, b.spans), float64(res.cpu)/float64(fcpu),
				float64(res.maxRSS)/(1<<20), st.RequestsOK, float64(st.ItemsReceived)/float64(st.RequestsOK), res.wall.Seconds(), res.cpu.Seconds())
			r := out[s.label]
			r.runs, r.st = append(r.runs, res), st
			out[s.label] = r
		}
	}
	slices.Sort(floors)
	fl := perMillion(floors[len(floors)/2], b.spans)
	if b.name == "throughput" {
		measured.floor = fl
	}
	fmt.Printf("RESULT %s floor: %.3f CPU-seconds per million spans (median of %d: %d KiB reads, line split, utf8.Valid per line, on the same file)\n",
		b.name, fl, runs, floorReadSize>>10)
	for _, s := range ships {
		r := out[s.label]
		cpu := perMillion(r.medianCPU(), b.spans)
		fmt.Printf("RESULT %s%s: median %.0f span-end records/s, %.2f CPU-seconds per million spans = %.2fx the floor, peak RSS %.1f MiB (max of %d runs), %d requests, %.1f items/request\n",
			b.name, s.tag(), float64(b.ends)/r.medianWall().Seconds(), cpu, cpu/fl, float64(r.peakRSS())/(1<<20), runs,
			r.st.RequestsOK, float64(r.st.ItemsReceived)/float64(r.st.RequestsOK))
	}
	if base, ok := out["baseline"]; ok {
		cur := out[""]
		fmt.Printf("RESULT %s against baseline: CPU per span %.2fx, span-end records/s %.2fx, peak RSS %.2fx (medians of %d interleaved runs each)\n",
			b.name, float64(cur.medianCPU())/float64(base.medianCPU()), float64(base.medianWall())/float64(cur.medianWall()),
			float64(cur.peakRSS())/float64(base.peakRSS()), runs)
	}
	for _, s := range ships {
		cpu := perMillion(out[s.label].medianCPU(), b.spans)
		if b.name == "throughput" {
			measured.bulk[s.label] = cpu
		} else if bulk := measured.bulk[s.label]; bulk > 0 {
			fmt.Printf("RESULT %s%s against throughput: CPU per span %.2fx the plain span-file run's\n", b.name, s.tag(), cpu/bulk)
		}
	}
	return out, nil
}

// shipOnce ships b.file once with s against a fresh receiver and state directory.
func shipOnce(b bulk, s shipper, i int) (result, sink.Stats, error) {
	if profileDir != "" {
		run := strconv.Itoa(i + 1) // shipper-1.pprof, baseline-gzip-2.pprof
		if b.name != "throughput" {
			run = b.name + "-" + run
		}
		childEnv = []string{"SPANSHIPPER_CPUPROFILE=" + filepath.Join(profileDir, s.profile(run))}
	}
	state, err := os.MkdirTemp("", "spanbench-state")
	if err != nil {
		return result{}, sink.Stats{}, err
	}
	defer os.RemoveAll(state)
	childEnv = append(childEnv, b.env...)
	var r *receiver
	scheme := "http://"
	if b.tls {
		var ca string
		r, ca, err = newTLSReceiver(state)
		childEnv = append(childEnv, "SSL_CERT_FILE="+ca)
		scheme = "https://"
	} else {
		r, err = receiverFor(s, false)
	}
	if err != nil {
		return result{}, sink.Stats{}, err
	}
	defer r.close()
	args := append([]string{"--path", b.file, "--endpoint", scheme + r.addr, "--state-dir", state, "--listen", "off",
		"--exit-on-eof", "--log-level", "warn"}, append(b.args, s.args...)...)
	res, err := runShipper(context.Background(), s.bin, args, nil)
	st := r.stats()
	if err != nil {
		return res, st, err
	}
	if st.ItemsReceived < b.ends {
		return res, st, fmt.Errorf("receiver got %d items, want %d", st.ItemsReceived, b.ends)
	}
	return res, st, nil
}

func throughput(ships []shipper, dataDir string, spans, runs int, batch, conc string) error {
	p, ends, err := ensureFile(dataDir, spans)
	if err != nil {
		return err
	}
	_, err = runBulk(bulk{name: "throughput", file: p, spans: spans, ends: ends,
		args: []string{"--batch-size", batch, "--concurrency", conc}}, ships, runs)
	return err
}

// gzipRun is the throughput run with compressed request bodies.
func gzipRun(ships []shipper, dataDir string, spans, runs int) error {
	p, ends, err := ensureFile(dataDir, spans)
	if err != nil {
		return err
	}
	_, err = runBulk(bulk{name: "gzip", file: p, spans: spans, ends: ends, args: []string{"--gzip"}}, ships, runs)
	return err
}

// tlsRun is the throughput run over https, as production ships: with the
// protocol the shipper's transport chooses (HTTP/1.1 since 2026-11-26;
// before, HTTP/2 with a receiver that offers it, as this one does), and
// with HTTP/1.1 forced (GODEBUG http2client=0).
func tlsRun(ships []shipper, dataDir string, spans, runs int) error {
	p, ends, err := ensureFile(dataDir, spans)
	if err != nil {
		return err
	}
	h2, err := runBulk(bulk{name: "tls", file: p, spans: spans, ends: ends, tls: true}, ships, runs)
	if err != nil {
		return err
	}
	h1, err := runBulk(bulk{name: "tls-http1", file: p, spans: spans, ends: ends, tls: true,
		env: []string{"GODEBUG=http2client=0"}}, ships, runs)
	if err != nil {
		return err
	}
	for _, s := range ships {
		fmt.Printf("RESULT tls%s: CPU per span %.2fx the tls-http1 run's (the transport's own protocol against HTTP/1.1 forced)\n",
			s.tag(), float64(h2[s.label].medianCPU())/float64(h1[s.label].medianCPU()))
	}
	return nil
}
