package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spanshipper/spanshipper/spangen"
)

// latency writes span records at a fixed rate and measures, per span-end
// record, the time from its write to its acknowledgement by the receiver.
// With open > 0 (the latency-long run) each span's end is written after the
// start of the span open starts later: spans that stay open, as LLM calls
// do, so that held span starts live through checkpointer turns.
func latency(s shipper, name string, rate float64, dur time.Duration, open int) error {
	dir, _ := os.MkdirTemp("", "spanbench-latency")
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "agent.jsonl")
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := receiverFor(s, true)
	if err != nil {
		return err
	}
	defer r.close()
	sh, err := follow(s, name, p, dir, r)
	if err != nil {
		return err
	}
	defer sh.end()
	time.Sleep(500 * time.Millisecond) // the shipper is following the file
	// The steady state's own CPU: from the first write to the last ack,
	// without the process's start-up and shutdown.
	steadyFrom, err := sh.cpu()
	if err != nil {
		return err
	}

	how := ""
	if open > 0 {
		how = fmt.Sprintf(", each span open while %d others start (%v)", open, time.Duration(float64(open)/rate*float64(time.Second)))
	}
	fmt.Printf("\n== %s%s: %.0f span-end records/s (plus their starts) for %v%s, default --linger 250ms\n", name, s.tag(), rate, dur, how)
	g := spangen.New(spangen.Options{Seed: 2, Spans: int(rate*dur.Seconds()*1.2) + open})
	var reorder *delayer
	if open > 0 {
		reorder = newDelayer(open)
	}
	var queue [][]byte // lines due, each with its '\n'
	emit := func(b []byte) { queue = append(queue, append(append([]byte(nil), b...), '\n')) }
	written := map[string]time.Time{}
	start := time.Now()
	var line []byte
	var ends int
	for i := 0; time.Since(start) < dur; {
		if len(queue) == 0 {
			var ok bool
			if line, ok = g.Next(line[:0]); !ok {
				break
			}
			if reorder == nil {
				emit(line[:len(line)-1])
			} else {
				reorder.push(line[:len(line)-1], emit)
			}
			continue
		}
		line := queue[0]
		queue = queue[1:]
		// Two lines per span: pace the lines at twice the span rate.
		if d := time.Until(start.Add(time.Duration(float64(i) / (2 * rate) * float64(time.Second)))); d > 0 {
			time.Sleep(d)
		}
		i++
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
	steadyTo, err := sh.cpu()
	res := sh.end()
	if err != nil {
		return err
	}
	steady := steadyTo - steadyFrom
	measured.steady[name+"/"+s.label] = perMillion(steady, ends)
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
	fmt.Printf("RESULT %s%s: %d span-end records at %.0f/s: p50 %v, p99 %v, max %v (write to 2xx); shipper CPU %.2fs over %.0fs = %.2f CPU-seconds per million spans%s; writing to last ack only (no start-up, shutdown): %.2fs = %.2f%s\n",
		name, s.tag(), len(lat), rate, q(0.5).Round(time.Millisecond), q(0.99).Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond),
		res.cpu.Seconds(), res.wall.Seconds(), perMillion(res.cpu, ends), againstBulk(s, perMillion(res.cpu, ends)),
		steady.Seconds(), perMillion(steady, ends), againstBulk(s, perMillion(steady, ends)))
	return nil
}

// againstBulk is a cost per span as a ratio of the throughput run's, when
// this invocation measured one.
func againstBulk(s shipper, perM float64) string {
	bulk := measured.bulk[s.label]
	if bulk == 0 {
		return ""
	}
	return fmt.Sprintf(" = %.2fx the throughput run's", perM/bulk)
}

// idle follows 200 files that nobody writes to and reports the CPU used.
func idle(s shipper, dur time.Duration) error {
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
	fmt.Printf("\n== idle%s: 200 files, read once, then quiet for %v\n", s.tag(), dur)
	sh, err := follow(s, "idle", filepath.Join(dir, "*.jsonl"), dir, r)
	if err != nil {
		return err
	}
	defer sh.end()
	// Start the clock once the files were read and shipped.
	time.Sleep(3 * time.Second)
	before, err := sh.cpu()
	if err != nil {
		return err
	}
	time.Sleep(dur)
	after, err := sh.cpu()
	if err != nil {
		return err
	}
	res := sh.end()
	fmt.Printf("RESULT idle%s: 200 quiet files for %v: %.3f CPU-seconds (whole run with start-up and first read: %.3f)\n",
		s.tag(), dur, (after - before).Seconds(), res.cpu.Seconds())
	return nil
}

// follower is a spanshipper following files in the background, with its
// default flags, until it is ended.
type follower struct {
	pid  int
	stop chan struct{}
	done chan result
	once sync.Once
	res  result
}

// follow starts s following glob, shipping to r, its state in dir/state;
// name names its CPU profile (--profile).
func follow(s shipper, name, glob, dir string, r *receiver) (*follower, error) {
	f := &follower{stop: make(chan struct{}), done: make(chan result, 1)}
	if profileDir != "" {
		childEnv = []string{"SPANSHIPPER_CPUPROFILE=" + filepath.Join(profileDir, s.profile(name))}
	}
	pids := make(chan int, 1)
	go func() {
		res, _ := runShipper(context.Background(), s.bin, append([]string{"--path", glob, "--endpoint", "http://" + r.addr,
			"--state-dir", filepath.Join(dir, "state"), "--listen", "off", "--log-level", "warn"}, s.args...), f.stop, func(pid int) { pids <- pid })
		f.done <- res
	}()
	select {
	case f.pid = <-pids:
		return f, nil
	case <-f.done:
		return nil, fmt.Errorf("%s did not start", s.bin)
	}
}

// cpu returns the shipper's user+system time so far.
func (f *follower) cpu() (time.Duration, error) { return procCPU(f.pid) }

// end stops the shipper (SIGTERM), waits for it and returns its resource
// use; later calls return the same.
func (f *follower) end() result {
	f.once.Do(func() {
		close(f.stop)
		f.res = <-f.done
	})
	return f.res
}

// procCPU is a process's CPU time so far: the sum of its threads' run
// time from /proc/PID/task/*/schedstat (nanoseconds, user and system),
// or, where the kernel keeps no schedstat, user+system time from
// /proc/PID/stat in clock ticks of 10 ms, too coarse for a steady run that
// uses a few tenths of a second. A thread that exited takes its time with
// it; the Go runtime keeps its threads.
func procCPU(pid int) (time.Duration, error) {
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	var sum int64
	read := 0
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, t.Name()))
		if f := strings.Fields(string(b)); err == nil && len(f) > 0 { // else the thread has just exited
			ns, _ := strconv.ParseInt(f[0], 10, 64)
			sum += ns
			read++
		}
	}
	if read > 0 {
		return time.Duration(sum), nil
	}
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
