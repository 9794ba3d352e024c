// Package spangen generates realistic agentex span-event lines, as the
// agentex Python SDK writes them (span.model_dump_json()): each span a start
// record, later an end record, interleaved with other spans and nested
// within traces, 300–1500 bytes a line, byte for byte the same for a seed.
//
// Lines are built with append and strconv into the caller's buffer, so
// generation runs at several hundred MB/s.
package spangen

import (
	"math/rand/v2"
	"strconv"
	"time"
)

// Options say what to generate.
type Options struct {
	Seed              uint64  // the same seed gives the same bytes
	Spans             int     // spans to start
	StartOnlyFraction float64 // spans that get a start record and never an end
	BadFraction       float64 // extra bad lines mixed in, per line
}

// Stats counts what was generated so far.
type Stats struct {
	Lines     int64 // lines, bad ones included
	Starts    int64 // start records
	Ends      int64 // end records
	StartOnly int64 // spans closed without an end record
	Bad       int64 // bad lines
	Bytes     int64 // bytes, newlines included
}

// FormatVersion changes whenever the bytes a seed produces change, so caches
// of generated files (make bench) know to regenerate.
const FormatVersion = 2

// RareName is the name of about one span in 1000: tests use it to poison a
// few spans among many.
const RareName = "escalate_to_human"

// Line sizes the generator keeps to.
const (
	MinLine = 300  // shortest span record, newline included
	MaxLine = 1500 // longest span record, newline included
)

const (
	maxOpen = 16 // open spans at most
	idLen   = 36 // 8-4-4-4-12 hex
)

// span is an open span: started, not yet ended. Spans are reused.
type span struct {
	id, trace, parent [idLen]byte
	hasParent         bool
	startOnly         bool
	name              string
	start             []byte // start_time, without quotes
	input, data, task []byte // JSON values
}

// Generator produces lines. It is not safe for concurrent use.
type Generator struct {
	o       Options
	r       *rand.Rand
	started int
	open    []*span
	free    []*span
	clock   time.Time
	stats   Stats
	pad     []byte // prose that content strings are cut from
}

// New returns a Generator for o.
func New(o Options) *Generator {
	g := &Generator{
		o:     o,
		r:     rand.New(rand.NewPCG(o.Seed, o.Seed)),
		clock: time.Date(2026, 11, 25, 10, 0, 0, 123456000, time.UTC),
		open:  make([]*span, 0, maxOpen),
	}
	g.pad = g.prose(2048)
	return g
}

// Stats returns the counts so far.
func (g *Generator) Stats() Stats { return g.stats }

// Next appends the next line, '\n' included, to dst. It returns dst
// unchanged and false once every span has been started and closed.
func (g *Generator) Next(dst []byte) ([]byte, bool) {
	n := len(dst)
	for {
		if g.o.BadFraction > 0 && g.r.Float64() < g.o.BadFraction {
			dst = g.bad(dst)
			g.stats.Bad++
			break
		}
		canStart := g.started < g.o.Spans
		if !canStart && len(g.open) == 0 {
			return dst, false
		}
		if canStart && (len(g.open) < 2 || len(g.open) < maxOpen && g.r.IntN(2) == 0) {
			dst = g.startSpan(dst)
			g.stats.Starts++
			break
		}
		i := g.r.IntN(len(g.open))
		s := g.open[i]
		g.open[i] = g.open[len(g.open)-1]
		g.open = g.open[:len(g.open)-1]
		g.free = append(g.free, s)
		if s.startOnly {
			g.stats.StartOnly++ // closed without an end record
			continue
		}
		dst = g.endSpan(dst, s)
		g.stats.Ends++
		break
	}
	g.stats.Lines++
	g.stats.Bytes += int64(len(dst) - n)
	return dst, true
}

func (g *Generator) newSpan() *span {
	if n := len(g.free); n > 0 {
		s := g.free[n-1]
		g.free = g.free[:n-1]
		return s
	}
	return &span{}
}

func (g *Generator) uuid(b *[idLen]byte) {
	const hex = "0123456789abcdef"
	x, y := g.r.Uint64(), g.r.Uint64()
	j := 0
	for i := range b {
		switch i {
		case 8, 13, 18, 23:
			b[i] = '-'
			continue
		}
		if j < 16 {
			b[i] = hex[x&15]
			x >>= 4
		} else {
			b[i] = hex[y&15]
			y >>= 4
		}
		j++
	}
}

// spanName returns one of the names agents give their spans.
func spanName(i int) string {
	switch i % 7 {
	case 0:
		return "chat_completion"
	case 1:
		return "tool_call"
	case 2:
		return "agent_turn"
	case 3:
		return "retrieve_documents"
	case 4:
		return "plan"
	case 5:
		return "summarise"
	default:
		return "guardrail_check"
	}
}

