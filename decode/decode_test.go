package decode

import (
	"encoding/json"
	"strings"
	"testing"
)

const (
	base  = `"id":"s1","trace_id":"t1","name":"llm call","start_time":"2026-11-25T10:00:00.123456Z"`
	endTS = `"end_time":"2026-11-25T10:00:01.5+00:00"`
)

// TestMapping covers every row of SPEC §3's item table.
func TestMapping(t *testing.T) {
	cases := []struct {
		name string
		opt  Options
		line string
		want string
	}{
		{"minimal end record",
			Options{}, `{` + base + `,` + endTS + `}`,
			`{"id":"s1","trace_id":"t1","name":"llm call","start_timestamp":"2026-11-25T10:00:00.123456Z","end_timestamp":"2026-11-25T10:00:01.5+00:00","input":{},"output":{},"metadata":{"__source__":"agentex"},"type":"STANDALONE","status":"SUCCESS"}`},
		{"agentex key order, parent, task_id not sent, nested values verbatim",
			Options{}, `{"id":"s1","name":"llm call","start_time":"2026-11-25T10:00:00Z","end_time":"2026-11-25T10:00:00Z","trace_id":"t1","parent_id":"p1","input":{"z":1.0e-7,"a":[0.10,-0.0,1E3],"s":"\u00e9\"\\"},"output":{"b":{"c":null}},"data":{"__span_type__":"COMPLETION","k":true},"task_id":"task-9"}`,
			`{"id":"s1","trace_id":"t1","name":"llm call","parent_id":"p1","start_timestamp":"2026-11-25T10:00:00Z","end_timestamp":"2026-11-25T10:00:00Z","input":{"z":1.0e-7,"a":[0.10,-0.0,1E3],"s":"\u00e9\"\\"},"output":{"b":{"c":null}},"metadata":{"__span_type__":"COMPLETION","k":true,"__source__":"agentex"},"type":"COMPLETION","status":"SUCCESS"}`},
		{"null parent omitted, null input and output become {}",
			Options{}, `{` + base + `,` + endTS + `,"parent_id":null,"input":null,"output":null,"data":null}`,
			`{"id":"s1","trace_id":"t1","name":"llm call","start_timestamp":"2026-11-25T10:00:00.123456Z","end_timestamp":"2026-11-25T10:00:01.5+00:00","input":{},"output":{},"metadata":{"__source__":"agentex"},"type":"STANDALONE","status":"SUCCESS"}`},
		{"list-valued input passes through",
			Options{}, `{` + base + `,` + endTS + `,"input":[{"role":"user","content":"hi"},{"role":"assistant"}]}`,
			`{"id":"s1","trace_id":"t1","name":"llm call","start_timestamp":"2026-11-25T10:00:00.123456Z","end_timestamp":"2026-11-25T10:00:01.5+00:00","input":[{"role":"user","content":"hi"},{"role":"assistant"}],"output":{},"metadata":{"__source__":"agentex"},"type":"STANDALONE","status":"SUCCESS"}`},
		{"data as array of objects gives empty metadata, no __source__ (the SDK adds it to dicts only)",
			Options{}, `{` + base + `,` + endTS + `,"data":[{"__span_type__":"X"}]}`,
			`{"id":"s1","trace_id":"t1","name":"llm call","start_timestamp":"2026-11-25T10:00:00.123456Z","end_timestamp":"2026-11-25T10:00:01.5+00:00","input":{},"output":{},"metadata":{},"type":"STANDALONE","status":"SUCCESS"}`},
		{"non-string __span_type__ gives STANDALONE",
			Options{}, `{` + base + `,` + endTS + `,"data":{"__span_type__":7}}`,
			`{"id":"s1","trace_id":"t1","name":"llm call","start_timestamp":"2026-11-25T10:00:00.123456Z","end_timestamp":"2026-11-25T10:00:01.5+00:00","input":{},"output":{},"metadata":{"__span_type__":7,"__source__":"agentex"},"type":"STANDALONE","status":"SUCCESS"}`},
		{"error: status ERROR and error fields, existing ones overridden",
			Options{}, `{` + base + `,` + endTS + `,"data":{"error":"old","__error__":{"type":"ValueError","message":"boom \"q\""},"x":1}}`,
			`{"id":"s1","trace_id":"t1","name":"llm call","start_timestamp":"2026-11-25T10:00:00.123456Z","end_timestamp":"2026-11-25T10:00:01.5+00:00","input":{},"output":{},"metadata":{"__error__":{"type":"ValueError","message":"boom \"q\""},"x":1,"__source__":"agentex","error":true,"error_type":"ValueError","error_message":"boom \"q\""},"type":"STANDALONE","status":"ERROR"}`},
		{"string __error__ is not an error (get_span_error wants a dict)",
			Options{}, `{` + base + `,` + endTS + `,"data":{"__error__":"plain"}}`,
			`{"id":"s1","trace_id":"t1","name":"llm call","start_timestamp":"2026-11-25T10:00:00.123456Z","end_timestamp":"2026-11-25T10:00:01.5+00:00","input":{},"output":{},"metadata":{"__error__":"plain","__source__":"agentex"},"type":"STANDALONE","status":"SUCCESS"}`},
		{"null __error__ is no error",
			Options{}, `{` + base + `,` + endTS + `,"data":{"__error__":null}}`,
			`{"id":"s1","trace_id":"t1","name":"llm call","start_timestamp":"2026-11-25T10:00:00.123456Z","end_timestamp":"2026-11-25T10:00:01.5+00:00","input":{},"output":{},"metadata":{"__error__":null,"__source__":"agentex"},"type":"STANDALONE","status":"SUCCESS"}`},
		{"--metadata pairs added only when absent",
			Options{Metadata: []KV{{"env", "prod"}, {"k", "ignored"}, {"q", `a"b`}}}, `{` + base + `,` + endTS + `,"data":{"k":"mine"}}`,
			`{"id":"s1","trace_id":"t1","name":"llm call","start_timestamp":"2026-11-25T10:00:00.123456Z","end_timestamp":"2026-11-25T10:00:01.5+00:00","input":{},"output":{},"metadata":{"k":"mine","__source__":"agentex","env":"prod","q":"a\"b"},"type":"STANDALONE","status":"SUCCESS"}`},
		{"--metadata with null data",
			Options{Metadata: []KV{{"env", "prod"}}}, `{` + base + `,` + endTS + `}`,
			`{"id":"s1","trace_id":"t1","name":"llm call","start_timestamp":"2026-11-25T10:00:00.123456Z","end_timestamp":"2026-11-25T10:00:01.5+00:00","input":{},"output":{},"metadata":{"__source__":"agentex","env":"prod"},"type":"STANDALONE","status":"SUCCESS"}`},
		{"start record shipped when not skipping: no end_timestamp",
			Options{}, `{` + base + `,"end_time":null,"input":{"q":1}}`,
			`{"id":"s1","trace_id":"t1","name":"llm call","start_timestamp":"2026-11-25T10:00:00.123456Z","input":{"q":1},"output":{},"metadata":{"__source__":"agentex"},"type":"STANDALONE","status":"SUCCESS"}`},
		{"error without type and message: null error fields",
			Options{}, `{` + base + `,` + endTS + `,"data":{"__error__":{}}}`,
			`{"id":"s1","trace_id":"t1","name":"llm call","start_timestamp":"2026-11-25T10:00:00.123456Z","end_timestamp":"2026-11-25T10:00:01.5+00:00","input":{},"output":{},"metadata":{"__error__":{},"__source__":"agentex","error":true,"error_type":null,"error_message":null},"type":"STANDALONE","status":"ERROR"}`},
		{"number __error__ is not an error",
			Options{}, `{` + base + `,` + endTS + `,"data":{"__error__":3}}`,
			`{"id":"s1","trace_id":"t1","name":"llm call","start_timestamp":"2026-11-25T10:00:00.123456Z","end_timestamp":"2026-11-25T10:00:01.5+00:00","input":{},"output":{},"metadata":{"__error__":3,"__source__":"agentex"},"type":"STANDALONE","status":"SUCCESS"}`},
		{"__source__ in data overwritten in place, nested ones untouched",
			Options{}, `{` + base + `,` + endTS + `,"data":{"a":1,"__source__":"mine","b":{"__source__":2}}}`,
			`{"id":"s1","trace_id":"t1","name":"llm call","start_timestamp":"2026-11-25T10:00:00.123456Z","end_timestamp":"2026-11-25T10:00:01.5+00:00","input":{},"output":{},"metadata":{"a":1,"__source__":"agentex","b":{"__source__":2}},"type":"STANDALONE","status":"SUCCESS"}`},
		{"--metadata __source__ does not override the SDK's value",
			Options{Metadata: []KV{{"__source__", "x"}, {"env", "prod"}}}, `{` + base + `,` + endTS + `,"data":{ }}`,
			`{"id":"s1","trace_id":"t1","name":"llm call","start_timestamp":"2026-11-25T10:00:00.123456Z","end_timestamp":"2026-11-25T10:00:01.5+00:00","input":{},"output":{},"metadata":{"__source__":"agentex","env":"prod"},"type":"STANDALONE","status":"SUCCESS"}`},
		{"--metadata __source__ applies to array data, which the SDK leaves alone",
			Options{Metadata: []KV{{"__source__", "x"}}}, `{` + base + `,` + endTS + `,"data":[]}`,
			`{"id":"s1","trace_id":"t1","name":"llm call","start_timestamp":"2026-11-25T10:00:00.123456Z","end_timestamp":"2026-11-25T10:00:01.5+00:00","input":{},"output":{},"metadata":{"__source__":"x"},"type":"STANDALONE","status":"SUCCESS"}`},
		{"empty data object with spaces gets __source__ only",
			Options{}, `{` + base + `,` + endTS + `,"data":{  }}`,
			`{"id":"s1","trace_id":"t1","name":"llm call","start_timestamp":"2026-11-25T10:00:00.123456Z","end_timestamp":"2026-11-25T10:00:01.5+00:00","input":{},"output":{},"metadata":{"__source__":"agentex"},"type":"STANDALONE","status":"SUCCESS"}`},
		{"unknown fields ignored, spaces and CR tolerated",
			Options{}, ` { "extra" : [1,2] , ` + base + ` , ` + endTS + ` }` + "\r",
			`{"id":"s1","trace_id":"t1","name":"llm call","start_timestamp":"2026-11-25T10:00:00.123456Z","end_timestamp":"2026-11-25T10:00:01.5+00:00","input":{},"output":{},"metadata":{"__source__":"agentex"},"type":"STANDALONE","status":"SUCCESS"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, span, err := New(c.opt).Append([]byte("prefix:"), []byte(c.line))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != "prefix:"+c.want {
				t.Fatalf("item\n got %s\nwant %s", got[len("prefix:"):], c.want)
			}
			if !json.Valid(got[len("prefix:"):]) {
				t.Fatal("item is not valid JSON")
			}
			if string(span.ID) != "s1" || string(span.TraceID) != "t1" {
				t.Fatalf("span identity %q/%q", span.TraceID, span.ID)
			}
		})
	}
}

func TestKinds(t *testing.T) {
	start := `{` + base + `,"end_time":null}`
	noEnd := `{` + base + `}`
	end := `{` + base + `,` + endTS + `}`
	cases := []struct {
		name    string
		skip    bool
		line    string
		kind    Kind
		dropped bool
	}{
		{"blank", true, "", KindBlank, false},
		{"spaces", true, " \t\r", KindBlank, false},
		{"start dropped", true, start, KindStart, true},
		{"start without end_time dropped", true, noEnd, KindStart, true},
		{"start kept", false, start, KindStart, false},
		{"end", true, end, KindEnd, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, span, err := New(Options{SkipStart: c.skip}).Append(nil, []byte(c.line))
			if err != nil {
				t.Fatal(err)
			}
			if span.Kind != c.kind || span.Dropped != c.dropped {
				t.Fatalf("kind %v dropped %v, want %v %v", span.Kind, span.Dropped, c.kind, c.dropped)
			}
			if (len(out) > 0) != (c.kind != KindBlank && !c.dropped) {
				t.Fatalf("item written: %q", out)
			}
		})
	}
}

// TestBadInput covers every bad-input kind of SPEC §2.
func TestBadInput(t *testing.T) {
	cases := []struct {
		name   string
		line   string
		reason Reason
	}{
		{"array", `[1,2]`, ReasonNotObject},
		{"string", `"x"`, ReasonNotObject},
		{"not json", `this is not json`, ReasonNotObject},
		{"truncated", `{"id":"x","na`, ReasonInvalidJSON},
		{"trailing garbage", `{` + base + `} x`, ReasonInvalidJSON},
		{"missing comma", `{"id":"x" "name":"y"}`, ReasonInvalidJSON},
		{"bad escape", `{` + base + `,"input":{"a":"\q"}}`, ReasonInvalidJSON},
		{"bad number", `{` + base + `,"input":{"a":01}}`, ReasonInvalidJSON},
		{"control char", "{" + base + ",\"input\":{\"a\":\"\x01\"}}", ReasonInvalidJSON},
		{"deep nesting", `{` + base + `,"input":` + strings.Repeat("[", 600) + strings.Repeat("]", 600) + `}`, ReasonInvalidJSON},
		{"missing id", `{"trace_id":"t","name":"n","start_time":"2026-01-01T00:00:00Z","end_time":"2026-01-01T00:00:00Z"}`, ReasonMissingField},
		{"missing trace_id", `{"id":"i","name":"n","start_time":"2026-01-01T00:00:00Z","end_time":"2026-01-01T00:00:00Z"}`, ReasonMissingField},
		{"missing name", `{"id":"i","trace_id":"t","start_time":"2026-01-01T00:00:00Z","end_time":"2026-01-01T00:00:00Z"}`, ReasonMissingField},
		{"missing start_time", `{"id":"i","trace_id":"t","name":"n","end_time":"2026-01-01T00:00:00Z"}`, ReasonMissingField},
		{"name not a string", `{"id":"i","trace_id":"t","name":42,"start_time":"2026-01-01T00:00:00Z","end_time":"2026-01-01T00:00:00Z"}`, ReasonWrongType},
		{"id null", `{"id":null,"trace_id":"t","name":"n","start_time":"2026-01-01T00:00:00Z","end_time":"2026-01-01T00:00:00Z"}`, ReasonWrongType},
		{"end_time number", `{` + base + `,"end_time":5}`, ReasonWrongType},
		{"parent_id object", `{` + base + `,` + endTS + `,"parent_id":{}}`, ReasonWrongType},
		{"task_id number", `{` + base + `,` + endTS + `,"task_id":3}`, ReasonWrongType},
		{"input string", `{` + base + `,` + endTS + `,"input":"text"}`, ReasonWrongType},
		{"output number", `{` + base + `,` + endTS + `,"output":1}`, ReasonWrongType},
		{"data array of strings", `{` + base + `,` + endTS + `,"data":[{},"x"]}`, ReasonWrongType},
		{"bad start_time", `{"id":"i","trace_id":"t","name":"n","start_time":"yesterday","end_time":"2026-01-01T00:00:00Z"}`, ReasonBadTimestamp},
		{"bad end_time", `{` + base + `,"end_time":"2026-13"}`, ReasonBadTimestamp},
		{"invalid utf-8", "{" + base + ",\"input\":{\"a\":\"\xff\xfe\"}," + endTS + "}", ReasonInvalidUTF8},
		{"invalid utf-8 in key", "{\"\xc3\x28\":1," + base + "}", ReasonInvalidUTF8},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, skip := range []bool{false, true} {
				_, _, err := New(Options{SkipStart: skip}).Append(nil, []byte(c.line))
				de, ok := err.(*Error)
				if !ok {
					t.Fatalf("skip=%v: want *Error %s, got %v", skip, c.reason, err)
				}
				if de.Reason != c.reason {
					t.Fatalf("skip=%v: reason %s, want %s (%v)", skip, de.Reason, c.reason, de)
				}
				if de.Offset < 0 || de.Offset > len(c.line) {
					t.Fatalf("offset %d outside the line", de.Offset)
				}
			}
		})
	}
}

func TestDecoderReuse(t *testing.T) {
	d := New(Options{SkipStart: true})
	var buf []byte
	for i := range 3 {
		line := `{` + base + `,` + endTS + `,"input":{"n":` + strings.Repeat("1", i+1) + `}}`
		out, _, err := d.Append(buf[:0], []byte(line))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(out), `"input":{"n":`+strings.Repeat("1", i+1)+`}`) {
			t.Fatalf("round %d: %s", i, out)
		}
		buf = out
	}
}
