// Command spanbench measures spanshipper (make bench): throughput and
// footprint on a 1,000,000-span file, end-to-end latency at a steady rate,
// and the CPU used while following idle files. It runs bin/spanshipper as a
// child process and reads the child's own CPU time and peak RSS.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
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

// receiver is an in-process spansink that also records when each item was
// acknowledged, keyed by its id.
type receiver struct {
	srv  *http.Server
	addr string
	s    *sink.Server

	mu                      sync.Mutex
	acked                   map[string]time.Time // only when tracking latency
	nullItems, nullRequests int64
	null                    bool // read and count bodies only: the shipper's own ceiling
	track                   bool
}

func newReceiver(track bool) (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &receiver{addr: ln.Addr().String(), s: sink.New(sink.Config{Discard: true}), track: track, acked: map[string]time.Time{}, null: nullReceiver && !track}
	r.srv = &http.Server{Handler: r}
	go r.srv.Serve(ln)
	return r, nil
}

var nullBufs sync.Pool

var idRE = regexp.MustCompile(`\{"id":"([^"]+)"`)

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if r.null && req.Method == http.MethodPut {
		buf, _ := nullBufs.Get().(*bytes.Buffer)
		if buf == nil {
			buf = new(bytes.Buffer)
		}
		buf.Reset()
		buf.ReadFrom(req.Body)
		n := bytes.Count(buf.Bytes(), []byte(`{"id":"`)) // items start so; generated nested values never do
		nullBufs.Put(buf)
		r.mu.Lock()
		r.nullItems += int64(n)
		r.nullRequests++
		r.mu.Unlock()
		return
	}
	if !r.track || req.Method != http.MethodPut {
		r.s.ServeHTTP(w, req)
		return
	}
	body, _ := io.ReadAll(req.Body)
	req.Body = io.NopCloser(strings.NewReader(string(body)))
	rec := &statusRecorder{ResponseWriter: w}
	r.s.ServeHTTP(rec, req)
	if rec.status == 0 || rec.status == 200 {
		now := time.Now()
		r.mu.Lock()
		for _, m := range idRE.FindAllSubmatch(body, -1) {
			if _, ok := r.acked[string(m[1])]; !ok {
				r.acked[string(m[1])] = now
			}
		}
		r.mu.Unlock()
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) { s.status = code; s.ResponseWriter.WriteHeader(code) }

func (r *receiver) stats() sink.Stats {
	rec := &bufferWriter{header: http.Header{}}
	req, _ := http.NewRequest(http.MethodGet, "/stats", nil)
	r.s.ServeHTTP(rec, req)
	var st sink.Stats
	json.Unmarshal(rec.body, &st)
	return st
}

type bufferWriter struct {
	header http.Header
	body   []byte
}

func (b *bufferWriter) Header() http.Header { return b.header }
func (b *bufferWriter) Write(p []byte) (int, error) {
	b.body = append(b.body, p...)
	return len(p), nil
}
func (b *bufferWriter) WriteHeader(int) {}

func (r *receiver) close() { r.srv.Close() }

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