func (g *Generator) startSpan(dst []byte) []byte {
	g.started++
	s := g.newSpan()
	s.name = spanName(g.r.IntN(7))
	if g.r.IntN(1000) == 0 {
		s.name = RareName
	}
	g.uuid(&s.id)
	s.start = g.timestamp(s.start[:0])
	s.startOnly = g.o.StartOnlyFraction > 0 && g.r.Float64() < g.o.StartOnlyFraction
	// Nest under an open span, in its trace, half of the time.
	s.hasParent = len(g.open) > 0 && g.r.IntN(2) == 0
	if s.hasParent {
		p := g.open[g.r.IntN(len(g.open))]
		s.trace, s.parent = p.trace, p.id
	} else {
		g.uuid(&s.trace)
	}
	s.task = s.task[:0]
	if g.r.IntN(5) > 0 {
		s.task = append(s.task, `"task-`...)
		s.task = strconv.AppendInt(s.task, int64(g.r.IntN(10000)), 10)
		s.task = append(s.task, '"')
	} else {
		s.task = append(s.task, "null"...)
	}
	var nullInput bool
	s.input, nullInput = g.input(s.input[:0])
	s.data = g.data(s.data[:0], nullInput)
	g.open = append(g.open, s)
	return g.record(dst, s, nil, false)
}

func (g *Generator) endSpan(dst []byte, s *span) []byte {
	var buf [40]byte
	end := g.timestamp(buf[:0])
	return g.record(dst, s, end, g.r.IntN(20) == 0)
}

// record appends one span record, keys in pydantic's order. A nil end is
// a start record; an end record gets an output, and with fail an
// __error__ in its data.
func (g *Generator) record(dst []byte, s *span, end []byte, fail bool) []byte {
	line := len(dst)
	dst = append(dst, `{"id":"`...)
	dst = append(dst, s.id[:]...)
	dst = append(dst, `","name":"`...)
	dst = append(dst, s.name...)
	dst = append(dst, `","start_time":"`...)
	dst = append(dst, s.start...)
	if end == nil {
		dst = append(dst, `","end_time":null`...)
	} else {
		dst = append(dst, `","end_time":"`...)
		dst = append(dst, end...)
		dst = append(dst, '"')
	}
	dst = append(dst, `,"trace_id":"`...)
	dst = append(dst, s.trace[:]...)
	if s.hasParent {
		dst = append(dst, `","parent_id":"`...)
		dst = append(dst, s.parent[:]...)
		dst = append(dst, '"')
	} else {
		dst = append(dst, `","parent_id":null`...)
	}
	dst = append(dst, `,"input":`...)
	dst = append(dst, s.input...)
	dst = append(dst, `,"output":`...)
	errText := ""
	if fail {
		errText = errorText(g.r.IntN(3))
	}
	if end == nil {
		dst = append(dst, "null"...)
	} else {
		// What follows the output, so the line stays within MaxLine.
		tail := len(`,"data":`) + dataLen(s.data, errText) + len(`,"task_id":`) + len(s.task) + len("}\n")
		dst = g.output(dst, MaxLine-(len(dst)-line)-tail)
	}
	dst = append(dst, `,"data":`...)
	dst = appendData(dst, s.data, errText)
	dst = append(dst, `,"task_id":`...)
	dst = append(dst, s.task...)
	return append(dst, "}\n"...)
}

// errorText returns an __error__ value of a failed span, as the SDK records
// exceptions.
func errorText(i int) string {
	switch i % 3 {
	case 0:
		return `{"type":"ValueError","message":"boom \"quoted\""}`
	case 1:
		return `{"type":"TimeoutError","message":"upstream timed out after 30.0s\nretry 3/3 failed"}`
	default:
		return `{"type":"KeyError","message":"'caf\u00e9' \\ not found"}`
	}
}

func dataLen(data []byte, errText string) int {
	if errText == "" {
		return len(data)
	}
	if len(data) <= 2 || data[0] != '{' { // null or {}
		return len(`{"__error__":}`) + len(errText)
	}
	return len(data) + len(`,"__error__":`) + len(errText)
}

// appendData appends data, with errText as its __error__ key if not empty.
func appendData(dst, data []byte, errText string) []byte {
	if errText == "" {
		return append(dst, data...)
	}
	if len(data) <= 2 || data[0] != '{' {
		dst = append(dst, `{"__error__":`...)
	} else {
		dst = append(dst, data[:len(data)-1]...)
		dst = append(dst, `,"__error__":`...)
	}
	dst = append(dst, errText...)
	return append(dst, '}')
}

// timestamp advances the fake clock and appends it the ways Python writes
// it: mostly microseconds and Z, some +00:00, some whole seconds.
func (g *Generator) timestamp(dst []byte) []byte {
	g.clock = g.clock.Add(time.Duration(1+g.r.IntN(50_000)) * time.Microsecond)
	frac, zone := true, "Z"
	switch x := g.r.IntN(10); {
	case x < 2:
		zone = "+00:00"
	case x < 3:
		// Whole seconds: round the clock up, so it never runs backwards
		// and an end is never before its start.
		g.clock = g.clock.Truncate(time.Second).Add(time.Second)
		frac = false
	}
	y, mo, d := g.clock.Date()
	h, mi, s := g.clock.Clock()
	dst = appendDigits(dst, y, 4)
	dst = append(dst, '-')
	dst = appendDigits(dst, int(mo), 2)
	dst = append(dst, '-')
	dst = appendDigits(dst, d, 2)
	dst = append(dst, 'T')
	dst = appendDigits(dst, h, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, mi, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, s, 2)
	if frac {
		dst = append(dst, '.')
		dst = appendDigits(dst, g.clock.Nanosecond()/1000, 6)
	}
	return append(dst, zone...)
}

// appendDigits appends v, zero-padded to width digits.
func appendDigits(dst []byte, v, width int) []byte {
	var b [8]byte
	for i := width - 1; i >= 0; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return append(dst, b[:width]...)
}
