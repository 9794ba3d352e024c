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
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spanshipper/spanshipper/sink"
	"github.com/spanshipper/spanshipper/spangen"
)

func main() {
	bin := flag.String("bin", "bin/spanshipper", "spanshipper binary")
	dataDir := flag.String("data", defaultDataDir(), "where the generated span file is cached (tmpfs)")
	spans := flag.Int("spans", 1_000_000, "spans in the throughput file")
	runs := flag.Int("runs", 3, "throughput runs (the median is reported)")
	batch := flag.String("batch-size", "200", "--batch-size for the throughput run")
	conc := flag.String("concurrency", "3", "--concurrency for the throughput run")
	flag.StringVar(&profileDir, "profile", "", "write CPU profiles here: shipper-N.pprof (throughput run N), shipper-latency.pprof, shipper-idle.pprof (via SPANSHIPPER_CPUPROFILE) and receiver.pprof")
	flag.BoolVar(&nullReceiver, "null-receiver", false, "throughput against a receiver that reads bodies and answers 200 without parsing (the shipper's own ceiling)")
	only := flag.String("only", "throughput,latency,idle", "which runs")
	rate := flag.Float64("rate", 2000, "spans per second in the latency run")
	latencyFor := flag.Duration("latency-for", 20*time.Second, "length of the latency run")
	idleFor := flag.Duration("idle-for", 30*time.Second, "length of the idle run")
	flag.Parse()
	if profileDir != "" {
		if err := os.MkdirAll(profileDir, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	for _, run := range strings.Split(*only, ",") {
		var err error
		switch run {
		case "throughput":
			err = throughput(*bin, *dataDir, *spans, *runs, *batch, *conc)
		case "latency":
			err = latency(*bin, *rate, *latencyFor)
		case "idle":
			err = idle(*bin, *idleFor)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "spanbench %s: %v\n", run, err)
			os.Exit(1)
		}
	}
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

func throughput(bin, dataDir string, spans, runs int, batch, conc string) error {
	p, ends, err := ensureFile(dataDir, spans)
	if err != nil {
		return err
	}
	size, err := warm(p)
	if err != nil {
		return err
	}
	how := "counting and validating every item (spansink --discard, in this process)"
	if nullReceiver {
		how = "reading and counting bodies only (--null-receiver)"
	}
	fmt.Printf("\n== throughput: %d spans (%d span-end records, %.2f GiB, 2 lines per span) from one file on %s; receiver on 127.0.0.1 %s\n",
		spans, ends, float64(size)/(1<<30), dataDir, how)
	var results []result
	var st sink.Stats
	if profileDir != "" {
		f, err := os.Create(filepath.Join(profileDir, "receiver.pprof"))
		if err != nil {
			return err
		}
		pprof.StartCPUProfile(f)
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	for i := range runs {
		if profileDir != "" {
			childEnv = []string{"SPANSHIPPER_CPUPROFILE=" + filepath.Join(profileDir, fmt.Sprintf("shipper-%d.pprof", i+1))}
		}
		r, err := newReceiver(false)
		if err != nil {
			return err
		}
		state, _ := os.MkdirTemp("", "spanbench-state")
		args := []string{"--path", p, "--endpoint", "http://" + r.addr, "--state-dir", state, "--listen", "off",
			"--exit-on-eof", "--log-level", "warn", "--batch-size", batch, "--concurrency", conc}
		res, err := runShipper(context.Background(), bin, args, nil)
		st = r.stats()
		if r.null {
			st.ItemsReceived, st.RequestsOK = r.nullItems, r.nullRequests
		}
		r.close()
		os.RemoveAll(state)
		if err != nil {
			return err
		}
		if st.ItemsReceived < ends {
			return fmt.Errorf("receiver got %d items, want %d", st.ItemsReceived, ends)
		}
		fmt.Printf("run %d: %.0f span-end records/s, %.2f CPU-s per million spans, peak RSS %.1f MiB, %d requests, %.1f items/request (wall %.2fs, cpu %.2fs)\n",
			i+1, float64(ends)/res.wall.Seconds(), res.cpu.Seconds()/float64(spans)*1e6, float64(res.maxRSS)/(1<<20),
			st.RequestsOK, float64(st.ItemsReceived)/float64(st.RequestsOK), res.wall.Seconds(), res.cpu.Seconds())
		results = append(results, res)
	}
	slices.SortFunc(results, func(a, b result) int { return int(a.wall - b.wall) })
	med := results[len(results)/2]
	peak := slices.MaxFunc(results, func(a, b result) int { return int(a.maxRSS - b.maxRSS) })
	fmt.Printf("RESULT throughput: median %.0f span-end records/s, %.2f CPU-seconds per million spans, peak RSS %.1f MiB (max of %d runs), %d requests, %.1f items/request, batch-size %s, concurrency %s\n",
		float64(ends)/med.wall.Seconds(), med.cpu.Seconds()/float64(spans)*1e6, float64(peak.maxRSS)/(1<<20), runs,
		st.RequestsOK, float64(st.ItemsReceived)/float64(st.RequestsOK), batch, conc)
	return nil
}
