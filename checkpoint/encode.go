package checkpoint

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// appendState appends st as JSON, byte for byte what encoding/json's
// Marshal writes for it (TestAppendStateMatchesMarshal), without its
// reflection: with thousands of files followed, the checkpoint is
// rewritten every second or two and Marshal was a tenth of the agent's CPU.
func appendState(dst []byte, st *State) []byte {
	dst = append(dst, `{"version":`...)
	dst = strconv.AppendInt(dst, int64(st.Version), 10)
	dst = append(dst, `,"written":`...)
	dst = appendTime(dst, st.Written)
	dst = append(dst, `,"files":`...)
	if st.Files == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i := range st.Files {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendEntry(dst, &st.Files[i])
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

func appendEntry(dst []byte, e *Entry) []byte {
	dst = append(dst, `{"path":`...)
	dst = AppendJSONString(dst, e.Path)
	dst = append(dst, `,"dev":`...)
	dst = strconv.AppendUint(dst, e.Dev, 10)
	dst = append(dst, `,"ino":`...)
	dst = strconv.AppendUint(dst, e.Ino, 10)
	dst = append(dst, `,"fingerprint":`...)
	dst = AppendJSONString(dst, e.Fingerprint)
	dst = append(dst, `,"fingerprint_size":`...)
	dst = strconv.AppendInt(dst, e.FingerprintSize, 10)
	dst = append(dst, `,"offset":`...)
	dst = strconv.AppendInt(dst, e.Offset, 10)
	dst = append(dst, `,"size":`...)
	dst = strconv.AppendInt(dst, e.Size, 10)
	dst = append(dst, `,"updated":`...)
	dst = appendTime(dst, e.Updated)
	if e.Format != "" {
		dst = append(dst, `,"format":`...)
		dst = AppendJSONString(dst, e.Format)
	}
	return append(dst, '}')
}

// appendTime writes t as time.Time.MarshalJSON does. The checkpointer's
// times are UTC and well inside years 0–9999, the range MarshalJSON
// accepts (it fails outside it; this writes what AppendFormat gives).
func appendTime(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	dst = t.AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"')
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a JSON string, byte for byte what
// encoding/json's Marshal writes for it (HTML escaping on, its default: <,
// > and & as \u003c, \u003e and \u0026; U+2028 and U+2029 escaped;
// invalid UTF-8 as \ufffd), without allocating. The orphan journal writes
// its paths with it too.
func AppendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
