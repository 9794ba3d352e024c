// Command spanbench measures spanshipper (make bench): throughput and
// footprint on a 1,000,000-span file, end-to-end latency at a steady rate,
// and the CPU used while following idle files. It runs bin/spanshipper as a
// child process and reads the child's own CPU time and peak RSS.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spanshipper/spanshipper/spangen"
)

func main() {
	bin := flag.String("bin", "bin/spanshipper", "spanshipper binary")
	dataDir := flag.String("data", defaultDataDir(), "where the generated span file is cached (tmpfs)")
	spans := flag.Int("spans", 1_000_000, "spans in the throughput file")
	runs := flag.Int("runs", 3, "throughput runs (the median is reported)")
	batch := flag.String("batch-size", "200", "--batch-size for the throughput run")
	conc := flag.String("concurrency", "3", "--concurrency for the throughput run")
	flag.StringVar(&profileDir, "profile", "", "write CPU profiles here: shipper-N.pprof (throughput run N), shipper-gzip-N.pprof, shipper-tls-N.pprof, shipper-tls-http1-N.pprof, shipper-cri-N.pprof, shipper-long-N.pprof, shipper-open-N.pprof, shipper-latency.pprof, shipper-latency-long.pprof, shipper-files.pprof, shipper-files-own.pprof, shipper-idle.pprof (baseline-… for --baseline; via SPANSHIPPER_CPUPROFILE) and receiver-RUN.pprof")
	flag.BoolVar(&nullReceiver, "null-receiver", false, "throughput against a receiver that reads bodies and answers 200 without parsing (the shipper's own ceiling)")
	baseline := flag.String("baseline", "", "another spanshipper binary run alternately with --bin (same file, same receiver) for ratios")
	floorBin := flag.String("floor-bin", "bin/spanfloor", "spanfloor (the least a shipper can do: read, decode, send; and with --raw read and send only) run beside the others in the throughput, latency and files runs, for the bound of each bar; empty: not run")
	only := flag.String("only", "throughput,gzip,tls,cri,long,open,latency,latency-long,files,files-own,idle", "which runs")
	rate := flag.Float64("rate", 2000, "spans per second in the latency run")
	latencyFor := flag.Duration("latency-for", 20*time.Second, "length of the latency run")
	idleFor := flag.Duration("idle-for", 30*time.Second, "length of the idle run")
	nFiles := flag.Int("files", 2000, "files in the many-files run")
	filesEvery := flag.Duration("files-every", 2*time.Second, "how often each file is written in the many-files run")
	filesFor := flag.Duration("files-for", 40*time.Second, "length of the many-files run")
	flag.Parse()
	if profileDir != "" {
		if err := os.MkdirAll(profileDir, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	ships := []shipper{{bin: *bin}}
	if *baseline != "" {
		ships = append(ships, shipper{label: "baseline", bin: *baseline})
	}
	// The throughput, latency and files runs also measure spanfloor.
	bounded := ships
	if *floorBin != "" {
		if _, err := os.Stat(*floorBin); err != nil {
			fmt.Fprintf(os.Stderr, "spanbench: --floor-bin: %v (make build builds it)\n", err)
			os.Exit(2)
		}
		bounded = append(slices.Clone(ships), shipper{label: floorLabel, bin: *floorBin},
			shipper{label: rawFloorLabel, bin: *floorBin, args: []string{"--raw"}, raw: true})
	}
	for _, run := range strings.Split(*only, ",") {
		var err error
		switch run {
		case "throughput":
			if err = throughput(bounded, *dataDir, *spans, *runs, *batch, *conc); err == nil {
				printBound("throughput", 3)
			}
		case "gzip":
			err = gzipRun(ships, *dataDir, *spans, *runs)
		case "cri":
			err = criRun(ships, *dataDir, *spans, *runs)
		case "tls":
			err = tlsRun(ships, *dataDir, *spans, *runs)
		case "long":
			err = longRun(ships, *dataDir, *spans, *runs, "long", longDelay)
		case "open":
			err = longRun(ships, *dataDir, *spans, *runs, "open", openDelay)
		case "latency":
			if err = each(bounded, func(s shipper) error { return latency(s, "latency", *rate, *latencyFor, 0) }); err == nil {
				printBound("latency", 1.5)
			}
		case "latency-long":
			err = each(ships, func(s shipper) error { return latency(s, "latency-long", *rate, *latencyFor, int(2**rate)) })
		case "files":
			if err = each(bounded, func(s shipper) error { return manyFiles(s, *nFiles, *filesEvery, *filesFor, false) }); err == nil {
				printBound("files", 5)
			}
		case "files-own":
			if err = each(bounded, func(s shipper) error { return manyFiles(s, *nFiles, *filesEvery, *filesFor, true) }); err == nil {
				printBound("files-own", 5)
			}
		case "idle":
			err = each(ships, func(s shipper) error { return idle(s, *idleFor) })
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "spanbench %s: %v\n", run, err)
			os.Exit(1)
		}
	}
}

// each runs f for every shipper in turn, the baseline after the one under test.
func each(ships []shipper, f func(shipper) error) error {
	for _, s := range ships {
		if err := f(s); err != nil {
			return fmt.Errorf("%s%s: %w", s.bin, s.tag(), err)
		}
	}
	return nil
}

var (
	nullReceiver bool
	profileDir   string
)

func defaultDataDir() string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		return "/dev/shm/spanshipper-bench"
	}
	return filepath.Join(os.TempDir(), "spanshipper-bench")
}

