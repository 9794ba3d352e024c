package decode

// The decoder as it was at b62b997 (scan.go, decode.go, item.go), before the
// stop index: the reference the differential tests compare the decoder
// with, byte for byte and error for error. Only renamed.

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"unicode/utf8"
)

func refAppend(d *Decoder, dst, line []byte) ([]byte, Span, error) {
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
	var f fields
	endSeen := false
	i = skipSpace(line, i+1)
	if i < len(line) && line[i] == '}' {
		i++
	} else {
		for {
			if i >= len(line) || line[i] != '"' {
				return dst, Span{}, errAt(ReasonInvalidJSON, i, "object key expected")
			}
			ke, err := refSkipString(line, i)
			if err != nil {
				return dst, Span{}, err
			}
			key := line[i+1 : ke-1]
			i = skipSpace(line, ke)
			if i >= len(line) || line[i] != ':' {
				return dst, Span{}, errAt(ReasonInvalidJSON, i, "':' expected")
			}
			vs := skipSpace(line, i+1)
			ve, err := refSkipValue(line, vs, 1)
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
	if err := refCheck(line, &f); err != nil {
		return dst, Span{}, err
	}
	span := Span{Kind: KindStart, TraceID: inner(line, f.traceID), ID: inner(line, f.id)}
	if f.end.ok() && line[f.end.s] != 'n' {
		span.Kind = KindEnd
	} else if d.skipStart {
		span.Dropped = true
		return dst, span, nil
	}
	return refAppendItem(d, dst, line, &f, span.Kind == KindEnd), span, nil
}

// refCheck enforces the required fields and the types of SPEC §2.
func refCheck(b []byte, f *fields) *Error {
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
			if !refArrayOfObjects(b, nested.r.s) {
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

func refAppendItem(d *Decoder, dst, b []byte, f *fields, end bool) []byte {
	dst = append(dst, `{"id":`...)
	dst = append(dst, b[f.id.s:f.id.e]...)
	dst = append(dst, `,"trace_id":`...)
	dst = append(dst, b[f.traceID.s:f.traceID.e]...)
	dst = append(dst, `,"name":`...)
	dst = append(dst, b[f.name.s:f.name.e]...)
	if f.parentID.ok() && b[f.parentID.s] != 'n' {
		dst = append(dst, `,"parent_id":`...)
		dst = append(dst, b[f.parentID.s:f.parentID.e]...)
	}
	dst = append(dst, `,"start_timestamp":`...)
	dst = append(dst, b[f.start.s:f.start.e]...)
	if end {
		dst = append(dst, `,"end_timestamp":`...)
		dst = append(dst, b[f.end.s:f.end.e]...)
	}
	dst = append(dst, `,"input":`...)
	dst = appendOrEmpty(dst, b, f.input)
	dst = append(dst, `,"output":`...)
	dst = appendOrEmpty(dst, b, f.output)

	m := refScanData(d, b, f.data)
	dst = append(dst, `,"metadata":`...)
	dst = refAppendMetadata(d, dst, b, f.data, &m)
	dst = append(dst, `,"type":`...)
	if m.spanType.ok() && b[m.spanType.s] == '"' {
		dst = append(dst, b[m.spanType.s:m.spanType.e]...)
	} else {
		dst = append(dst, `"STANDALONE"`...)
	}
	if m.err.ok() {
		dst = append(dst, `,"status":"ERROR"}`...)
	} else {
		dst = append(dst, `,"status":"SUCCESS"}`...)
	}
	return dst
}

func refScanData(d *Decoder, b []byte, data rng) dataInfo {
	var m dataInfo
	if !data.ok() || b[data.s] == 'n' {
		m.source = true
		return m
	}
	if b[data.s] != '{' {
		return m
	}
	m.isObject, m.source = true, true
	refMembers(b, data.s, func(key []byte, vs, ve int) bool {
		switch string(key) {
		case "__span_type__":
			m.spanType = rng{vs, ve}
		case "__error__":
			// A later duplicate key wins, as in a Python dict.
			if b[vs] == '{' {
				m.err = rng{vs, ve}
			} else {
				m.err = rng{}
			}
		case "__source__":
			m.hasSrc = true
		case "error", "error_type", "error_message":
			m.clash = true
		}
		for i, x := range d.extra {
			if x.key == string(key) {
				m.present |= 1 << i
			}
		}
		return true
	})
	return m
}

// refAppendMetadata appends the item's metadata: data's members (copied raw
// when only __source__ needs adding), __source__, the error fields and
// the absent --metadata pairs.
func refAppendMetadata(d *Decoder, dst, b []byte, data rng, m *dataInfo) []byte {
	missing := m.present != 1<<len(d.extra)-1
	if m.isObject && !m.err.ok() && !m.hasSrc && !missing {
		// The common case: data as written, __source__ appended.
		body := bytes.TrimRight(b[data.s:data.e-1], " \t\r\n")
		dst = append(dst, body...)
		if len(body) > 1 {
			dst = append(dst, ',')
		}
		dst = append(dst, sourceMember...)
		return append(dst, '}')
	}
	dst = append(dst, '{')
	n := 0
	if m.isObject {
		refMembers(b, data.s, func(key []byte, vs, ve int) bool {
			if m.err.ok() && m.clash && isErrorKey(string(key)) {
				return true
			}
			if n > 0 {
				dst = append(dst, ',')
			}
			n++
			if string(key) == "__source__" {
				dst = append(dst, sourceMember...) // overwritten in place, as a dict assignment does
				return true
			}
			dst = append(dst, '"')
			dst = append(dst, key...)
			dst = append(dst, `":`...)
			dst = append(dst, b[vs:ve]...)
			return true
		})
	}
	if m.source && !m.hasSrc {
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = append(dst, sourceMember...)
	}
	if m.err.ok() {
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		typ, msg := refErrorFields(b, m.err)
		dst = append(dst, `"error":true,"error_type":`...)
		dst = appendOrNull(dst, b, typ)
		dst = append(dst, `,"error_message":`...)
		dst = appendOrNull(dst, b, msg)
	}
	for i, x := range d.extra {
		if m.present&(1<<i) != 0 {
			continue
		}
		if m.err.ok() && isErrorKey(x.key) || m.source && x.key == "__source__" {
			continue
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = append(dst, x.encoded...)
	}
	return append(dst, '}')
}

// refErrorFields finds __error__.type and __error__.message.
func refErrorFields(b []byte, e rng) (typ, msg rng) {
	if b[e.s] != '{' {
		return
	}
	refMembers(b, e.s, func(key []byte, vs, ve int) bool {
		switch {
		case bytes.Equal(key, []byte("type")):
			typ = rng{vs, ve}
		case bytes.Equal(key, []byte("message")):
			msg = rng{vs, ve}
		}
		return true
	})
	return
}

// refSkipString validates the JSON string whose opening quote is at b[i] and
// returns the index after its closing quote.
func refSkipString(b []byte, i int) (int, *Error) {
	i++ // opening quote
	for {
		// Eight bytes at a time, jumping straight to the first one that
		// needs a closer look. Past 32 plain bytes the string is prose,
		// not a key or an id: plainPrefix takes it 16 bytes per step (8
		// without assembly); calling it sooner costs more than it saves
		// on short strings. The last few bytes go byte by byte.
		for n := 0; i+8 <= len(b); n++ {
			if m := specialMask(binary.LittleEndian.Uint64(b[i:])); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
			if n == 3 {
				i += plainPrefix(b[i:])
			}
		}
		for i < len(b) && plain[b[i]] {
			i++
		}
		if i >= len(b) {
			return i, errAt(ReasonInvalidJSON, i, "unterminated string")
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, nil
		case c == '\\':
			if i+1 >= len(b) {
				return i, errAt(ReasonInvalidJSON, i, "unterminated escape")
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					return i, errAt(ReasonInvalidJSON, i, `bad \u escape`)
				}
				i += 6
			default:
				return i, errAt(ReasonInvalidJSON, i, "bad escape")
			}
		case c < 0x20:
			return i, errAt(ReasonInvalidJSON, i, "control character in string")
		default: // non-ASCII
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n <= 1 {
				return i, errAt(ReasonInvalidUTF8, i, "invalid UTF-8 in string")
			}
			i += n
		}
	}
}

// refSkipNumber validates the JSON number at b[i].
func refSkipNumber(b []byte, i int) (int, *Error) {
	start := i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && isDigit(b[i]):
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return start, errAt(ReasonInvalidJSON, start, "bad number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return start, errAt(ReasonInvalidJSON, start, "bad number")
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return start, errAt(ReasonInvalidJSON, start, "bad number")
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	return i, nil
}

func refSkipLiteral(b []byte, i int, lit string) (int, *Error) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return i, errAt(ReasonInvalidJSON, i, "bad literal")
	}
	return i + len(lit), nil
}

// refSkipValue validates the JSON value at b[i] (no leading space) and returns
// the index just past it.
func refSkipValue(b []byte, i, depth int) (int, *Error) {
	if i >= len(b) {
		return i, errAt(ReasonInvalidJSON, i, "value expected")
	}
	switch c := b[i]; c {
	case '"':
		return refSkipString(b, i)
	case '{':
		return refSkipObject(b, i, depth+1)
	case '[':
		return refSkipArray(b, i, depth+1)
	case 't':
		return refSkipLiteral(b, i, "true")
	case 'f':
		return refSkipLiteral(b, i, "false")
	case 'n':
		return refSkipLiteral(b, i, "null")
	default:
		if c == '-' || isDigit(c) {
			return refSkipNumber(b, i)
		}
		return i, errAt(ReasonInvalidJSON, i, "value expected")
	}
}

func refSkipObject(b []byte, i, depth int) (int, *Error) {
	if depth > maxDepth {
		return i, errAt(ReasonInvalidJSON, i, "nested too deep")
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return i, errAt(ReasonInvalidJSON, i, "object key expected")
		}
		var err *Error
		if i, err = refSkipString(b, i); err != nil {
			return i, err
		}
		i = skipSpace(b, i)
		if i >= len(b) || b[i] != ':' {
			return i, errAt(ReasonInvalidJSON, i, "':' expected")
		}
		if i, err = refSkipValue(b, skipSpace(b, i+1), depth); err != nil {
			return i, err
		}
		i = skipSpace(b, i)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
			continue
		}
		if i < len(b) && b[i] == '}' {
			return i + 1, nil
		}
		return i, errAt(ReasonInvalidJSON, i, "',' or '}' expected")
	}
}

func refSkipArray(b []byte, i, depth int) (int, *Error) {
	if depth > maxDepth {
		return i, errAt(ReasonInvalidJSON, i, "nested too deep")
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, nil
	}
	for {
		var err *Error
		if i, err = refSkipValue(b, i, depth); err != nil {
			return i, err
		}
		i = skipSpace(b, i)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
			continue
		}
		if i < len(b) && b[i] == ']' {
			return i + 1, nil
		}
		return i, errAt(ReasonInvalidJSON, i, "',' or ']' expected")
	}
}

