package decode

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/spanshipper/spanshipper/spangen"
)

func TestLooksLikeSpan(t *testing.T) {
	cases := []struct {
		in   string
		want bool
	}{
		{`{` + base + `,` + endTS + `}`, true},
		{` {"start_time" : "x", "trace_id":1}`, true}, // malformed span: bad input, not skipped
		{`{"trace_id":"t"}`, false},
		{`{"level":"info","msg":"span \"trace_id\": \"start_time\":"}`, false},
		{`{"msg":"trace_id start_time"}`, false},
		{`INFO trace_id=1 start_time=2 {"trace_id":1,"start_time":2}`, false},
		{`Traceback (most recent call last):`, false},
		{``, false},
		{`[{"trace_id":1,"start_time":2}]`, false},
	}
	for _, c := range cases {
		if got := LooksLikeSpan([]byte(c.in)); got != c.want {
			t.Errorf("LooksLikeSpan(%s) = %v, want %v", c.in, got, c.want)
		}
	}
}

// looksLikeSpanRef is LooksLikeSpan as first written: one bytes.Index
// search per key.
func looksLikeSpanRef(b []byte) bool {
	i := skipSpace(b, 0)
	return i < len(b) && b[i] == '{' && hasKeyRef(b[i:], `"trace_id"`) && hasKeyRef(b[i:], `"start_time"`)
}

func hasKeyRef(b []byte, quoted string) bool {
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

// TestLooksLikeSpanMatchesReference: the one-pass scan answers as the two
// searches did, for lines made of the pieces that matter.
func TestLooksLikeSpanMatchesReference(t *testing.T) {
	pieces := []string{`"trace_id"`, `"start_time"`, `"trace_id`, `start_time"`, `"`, `:`, ` `, "\t", "\n", `{`, `}`, `x`, `\`, `,`, `_`, `"trace`, `_id"`}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 200000 {
		var b []byte
		for range rng.IntN(12) {
			b = append(b, pieces[rng.IntN(len(pieces))]...)
		}
		if got, want := LooksLikeSpan(b), looksLikeSpanRef(b); got != want {
			t.Fatalf("LooksLikeSpan(%q) = %v, the reference says %v", b, got, want)
		}
	}
}

func FuzzLooksLikeSpan(f *testing.F) {
	f.Add([]byte(`{"start_time" : "x", "trace_id":1}`))
	f.Add([]byte(`{"level":"info","msg":"span \"trace_id\": \"start_time\":"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := LooksLikeSpan(b), looksLikeSpanRef(b); got != want {
			t.Fatalf("LooksLikeSpan(%q) = %v, the reference says %v", b, got, want)
		}
	})
}

func BenchmarkLooksLikeSpan(b *testing.B) {
	g := spangen.New(spangen.Options{Seed: 1, Spans: 2000})
	var lines [][]byte
	for {
		line, ok := g.Next(nil)
		if !ok {
			break
		}
		lines = append(lines, line[:len(line)-1])
	}
	i := 0
	for b.Loop() {
		if !LooksLikeSpan(lines[i]) {
			b.Fatal("a bench record does not look like a span")
		}
		if i++; i == len(lines) {
			i = 0
		}
	}
}

// BenchmarkLooksLikeSpanAppLog: a JSON log line that is not a span, as
// most container output is: scanned to its end.
func BenchmarkLooksLikeSpanAppLog(b *testing.B) {
	line := []byte(`{"level":"info","ts":"2026-11-26T15:00:00.123Z","logger":"http_server","caller":"server/handler.go:88","msg":"request served","method":"GET","path":"/api/v1/users","status":200,"duration_ms":12.5,"user_id":"u_123","request_id":"9f8e7d6c"}`)
	for b.Loop() {
		if LooksLikeSpan(line) {
			b.Fatal("an app log line looks like a span")
		}
	}
}