// result is one child run's resource use.
type result struct {
	wall       time.Duration
	cpu        time.Duration // user + sys of the child alone
	maxRSS     int64         // bytes
	exitStatus int
}

// childEnv is added to the environment of the next runShipper.
var childEnv []string

func runShipper(ctx context.Context, bin string, args []string, stop <-chan struct{}, started ...func(pid int)) (result, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stderr = os.Stderr
	cmd.Env = append(os.Environ(), childEnv...)
	childEnv = nil
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return result{}, err
	}
	for _, f := range started {
		f(cmd.Process.Pid)
	}
	if stop != nil {
		go func() {
			<-stop
			cmd.Process.Signal(syscall.SIGTERM)
		}()
	}
	err := cmd.Wait()
	res := result{wall: time.Since(start)}
	if cmd.ProcessState == nil {
		return res, err
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	res.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	res.maxRSS = ru.Maxrss << 10
	res.exitStatus = cmd.ProcessState.ExitCode()
	if res.exitStatus != 0 {
		return res, fmt.Errorf("spanshipper exit %d", res.exitStatus)
	}
	return res, nil
}

// ensureFile generates the benchmark file once.
func ensureFile(dir string, spans int) (string, int64, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", 0, err
	}
	// The name carries the generator's format version: a cached file from
	// an older generator is not reused.
	p := filepath.Join(dir, fmt.Sprintf("spans-%d-v%d.jsonl", spans, spangen.FormatVersion))
	ends := filepath.Join(dir, fmt.Sprintf("spans-%d-v%d.ends", spans, spangen.FormatVersion))
	if b, err := os.ReadFile(ends); err == nil {
		n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if _, err := os.Stat(p); err == nil && n > 0 {
			return p, n, nil
		}
	}
	fmt.Printf("generating %d spans into %s (cached for later runs)…\n", spans, p)
	g := spangen.New(spangen.Options{Seed: 1, Spans: spans})
	w := &spangen.Writer{Path: p}
	if err := w.Run(context.Background(), g); err != nil {
		return "", 0, err
	}
	n := g.Stats().Ends
	return p, n, os.WriteFile(ends, []byte(strconv.FormatInt(n, 10)), 0o644)
}

func warm(p string) (int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return io.Copy(io.Discard, bufio.NewReaderSize(f, 1<<20))
}