// refMembers calls fn with the raw key (without quotes) and the value range of
// each member of the already validated object b[s:e].
func refMembers(b []byte, s int, fn func(key []byte, vs, ve int) bool) {
	i := skipSpace(b, s+1)
	for i < len(b) && b[i] == '"' {
		ke, _ := refSkipString(b, i)
		key := b[i+1 : ke-1]
		vs := skipSpace(b, skipSpace(b, ke)+1)
		ve, _ := refSkipValue(b, vs, 0)
		if !fn(key, vs, ve) {
			return
		}
		i = skipSpace(b, ve)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
			continue
		}
		return
	}
}

// refArrayOfObjects reports whether the validated array b[s:e] holds objects only.
func refArrayOfObjects(b []byte, s int) bool {
	i := skipSpace(b, s+1)
	for i < len(b) && b[i] != ']' {
		if b[i] != '{' {
			return false
		}
		i, _ = refSkipValue(b, i, 0)
		i = skipSpace(b, i)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	return true
}

// plainPrefix returns how many leading bytes of b are plain (see plain),
// testing 8 bytes per step. It stops at the first byte that is not plain, or
// where fewer than 8 bytes are left: the caller finishes those. (The
// 16-byte SSE2 plain_amd64.s did the same; plain_other.go's stopped at the
// 8-byte block holding that byte, which TestPlainPrefixStopsAtTheFirstSpecialByte
// does not allow.)
func plainPrefix(b []byte) int {
	i := 0
	for i+8 <= len(b) {
		if m := specialMask(binary.LittleEndian.Uint64(b[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		i += 8
	}
	return i
}

// special8 reports whether any of the 8 bytes in x is not plain: '"', '\\',
// a control character (< 0x20) or non-ASCII (>= 0x80).
func special8(x uint64) bool { return specialMask(x) != 0 }

// specialMask sets the high bit of each byte of x (little endian) that is not
// plain. A plain byte above one that is not may be flagged too (borrows
// propagate upwards), but no plain byte below the first that is not: the
// lowest bit set marks exactly the first byte that needs a closer look.
func specialMask(x uint64) uint64 {
	quote := x ^ (ones * '"')
	backslash := x ^ (ones * '\\')
	return (x | (x - ones*0x20) | (quote-ones)&^quote | (backslash-ones)&^backslash) & highs
}
