package frame

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestDetect(t *testing.T) {
	cases := []struct {
		line string
		want Format
	}{
		{`2016-10-06T00:17:09.669794202Z stdout F {"id":"a"}`, CRI},
		{`2016-10-06T00:17:09.669794202+02:00 stderr P:x part`, CRI},
		{`2016-10-06T00:17:09Z stdout F`, CRI},
		{`{"log":"hello\n","stream":"stdout","time":"2019-01-01T11:11:11.111111111Z"}`, Docker},
		{`{"id":"s1","trace_id":"t1","name":"n","start_time":"2026-01-01T00:00:00Z"}`, Span},
		{`2016-10-06 00:17:09 stdout F x`, Span}, // not RFC 3339
		{`2016-10-06T00:17:09Z stdin F x`, Span},
		{`2016-10-06T00:17:09Z stdout X x`, Span},
		{`plain text`, Span},
	}
	for _, c := range cases {
		if got := Detect([]byte(c.line)); got != c.want {
			t.Errorf("Detect(%q) = %v, want %v", c.line, got, c.want)
		}
	}
}

func TestParseFormat(t *testing.T) {
	for _, s := range []string{"auto", "span", "cri", "docker"} {
		f, err := ParseFormat(s)
		if err != nil || f.String() != s {
			t.Errorf("ParseFormat(%q) = %v, %v", s, f, err)
		}
	}
	if _, err := ParseFormat("CRI"); err == nil {
		t.Error("ParseFormat accepted CRI")
	}
}

// physical is one line of a file as a runtime wrote it.
type physical string

// run pushes lines (each followed by '\n' in the imagined file) through a
// joiner and returns what came out, one string per record.
func run(t *testing.T, f Format, max int, lines []physical, flush bool) (out []string, floors []int64) {
	t.Helper()
	j := NewJoiner(f, max)
	var off int64
	emit := func(r Record) error {
		s := ""
		switch {
		case r.Err != nil:
			s = "ERR"
		case r.TooLong:
			s = "LONG"
		default:
			s = string(r.Line)
		}
		out = append(out, s+"@"+itoa(r.Start)+"-"+itoa(r.End)+"^"+itoa(r.Anchor))
		return nil
	}
	for _, l := range lines {
		end := off + int64(len(l)) + 1
		if err := j.Push([]byte(l), off, end, emit); err != nil {
			t.Fatal(err)
		}
		fl, ok := j.Floor()
		if !ok {
			fl = -1
		}
		floors = append(floors, fl)
		off = end
	}
	if flush {
		j.Flush(emit)
	}
	return out, floors
}

func itoa(n int64) string { return jsonNum(n) }

func jsonNum(n int64) string { b, _ := json.Marshal(n); return string(b) }

const ts = "2026-11-25T10:00:00.123456789Z "

func TestCRIJoin(t *testing.T) {
	cases := []struct {
		name   string
		lines  []physical
		flush  bool
		want   []string
		floors []int64
	}{
		{"full records pass through, tags after a colon allowed",
			[]physical{ts + "stdout F one", ts + "stderr F:x two", ts + "stdout F "},
			false, []string{"one@0-44^0", "two@44-90^44", "@90-131^90"}, []int64{-1, -1, -1}},
		{"P records joined up to F, per stream, interleaved",
			[]physical{ts + "stdout P ab", ts + "stderr P xy", ts + "stdout P cd", ts + "stderr F z", ts + "stdout F ef"},
			false,
			// stderr's record ends inside stdout's group; stdout's began first,
			// so stdout's anchor stays 0 and stderr's record anchors at 42.
			[]string{"xyz@43-171^43", "abcdef@0-214^0"},
			[]int64{0, 0, 0, 0, -1}},
		{"a group that ends inside another's range pulls its anchor back",
			[]physical{ts + "stdout P ab", ts + "stderr P xy", ts + "stdout F cd", ts + "stderr F z"},
			false,
			[]string{"abcd@0-129^0", "xyz@43-171^0"},
			[]int64{0, 0, 0, -1}},
		{"a single record inside an open group",
			[]physical{ts + "stdout P ab", ts + "stderr F e", ts + "stdout F c"},
			false, []string{"e@43-85^43", "abc@0-127^0"}, []int64{0, 0, -1}},
		{"group cut by the end of the file is flushed as a record",
			[]physical{ts + "stdout F one", ts + "stdout P par", ts + "stdout P tial"},
			true, []string{"one@0-44^0", "partial@44-133^44"}, []int64{-1, 44, 44}},
		{"CRLF stripped",
			[]physical{ts + "stdout F one\r", ts + "stdout P a\r", ts + "stdout F b\r"},
			false, []string{"one@0-45^0", "ab@45-131^45"}, []int64{-1, 45, -1}},
		{"bad timestamp, stream and tag are errors; blank lines are blank records",
			[]physical{"2026-11-25 stdout F x", ts + "stdin F x", ts + "stdout Q x", "", ts + "stdout F ok"},
			false, []string{"ERR@0-22^0", "ERR@22-63^22", "ERR@63-105^63", "@105-106^105", "ok@106-149^106"}, nil},
		{"too long content, single and joined",
			[]physical{ts + "stdout F 0123456789", ts + "stdout P 01234", ts + "stdout F 56789", ts + "stdout F 01234"},
			false, []string{"LONG@0-51^0", "LONG@51-143^51", "01234@143-189^143"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, floors := run(t, CRI, 8, c.lines, c.flush)
			if strings.Join(got, " | ") != strings.Join(c.want, " | ") {
				t.Errorf("records\n got %v\nwant %v", got, c.want)
			}
			if c.floors != nil && jsonNum(int64(len(floors))) != jsonNum(int64(len(c.floors))) {
				t.Fatalf("floors %v", floors)
			}
			for i := range c.floors {
				if floors[i] != c.floors[i] {
					t.Errorf("floor after line %d = %d, want %d (all %v)", i, floors[i], c.floors[i], floors)
				}
			}
		})
	}
}

