package frame

import (
	"unicode/utf16"
	"unicode/utf8"
)

// parseDocker reads one docker json-file record,
// {"log":"<content>","stream":"stdout|stderr","time":"...",["attrs":{...}]},
// unescaping log into dst. A log without a final "\n" is a partial record
// (docker splits lines at 16 KiB); the final "\n" is stripped.
func parseDocker(dst, line []byte) (stream int, partial bool, content []byte, err *Error) {
	i := skipWS(line, 0)
	if i >= len(line) || line[i] != '{' {
		return 0, false, dst, &Error{Msg: "docker line is not a JSON object"}
	}
	i = skipWS(line, i+1)
	var logSeen, streamSeen bool
	for i < len(line) && line[i] != '}' {
		ks, ke, ok := stringAt(line, i)
		if !ok {
			return 0, false, dst, &Error{Msg: "docker line: bad object key"}
		}
		key := line[ks:ke]
		i = skipWS(line, ke+1)
		if i >= len(line) || line[i] != ':' {
			return 0, false, dst, &Error{Msg: "docker line: ':' expected"}
		}
		i = skipWS(line, i+1)
		switch string(key) {
		case "log":
			vs, ve, ok := stringAt(line, i)
			if !ok {
				return 0, false, dst, &Error{Msg: "docker line: log is not a string"}
			}
			if dst, ok = unescape(dst, line[vs:ve]); !ok {
				return 0, false, dst, &Error{Msg: "docker line: bad escape in log"}
			}
			logSeen, i = true, ve+1
		case "stream":
			vs, ve, ok := stringAt(line, i)
			switch {
			case ok && string(line[vs:ve]) == "stdout":
				stream = stdout
			case ok && string(line[vs:ve]) == "stderr":
				stream = stderr
			default:
				return 0, false, dst, &Error{Msg: "docker line: stream is not stdout or stderr"}
			}
			streamSeen, i = true, ve+1
		default:
			var ok bool
			if i, ok = skipJSON(line, i); !ok {
				return 0, false, dst, &Error{Msg: "docker line: bad value"}
			}
		}
		i = skipWS(line, i)
		if i < len(line) && line[i] == ',' {
			i = skipWS(line, i+1)
		}
	}
	if i >= len(line) || skipWS(line, i+1) != len(line) {
		return 0, false, dst, &Error{Msg: "docker line: not one JSON object"}
	}
	if !logSeen || !streamSeen {
		return 0, false, dst, &Error{Msg: "docker line without log or stream"}
	}
	if n := len(dst); n > 0 && dst[n-1] == '\n' {
		return stream, false, dst[:n-1], nil
	}
	return stream, true, dst, nil
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// stringAt returns the raw contents [s, e) of the JSON string whose opening
// quote is at b[i]; b[e] is its closing quote.
func stringAt(b []byte, i int) (s, e int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return 0, 0, false
	}
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return i + 1, j, true
		}
	}
	return 0, 0, false
}

// skipJSON skips the value at b[i] (attrs and other fields docker may add),
// returning the index after it. It checks nesting, not every token.
func skipJSON(b []byte, i int) (int, bool) {
	depth := 0
	for i < len(b) {
		switch c := b[i]; c {
		case '"':
			_, e, ok := stringAt(b, i)
			if !ok {
				return i, false
			}
			i = e + 1
		case '{', '[':
			depth++
			i++
		case '}', ']':
			if depth == 0 {
				return i, true
			}
			depth--
			i++
		case ',':
			if depth == 0 {
				return i, true
			}
			i++
		default:
			i++
		}
	}
	return i, false
}

// unescape appends the JSON string contents s, escapes undone, to dst.
func unescape(dst, s []byte) ([]byte, bool) {
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			j := i + 1
			for j < len(s) && s[j] != '\\' {
				j++
			}
			dst = append(dst, s[i:j]...)
			i = j
			continue
		}
		if i+1 >= len(s) {
			return dst, false
		}
		switch s[i+1] {
		case '"', '\\', '/':
			dst = append(dst, s[i+1])
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hex4(s, i+2)
			if !ok {
				return dst, false
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if r2, ok := hex4(s, i+2); ok && i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						dst = utf8.AppendRune(dst, d)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default:
			return dst, false
		}
		i += 2
	}
	return dst, true
}

func hex4(s []byte, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range s[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
