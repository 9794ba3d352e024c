package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/spanshipper/spanshipper/checkpoint"
	"github.com/spanshipper/spanshipper/decode"
	"github.com/spanshipper/spanshipper/frame"
	"github.com/spanshipper/spanshipper/ship"
	"github.com/spanshipper/spanshipper/tailer"
)

// checkSample is how much of each file `check` reads.
const checkSample = 1 << 20

// checker prints one line per result of `spanshipper check` and remembers
// whether all passed.
type checker struct {
	w      io.Writer
	failed bool
}

func (k *checker) result(ok bool, format string, a ...any) {
	mark := "ok  "
	if !ok {
		mark, k.failed = "FAIL", true
	}
	fmt.Fprintf(k.w, "%s %s\n", mark, fmt.Sprintf(format, a...))
}

// runCheck is `spanshipper check`: the agent's flags and variables, checked
// without shipping anything (SPEC §7). Exit 2 for a configuration error as
// the agent would, else 0 when every check passes and 1 when one fails.
func runCheck(args []string, getenv func(string) (string, bool), stdout, stderr io.Writer) int {
	c, warnings, err := LoadConfig(args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usage())
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "spanshipper: %v\n", err)
		return 2
	}
	k := &checker{w: stdout}
	for _, w := range warnings {
		fmt.Fprintf(stdout, "warn config: %s\n", w)
	}
	k.result(true, "config: %d --path globs, endpoint %s, state dir %s, span starts %s", len(c.Paths), c.Endpoint, c.StateDir, spanStartMode(c))
	for _, g := range c.Paths {
		checkGlob(k, g, c)
	}
	checkStateDir(k, c.StateDir)
	checkEndpoint(k, c)
	if k.failed {
		return 1
	}
	return 0
}

func spanStartMode(c Config) string {
	if c.SkipSpanStart {
		return "skipped"
	}
	return "shipped"
}

// checkGlob reports a glob's matching files, each with its size, format and
// what its first MiB holds.
func checkGlob(k *checker, glob string, c Config) {
	paths, _ := filepath.Glob(glob) // validated by LoadConfig
	var files []string
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && !tailer.Excluded(c.Excludes, p) {
			files = append(files, p)
		}
	}
	if len(files) == 0 {
		k.result(false, "path %s: no file matches (yet); check the glob and the directory's permissions", glob)
		return
	}
	k.result(true, "path %s: %d files", glob, len(files))
	format, _ := frame.ParseFormat(c.Format) // validated by LoadConfig
	for _, p := range files {
		if strings.HasSuffix(p, ".gz") {
			k.result(true, "  %s: compressed, never read", p)
			continue
		}
		s, err := sampleFile(p, format, c.MaxLineBytes)
		if err != nil {
			k.result(false, "  %s: %v", p, err)
			continue
		}
		how := "format " + s.format.String()
		switch {
		case format != frame.Auto:
			how += " (--format)"
		case s.format == frame.Auto:
			how = "format not decided yet (no complete line)"
		default:
			how += " (detected)"
		}
		k.result(true, "  %s: %s, %s, first MiB: %d span starts, %d span ends, %d not-span, %d bad",
			p, humanBytes(s.size), how, s.starts, s.ends, s.notSpan, s.bad)
	}
}

// sample is what the first MiB of a file holds.
type sample struct {
	size                       int64
	format                     frame.Format
	starts, ends, notSpan, bad int
}

