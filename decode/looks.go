package decode

import "bytes"

// LooksLikeSpan reports, cheaply, whether content from a container log is
// meant as a span record: a JSON object with both a "trace_id" and a
// "start_time" key. Container logs mostly hold other output (app logs,
// stack traces, JSON logs), which is skipped without being parsed; content
// that looks like a span and is malformed is bad input.
//
// A key is the quoted name followed by a ':' (so a key, give or take a
// nested object's key). Both names have a '_' 6 bytes after their opening
// quote: the line is scanned from '_' to '_', and each is checked for
// either name around it and a ':' after. Lines have fewer '_' than ':'
// (agentex records: 3 or 4 before both keys are found, against 8 ':', the
// timestamps' included). Scanning from ':' to ':' and looking back from
// each took 78 ns per bench record (BenchmarkLooksLikeSpan; now 58) and
// 151 ns per JSON app log line (BenchmarkLooksLikeSpanAppLog; now 52);
// two bytes.Index calls, one per name, 125 ns per bench record.
func LooksLikeSpan(b []byte) bool {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	b = b[i:]
	const trace, start = `"trace_id"`, `"start_time"` // '_' at index 6 of both
	var seenTrace, seenStart bool
	for off := 7; ; { // b[0] is '{': a quote at 1 puts a '_' at 7
		if off >= len(b) {
			return false
		}
		u := bytes.IndexByte(b[off:], '_')
		if u < 0 {
			return false
		}
		u += off
		off = u + 1
		q := u - 6 // where the opening quote would be
		switch {
		case !seenTrace && keyAt(b, q, trace):
			seenTrace = true
		case !seenStart && keyAt(b, q, start):
			seenStart = true
		default:
			continue
		}
		if seenTrace && seenStart {
			return true
		}
	}
}

// keyAt reports whether b holds the quoted name at q, followed by a ':'
// (after spaces).
func keyAt(b []byte, q int, quoted string) bool {
	e := q + len(quoted)
	if e > len(b) || string(b[q:e]) != quoted {
		return false
	}
	j := skipSpace(b, e)
	return j < len(b) && b[j] == ':'
}
