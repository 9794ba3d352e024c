package spangen

import (
	"strconv"
)

// prose returns n bytes of ASCII words that content strings are cut from.
func (g *Generator) prose(n int) []byte {
	const words = "the agent tool call user asked for a summary of ticket printer floor " +
		"toner ordered replacement retrieved documents plan step answer check policy " +
		"refund order status shipping delayed customer escalate model reply context "
	b := make([]byte, 0, n+16)
	for len(b) < n {
		i := g.r.IntN(len(words) - 12)
		for i > 0 && words[i-1] != ' ' {
			i--
		}
		j := i
		for words[j] != ' ' {
			j++
		}
		b = append(b, words[i:j]...)
		if g.r.IntN(9) == 0 {
			b = append(b, '.')
		}
		b = append(b, ' ')
	}
	return b[:n]
}

// extra returns what text may end with: characters JSON must escape, and
// non-ASCII, already escaped for a JSON string.
func (g *Generator) extra() string {
	switch g.r.IntN(8) {
	case 0:
		return ` \"quoted\" and a back\\slash\nnew line`
	case 1:
		return ` Café 日本 ✓ 🚀 \u00e9`
	case 2:
		return `\tpath C:\\tmp\\out.txt \u2028 \ud83d\ude00`
	default:
		return ""
	}
}

// text appends n bytes of prose, then extra.
func (g *Generator) text(dst []byte, n int, extra string) []byte {
	off := 1 + g.r.IntN(len(g.pad)-n-32)
	for g.pad[off] == ' ' || g.pad[off-1] != ' ' { // start at a word
		off++
	}
	dst = append(dst, g.pad[off:off+n]...)
	return append(dst, extra...)
}

// input appends a span input: mostly an object, some a list of messages,
// some null, which it reports.
func (g *Generator) input(dst []byte) ([]byte, bool) {
	x := g.r.IntN(20)
	switch {
	case x == 0:
		return append(dst, "null"...), true
	case x < 4: // a list of messages
		dst = append(dst, `[{"role":"user","content":"`...)
		dst = g.text(dst, 40+g.r.IntN(320), g.extra())
		dst = append(dst, `"},{"role":"assistant","content":"`...)
		dst = g.text(dst, 30+g.r.IntN(280), g.extra())
		return append(dst, `"}]`...), false
	case x < 8:
		dst = append(dst, `{"tool":"search","arguments":{"query":"`...)
		dst = g.text(dst, 60+g.r.IntN(600), g.extra())
		return append(dst, `","k":5,"filters":[["lang","en"],["year",2026]],"min_score":0.10}}`...), false
	case x < 12:
		dst = append(dst, `{"messages":[{"role":"system","content":"You are a helpful agent."},{"role":"user","content":"`...)
		dst = g.text(dst, 60+g.r.IntN(540), g.extra())
		return append(dst, `"}],"model":"gpt-4o","temperature":0.70,"max_tokens":1024,"stop":["\n\n"],"top_p":1E0}`...), false
	default:
		dst = append(dst, `{"messages":[{"role":"user","content":"`...)
		dst = g.text(dst, 60+g.r.IntN(600), g.extra())
		return append(dst, `"}],"temperature":0.7,"max_tokens":1024}`...), false
	}
}

// outputTail returns how an output object ends, after its usage.
func outputTail(i int) string {
	switch i % 4 {
	case 0:
		return `,"score":1.0e-7}`
	case 1:
		return `,"score":0.10,"ratio":1E3,"delta":-0.0,"scores":[[1,2.50],[],[-1.5e+10]]}`
	case 2:
		return `,"tool_calls":[{"name":"search","arguments":"{\"q\":\"caf\\u00e9\"}"}],"finish_reason":"tool_calls","score":-0.0}`
	default:
		return `,"choices":[{"index":0,"message":{"role":"assistant","content":"日本語 🚀 \"ok\""}}],"logprobs":null,"score":1.0e-7}`
	}
}

