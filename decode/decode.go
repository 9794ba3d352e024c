// Package decode turns one agentex span line into one SGP span batch item
// (SPEC §2 and §3) without building a document tree: a single validating pass
// finds the top-level members, and the item is assembled from raw byte
// ranges of the line, so timestamps and nested values reach the backend
// exactly as written.
//
// The mapping follows the agentex SDK's SGP tracing processor
// (scale-agentex-python, sgp_tracing_processor.py): _add_source_to_span sets
// data["__source__"] = "agentex" on every span whose data is a dict or None,
// overwriting; _build_sgp_span takes metadata from that data and the type
// from data["__span_type__"]; and span_error.py's get_span_error makes a
// span failed only when data["__error__"] is a dict. The
// __acp_type__/__agent_name__/__agent_id__ keys the SDK also adds come from
// the agent's own environment, so the agent writes them into data itself.
package decode

import (
	"encoding/json"
	"fmt"
)

// Reason classifies a bad line; it is the value of the bad-lines metric's
// reason label.
type Reason string

// The reasons a line is skipped as bad input.
const (
	ReasonNotObject    Reason = "not_object"
	ReasonInvalidJSON  Reason = "invalid_json"
	ReasonMissingField Reason = "missing_field"
	ReasonWrongType    Reason = "wrong_type"
	ReasonBadTimestamp Reason = "bad_timestamp"
	ReasonInvalidUTF8  Reason = "invalid_utf8"
	ReasonTooLong      Reason = "too_long"
	// ReasonInvalidFrame is a container-log line whose runtime framing
	// (CRI header, docker json-file object) is malformed.
	ReasonInvalidFrame Reason = "invalid_frame"
)

// Error is a bad line: why, and where in the line.
type Error struct {
	Reason Reason
	Offset int // byte offset within the line
	Msg    string
}

func (e *Error) Error() string {
	return fmt.Sprintf("decode: %s at byte %d: %s", e.Reason, e.Offset, e.Msg)
}

func errAt(r Reason, off int, msg string) *Error { return &Error{Reason: r, Offset: off, Msg: msg} }

// Kind says what a line is.
type Kind uint8

// The kinds of line.
const (
	KindBlank Kind = iota // empty or white space only
	KindStart             // span-start record: end_time absent or null
	KindEnd               // span-end record
)

// Span describes a decoded line. TraceID and ID are the raw string contents
// (escapes not undone), valid until the next call of Append; a dropped
// span-start record has them only with Options.StartKeys.
type Span struct {
	Kind    Kind
	Dropped bool // a span-start record dropped by Options.SkipStart; no item was written
	TraceID []byte
	ID      []byte
}

// KV is one --metadata pair.
type KV struct{ Key, Value string }

// MaxMetadata is how many --metadata pairs a Decoder takes.
const MaxMetadata = 64

// Options configure a Decoder. The zero value ships span-start records and
// adds no metadata.
type Options struct {
	SkipStart bool // drop span-start records (end-only ingest)
	StartKeys bool // with SkipStart: still report a dropped start's TraceID and ID (to hold it for rescue)
	Metadata  []KV // added to every item's metadata when its key is absent; at most MaxMetadata, later ones ignored
}

// Decoder maps lines to items. It keeps no per-line state (only the
// storage of its index, reused) and may be reused; it is not safe for
// concurrent use.
type Decoder struct {
	skipStart bool
	startKeys bool
	extra     []extraKV
	sc        scanner
}

type extraKV struct {
	key     string
	encoded []byte // `"key":"value"`
}

// New returns a Decoder for o.
func New(o Options) *Decoder {
	d := &Decoder{skipStart: o.SkipStart, startKeys: o.StartKeys}
	for _, kv := range o.Metadata[:min(len(o.Metadata), MaxMetadata)] {
		k, _ := json.Marshal(kv.Key)
		v, _ := json.Marshal(kv.Value)
		d.extra = append(d.extra, extraKV{key: kv.Key, encoded: append(append(k, ':'), v...)})
	}
	return d
}

// rng is a value's byte range in the line; s == e means absent.
type rng struct{ s, e int }

func (r rng) ok() bool { return r.e > r.s }

// fields are the top-level members the mapping reads.
type fields struct {
	id, traceID, name, parentID, start, end, taskID, input, output, data rng
}

