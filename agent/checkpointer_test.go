package agent

import (
	"cmp"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/spanshipper/spanshipper/checkpoint"
	"github.com/spanshipper/spanshipper/metrics"
	"github.com/spanshipper/spanshipper/ratelog"
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

// TestCheckpointKeepsPathOrder: the checkpoint lists its files in path
// order, whatever order the snapshots come in and whichever of the places
// write takes (each entry to its last place, or a sort): the same files
// again, a file added, one gone, and the same key twice. An unchanged
// offset keeps its Updated time.
func TestCheckpointKeepsPathOrder(t *testing.T) {
	dir := t.TempDir()
	store, _, err := checkpoint.Open(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	c := &checkpointer{store: store, m: metrics.New(), log: ratelog.New(slog.New(slog.DiscardHandler), time.Second)}
	rng := rand.New(rand.NewPCG(1, 2))
	entry := func(i int, off int64) checkpoint.Entry {
		return checkpoint.Entry{Path: fmt.Sprintf("/logs/agent-%04d.jsonl", i), Dev: 1, Ino: uint64(100 + i), Offset: off, Size: off}
	}
	snapshot := func(files []int, off func(i int) int64) []checkpoint.Entry {
		var es []checkpoint.Entry
		for _, i := range files {
			es = append(es, entry(i, off(i)))
		}
		rng.Shuffle(len(es), func(a, b int) { es[a], es[b] = es[b], es[a] })
		return es
	}
	check := func(step string, want []checkpoint.Entry) []checkpoint.Entry {
		t.Helper()
		st, err := checkpoint.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.IsSortedFunc(st.Files, func(a, b checkpoint.Entry) int { return strings.Compare(a.Path, b.Path) }) {
			t.Fatalf("%s: entries not in path order", step)
		}
		// Entries of one path may come in either order.
		byKey := func(a, b checkpoint.Entry) int {
			return cmp.Or(strings.Compare(a.Path, b.Path), cmp.Compare(a.Ino, b.Ino), cmp.Compare(a.Offset, b.Offset))
		}
		slices.SortFunc(want, byKey)
		slices.SortStableFunc(st.Files, byKey)
		if len(st.Files) != len(want) {
			t.Fatalf("%s: %d entries written, want %d", step, len(st.Files), len(want))
		}
		for i, e := range st.Files {
			if e.Path != want[i].Path || e.Ino != want[i].Ino || e.Offset != want[i].Offset {
				t.Fatalf("%s: entry %d = %s ino %d at %d, want %s ino %d at %d", step, i, e.Path, e.Ino, e.Offset, want[i].Path, want[i].Ino, want[i].Offset)
			}
		}
		return st.Files
	}
	files := func(from, to int) (fs []int) {
		for i := from; i < to; i++ {
			fs = append(fs, i)
		}
		return fs
	}

	es := snapshot(files(0, 50), func(i int) int64 { return 10 })
	if err := c.write(slices.Clone(es)); err != nil {
		t.Fatal(err)
	}
	first := check("first write", es)

	// The same files, half of them further on.
	es = snapshot(files(0, 50), func(i int) int64 { return 10 + 10*int64(i%2) })
	if err := c.write(slices.Clone(es)); err != nil {
		t.Fatal(err)
	}
	got := check("same files", es)
	for i, e := range got {
		if e.Offset == first[i].Offset && !e.Updated.Equal(first[i].Updated) {
			t.Errorf("%s: offset unchanged but Updated went from %v to %v", e.Path, first[i].Updated, e.Updated)
		}
	}

	// A file added (between others), and again the same files.
	es = snapshot(append(files(0, 50), 1000, 7000), func(i int) int64 { return 30 })
	if err := c.write(slices.Clone(es)); err != nil {
		t.Fatal(err)
	}
	check("files added", es)
	es = snapshot(append(files(0, 50), 1000, 7000), func(i int) int64 { return 40 })
	if err := c.write(slices.Clone(es)); err != nil {
		t.Fatal(err)
	}
	check("same files again", es)

	// A file gone and another come: as many files as before, not the same.
	set := append(files(1, 50), 1000, 7000, 5000)
	es = snapshot(set, func(i int) int64 { return 50 })
	if err := c.write(slices.Clone(es)); err != nil {
		t.Fatal(err)
	}
	check("a file replaced", es)

	// A rotated file and its successor share a path.
	rotated := entry(25, 55)
	rotated.Ino = 999
	es = append(snapshot(set, func(i int) int64 { return 55 }), rotated)
	if err := c.write(slices.Clone(es)); err != nil {
		t.Fatal(err)
	}
	check("a path twice", es)

	// The same key twice, with as many entries as the last write had
	// files, all of them files of the last write.
	es = append(snapshot(set, func(i int) int64 { return 60 }), entry(3, 61))
	if err := c.write(slices.Clone(es)); err != nil {
		t.Fatal(err)
	}
	check("a key twice", es)

	// Then those files once each: as many as the last write had files, but
	// the last write's places run one further.
	es = snapshot(set, func(i int) int64 { return 70 })
	if err := c.write(slices.Clone(es)); err != nil {
		t.Fatal(err)
	}
	check("once each again", es)
}

// TestFurthestBehindIsTheSortedTop: the heap picks the same files as sorting
// them all (lag descending, then path) and taking the first k, with many
// ties in lag, for sizes around k.
func TestFurthestBehindIsTheSortedTop(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 5, 99, 100, 101, 250, 2000} {
		for _, lags := range []int64{1, 3, 1000} { // lags drawn from [0, lags): 1 makes every lag equal
			es := make([]checkpoint.Entry, n)
			for i := range es {
				off := rng.Int64N(1000)
				es[i] = checkpoint.Entry{Path: fmt.Sprintf("/logs/%05d.jsonl", rng.IntN(100000)), Offset: off, Size: off + rng.Int64N(lags)}
			}
			const k = 100
			got := furthestBehind(es, k)
			sorted := slices.Clone(es)
			slices.SortStableFunc(sorted, func(a, b checkpoint.Entry) int {
				return cmp.Or(cmp.Compare(b.Size-b.Offset, a.Size-a.Offset), strings.Compare(a.Path, b.Path))
			})
			want := sorted[:min(n, k)]
			if len(got) != len(want) {
				t.Fatalf("n=%d lags<%d: %d picked, want %d", n, lags, len(got), len(want))
			}
			// Compare as multisets of (lag, path): entries that tie on both
			// are interchangeable.
			type rank struct {
				lag  int64
				path string
			}
			var g, w []rank
			for _, i := range got {
				g = append(g, rank{es[i].Size - es[i].Offset, es[i].Path})
			}
			for _, e := range want {
				w = append(w, rank{e.Size - e.Offset, e.Path})
			}
			byRank := func(a, b rank) int { return cmp.Or(cmp.Compare(b.lag, a.lag), strings.Compare(a.path, b.path)) }
			slices.SortFunc(g, byRank)
			slices.SortFunc(w, byRank)
			if !slices.Equal(g, w) {
				t.Fatalf("n=%d lags<%d: picked %v, want %v", n, lags, g, w)
			}
		}
	}
}
