package decode

import (
	"math/bits"
	"unicode/utf8"
)

// value validates the JSON value at b[i] (no leading space) as skipValue
// does and returns the index just past it. It tries fastValue first and
// asks skipValue only when that gives up: on bad input, for the exact
// error, or nesting fastValue does not take.
func (s *scanner) value(i, depth int) (int, *Error) {
	if e, ok := s.fastValue(i, depth); ok {
		return e, nil
	}
	return s.skipValue(i, depth)
}

// indexAll indexes the rest of the line.
func (s *scanner) indexAll() {
	for s.done < len(s.b) {
		s.extend(len(s.b))
	}
}

// fastValue is skipValue without its per-token calls: one loop over the
// tokens of the value, nesting kept in a bit stack, strings skipped from
// stop to stop inline. When it returns ok, skipValue(i, depth) returns the
// same index and no error; when not, it knows nothing, and the caller asks
// skipValue. It takes nesting up to 63 levels within the value.
func (s *scanner) fastValue(i, depth int) (end int, ok bool) {
	if s.done < len(s.b) {
		s.indexAll()
	}
	b, words := s.b, s.words
	var (
		arrays uint64 // bit l: the container open at level l is an array
		level  int    // containers open
		key    bool   // the string being skipped is an object key
		w      uint64
		c      byte
	)

value:
	if i >= len(b) {
		return i, false
	}
	switch b[i] {
	case '"':
		goto str
	case '{':
		level++
		if level >= 64 || depth+level > maxDepth {
			return i, false
		}
		arrays &^= 1 << level
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == '}' {
			i++
			level--
			goto after
		}
		goto key
	case '[':
		level++
		if level >= 64 || depth+level > maxDepth {
			return i, false
		}
		arrays |= 1 << level
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == ']' {
			i++
			level--
			goto after
		}
		goto value
	case 't':
		if len(b)-i < 4 || string(b[i:i+4]) != "true" {
			return i, false
		}
		i += 4
		goto after
	case 'f':
		if len(b)-i < 5 || string(b[i:i+5]) != "false" {
			return i, false
		}
		i += 5
		goto after
	case 'n':
		if len(b)-i < 4 || string(b[i:i+4]) != "null" {
			return i, false
		}
		i += 4
		goto after
	default:
		if c = b[i]; c != '-' && !isDigit(c) {
			return i, false
		}
		e, err := skipNumber(b, i)
		if err != nil {
			return i, false
		}
		i = e
		goto after
	}

key:
	if i >= len(b) || b[i] != '"' {
		return i, false
	}
	key = true

str:
	i++ // opening quote
	for {
		// The next stop: the line is indexed, and bits past its end set.
		w = words[i>>6] >> (i & 63)
		if w != 0 {
			i += bits.TrailingZeros64(w)
		} else {
			k := i>>6 + 1
			for words[k] == 0 {
				k++
			}
			i = k<<6 + bits.TrailingZeros64(words[k])
		}
		if i >= len(b) {
			return i, false
		}
		c = b[i]
		if c == '"' {
			i++
			break
		}
		if c == '\\' {
			if i+1 >= len(b) {
				return i, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					return i, false
				}
				i += 6
			default:
				return i, false
			}
			continue
		}
		if c < 0x20 {
			return i, false
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i, false
		}
		i += n
	}
	if key {
		key = false
		i = skipSpace(b, i)
		if i >= len(b) || b[i] != ':' {
			return i, false
		}
		i = skipSpace(b, i+1)
		goto value
	}

after:
	if level == 0 {
		return i, true
	}
	i = skipSpace(b, i)
	if i >= len(b) {
		return i, false
	}
	if b[i] == ',' {
		i = skipSpace(b, i+1)
		if arrays>>level&1 == 0 {
			goto key
		}
		goto value
	}
	if arrays>>level&1 == 0 {
		if b[i] != '}' {
			return i, false
		}
	} else if b[i] != ']' {
		return i, false
	}
	i++
	level--
	goto after
}
