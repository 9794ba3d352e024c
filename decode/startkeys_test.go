package decode

import (
	"errors"
	"testing"
)

// TestStartKeys: with StartKeys a dropped span-start record still reports
// its identity, whatever the field order, and a start without a usable
// trace_id is bad input rather than dropped.
func TestStartKeys(t *testing.T) {
	d := New(Options{SkipStart: true, StartKeys: true})
	for _, c := range []struct {
		name, line string
		reason     Reason
	}{
		{"agentex order", `{"id":"s1","name":"n","start_time":"2026-11-26T03:00:00Z","end_time":null,"trace_id":"t1","input":{"big":[1,2,3]}}`, ""},
		{"trace_id first", `{"trace_id":"t1","id":"s1","name":"n","start_time":"2026-11-26T03:00:00Z","end_time":null}`, ""},
		{"end_time absent", `{"id":"s1","trace_id":"t1","name":"n","start_time":"2026-11-26T03:00:00Z"}`, ""},
		{"no trace_id", `{"id":"s1","name":"n","start_time":"2026-11-26T03:00:00Z","end_time":null}`, ReasonMissingField},
		{"trace_id not a string", `{"id":"s1","name":"n","start_time":"2026-11-26T03:00:00Z","end_time":null,"trace_id":7}`, ReasonWrongType},
	} {
		t.Run(c.name, func(t *testing.T) {
			item, span, err := d.Append(nil, []byte(c.line))
			if c.reason != "" {
				var de *Error
				if !errors.As(err, &de) || de.Reason != c.reason {
					t.Fatalf("err %v, want %s", err, c.reason)
				}
				return
			}
			if err != nil || !span.Dropped || span.Kind != KindStart || len(item) != 0 {
				t.Fatalf("span %+v item %q err %v: want a dropped start, no item", span, item, err)
			}
			if string(span.TraceID) != "t1" || string(span.ID) != "s1" {
				t.Fatalf("identity %q/%q, want t1/s1", span.TraceID, span.ID)
			}
		})
	}
	// Without StartKeys the fast path stops at end_time, as before.
	_, span, err := New(Options{SkipStart: true}).Append(nil, []byte(`{"id":"s1","name":"n","start_time":"2026-11-26T03:00:00Z","end_time":null,"trace_id":7}`))
	if err != nil || !span.Dropped {
		t.Fatalf("span %+v err %v", span, err)
	}
}