// Append validates line (without its '\n'), appends the item it maps to
// onto dst and returns it. Blank lines and dropped span-start records append
// nothing. A bad line returns an *Error.
//
// A span-start record that will be dropped is not fully validated: once
// end_time is known to be null and id, name and start_time were seen (the
// agentex field order puts them first), the rest of the line is not read.
func (d *Decoder) Append(dst, line []byte) ([]byte, Span, error) {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	i := skipSpace(line, 0)
	if i == len(line) {
		return dst, Span{Kind: KindBlank}, nil
	}
	if line[i] != '{' {
		return dst, Span{}, errAt(ReasonNotObject, i, "line is not a JSON object")
	}
	s := &d.sc
	s.reset(line)
	var (
		f        fields
		endSeen  bool
		data     dataInfo // scanData's answer for the last data member, when dataRead
		dataRead bool
	)
	i = skipSpace(line, i+1)
	if i < len(line) && line[i] == '}' {
		i++
	} else {
		for {
			if i >= len(line) || line[i] != '"' {
				return dst, Span{}, errAt(ReasonInvalidJSON, i, "object key expected")
			}
			ke, err := s.skipString(i)
			if err != nil {
				return dst, Span{}, err
			}
			key := line[i+1 : ke-1]
			i = skipSpace(line, ke)
			if i >= len(line) || line[i] != ':' {
				return dst, Span{}, errAt(ReasonInvalidJSON, i, "':' expected")
			}
			vs := skipSpace(line, i+1)
			ve, isData := 0, string(key) == "data"
			if isData {
				dataRead = false // a later data member wins
			}
			switch {
			case isData && vs < len(line) && line[vs] == '{':
				// data's members are what the item's metadata is made
				// of: read them as they are validated.
				if ve, dataRead = d.readData(vs, &data); !dataRead {
					ve, err = s.value(vs, 1)
				}
			case vs < len(line) && (line[vs] == '{' || line[vs] == '['):
				ve, err = s.value(vs, 1)
			default:
				ve, err = s.skipValue(vs, 1) // indexes no more than it needs
			}
			if err != nil {
				return dst, Span{}, err
			}
			r := rng{vs, ve}
			switch string(key) {
			case "id":
				f.id = r
			case "trace_id":
				f.traceID = r
			case "name":
				f.name = r
			case "start_time":
				f.start = r
			case "end_time":
				f.end, endSeen = r, true
			case "parent_id":
				f.parentID = r
			case "task_id":
				f.taskID = r
			case "input":
				f.input = r
			case "output":
				f.output = r
			case "data":
				f.data = r
			}
			if d.skipStart && endSeen && line[f.end.s] == 'n' && f.id.ok() && f.name.ok() && f.start.ok() {
				// Fast path: a span-start record that is going to be dropped.
				if !d.startKeys {
					return dst, Span{Kind: KindStart, Dropped: true}, nil
				}
				// trace_id follows end_time in the agentex field order.
				if f.traceID.ok() && line[f.traceID.s] == '"' && line[f.id.s] == '"' {
					return dst, Span{Kind: KindStart, Dropped: true, TraceID: inner(line, f.traceID), ID: inner(line, f.id)}, nil
				}
			}
			i = skipSpace(line, ve)
			if i < len(line) && line[i] == ',' {
				i = skipSpace(line, i+1)
				continue
			}
			if i < len(line) && line[i] == '}' {
				i++
				break
			}
			return dst, Span{}, errAt(ReasonInvalidJSON, i, "',' or '}' expected")
		}
	}
	if i = skipSpace(line, i); i != len(line) {
		return dst, Span{}, errAt(ReasonInvalidJSON, i, "data after the object")
	}
	if err := check(s, &f); err != nil {
		return dst, Span{}, err
	}
	span := Span{Kind: KindStart, TraceID: inner(line, f.traceID), ID: inner(line, f.id)}
	if f.end.ok() && line[f.end.s] != 'n' {
		span.Kind = KindEnd
	} else if d.skipStart {
		span.Dropped = true
		return dst, span, nil
	}
	if !dataRead {
		data = d.scanData(f.data)
	}
	return d.appendItem(dst, line, &f, span.Kind == KindEnd, &data), span, nil
}

func inner(b []byte, r rng) []byte { return b[r.s+1 : r.e-1] }

// check enforces the required fields and the types of SPEC §2.
func check(s *scanner, f *fields) *Error {
	b := s.b
	for _, req := range [...]struct {
		name string
		r    rng
	}{{"id", f.id}, {"trace_id", f.traceID}, {"name", f.name}, {"start_time", f.start}} {
		if !req.r.ok() {
			return errAt(ReasonMissingField, 0, "missing required field "+req.name)
		}
		if b[req.r.s] != '"' {
			return errAt(ReasonWrongType, req.r.s, req.name+" is not a string")
		}
	}
	for _, opt := range [...]struct {
		name string
		r    rng
	}{{"end_time", f.end}, {"parent_id", f.parentID}, {"task_id", f.taskID}} {
		if opt.r.ok() && b[opt.r.s] != '"' && b[opt.r.s] != 'n' {
			return errAt(ReasonWrongType, opt.r.s, opt.name+" is not a string or null")
		}
	}
	for _, nested := range [...]struct {
		name string
		r    rng
	}{{"input", f.input}, {"output", f.output}, {"data", f.data}} {
		if !nested.r.ok() {
			continue
		}
		switch b[nested.r.s] {
		case '{', 'n':
		case '[':
			if !s.arrayOfObjects(nested.r.s) {
				return errAt(ReasonWrongType, nested.r.s, nested.name+" is an array holding a non-object")
			}
		default:
			return errAt(ReasonWrongType, nested.r.s, nested.name+" is not an object, array of objects or null")
		}
	}
	if !timestamp(inner(b, f.start)) {
		return errAt(ReasonBadTimestamp, f.start.s, "start_time is not an ISO-8601 timestamp")
	}
	if f.end.ok() && b[f.end.s] == '"' && !timestamp(inner(b, f.end)) {
		return errAt(ReasonBadTimestamp, f.end.s, "end_time is not an ISO-8601 timestamp")
	}
	return nil
}

// timestamp is a cheap shape check, YYYY-MM-DD followed by 'T' or ' ' and
// a time, or nothing. The string is sent byte for byte, never re-formatted,
// so only a value the backend cannot read at all is rejected here.
func timestamp(s []byte) bool {
	if len(s) < 10 {
		return false
	}
	for i, c := range s[:10] {
		if i == 4 || i == 7 {
			if c != '-' {
				return false
			}
		} else if !isDigit(c) {
			return false
		}
	}
	if len(s) == 10 {
		return true
	}
	return (s[10] == 'T' || s[10] == 't' || s[10] == ' ') && len(s) >= 16 && isDigit(s[11]) && isDigit(s[12]) && s[13] == ':'
}
