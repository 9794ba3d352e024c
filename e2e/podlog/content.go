package main

import (
	"math/rand/v2"
	"strconv"
)

const words = "the agent tool call user asked for a summary of ticket printer floor " +
	"toner ordered replacement retrieved documents plan step answer check policy " +
	"refund order status shipping delayed customer escalate model reply context "

// prose appends about n bytes of lowercase words.
func prose(r *rand.Rand, dst []byte, n int) []byte {
	end := len(dst) + n
	for len(dst) < end {
		i := r.IntN(len(words) - 12)
		for i > 0 && words[i-1] != ' ' {
			i--
		}
		j := i
		for words[j] != ' ' {
			j++
		}
		dst = append(dst, words[i:j+1]...)
	}
	return dst
}

// extra returns what a JSON string may hold besides prose, escaped:
// quotes, backslashes, control characters, non-ASCII, U+2028.
func extra(r *rand.Rand) string {
	switch r.IntN(8) {
	case 0:
		return ` \"quoted\" and a back\\slash\nnew line `
	case 1:
		return ` Café 日本 ✓ 🚀 \u00e9 `
	case 2:
		return "\\tpath C:\\\\tmp\\\\out.txt \u2028 \\ud83d\\ude00 "
	default:
		return ""
	}
}

// text appends n bytes of prose with an extra at its end.
func text(r *rand.Rand, dst []byte, n int) []byte {
	return append(prose(r, dst, n), extra(r)...)
}

// input returns a span's input: mostly an object, some a list of messages,
// some null.
func (g *spanGen) input() []byte {
	r := g.r
	var b []byte
	switch x := r.IntN(20); {
	case x == 0:
		return []byte("null")
	case x < 4:
		b = append(b, `[{"role":"user","content":"`...)
		b = text(r, b, 40+r.IntN(300))
		b = append(b, `"},{"role":"assistant","content":"`...)
		b = text(r, b, 30+r.IntN(200))
		return append(b, `"}]`...)
	case x < 9:
		b = append(b, `{"tool":"search","arguments":{"query":"`...)
		b = text(r, b, 60+r.IntN(400))
		return append(b, `","k":5,"filters":[["lang","en"]],"min_score":0.10}}`...)
	default:
		b = append(b, `{"messages":[{"role":"system","content":"You are a helpful agent."},{"role":"user","content":"`...)
		b = text(r, b, 60+r.IntN(500))
		return append(b, `"}],"model":"gpt-4o","temperature":0.70,"max_tokens":1024}`...)
	}
}

// bigInput returns an input of 20–60 KiB: a retrieved document in the
// prompt, prose with escapes and non-ASCII here and there.
func (g *spanGen) bigInput() []byte {
	r := g.r
	size := 20<<10 + r.IntN(40<<10)
	b := make([]byte, 0, size+256)
	b = append(b, `{"messages":[{"role":"system","content":"Answer from the document. Réponds en français si besoin."},{"role":"user","content":"`...)
	for len(b) < size {
		b = prose(r, b, 200+r.IntN(800))
		b = append(b, extra(r)...)
	}
	return append(b, `"}],"model":"gpt-4o","max_tokens":4096}`...)
}

// output appends an end record's output.
func (g *spanGen) output(dst []byte) []byte {
	r := g.r
	switch r.IntN(12) {
	case 0:
		return append(dst, "null"...)
	case 1:
		return append(dst, `[{"type":"text","text":"ok"},{"type":"tool_use","name":"search"}]`...)
	}
	dst = append(dst, `{"content":"`...)
	dst = text(r, dst, 10+r.IntN(400))
	dst = append(dst, `","usage":{"prompt_tokens":`...)
	dst = strconv.AppendInt(dst, int64(r.IntN(4000)), 10)
	dst = append(dst, `,"completion_tokens":`...)
	dst = strconv.AppendInt(dst, int64(r.IntN(800)), 10)
	return append(dst, `},"score":1.0e-7,"delta":-0.0}`...)
}

// data returns a span's data: mostly an object with a __span_type__, some
// null, a few an array, a few with a key the shipper's k8s metadata would
// otherwise set.
func (g *spanGen) data() []byte {
	switch x := g.r.IntN(40); {
	case x < 2:
		return []byte("null")
	case x == 2:
		return []byte(`[{"step":1},{"step":2}]`)
	case x == 3:
		return []byte(`{"__span_type__":"TOOL","k8s.container.name":"from-the-span","k8s.pod.name":"also-from-the-span"}`)
	case x < 8:
		return []byte(`{"model":"gpt-4o","tags":["a","b"]}`)
	case x < 16:
		return []byte(`{"__span_type__":"COMPLETION","model":"gpt-4o","cost_usd":0.000125}`)
	case x < 24:
		return []byte(`{"__span_type__":"TOOL","tool":"search"}`)
	case x < 32:
		return []byte(`{"__span_type__":"AGENT_WORKFLOW","labels":{"env":"prod"}}`)
	default:
		return []byte(`{"__span_type__":"RETRIEVAL","k":5,"scores":[0.91,0.5E-1,1]}`)
	}
}

// withError appends data, with an __error__ when fail: mostly an object
// (an error span), sometimes a string (not an error, as in the SDK's
// get_span_error).
func (g *spanGen) withError(dst, data []byte, fail bool) []byte {
	if !fail || data[0] != '{' && string(data) != "null" {
		return append(dst, data...)
	}
	var e string
	switch g.r.IntN(4) {
	case 0:
		e = `{"type":"ValueError","message":"boom \"quoted\""}`
	case 1:
		e = `{"type":"TimeoutError","message":"upstream timed out after 30.0s\nretry 3/3 failed"}`
	case 2:
		e = `{"type":"KeyError","message":"'caf\u00e9' not found"}`
	default:
		e = `"a string is not an error"`
	}
	if string(data) == "null" || len(data) == 2 {
		return append(dst, `{"__error__":`+e+`}`...)
	}
	dst = append(dst, data[:len(data)-1]...)
	return append(dst, `,"__error__":`+e+`}`...)
}