// latency writes span records at a fixed rate and measures, per span-end
// record, the time from its write to its acknowledgement by the receiver.
func latency(bin string, rate float64, dur time.Duration) error {
	dir, _ := os.MkdirTemp("", "spanbench-latency")
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "agent.jsonl")
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := newReceiver(true)
	if err != nil {
		return err
	}
	defer r.close()
	stop := make(chan struct{})
	done := make(chan result, 1)
	go func() {
		if profileDir != "" {
			childEnv = []string{"SPANSHIPPER_CPUPROFILE=" + filepath.Join(profileDir, "shipper-latency.pprof")}
		}
		res, _ := runShipper(context.Background(), bin, []string{"--path", p, "--endpoint", "http://" + r.addr,
			"--state-dir", filepath.Join(dir, "state"), "--listen", "off", "--log-level", "warn"}, stop)
		done <- res
	}()
	time.Sleep(500 * time.Millisecond) // the shipper is following the file

	fmt.Printf("\n== latency: %.0f span-end records/s (plus their starts) for %v, default --linger 250ms\n", rate, dur)
	g := spangen.New(spangen.Options{Seed: 2, Spans: int(rate * dur.Seconds() * 1.2)})
	written := map[string]time.Time{}
	start := time.Now()
	var line []byte
	var ends int
	for i := 0; time.Since(start) < dur; i++ {
		var ok bool
		if line, ok = g.Next(line[:0]); !ok {
			break
		}
		// Two lines per span: pace the lines at twice the span rate.
		if d := time.Until(start.Add(time.Duration(float64(i) / (2 * rate) * float64(time.Second)))); d > 0 {
			time.Sleep(d)
		}
		if _, err := f.Write(line); err != nil {
			return err
		}
		if !strings.Contains(string(line[:min(len(line), 160)]), `"end_time":null`) {
			if m := idRE.FindSubmatch(line); m != nil {
				written[string(m[1])] = time.Now()
				ends++
			}
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		n := len(r.acked)
		r.mu.Unlock()
		if n >= ends {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	res := <-done
	var lat []time.Duration
	r.mu.Lock()
	for id, w := range written {
		if a, ok := r.acked[id]; ok {
			lat = append(lat, a.Sub(w))
		}
	}
	r.mu.Unlock()
	if len(lat) < ends {
		return fmt.Errorf("only %d of %d span-end records acknowledged", len(lat), ends)
	}
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }
	fmt.Printf("RESULT latency: %d span-end records at %.0f/s: p50 %v, p99 %v, max %v (write to 2xx); shipper CPU %.2fs over %.0fs\n",
		len(lat), rate, q(0.5).Round(time.Millisecond), q(0.99).Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond),
		res.cpu.Seconds(), res.wall.Seconds())
	return nil
}

// idle follows 200 files that nobody writes to and reports the CPU used.
func idle(bin string, dur time.Duration) error {
	dir, _ := os.MkdirTemp("", "spanbench-idle")
	defer os.RemoveAll(dir)
	g := spangen.New(spangen.Options{Seed: 3, Spans: 200 * 5})
	var line []byte
	for i := range 200 {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("agent-%03d.jsonl", i)))
		if err != nil {
			return err
		}
		for range 10 {
			line, _ = g.Next(line[:0])
			f.Write(line)
		}
		f.Close()
	}
	r, err := newReceiver(false)
	if err != nil {
		return err
	}
	defer r.close()
	fmt.Printf("\n== idle: 200 files, read once, then quiet for %v\n", dur)
	stop := make(chan struct{})
	done := make(chan result, 1)
	pids := make(chan int, 1)
	go func() {
		if profileDir != "" {
			childEnv = []string{"SPANSHIPPER_CPUPROFILE=" + filepath.Join(profileDir, "shipper-idle.pprof")}
		}
		res, _ := runShipper(context.Background(), bin, []string{"--path", filepath.Join(dir, "*.jsonl"), "--endpoint", "http://" + r.addr,
			"--state-dir", filepath.Join(dir, "state"), "--listen", "off", "--log-level", "warn"}, stop, func(pid int) { pids <- pid })
		done <- res
	}()
	pid := <-pids
	// Start the clock once the files were read and shipped.
	time.Sleep(3 * time.Second)
	before, err := procCPU(pid)
	if err != nil {
		return err
	}
	time.Sleep(dur)
	after, err := procCPU(pid)
	if err != nil {
		return err
	}
	close(stop)
	res := <-done
	fmt.Printf("RESULT idle: 200 quiet files for %v: %.3f CPU-seconds (whole run with start-up and first read: %.3f)\n",
		dur, (after - before).Seconds(), res.cpu.Seconds())
	return nil
}

// procCPU reads a process's user+system time from /proc (clock ticks of 10ms).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}