func TestDockerJoin(t *testing.T) {
	d := func(log, stream string) physical {
		b, _ := json.Marshal(map[string]string{"log": log, "stream": stream, "time": "2019-01-01T11:11:11.111111111Z"})
		return physical(b)
	}
	cases := []struct {
		name  string
		lines []physical
		flush bool
		want  []string
	}{
		{"final newline stripped, escapes undone",
			[]physical{d("a \"q\" \u00e9 <\\>\n", "stdout"), `{"log":"\u003c\ud83d\ude00\t\n","stream":"stderr","time":"x","attrs":{"a":[1,{"b":"}"}]}}`},
			false, []string{"a \"q\" é <\\>", "<😀\t"}},
		{"partials joined per stream",
			[]physical{d("ab", "stdout"), d("xy", "stderr"), d("cd\n", "stdout"), d("z\n", "stderr")},
			false, []string{"abcd", "xyz"}},
		{"partial cut by end of file",
			[]physical{d("ab", "stdout")},
			true, []string{"ab"}},
		{"malformed",
			[]physical{`{"log":"x\n"}`, `{"log":"\q\n","stream":"stdout"}`, `{"log":"x\n","stream":"stdin"}`, `not json`, `{"log":"x\n","stream":"stdout"} trailing`},
			false, []string{"ERR", "ERR", "ERR", "ERR", "ERR"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, _ := run(t, Docker, 1<<20, c.lines, c.flush)
			for i := range got {
				got[i] = got[i][:strings.LastIndexByte(got[i][:strings.LastIndexByte(got[i], '^')], '@')]
			}
			if strings.Join(got, " | ") != strings.Join(c.want, " | ") {
				t.Errorf("records\n got %q\nwant %q", got, c.want)
			}
		})
	}
}

// FuzzDocker checks the docker record reader against encoding/json: a line
// it accepts decodes to the same log text, and a well-formed record is
// accepted.
func FuzzDocker(f *testing.F) {
	f.Add(`{"log":"hello\n","stream":"stdout","time":"t"}`)
	f.Add(`{"log":"\u00e9\ud800x","stream":"stderr","attrs":{"k":["v"]},"time":"t"}`)
	f.Fuzz(func(t *testing.T, line string) {
		_, partial, content, err := parseDocker(nil, []byte(line))
		var rec struct {
			Log    *string `json:"log"`
			Stream string  `json:"stream"`
		}
		jerr := json.Unmarshal([]byte(line), &rec)
		if err != nil {
			if jerr == nil && rec.Log != nil && (rec.Stream == "stdout" || rec.Stream == "stderr") && strings.HasPrefix(strings.TrimLeft(line, " \t\r\n"), "{") && !strings.Contains(line, `"stream":`+`"stdout","stream"`) {
				t.Fatalf("well-formed %q rejected: %v", line, err)
			}
			return
		}
		if jerr != nil {
			return // the reader checks framing, not every token of other fields
		}
		want := *rec.Log
		if !partial {
			want = strings.TrimSuffix(want, "\n")
		}
		if string(content) != want && strings.ToValidUTF8(string(content), "\uFFFD") != want {
			t.Fatalf("%q: log %q, want %q", line, content, want)
		}
	})
}

// FuzzJoin pushes arbitrary physical lines through CRI and docker joiners:
// no panic, every record's range is sane, and the floor never passes the
// first line of a partial record still open.
func FuzzJoin(f *testing.F) {
	f.Add(ts+"stdout P a\n"+ts+"stderr P b\n"+ts+"stdout F c\n"+ts+"stderr F d", true)
	f.Add(`{"log":"a","stream":"stdout"}`+"\n"+`{"log":"b\n","stream":"stderr"}`, false)
	f.Fuzz(func(t *testing.T, data string, useCRI bool) {
		format := Docker
		if useCRI {
			format = CRI
		}
		j := NewJoiner(format, 64)
		var off int64
		lastEnd := int64(0)
		for _, l := range strings.Split(data, "\n") {
			end := off + int64(len(l)) + 1
			err := j.Push([]byte(l), off, end, func(r Record) error {
				if r.Anchor > r.Start || r.Start >= r.End || r.End > end {
					t.Fatalf("record range %d-%d anchor %d after line ending %d", r.Start, r.End, r.Anchor, end)
				}
				if r.Line != nil && len(r.Line) > 64 {
					t.Fatalf("record of %d bytes over the maximum", len(r.Line))
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			for i := range j.streams {
				if p := &j.streams[i]; p.open {
					if fl, ok := j.Floor(); !ok || fl > p.start {
						t.Fatalf("floor %d (%v) past an open partial at %d", fl, ok, p.start)
					}
				}
			}
			lastEnd, off = end, end
		}
		j.Flush(func(r Record) error {
			if r.End > lastEnd {
				t.Fatalf("flushed record ends at %d past the file's %d", r.End, lastEnd)
			}
			return nil
		})
		if _, ok := j.Floor(); ok {
			t.Fatal("a partial is open after Flush")
		}
	})
}
