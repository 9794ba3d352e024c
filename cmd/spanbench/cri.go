package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// criMaxRecord is where container runtimes split a line into partial (P)
// records: containerd and CRI-O cut at 16 KiB.
const criMaxRecord = 16 << 10

// derived returns the path of a file derived from spanFile (its name with
// suffix for ".jsonl"), writing it with write once, and again only when the
// span file is newer. what names it in the one line printed when writing.
func derived(spanFile, suffix, what string, write func(r *bufio.Reader, w *bufio.Writer) error) (string, error) {
	p := strings.TrimSuffix(spanFile, ".jsonl") + suffix
	if fi, err := os.Stat(p); err == nil && fi.Size() > 0 {
		if sfi, err := os.Stat(spanFile); err == nil && !sfi.ModTime().After(fi.ModTime()) {
			return p, nil
		}
	}
	fmt.Printf("writing the span file %s into %s (cached for later runs)…\n", what, p)
	in, err := os.Open(spanFile)
	if err != nil {
		return "", err
	}
	defer in.Close()
	tmp := p + ".tmp"
	out, err := os.Create(tmp)
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp)
	w := bufio.NewWriterSize(out, 1<<20)
	if err := write(bufio.NewReaderSize(in, 1<<20), w); err != nil {
		out.Close()
		return "", err
	}
	if err := w.Flush(); err != nil {
		return "", err
	}
	if err := out.Close(); err != nil {
		return "", err
	}
	return p, os.Rename(tmp, p)
}

// ensureCRIFile writes the span file as a container runtime logs it, once:
// each line as `<RFC3339Nano> stdout F <line>`, lines over 16 KiB as P
// records and a last F record. The timestamps advance 1µs per line.
func ensureCRIFile(spanFile string) (string, error) {
	return derived(spanFile, ".cri.log", "in CRI framing", func(r *bufio.Reader, w *bufio.Writer) error {
		ts := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
		var hdr []byte
		for {
			line, err := r.ReadSlice('\n')
			if err == bufio.ErrBufferFull {
				return fmt.Errorf("line over 1 MiB in %s", spanFile)
			}
			if len(line) == 0 {
				return nil
			}
			line = bytes.TrimSuffix(line, []byte("\n"))
			for {
				tag, chunk := "F", line
				if len(line) > criMaxRecord {
					tag, chunk = "P", line[:criMaxRecord]
				}
				ts = ts.Add(time.Microsecond)
				hdr = ts.AppendFormat(hdr[:0], time.RFC3339Nano)
				hdr = append(append(append(hdr, " stdout "...), tag...), ' ')
				w.Write(hdr)
				w.Write(chunk)
				w.WriteByte('\n')
				if tag == "F" {
					break
				}
				line = line[criMaxRecord:]
			}
		}
	})
}

// supportsFlag reports whether bin's usage lists --flag.
func supportsFlag(bin, flag string) bool {
	out, _ := exec.Command(bin, "--help").CombinedOutput()
	return bytes.Contains(out, []byte("--"+flag+"\n"))
}

// criRun ships the same spans in CRI framing (--format cri): the cost of the
// container-log framing per span.
func criRun(ships []shipper, dataDir string, spans, runs int) error {
	p, ends, err := ensureFile(dataDir, spans)
	if err != nil {
		return err
	}
	var able []shipper
	for _, s := range ships {
		if supportsFlag(s.bin, "format") {
			able = append(able, s)
		} else {
			fmt.Printf("\n== cri: %s has no --format; not measured\n", s.bin)
		}
	}
	if len(able) == 0 {
		return nil
	}
	cri, err := ensureCRIFile(p)
	if err != nil {
		return err
	}
	_, err = runBulk(bulk{name: "cri", file: cri, spans: spans, ends: ends, args: []string{"--format", "cri"}}, able, runs)
	return err
}
