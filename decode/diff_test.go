package decode

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/spanshipper/spanshipper/spangen"
)

// diffOptions are the decoder configurations the differential tests run.
var diffOptions = []Options{
	{},
	{SkipStart: true},
	{SkipStart: true, StartKeys: true},
	{Metadata: []KV{{"env", "test"}, {"__source__", "x"}, {"error", "e"}}},
}

// sameAsRef decodes line with d and with the reference decoder (ref_test.go)
// and reports any difference: item bytes, span, error reason, offset and
// message.
func sameAsRef(d *Decoder, line []byte) error {
	got, gs, gerr := d.Append([]byte("p:"), line)
	want, ws, werr := refAppend(d, []byte("p:"), line)
	if !bytes.Equal(got, want) {
		return fmt.Errorf("item\n got %s\nwant %s", got, want)
	}
	if gs.Kind != ws.Kind || gs.Dropped != ws.Dropped || !bytes.Equal(gs.TraceID, ws.TraceID) || !bytes.Equal(gs.ID, ws.ID) ||
		(gs.TraceID == nil) != (ws.TraceID == nil) || (gs.ID == nil) != (ws.ID == nil) {
		return fmt.Errorf("span %+v, want %+v", gs, ws)
	}
	if (gerr == nil) != (werr == nil) {
		return fmt.Errorf("err %v, want %v", gerr, werr)
	}
	if gerr != nil && *gerr.(*Error) != *werr.(*Error) {
		return fmt.Errorf("err %v, want %v", gerr, werr)
	}
	return nil
}

func generatedLines(spans int) [][]byte {
	g := spangen.New(spangen.Options{Seed: 1, Spans: spans})
	var lines [][]byte
	for {
		line, ok := g.Next(nil)
		if !ok {
			return lines
		}
		lines = append(lines, line[:len(line)-1])
	}
}

// TestSameAsReference runs the generated records, and mutations of them
// (a byte replaced by one that matters to a JSON scanner, or the line cut
// short), through the decoder and the reference decoder.
func TestSameAsReference(t *testing.T) {
	lines := generatedLines(400)
	decoders := make([]*Decoder, len(diffOptions))
	for i, o := range diffOptions {
		decoders[i] = New(o)
	}
	check := func(line []byte) {
		t.Helper()
		for _, d := range decoders {
			if err := sameAsRef(d, line); err != nil {
				t.Fatalf("line %q\n%v", line, err)
			}
		}
	}
	interesting := []byte{'"', '\\', 0x01, 0x1f, 0x7f, 0x80, 0xc3, 0xe2, 0xf0, 0xff, '{', '}', '[', ']', ',', ':', ' ', '\n', 'u', '0', 'n', '-', 'e', '.'}
	seed := uint64(3)
	buf := make([]byte, 0, 4096)
	for li, line := range lines {
		check(line)
		check(append(append(buf[:0], line...), '\r'))
		if li%4 != 0 {
			continue
		}
		for range 24 {
			seed = seed*6364136223846793005 + 1442695040888963407
			pos := int(seed>>33) % len(line)
			m := append(buf[:0], line...)
			m[pos] = interesting[int(seed>>20)%len(interesting)]
			check(m)
			check(m[:pos])
			check(line[:pos])
		}
	}
}

// FuzzSameAsReference compares the decoder with the reference decoder
// (ref_test.go) on any input: same item, span and error.
func FuzzSameAsReference(f *testing.F) {
	for _, s := range []string{
		`{` + base + `,` + endTS + `}`,
		`{` + base + `,"end_time":null}`,
		`{` + base + `,` + endTS + `,"parent_id":"p","input":[{"a":1.50}],"output":{"x":"\u00e9"},"data":{"__span_type__":"T","__error__":{"type":"E","message":"m"}}}`,
		`{` + base + `,` + endTS + `,"data":{"__source__":"mine","__error__":"s","k":{"__source__":1}}}`,
		`[1]`, `{"id":"x"`, "{\"id\":\"\xff\"}", `{}`, ``, `   `,
		"{\"id\":\"caf\xc3\xa9 \\u00e9 \\\"q\\\" \x01\"}",
	} {
		f.Add([]byte(s), uint8(0))
	}
	for _, line := range generatedLines(6) {
		f.Add(line, uint8(1))
	}
	decoders := make([]*Decoder, len(diffOptions))
	for i, o := range diffOptions {
		decoders[i] = New(o)
	}
	f.Fuzz(func(t *testing.T, line []byte, opt uint8) {
		if err := sameAsRef(decoders[int(opt)%len(decoders)], line); err != nil {
			t.Fatal(err)
		}
	})
}
