package decode

import (
	"unicode/utf8"
)

// maxDepth bounds nesting so a hostile line cannot exhaust the stack.
const maxDepth = 512

// plain marks the bytes a string can hold without a closer look: not '"',
// not '\\', not a control character, ASCII.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && b[i] <= ' ' && isSpace(b[i]) {
		i++
	}
	return i
}

// skipString validates the JSON string whose opening quote is at b[i] and
// returns the index after its closing quote. The index takes it from one
// stop to the next: a bit-scan, whatever the bytes in between.
func (s *scanner) skipString(i int) (int, *Error) {
	b := s.b
	i++ // opening quote
	if i >= s.done {
		s.extend(i)
	}
	for {
		i = s.nextStop(i)
		if i >= s.done {
			if s.done == len(b) {
				return len(b), errAt(ReasonInvalidJSON, len(b), "unterminated string")
			}
			s.extend(i)
			continue
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

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// skipNumber validates the JSON number at b[i].
func skipNumber(b []byte, i int) (int, *Error) {
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

func skipLiteral(b []byte, i int, lit string) (int, *Error) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return i, errAt(ReasonInvalidJSON, i, "bad literal")
	}
	return i + len(lit), nil
}

// skipValue validates the JSON value at b[i] (no leading space) and returns
// the index just past it.
func (s *scanner) skipValue(i, depth int) (int, *Error) {
	b := s.b
	if i >= len(b) {
		return i, errAt(ReasonInvalidJSON, i, "value expected")
	}
	switch c := b[i]; c {
	case '"':
		return s.skipString(i)
	case '{':
		return s.skipObject(i, depth+1)
	case '[':
		return s.skipArray(i, depth+1)
	case 't':
		return skipLiteral(b, i, "true")
	case 'f':
		return skipLiteral(b, i, "false")
	case 'n':
		return skipLiteral(b, i, "null")
	default:
		if c == '-' || isDigit(c) {
			return skipNumber(b, i)
		}
		return i, errAt(ReasonInvalidJSON, i, "value expected")
	}
}

func (s *scanner) skipObject(i, depth int) (int, *Error) {
	b := s.b
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
		if i, err = s.skipString(i); err != nil {
			return i, err
		}
		i = skipSpace(b, i)
		if i >= len(b) || b[i] != ':' {
			return i, errAt(ReasonInvalidJSON, i, "':' expected")
		}
		if i, err = s.skipValue(skipSpace(b, i+1), depth); err != nil {
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

func (s *scanner) skipArray(i, depth int) (int, *Error) {
	b := s.b
	if depth > maxDepth {
		return i, errAt(ReasonInvalidJSON, i, "nested too deep")
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, nil
	}
	for {
		var err *Error
		if i, err = s.skipValue(i, depth); err != nil {
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

// members calls fn with the raw key (without quotes) and the value range of
// each member of the already validated object at b[at].
func (s *scanner) members(at int, fn func(key []byte, vs, ve int) bool) {
	b := s.b
	i := skipSpace(b, at+1)
	for i < len(b) && b[i] == '"' {
		ke, _ := s.skipString(i)
		key := b[i+1 : ke-1]
		vs := skipSpace(b, skipSpace(b, ke)+1)
		ve, _ := s.value(vs, 0)
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

// arrayOfObjects reports whether the validated array at b[at] holds objects only.
func (s *scanner) arrayOfObjects(at int) bool {
	b := s.b
	i := skipSpace(b, at+1)
	for i < len(b) && b[i] != ']' {
		if b[i] != '{' {
			return false
		}
		i, _ = s.value(i, 0)
		i = skipSpace(b, i)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	return true
}
