package decode

import "testing"

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
