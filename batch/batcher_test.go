package batch

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/spanshipper/spanshipper/checkpoint"
)

// fakeClock records linger timers; the test fires them by hand.
type fakeClock struct {
	mu     sync.Mutex
	timers []*fakeTimer
}

type fakeTimer struct {
	f       func()
	d       time.Duration
	stopped bool
}

func (t *fakeTimer) Stop() bool { was := !t.stopped; t.stopped = true; return was }

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{f: f, d: d}
	c.timers = append(c.timers, t)
	return t
}

// fire runs every pending timer that was not stopped.
func (c *fakeClock) fire() {
	c.mu.Lock()
	ts := c.timers
	c.timers = nil
	c.mu.Unlock()
	for _, t := range ts {
		if !t.stopped {
			go t.f()
		}
	}
}

func (c *fakeClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if !t.stopped {
			n++
		}
	}
	return n
}

func entry(cur *checkpoint.Cursor, off int64, trace, id string, end bool) Entry {
	j := fmt.Sprintf(`{"id":%q,"trace_id":%q,"end":%v}`, id, trace, end)
	return Entry{JSON: []byte(j), TraceID: []byte(trace), ID: []byte(id), End: end,
		Mark: cur.Add(off, off+10), Path: "/x", Offset: off}
}

type bodyItem struct {
	ID      string `json:"id"`
	TraceID string `json:"trace_id"`
	End     bool   `json:"end"`
}

func decodeBody(t *testing.T, b *Batch) []bodyItem {
	t.Helper()
	var body struct{ Items []bodyItem }
	if err := json.Unmarshal(b.Body, &body); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, b.Body)
	}
	if len(body.Items) != len(b.Items) {
		t.Fatalf("body has %d items, Items %d", len(body.Items), len(b.Items))
	}
	for i := range b.Items {
		var one bodyItem
		if err := json.Unmarshal(b.ItemJSON(i), &one); err != nil || one != body.Items[i] {
			t.Fatalf("item %d: ItemJSON %s does not match body item %+v", i, b.ItemJSON(i), body.Items[i])
		}
	}
	return body.Items
}

func recv(t *testing.T, b *Batcher) *Batch {
	t.Helper()
	select {
	case bt := <-b.Out():
		return bt
	case <-time.After(10 * time.Second):
		t.Fatal("no batch handed on")
		return nil
	}
}

func TestBatcherSealsAtMaxItems(t *testing.T) {
	clk := &fakeClock{}
	b := New(t.Context(), Options{MaxItems: 5, Clock: clk})
	cur := checkpoint.NewCursor(0)
	go func() {
		for i := range 12 {
			b.Add(t.Context(), entry(cur, int64(i*10), "t", fmt.Sprint(i), true))
		}
	}()
	for want := 0; want < 10; want += 5 {
		bt := recv(t, b)
		items := decodeBody(t, bt)
		if len(items) != 5 || items[0].ID != fmt.Sprint(want) {
			t.Fatalf("batch = %+v, want 5 items from %d", items, want)
		}
		if len(bt.Marks) != 5 {
			t.Fatalf("marks = %d", len(bt.Marks))
		}
	}
	// The remaining 2 wait for the linger timer.
	deadline := time.Now().Add(5 * time.Second)
	for clk.pending() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	select {
	case bt := <-b.Out():
		t.Fatalf("batch of %d handed on before linger", len(bt.Items))
	case <-time.After(20 * time.Millisecond):
	}
	clk.fire()
	if items := decodeBody(t, recv(t, b)); len(items) != 2 {
		t.Fatalf("lingered batch has %d items, want 2", len(items))
	}
}

func TestBatcherLingerStartsAtFirstItem(t *testing.T) {
	clk := &fakeClock{}
	b := New(t.Context(), Options{Linger: 250 * time.Millisecond, Clock: clk})
	cur := checkpoint.NewCursor(0)
	if err := b.Add(t.Context(), entry(cur, 0, "t", "a", true)); err != nil {
		t.Fatal(err)
	}
	if len(clk.timers) != 1 || clk.timers[0].d != 250*time.Millisecond {
		t.Fatalf("timers = %+v, want one of 250ms", clk.timers)
	}
	b.Add(t.Context(), entry(cur, 10, "t", "b", true))
	if clk.pending() != 1 {
		t.Fatalf("a second item started another timer")
	}
	clk.fire()
	if items := decodeBody(t, recv(t, b)); len(items) != 2 {
		t.Fatalf("got %d items", len(items))
	}
}