// sampleFile reads the complete lines of p's first MiB, detects the format
// from the first non-blank one (unless --format names it) and counts its
// records as the agent would.
func sampleFile(p string, format frame.Format, maxLine int) (sample, error) {
	s := sample{format: format}
	f, err := os.Open(p)
	if err != nil {
		return s, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return s, err
	}
	s.size = fi.Size()
	buf := make([]byte, min(s.size, checkSample))
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return s, err
	}
	buf = buf[:n]
	if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
		buf = buf[:i+1] // complete lines only: a last fragment waits for its newline
	} else {
		buf = nil
	}
	dec := decode.New(decode.Options{})
	var j *frame.Joiner
	var item []byte
	var off int64
	for line := range bytes.Lines(buf) {
		start := off
		off += int64(len(line))
		line = bytes.TrimSuffix(line, []byte("\n"))
		if j == nil {
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			if s.format == frame.Auto {
				s.format = frame.Detect(bytes.TrimRight(line, "\r"))
			}
			j = frame.NewJoiner(s.format, maxLine)
		}
		if len(line) > maxLine {
			s.bad++ // the reader skips a physical line this long
			continue
		}
		j.Push(line, start, off, func(r frame.Record) error {
			switch {
			case r.Err != nil, r.TooLong:
				s.bad++
			case len(bytes.TrimSpace(r.Line)) == 0:
			case s.format.Container() && !decode.LooksLikeSpan(r.Line):
				s.notSpan++
			default:
				var sp decode.Span
				var err error
				item, sp, err = dec.Append(item[:0], r.Line)
				switch {
				case err != nil:
					s.bad++
				case sp.Kind == decode.KindStart:
					s.starts++
				case sp.Kind == decode.KindEnd:
					s.ends++
				}
			}
			return nil
		})
	}
	return s, nil
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// checkStateDir reports whether the state directory (or, while it does not
// exist, the directory it would be created in) is writable, and whether a
// running spanshipper holds it, which is not a failure.
func checkStateDir(k *checker, dir string) {
	target, note := dir, ""
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		target = filepath.Dir(dir)
		for {
			if _, err := os.Stat(target); err == nil || filepath.Dir(target) == target {
				break
			}
			target = filepath.Dir(target)
		}
		note = fmt.Sprintf("does not exist yet; created at start in %s, ", target)
	}
	probe, err := os.CreateTemp(target, ".spanshipper-check-*")
	if err != nil {
		k.result(false, "state dir %s: %snot writable: %v", dir, note, err)
		return
	}
	probe.Close()
	os.Remove(probe.Name())
	held, err := checkpoint.Held(dir)
	switch {
	case err != nil:
		k.result(false, "state dir %s: writable, but its lock cannot be tested: %v", dir, err)
	case held:
		k.result(true, "state dir %s: writable; a running spanshipper holds it (a second one on it would refuse to start)", dir)
	default:
		k.result(true, "state dir %s: %swritable; no spanshipper is running on it", dir, note)
	}
}

// checkEndpoint sends one authenticated request that creates nothing.
func checkEndpoint(k *checker, c Config) {
	url := strings.TrimRight(c.Endpoint, "/") + ship.Path
	ctx, cancel := context.WithTimeout(context.Background(), c.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url, strings.NewReader(`{"items":[]}`))
	if err != nil {
		k.result(false, "endpoint %s: %v", c.Endpoint, err)
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-api-key", c.APIKey.Reveal())
	req.Header.Set("x-selected-account-id", c.AccountID)
	client := &http.Client{Transport: ship.NewTransport()}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		k.result(false, "endpoint %s: unreachable: %s", c.Endpoint, ship.Cause(0, "", err, c.RequestTimeout))
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	switch st := resp.StatusCode; {
	case st >= 200 && st < 300, st == http.StatusBadRequest, st == http.StatusUnprocessableEntity:
		k.result(true, "endpoint %s: reachable, credentials accepted (PUT %s with no items: status %d)", c.Endpoint, ship.Path, st)
	case st == http.StatusUnauthorized, st == http.StatusForbidden:
		k.result(false, "endpoint %s: credentials rejected (status %d: %s); check the API key and account id", c.Endpoint, st, firstLine(string(body)))
	default:
		k.result(false, "endpoint %s: unreachable: %s", c.Endpoint, ship.Cause(st, string(body), nil, 0))
	}
}
