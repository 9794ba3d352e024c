package decode

import (
	"encoding/binary"
	"math/bits"
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
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// skipString validates the JSON string whose opening quote is at b[i] and
// returns the index after its closing quote.
func skipString(b []byte, i int) (int, *Error) {
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

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

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
func skipValue(b []byte, i, depth int) (int, *Error) {
	if i >= len(b) {
		return i, errAt(ReasonInvalidJSON, i, "value expected")
	}
	switch c := b[i]; c {
	case '"':
		return skipString(b, i)
	case '{':
		return skipObject(b, i, depth+1)
	case '[':
		return skipArray(b, i, depth+1)
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

func skipObject(b []byte, i, depth int) (int, *Error) {
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
		if i, err = skipString(b, i); err != nil {
			return i, err
		}
		i = skipSpace(b, i)
		if i >= len(b) || b[i] != ':' {
			return i, errAt(ReasonInvalidJSON, i, "':' expected")
		}
		if i, err = skipValue(b, skipSpace(b, i+1), depth); err != nil {
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

func skipArray(b []byte, i, depth int) (int, *Error) {
	if depth > maxDepth {
		return i, errAt(ReasonInvalidJSON, i, "nested too deep")
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, nil
	}
	for {
		var err *Error
		if i, err = skipValue(b, i, depth); err != nil {
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
// each member of the already validated object b[s:e].
func members(b []byte, s int, fn func(key []byte, vs, ve int) bool) {
	i := skipSpace(b, s+1)
	for i < len(b) && b[i] == '"' {
		ke, _ := skipString(b, i)
		key := b[i+1 : ke-1]
		vs := skipSpace(b, skipSpace(b, ke)+1)
		ve, _ := skipValue(b, vs, 0)
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

// arrayOfObjects reports whether the validated array b[s:e] holds objects only.
func arrayOfObjects(b []byte, s int) bool {
	i := skipSpace(b, s+1)
	for i < len(b) && b[i] != ']' {
		if b[i] != '{' {
			return false
		}
		i, _ = skipValue(b, i, 0)
		i = skipSpace(b, i)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	return true
}
