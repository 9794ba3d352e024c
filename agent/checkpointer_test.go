package agent

import (
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/spanshipper/spanshipper/checkpoint"
	"github.com/spanshipper/spanshipper/metrics"
)

// TestLagSeriesAreBounded: with thousands of files only the MaxLagSeries
// furthest behind have a series; files that leave that set lose theirs, and
// the total covers every file.
func TestLagSeriesAreBounded(t *testing.T) {
	m := metrics.New()
	c := &checkpointer{m: m}
	entries := func(lagOf func(i int) int64) []checkpoint.Entry {
		var es []checkpoint.Entry
		for i := range 5000 {
			es = append(es, checkpoint.Entry{Path: fmt.Sprintf("/logs/agent-%04d.jsonl", i), Offset: 1000, Size: 1000 + lagOf(i)})
		}
		return es
	}
	c.publishLag(entries(func(i int) int64 { return int64(i) })) // agent-4999 furthest behind
	if n := testutil.CollectAndCount(m.FileLag); n != metrics.MaxLagSeries {
		t.Fatalf("%d lag series for 5000 files, want %d", n, metrics.MaxLagSeries)
	}
	if got := testutil.ToFloat64(m.FileLag.WithLabelValues("/logs/agent-4999.jsonl")); got != 4999 {
		t.Errorf("lag of the furthest behind = %v, want 4999", got)
	}
	if got, want := testutil.ToFloat64(m.Lag), float64(4999*5000/2); got != want {
		t.Errorf("total lag = %v, want %v", got, want)
	}

	// The ranking turns over: the old top files caught up.
	c.publishLag(entries(func(i int) int64 { return int64(5000 - i) }))
	if n := testutil.CollectAndCount(m.FileLag); n != metrics.MaxLagSeries {
		t.Fatalf("%d lag series after the ranking changed, want %d", n, metrics.MaxLagSeries)
	}
	if got := testutil.ToFloat64(m.FileLag.WithLabelValues("/logs/agent-0000.jsonl")); got != 5000 {
		t.Errorf("lag of agent-0000 = %v, want 5000", got)
	}
	// WithLabelValues above created agent-0000 if it was missing, so count
	// again: still bounded, and agent-4999's series is gone.
	if n := testutil.CollectAndCount(m.FileLag); n != metrics.MaxLagSeries {
		t.Fatalf("%d lag series, want %d", n, metrics.MaxLagSeries)
	}
	if m.FileLag.DeleteLabelValues("/logs/agent-4999.jsonl") {
		t.Errorf("agent-4999 still has a series after catching up and leaving the top %d", metrics.MaxLagSeries)
	}

	// Few files: every one has a series, caught-up ones at 0.
	m2 := metrics.New()
	c2 := &checkpointer{m: m2}
	c2.publishLag([]checkpoint.Entry{{Path: "/a", Offset: 10, Size: 10}, {Path: "/b", Offset: 5, Size: 12}})
	if n := testutil.CollectAndCount(m2.FileLag); n != 2 {
		t.Fatalf("%d series for 2 files, want 2", n)
	}
	if got := testutil.ToFloat64(m2.FileLag.WithLabelValues("/b")); got != 7 {
		t.Errorf("lag of /b = %v, want 7", got)
	}
}