func TestBatcherUniquePerSpan(t *testing.T) {
	cases := []struct {
		name string
		recs []bool // End flags of records of the same span, in order
		want bool   // End flag of the surviving item
		idx  int    // which record survives
	}{
		{"start then end", []bool{false, true}, true, 1},
		{"end then start", []bool{true, false}, true, 0},
		{"end then end", []bool{true, true}, true, 1},
		{"start then start", []bool{false, false}, false, 1},
		{"start end start", []bool{false, true, false}, true, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := &fakeClock{}
			dups := 0
			b := New(t.Context(), Options{Clock: clk, OnDuplicate: func() { dups++ }})
			cur := checkpoint.NewCursor(0)
			b.Add(t.Context(), entry(cur, 0, "t", "other", true))
			for i, end := range tc.recs {
				e := entry(cur, int64(10+i*10), "t", "s", end)
				e.JSON = fmt.Appendf(nil, `{"id":"s","trace_id":"t","end":%v,"n":%d}`, end, i)
				b.Add(t.Context(), e)
			}
			b.Add(t.Context(), entry(cur, 100, "u", "s", false)) // same id, other trace: distinct
			go b.Flush(t.Context())
			bt := recv(t, b)
			items := decodeBody(t, bt)
			if len(items) != 3 {
				t.Fatalf("items = %+v, want 3", items)
			}
			var n struct{ N int }
			for i := range bt.Items {
				if items[i].ID == "s" && items[i].TraceID == "t" {
					json.Unmarshal(bt.ItemJSON(i), &n)
					if items[i].End != tc.want || n.N != tc.idx {
						t.Fatalf("survivor = %s, want record %d", bt.ItemJSON(i), tc.idx)
					}
				}
			}
			if len(bt.Marks) != len(tc.recs)+2 {
				t.Fatalf("marks = %d, want every record (%d)", len(bt.Marks), len(tc.recs)+2)
			}
			if dups != len(tc.recs)-1 {
				t.Fatalf("duplicates counted %d, want %d", dups, len(tc.recs)-1)
			}
			bt.Ack()
			if got := cur.Committed(); got != 110 {
				t.Fatalf("after ack committed %d, want 110", got)
			}
		})
	}
}

func TestBatcherByteCap(t *testing.T) {
	clk := &fakeClock{}
	b := New(t.Context(), Options{MaxBytes: 200, Clock: clk})
	cur := checkpoint.NewCursor(0)
	go func() {
		for i := range 6 {
			e := entry(cur, int64(i*10), "t", fmt.Sprint(i), true)
			e.JSON = fmt.Appendf(nil, `{"id":"%d","trace_id":"t","pad":"%050d"}`, i, 0) // 84 bytes: two fit in 200 with the wrapper
			b.Add(t.Context(), e)
		}
		big := entry(cur, 60, "t", "big", true)
		big.JSON = fmt.Appendf(nil, `{"id":"big","trace_id":"t","pad":"%0300d"}`, 0)
		b.Add(t.Context(), big)
		b.Close(t.Context())
	}()
	var sizes []int
	for bt := range b.Out() {
		decodeBody(t, bt)
		if len(bt.Items) > 1 && len(bt.Body) > 200 {
			t.Fatalf("batch of %d items is %d bytes, over the cap", len(bt.Items), len(bt.Body))
		}
		sizes = append(sizes, len(bt.Items))
	}
	if fmt.Sprint(sizes) != "[2 2 2 1]" {
		t.Fatalf("batch sizes %v, want [2 2 2 1] (the oversized item alone)", sizes)
	}
}

func TestBatcherAddBlocksUntilReceived(t *testing.T) {
	b := New(t.Context(), Options{MaxItems: 1, Clock: &fakeClock{}})
	cur := checkpoint.NewCursor(0)
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- b.Add(ctx, entry(cur, 0, "t", "a", true)) }()
	select {
	case err := <-errc:
		t.Fatalf("Add returned %v with nobody receiving", err)
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("Add returned nil after its context ended")
	}
	if cur.Committed() != 0 {
		t.Fatal("an unsent record was committed")
	}
}
