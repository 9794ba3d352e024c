// Package spangen generates realistic agentex span-event lines, as the
// agentex Python SDK writes them (span.model_dump_json()): each span a start
// record, later an end record, interleaved with other spans, nested within
// traces, 300–1500 bytes, deterministic by seed.
package spangen

import (
	"math/rand/v2"
	"strconv"
	"time"
)

// Options say what to generate.
type Options struct {
	Seed              uint64
	Spans             int
	StartOnlyFraction float64 // spans that get a start record and never an end
	BadFraction       float64 // extra bad lines mixed in, per span record
}

// Stats counts what was generated.
type Stats struct {
	Lines, Starts, Ends, StartOnly, Bad, Bytes int64
}

// span is an open span: started, not yet ended.
type span struct {
	id, trace, parent, name, task string
	start                         string
	input, data                   []byte
	startOnly                     bool
}

// Generator produces lines. It is not safe for concurrent use.
type Generator struct {
	o       Options
	r       *rand.Rand
	started int
	open    []*span
	traces  []string // traces with open spans, for nesting
	clock   time.Time
	stats   Stats
	pad     []byte
}

// New returns a Generator for o.
func New(o Options) *Generator {
	g := &Generator{o: o, r: rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)),
		clock: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)}
	g.pad = make([]byte, 1200)
	const letters = "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJ.,"
	for i := range g.pad {
		g.pad[i] = letters[g.r.IntN(len(letters))]
	}
	return g
}

// Stats returns the counts so far.
func (g *Generator) Stats() Stats { return g.stats }

// Next appends the next line, '\n' included, to dst. It returns false when
// every span has been started and ended.
func (g *Generator) Next(dst []byte) ([]byte, bool) {
	if g.o.BadFraction > 0 && g.r.Float64() < g.o.BadFraction {
		n := len(dst)
		dst = g.bad(dst)
		g.count(len(dst) - n)
		g.stats.Bad++
		return dst, true
	}
	canStart := g.started < g.o.Spans
	if !canStart && len(g.open) == 0 {
		return dst, false
	}
	n := len(dst)
	if canStart && (len(g.open) < 2 || len(g.open) < 16 && g.r.IntN(2) == 0) {
		dst = g.startSpan(dst)
		g.stats.Starts++
	} else {
		i := g.r.IntN(len(g.open))
		s := g.open[i]
		g.open[i] = g.open[len(g.open)-1]
		g.open = g.open[:len(g.open)-1]
		if s.startOnly {
			g.stats.StartOnly++
			return g.Next(dst) // never ended
		}
		dst = g.endSpan(dst, s)
		g.stats.Ends++
	}
	g.count(len(dst) - n)
	return dst, true
}

func (g *Generator) count(n int) {
	g.stats.Lines++
	g.stats.Bytes += int64(n)
}

func (g *Generator) uuid() string {
	const hex = "0123456789abcdef"
	var b [36]byte
	for i := range b {
		switch i {
		case 8, 13, 18, 23:
			b[i] = '-'
		default:
			b[i] = hex[g.r.IntN(16)]
		}
	}
	return string(b[:])
}

// timestamp advances the fake clock and formats it the ways Python does.
func (g *Generator) timestamp() string {
	g.clock = g.clock.Add(time.Duration(g.r.IntN(50_000)) * time.Microsecond)
	switch x := g.r.IntN(10); {
	case x < 2:
		return g.clock.Format("2006-01-02T15:04:05.000000+00:00")
	case x < 3:
		// Whole seconds: round the clock up, so it never runs backwards
		// and an end is never before its start.
		g.clock = g.clock.Truncate(time.Second).Add(time.Second)
		return g.clock.Format("2006-01-02T15:04:05Z")
	default:
		return g.clock.Format("2006-01-02T15:04:05.000000Z")
	}
}

// RareName is the name of about one span in 1000: tests use it to poison a
// few spans among many.
const RareName = "escalate_to_human"

var names = []string{"chat_completion", "tool_call", "agent_turn", "retrieve_documents", "plan", "summarise", "guardrail_check"}
var spanTypes = []string{"COMPLETION", "TOOL", "AGENT_WORKFLOW", "RETRIEVAL", "CUSTOM"}

func (g *Generator) startSpan(dst []byte) []byte {
	g.started++
	name := names[g.r.IntN(len(names))]
	if g.r.IntN(1000) == 0 {
		name = RareName
	}
	s := &span{id: g.uuid(), name: name, start: g.timestamp()}
	s.startOnly = g.o.StartOnlyFraction > 0 && g.r.Float64() < g.o.StartOnlyFraction
	// Nest under an open span of the same trace half of the time.
	if len(g.open) > 0 && g.r.IntN(2) == 0 {
		p := g.open[g.r.IntN(len(g.open))]
		s.trace, s.parent = p.trace, p.id
	} else {
		s.trace = g.uuid()
	}
	if g.r.IntN(5) > 0 {
		s.task = "task-" + strconv.Itoa(g.r.IntN(1000))
	}
	s.input = g.input(nil)
	s.data = g.data(nil)
	g.open = append(g.open, s)
	return g.record(dst, s, "", nil, nil)
}

func (g *Generator) endSpan(dst []byte, s *span) []byte {
	end := g.timestamp()
	data := s.data
	if g.r.IntN(20) == 0 {
		// An error: __error__ inside data, as the SDK records exceptions.
		d := append([]byte(nil), data...)
		if len(d) < 2 || d[0] != '{' {
			d = []byte("{}")
		}
		e := []byte(`"__error__":{"type":"ValueError","message":"boom \"quoted\" \\ path"}`)
		if len(d) > 2 {
			e = append(e, ',')
		}
		data = append(append([]byte{'{'}, e...), d[1:]...)
	}
	return g.record(dst, s, end, g.output(nil), data)
}

