package decode

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"
)

// FuzzDecode checks the hand-written scanner against encoding/json:
// whatever it accepts is valid JSON and maps to the item a straightforward
// encoding/json implementation of SPEC §3 builds; whatever valid UTF-8 JSON
// object it rejects, it rejects for a field reason, not a syntax one.
func FuzzDecode(f *testing.F) {
	seeds := []string{
		`{` + base + `,` + endTS + `}`,
		`{` + base + `,"end_time":null}`,
		`{` + base + `,` + endTS + `,"parent_id":"p","input":[{"a":1.50}],"output":{"x":"\u00e9"},"data":{"__span_type__":"T","__error__":{"type":"E","message":"m"}}}`,
		`{` + base + `,` + endTS + `,"data":{"error":1,"__error__":{}}}`,
		`{` + base + `,` + endTS + `,"data":{"__source__":"mine","__error__":"s","k":{"__source__":1}}}`,
		`{` + base + `,` + endTS + `,"data":[{"__source__":"x"}]}`,
		`[1]`, `{"id":"x"`, "{\"id\":\"\xff\"}", `{}`, ``, `   `,
		`{"id":"a","trace_id":"b","name":"c","start_time":"2026-01-01","end_time":"2026-01-01 10:00"}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, line []byte, skip bool) {
		d := New(Options{SkipStart: skip, Metadata: []KV{{"env", "test"}}})
		out, span, err := d.Append(nil, line)
		trimmed := bytes.TrimSuffix(line, []byte("\r"))
		if err != nil {
			de := err.(*Error)
			if json.Valid(trimmed) && utf8.Valid(trimmed) && bytes.HasPrefix(bytes.TrimLeft(trimmed, " \t\r\n"), []byte("{")) {
				switch de.Reason {
				case ReasonInvalidJSON:
					if de.Msg != "nested too deep" {
						t.Fatalf("valid JSON object rejected as %v", de)
					}
				case ReasonNotObject, ReasonInvalidUTF8:
					t.Fatalf("valid JSON object rejected as %v", de)
				}
			}
			return
		}
		if span.Kind == KindBlank {
			if len(bytes.TrimLeft(trimmed, " \t\r\n")) != 0 {
				t.Fatalf("non-blank line %q called blank", line)
			}
			return
		}
		if span.Dropped {
			if len(out) != 0 || span.Kind != KindStart {
				t.Fatal("dropped start wrote an item")
			}
			return // the fast path does not validate the rest of the line
		}
		if !json.Valid(trimmed) {
			t.Fatalf("accepted invalid JSON %q", line)
		}
		if !json.Valid(out) {
			t.Fatalf("item is invalid JSON: %s", out)
		}
		var got, want any
		json.Unmarshal(out, &got)
		json.Unmarshal(reference(t, trimmed, d), &want)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("line %s\n got %s\nwant %s", line, out, reference(t, trimmed, d))
		}
	})
}

// reference maps a line the slow, obvious way.
func reference(t *testing.T, line []byte, d *Decoder) []byte {
	var rec map[string]json.RawMessage
	if err := json.Unmarshal(line, &rec); err != nil {
		t.Fatalf("reference: %v", err)
	}
	isNull := func(v json.RawMessage) bool { return v == nil || string(v) == "null" }
	item := map[string]any{
		"id": rec["id"], "trace_id": rec["trace_id"], "name": rec["name"],
		"start_timestamp": rec["start_time"], "input": json.RawMessage("{}"), "output": json.RawMessage("{}"),
		"type": "STANDALONE", "status": "SUCCESS",
	}
	if !isNull(rec["parent_id"]) {
		item["parent_id"] = rec["parent_id"]
	}
	if !isNull(rec["end_time"]) {
		item["end_timestamp"] = rec["end_time"]
	}
	for _, k := range []string{"input", "output"} {
		if !isNull(rec[k]) {
			item[k] = rec[k]
		}
	}
	meta := map[string]any{}
	var data map[string]json.RawMessage
	if isNull(rec["data"]) {
		meta["__source__"] = "agentex" // _add_source_to_span: None becomes {}
	}
	if json.Unmarshal(rec["data"], &data) == nil && data != nil {
		for k, v := range data {
			meta[k] = v
		}
		meta["__source__"] = "agentex"
		var st any
		if json.Unmarshal(data["__span_type__"], &st) == nil {
			if s, ok := st.(string); ok {
				item["type"] = s
			}
		}
		if e := data["__error__"]; len(e) > 0 && e[0] == '{' { // get_span_error: a dict only
			item["status"] = "ERROR"
			var e map[string]json.RawMessage
			json.Unmarshal(data["__error__"], &e)
			meta["error"] = true
			meta["error_type"], meta["error_message"] = json.RawMessage("null"), json.RawMessage("null")
			if v, ok := e["type"]; ok {
				meta["error_type"] = v
			}
			if v, ok := e["message"]; ok {
				meta["error_message"] = v
			}
		}
	}
	for _, x := range d.extra {
		if _, ok := meta[x.key]; !ok {
			if _, err := data[x.key]; !err {
				var v any
				json.Unmarshal(x.encoded[bytes.IndexByte(x.encoded, ':')+1:], &v)
				meta[x.key] = v
			}
		}
	}
	item["metadata"] = meta
	b, err := json.Marshal(item)
	if err != nil {
		t.Fatalf("reference: %v", err)
	}
	return b
}