// output appends an end record's output, at most room bytes of it.
func (g *Generator) output(dst []byte, room int) []byte {
	var nums [40]byte
	b := append(nums[:0], `","usage":{"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(g.r.IntN(4000)), 10)
	b = append(b, `,"completion_tokens":`...)
	b = strconv.AppendInt(b, int64(g.r.IntN(800)), 10)
	b = append(b, '}')
	extra := g.extra()
	tail := outputTail(g.r.IntN(4))
	most := min(480, room-len(`{"content":"`)-len(extra)-len(b)-len(tail))
	n := 10
	if most > n {
		n += g.r.IntN(most - n + 1)
	}
	dst = append(dst, `{"content":"`...)
	dst = g.text(dst, n, extra)
	dst = append(dst, b...)
	return append(dst, tail...)
}

// dataObject returns span metadata: mostly with a __span_type__, with none
// for i >= 4.
func dataObject(i int) string {
	switch i % 6 {
	case 0:
		return `{"__span_type__":"COMPLETION"}`
	case 1:
		return `{"model":"gpt-4o","__span_type__":"AGENT_WORKFLOW","tags":["a","b"]}`
	case 2:
		return `{"__span_type__":"TOOL","tool":"search","cost_usd":0.000125}`
	case 3:
		return `{"__span_type__":"RETRIEVAL","k":5,"scores":[0.91,0.5E-1,1]}`
	case 4:
		return `{"model":"gpt-4o","tags":["a","b"]}`
	default:
		return `{"source":"sdk","attempt":1,"ratio":0.10,"labels":{"env":"prod"}}`
	}
}

// data appends a span's data: ~5% null, ~20% without __span_type__. With
// a null input it is an object with a description, for the line's length.
func (g *Generator) data(dst []byte, nullInput bool) []byte {
	x := g.r.IntN(20)
	if x == 0 && !nullInput {
		return append(dst, "null"...)
	}
	obj := dataObject(x % 4)
	if x <= 4 {
		obj = dataObject(4 + x%2)
	}
	if !nullInput {
		return append(dst, obj...)
	}
	dst = append(dst, `{"description":"`...)
	dst = g.text(dst, 80+g.r.IntN(300), g.extra())
	dst = append(dst, `",`...)
	return append(dst, obj[1:]...)
}

// bad appends a line that is not a valid span record.
func (g *Generator) bad(dst []byte) []byte {
	var id [idLen]byte
	g.uuid(&id)
	switch g.r.IntN(6) {
	case 0:
		dst = append(dst, "this is not json"...)
	case 1:
		dst = append(dst, "[1,2]"...)
	case 2: // no trace_id
		dst = append(dst, `{"id":"`...)
		dst = append(dst, id[:]...)
		dst = append(dst, `","name":"plan","start_time":"2026-11-25T10:00:00Z","end_time":"2026-11-25T10:00:01Z","parent_id":null,"input":null,"output":null,"data":null,"task_id":null}`...)
	case 3: // a number for a name
		dst = append(dst, `{"id":"`...)
		dst = append(dst, id[:]...)
		dst = append(dst, `","name":42,"start_time":"2026-11-25T10:00:00Z","end_time":"2026-11-25T10:00:01Z","trace_id":"`...)
		dst = append(dst, id[:]...)
		dst = append(dst, `","parent_id":null,"input":null,"output":null,"data":null,"task_id":null}`...)
	case 4: // invalid UTF-8 in a string
		dst = append(dst, `{"id":"`...)
		dst = append(dst, id[:]...)
		dst = append(dst, "\",\"name\":\"bad \xff\xfe name\",\"start_time\":\"2026-11-25T10:00:00Z\",\"end_time\":\"2026-11-25T10:00:01Z\",\"trace_id\":\""...)
		dst = append(dst, id[:]...)
		dst = append(dst, `","parent_id":null,"input":null,"output":null,"data":null,"task_id":null}`...)
	default:
		dst = append(dst, `{"id":"x","na`...)
	}
	return append(dst, '\n')
}