// record writes one span record, keys in pydantic's order.
func (g *Generator) record(dst []byte, s *span, end string, output, data []byte) []byte {
	dst = append(dst, `{"id":"`...)
	dst = append(dst, s.id...)
	dst = append(dst, `","name":"`...)
	dst = append(dst, s.name...)
	dst = append(dst, `","start_time":"`...)
	dst = append(dst, s.start...)
	if end == "" {
		dst = append(dst, `","end_time":null`...)
	} else {
		dst = append(dst, `","end_time":"`...)
		dst = append(dst, end...)
		dst = append(dst, '"')
	}
	dst = append(dst, `,"trace_id":"`...)
	dst = append(dst, s.trace...)
	if s.parent == "" {
		dst = append(dst, `","parent_id":null`...)
	} else {
		dst = append(dst, `","parent_id":"`...)
		dst = append(dst, s.parent...)
		dst = append(dst, '"')
	}
	dst = append(dst, `,"input":`...)
	dst = append(dst, s.input...)
	dst = append(dst, `,"output":`...)
	if output == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, output...)
	}
	if data == nil {
		data = s.data
	}
	dst = append(dst, `,"data":`...)
	dst = append(dst, data...)
	if s.task == "" {
		dst = append(dst, `,"task_id":null}`...)
	} else {
		dst = append(dst, `,"task_id":"`...)
		dst = append(dst, s.task...)
		dst = append(dst, `"}`...)
	}
	return append(dst, '\n')
}

// text appends n bytes of prose, with the characters JSON must escape and
// some non-ASCII now and then.
func (g *Generator) text(dst []byte, n int) []byte {
	off := g.r.IntN(len(g.pad) - n)
	dst = append(dst, g.pad[off:off+n]...)
	switch g.r.IntN(6) {
	case 0:
		dst = append(dst, ` \"quoted\" and a back\\slash\nnew line`...)
	case 1:
		dst = append(dst, ` Café 日本 ✓ 🚀 \u00e9`...)
	}
	return dst
}

func (g *Generator) input(dst []byte) []byte {
	switch x := g.r.IntN(20); {
	case x == 0:
		return append(dst, `null,"metadata_note":"input withheld by policy"`...) // unknown fields are ignored
	case x < 4: // a list of messages
		dst = append(dst, `[{"role":"system","content":"`...)
		dst = g.text(dst, 70+g.r.IntN(280))
		dst = append(dst, `"},{"role":"user","content":"`...)
		dst = g.text(dst, 20+g.r.IntN(200))
		return append(dst, `"}]`...)
	default:
		dst = append(dst, `{"messages":[{"role":"user","content":"`...)
		dst = g.text(dst, 80+g.r.IntN(460))
		dst = append(dst, `"}],"temperature":0.70,"max_tokens":1024,"top_p":1E0}`...)
		return dst
	}
}

func (g *Generator) output(dst []byte) []byte {
	if g.r.IntN(20) == 0 {
		return append(dst, "null"...)
	}
	dst = append(dst, `{"content":"`...)
	dst = g.text(dst, 20+g.r.IntN(260))
	dst = append(dst, `","usage":{"prompt_tokens":`...)
	dst = strconv.AppendInt(dst, int64(g.r.IntN(4000)), 10)
	dst = append(dst, `,"completion_tokens":`...)
	dst = strconv.AppendInt(dst, int64(g.r.IntN(800)), 10)
	dst = append(dst, `},"score":1.0e-7,"ratio":0.10,"delta":-0.0,"scores":[1E3,2.50,[]],"empty":{}}`...)
	return dst
}

func (g *Generator) data(dst []byte) []byte {
	switch x := g.r.IntN(20); {
	case x == 0:
		return append(dst, "null"...)
	case x < 5: // no span type
		return append(dst, `{"model":"gpt-4o","tags":["a","b"]}`...)
	default:
		dst = append(dst, `{"__span_type__":"`...)
		dst = append(dst, spanTypes[g.r.IntN(len(spanTypes))]...)
		return append(dst, `","model":"gpt-4o-mini","tags":["prod"],"cost_usd":0.000125}`...)
	}
}

// bad appends a line that is not a valid span record.
func (g *Generator) bad(dst []byte) []byte {
	switch g.r.IntN(6) {
	case 0:
		dst = append(dst, "this is not json"...)
	case 1:
		dst = append(dst, "[1,2]"...)
	case 2:
		dst = append(dst, `{"id":"`+g.uuid()+`","name":"n","start_time":"2026-11-25T10:00:00Z","end_time":"2026-11-25T10:00:01Z"}`...)
	case 3:
		dst = append(dst, `{"id":"`+g.uuid()+`","trace_id":"t","name":42,"start_time":"2026-11-25T10:00:00Z","end_time":"2026-11-25T10:00:01Z"}`...)
	case 4:
		dst = append(dst, "{\"id\":\"\xff\xfe\",\"trace_id\":\"t\",\"name\":\"n\",\"start_time\":\"2026-11-25T10:00:00Z\",\"end_time\":\"2026-11-25T10:00:01Z\"}"...)
	default:
		dst = append(dst, `{"id":"x","na`...)
	}
	return append(dst, '\n')
}
