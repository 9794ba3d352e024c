package decode

import "bytes"

// appendItem writes the SGP item for a validated record, keys in the order
// of the agentex SDK's item: id, trace_id, name, parent_id, start_timestamp,
// end_timestamp, input, output, metadata, type, status.
// m is scanData's answer for f.data.
func (d *Decoder) appendItem(dst, b []byte, f *fields, end bool, m *dataInfo) []byte {
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

	dst = append(dst, `,"metadata":`...)
	dst = d.appendMetadata(dst, b, f.data, m)
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

// appendOrEmpty appends the value at r, or {} when it is null or absent.
func appendOrEmpty(dst, b []byte, r rng) []byte {
	if !r.ok() || b[r.s] == 'n' {
		return append(dst, "{}"...)
	}
	return append(dst, b[r.s:r.e]...)
}

// dataInfo is what the mapping needs from the data object.
type dataInfo struct {
	isObject bool
	source   bool   // the item's metadata gets __source__ (data is an object, null or absent)
	spanType rng    // data.__span_type__
	err      rng    // data.__error__, when it is an object (the SDK's get_span_error)
	present  uint64 // bit i: Decoder.extra[i]'s key is in data
	clash    bool   // data holds error, error_type or error_message, which an error overrides
	hasSrc   bool   // data holds __source__, which the SDK overwrites
}

func (d *Decoder) scanData(data rng) dataInfo {
	b := d.sc.b
	var m dataInfo
	if !data.ok() || b[data.s] == 'n' {
		m.source = true
		return m
	}
	if b[data.s] != '{' {
		return m
	}
	m.isObject, m.source = true, true
	d.sc.members(data.s, func(key []byte, vs, ve int) bool {
		d.dataMember(&m, b, key, vs, ve)
		return true
	})
	return m
}

// readData validates the data object at b[i], as skipValue(i, 1) does, and
// sets m to scanData's answer for it in the same pass. It returns the index
// just past the object, or ok false when the object is bad (or nested too
// deep for fastValue): skipValue then knows better.
func (d *Decoder) readData(i int, m *dataInfo) (end int, ok bool) {
	s := &d.sc
	b := s.b
	*m = dataInfo{isObject: true, source: true}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, true
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return i, false
		}
		ke, err := s.skipString(i)
		if err != nil {
			return i, false
		}
		key := b[i+1 : ke-1]
		i = skipSpace(b, ke)
		if i >= len(b) || b[i] != ':' {
			return i, false
		}
		vs := skipSpace(b, i+1)
		ve, ok := s.fastValue(vs, 2) // depth: skipObject(i, 2)'s members
		if !ok {
			return i, false
		}
		d.dataMember(m, b, key, vs, ve)
		i = skipSpace(b, ve)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
			continue
		}
		if i < len(b) && b[i] == '}' {
			return i + 1, true
		}
		return i, false
	}
}

// dataMember notes what the member key: b[vs:ve] of the data object tells
// the mapping.
func (d *Decoder) dataMember(m *dataInfo, b, key []byte, vs, ve int) {
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
}

// sourceMember is what the agentex SDK's _add_source_to_span sets in the
// data of every span whose data is a dict or None, overwriting any value.
const sourceMember = `"__source__":"agentex"`

// appendMetadata appends the item's metadata: data's members (copied raw
// when only __source__ needs adding), __source__, the error fields and
// the absent --metadata pairs.
func (d *Decoder) appendMetadata(dst, b []byte, data rng, m *dataInfo) []byte {
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
		d.sc.members(data.s, func(key []byte, vs, ve int) bool {
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
		typ, msg := d.sc.errorFields(m.err)
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

func isErrorKey(k string) bool { return k == "error" || k == "error_type" || k == "error_message" }

// errorFields finds __error__.type and __error__.message.
func (s *scanner) errorFields(e rng) (typ, msg rng) {
	if s.b[e.s] != '{' {
		return
	}
	s.members(e.s, func(key []byte, vs, ve int) bool {
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

func appendOrNull(dst, b []byte, r rng) []byte {
	if !r.ok() {
		return append(dst, "null"...)
	}
	return append(dst, b[r.s:r.e]...)
}
