// Package frame strips the framing container runtimes put around each line a
// container prints — the CRI log format (containerd, CRI-O) and docker's
// json-file format — and rejoins the partial records of a long line, one
// partial per stream. Physical lines with their byte ranges go in; logical
// lines with the byte range of every physical line they came from come out.
// What the content means is not its business: the span decoder never learns
// a container existed.
package frame

import (
	"bytes"
	"fmt"
)

// Format is how the lines of one file are framed.
type Format uint8

// The formats. Auto is a configuration value only: a file's format is
// decided by Detect from its first complete non-blank line.
const (
	Auto   Format = iota
	Span          // one span object per line, no framing
	CRI           // <RFC3339Nano> <stdout|stderr> <P|F>[:tags] <content>
	Docker        // {"log":"<content>","stream":"stdout","time":"..."}
)

var names = [...]string{Auto: "auto", Span: "span", CRI: "cri", Docker: "docker"}

func (f Format) String() string {
	if int(f) < len(names) {
		return names[f]
	}
	return fmt.Sprintf("Format(%d)", f)
}

// Container reports whether f is a container runtime's log format, whose
// files mix spans with whatever else the container prints.
func (f Format) Container() bool { return f == CRI || f == Docker }

// ParseFormat parses a --format value.
func ParseFormat(s string) (Format, error) {
	for i, n := range names {
		if s == n {
			return Format(i), nil
		}
	}
	return Auto, fmt.Errorf("unknown format %q (want auto, span, cri or docker)", s)
}

// Detect decides the format of a file from its first complete non-blank
// line: a CRI header, a docker json-file object (it starts with {"log":),
// else span lines.
func Detect(line []byte) Format {
	line = bytes.TrimLeft(line, " \t")
	if bytes.HasPrefix(line, []byte(`{"log":`)) {
		return Docker
	}
	if _, _, _, err := parseCRI(line); err == nil {
		return CRI
	}
	return Span
}

// Error is a physical line whose framing is malformed: bad input.
type Error struct {
	Msg string
}

func (e *Error) Error() string { return "frame: " + e.Msg }

// StreamOf returns the stream of one physical line of a container log in
// format f (0 stdout, 1 stderr), and false when the line is not well framed
// or f is not a container format. scratch is reused for docker's unescaped
// content and returned.
func StreamOf(f Format, line, scratch []byte) (stream int, ok bool, _ []byte) {
	var err *Error
	switch f {
	case CRI:
		stream, _, _, err = parseCRI(line)
	case Docker:
		stream, _, scratch, err = parseDocker(scratch[:0], line)
	default:
		return 0, false, scratch
	}
	return stream, err == nil, scratch
}
