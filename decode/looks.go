package decode

import "bytes"

// LooksLikeSpan reports, cheaply, whether content from a container log is
// meant as a span record: a JSON object with both a "trace_id" and a
// "start_time" key. Container logs mostly hold other output (app logs,
// stack traces, JSON logs), which is skipped without being parsed; content
// that looks like a span and is malformed is bad input.
func LooksLikeSpan(b []byte) bool {
	i := skipSpace(b, 0)
	return i < len(b) && b[i] == '{' && hasKey(b[i:], `"trace_id"`) && hasKey(b[i:], `"start_time"`)
}

// hasKey reports whether quoted, a JSON string with its quotes, occurs in b
// followed by a ':' (so as a key, give or take a nested object's key).
func hasKey(b []byte, quoted string) bool {
	for {
		i := bytes.Index(b, []byte(quoted))
		if i < 0 {
			return false
		}
		j := skipSpace(b, i+len(quoted))
		if j < len(b) && b[j] == ':' {
			return true
		}
		b = b[i+len(quoted):]
	}
}
