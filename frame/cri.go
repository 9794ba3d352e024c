package frame

import "bytes"

// Streams of a container's output; each has its own partial record.
const (
	stdout = iota
	stderr
	numStreams
)

// parseCRI splits a CRI log line, "<time> <stream> <tag>[:tags] <content>",
// where tag P marks a partial record (the runtime split a long line) and F
// the last record of a line. Only the header is checked, cheaply: the
// timestamp's shape, the stream, the tag.
func parseCRI(line []byte) (stream int, partial bool, content []byte, err *Error) {
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 || !rfc3339(line[:sp]) {
		return 0, false, nil, &Error{Msg: "CRI line without an RFC 3339 timestamp"}
	}
	rest := line[sp+1:]
	switch {
	case bytes.HasPrefix(rest, []byte("stdout ")):
		stream = stdout
	case bytes.HasPrefix(rest, []byte("stderr ")):
		stream = stderr
	default:
		return 0, false, nil, &Error{Msg: "CRI line without a stdout or stderr stream"}
	}
	rest = rest[len("stdout "):]
	tagEnd := bytes.IndexByte(rest, ' ')
	tags := rest
	if tagEnd >= 0 {
		tags, content = rest[:tagEnd], rest[tagEnd+1:]
	}
	if len(tags) == 0 || (tags[0] != 'P' && tags[0] != 'F') || (len(tags) > 1 && tags[1] != ':') {
		return 0, false, nil, &Error{Msg: "CRI line without a P or F tag"}
	}
	return stream, tags[0] == 'P', content, nil
}

// rfc3339 reports whether b looks like an RFC 3339 timestamp:
// YYYY-MM-DDTHH:MM:SS, an optional fraction, then Z or ±HH:MM.
func rfc3339(b []byte) bool {
	if len(b) < 20 {
		return false
	}
	for i, c := range b[:19] {
		switch i {
		case 4, 7:
			if c != '-' {
				return false
			}
		case 10:
			if c != 'T' && c != 't' {
				return false
			}
		case 13, 16:
			if c != ':' {
				return false
			}
		default:
			if c < '0' || c > '9' {
				return false
			}
		}
	}
	i := 19
	if b[i] == '.' {
		i++
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	switch {
	case i == len(b)-1 && (b[i] == 'Z' || b[i] == 'z'):
		return true
	case i == len(b)-6 && (b[i] == '+' || b[i] == '-') && b[i+3] == ':':
		return true
	}
	return false
}
