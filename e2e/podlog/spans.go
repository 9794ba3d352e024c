package main

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// spanGen produces agentex span records as the SDK prints them
// (span.model_dump_json(), keys in pydantic's order): each span a start
// record, later an end record, a few spans open at once and nested within
// traces. It is modelled on the main module's spangen, with big spans whose
// lines the runtimes split.
type spanGen struct {
	r         *rand.Rand
	spans     int     // spans to start
	big       float64 // fraction of spans of 20–60 KiB
	startOnly float64 // fraction of spans that never end
	// wholeRunes keeps multi-byte characters off the runtimes' split points
	// (docker's json-file logger writes each byte of a split character as
	// U+FFFD); without it some big spans get a character across one.
	wholeRunes bool

	started int
	open    []*span
	clock   time.Time
}

type span struct {
	id, trace, parent string
	name, start, task string
	input, data       []byte
	startOnly, big    bool
}

const maxOpenSpans = 6

func newSpanGen(o podOptions) *spanGen {
	return &spanGen{
		r:     rand.New(rand.NewPCG(o.seed, o.seed^0x5eed)),
		spans: o.spans, big: o.bigFraction, startOnly: o.startOnlyFraction, wholeRunes: o.wholeRunes,
		clock: time.Date(2026, 11, 26, 2, 0, 0, 250000000, time.UTC),
	}
}

// next appends the next span record, '\n' included, and reports whether
// the record is big; ok is false when every span has been started and closed.
func (g *spanGen) next(dst []byte) (line []byte, big, ok bool) {
	for {
		canStart := g.started < g.spans
		if !canStart && len(g.open) == 0 {
			return dst, false, false
		}
		if canStart && (len(g.open) < 2 || len(g.open) < maxOpenSpans && g.r.IntN(2) == 0) {
			s := g.startSpan()
			return g.finish(dst, g.record(nil, s, "", false), s.big), s.big, true
		}
		i := g.r.IntN(len(g.open))
		s := g.open[i]
		g.open = append(g.open[:i], g.open[i+1:]...)
		if s.startOnly {
			continue // closed without an end record
		}
		end := g.timestamp()
		return g.finish(dst, g.record(nil, s, end, g.r.IntN(15) == 0), s.big), s.big, true
	}
}

func (g *spanGen) startSpan() *span {
	g.started++
	s := &span{
		id:        g.uuid(),
		name:      spanNames[g.r.IntN(len(spanNames))],
		start:     g.timestamp(),
		startOnly: g.r.Float64() < g.startOnly,
		big:       g.r.Float64() < g.big,
		task:      "null",
	}
	if len(g.open) > 0 && g.r.IntN(2) == 0 {
		p := g.open[g.r.IntN(len(g.open))]
		s.trace, s.parent = p.trace, p.id
	} else {
		s.trace = g.uuid()
	}
	if g.r.IntN(5) > 0 {
		s.task = `"task-` + strconv.Itoa(g.r.IntN(10000)) + `"`
	}
	if s.big {
		s.input = g.bigInput()
	} else {
		s.input = g.input()
	}
	s.data = g.data()
	g.open = append(g.open, s)
	return s
}

var spanNames = []string{"chat_completion", "tool_call", "agent_turn", "retrieve_documents", "plan", "summarise", "guardrail_check"}

// record appends one span record; an empty end makes it a start record.
func (g *spanGen) record(dst []byte, s *span, end string, fail bool) []byte {
	dst = append(dst, `{"id":"`+s.id+`","name":"`+s.name+`","start_time":"`+s.start+`","end_time":`...)
	if end == "" {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, `"`+end+`"`...)
	}
	dst = append(dst, `,"trace_id":"`+s.trace+`","parent_id":`...)
	if s.parent == "" {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, `"`+s.parent+`"`...)
	}
	dst = append(dst, `,"input":`...)
	dst = append(dst, s.input...)
	dst = append(dst, `,"output":`...)
	if end == "" {
		dst = append(dst, "null"...)
	} else {
		dst = g.output(dst)
	}
	dst = append(dst, `,"data":`...)
	dst = g.withError(dst, s.data, fail)
	dst = append(dst, `,"task_id":`+s.task+"}\n"...)
	return dst
}

// finish appends line to dst, placing multi-byte characters of a big line
// relative to the split points.
func (g *spanGen) finish(dst, line []byte, big bool) []byte {
	switch {
	case g.wholeRunes:
		line = wholeRunes(line, maxCRILine)
	case big && g.r.IntN(2) == 0:
		line = splitRune(line, maxCRILine)
	}
	return append(dst, line...)
}

// wholeRunes pads with spaces before any multi-byte character that a split
// every n bytes would cut, so it starts at the split point instead. Such
// characters are only ever inside JSON strings.
func wholeRunes(line []byte, n int) []byte {
	for b := n; b < len(line); b += n {
		s := b
		for s > 0 && !utf8.RuneStart(line[s]) {
			s--
		}
		if pad := b - s; pad > 0 {
			line = slices.Insert(line, s, bytes.Repeat([]byte{' '}, pad)...)
		}
	}
	return line
}

// splitRune puts a 4-byte character across the first split point, where
// the line has plain prose there.
func splitRune(line []byte, n int) []byte {
	const rocket = "🚀"
	at := n - 2
	if len(line) < n+8 {
		return line
	}
	for _, c := range line[at-1 : at+len(rocket)+1] {
		if !(c >= 'a' && c <= 'z' || c == ' ') {
			return line
		}
	}
	copy(line[at:], rocket)
	return line
}

func (g *spanGen) uuid() string {
	const hex = "0123456789abcdef"
	var b [36]byte
	x, y := g.r.Uint64(), g.r.Uint64()
	for i := range b {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			b[i] = '-'
			continue
		case i < 18:
			b[i], x = hex[x&15], x>>4
		default:
			b[i], y = hex[y&15], y>>4
		}
	}
	return string(b[:])
}

// timestamp advances the fake clock and formats it the ways Python does:
// mostly microseconds and Z, some +00:00, some whole seconds.
func (g *spanGen) timestamp() string {
	g.clock = g.clock.Add(time.Duration(1+g.r.IntN(40_000)) * time.Microsecond)
	switch x := g.r.IntN(10); {
	case x < 2:
		return g.clock.Format("2006-01-02T15:04:05.000000") + "+00:00"
	case x < 3:
		g.clock = g.clock.Truncate(time.Second).Add(time.Second) // never backwards
		return g.clock.Format("2006-01-02T15:04:05Z")
	default:
		return g.clock.Format("2006-01-02T15:04:05.000000Z")
	}
}
