package agent

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spanshipper/spanshipper/checkpoint"
	"github.com/spanshipper/spanshipper/metrics"
	"github.com/spanshipper/spanshipper/ratelog"
	"github.com/spanshipper/spanshipper/tailer"
)

// checkpointer writes the cursors' committed offsets to the store: soon after
// acks arrive (group commit: at most one write per interval, never one per
// ack) and at least every few seconds while anything changes.
type checkpointer struct {
	store    *checkpoint.Store
	tailer   *tailer.Tailer
	interval time.Duration
	prog     *progress
	m        *metrics.Metrics
	log      *ratelog.Logger
	wake     chan struct{}
	orphans  *orphans // nil unless span starts are held: journaled before each checkpoint
	links    *links   // resolved before each snapshot

	mu      sync.Mutex
	last    map[fileKey]written // what was last written
	spare   map[fileKey]written // the one before, cleared and reused as the next last
	sorted  []checkpoint.Entry  // the entries in path order, reused
	written bool
	lagged  map[string]bool // paths with a spanshipper_file_lag_bytes series
}

func newCheckpointer(s *checkpoint.Store, t *tailer.Tailer, interval time.Duration, prog *progress, m *metrics.Metrics, log *slog.Logger) *checkpointer {
	return &checkpointer{store: s, tailer: t, interval: interval, prog: prog, m: m, log: ratelog.New(log, 10*time.Second), wake: make(chan struct{}, 1)}
}

// poke says acks arrived.
func (c *checkpointer) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *checkpointer) run(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.wake:
		case <-tick.C:
		}
		// One snapshot serves the checkpoint and the metrics. The buffered
		// gauge is set here, not per line read (the reader's hot path pays
		// one atomic add, not a gauge update too), and read after the
		// snapshot and set before the lag: a scrape that shows a file
		// caught up shows its records unbuffered.
		c.prepare()
		entries := c.tailer.Snapshot()
		c.m.BufferedSpans.Set(float64(c.prog.buffered.Load()))
		if c.tailer.Scanned() {
			c.write(entries)
		}
		c.publishLag(entries)
		select { // group commit: let acks gather
		case <-ctx.Done():
			return
		case <-time.After(groupCommitWait(c.interval, len(entries))):
		}
	}
}

// groupCommitWait is the pause after a checkpoint turn: the interval, or
// the interval per 1,000 files the checkpoint holds when that is longer (up
// to 4s). Each write encodes and fsyncs every file's entry, so with thousands
// of busy files a write per interval cost more than reading them; what a
// crash makes us send again stays bounded by the wait.
func groupCommitWait(interval time.Duration, files int) time.Duration {
	return max(interval, min(interval*time.Duration(files/1000), 4*time.Second))
}

// save writes the checkpoint of the files as they are now, if it changed
// since the last write. Held starts are journaled first, all of them (two
// spills: the second takes the generation the first left fresh).
func (c *checkpointer) save() error {
	c.prepare()
	c.prepare()
	return c.write(c.tailer.Snapshot())
}

// fileKey finds an entry's last written state: its file's identity (a
// rotated file and its successor share a path). The path is compared
// after the lookup: hashing 2,000 paths per write cost more than the rest
// of the lookup.
type fileKey struct{ dev, ino uint64 }

// written is a checkpoint entry as last written, and its place in the file.
type written struct {
	checkpoint.Entry
	pos int
}

// prepare reports final the cut records whose joined record is (links) and
// journals the held starts the next checkpoint may pass (see
// orphan.Set.Spill); write syncs the journal before the checkpoint.
func (c *checkpointer) prepare() {
	if c.links != nil {
		c.links.resolve()
	}
	if c.orphans != nil {
		c.orphans.prepare()
	}
}

// write writes the checkpoint of entries, a tailer snapshot, if it changed
// since the last write. Entries are written in path order. When the files
// are those of the last write (the usual case: a snapshot differs from the
// last in offsets only), each goes to its place in that order, found with
// the lookup that carries its Updated time; otherwise they are sorted.
func (c *checkpointer) write(entries []checkpoint.Entry) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now().UTC()
	changed := !c.written || len(entries) != len(c.last)
	same := !changed // every entry so far is a file of the last write
	next := c.spare  // the map of the write before last, reused
	if next == nil {
		next = make(map[fileKey]written, len(entries))
	} else {
		clear(next)
	}
	sorted := slices.Grow(c.sorted[:0], len(entries))[:len(entries)]
	for i := range entries {
		e := &entries[i]
		key := fileKey{e.Dev, e.Ino}
		prev, ok := c.last[key]
		ok = ok && prev.Path == e.Path
		if ok && prev.Offset == e.Offset {
			e.Updated = prev.Updated
			if prev.Fingerprint != e.Fingerprint || prev.Size != e.Size || prev.Format != e.Format {
				changed = true
			}
		} else {
			e.Updated = now
			changed = true
		}
		if same = same && ok && prev.pos < len(sorted); same {
			sorted[prev.pos] = *e
		}
		next[key] = written{*e, prev.pos}
	}
	c.sorted = sorted
	if !changed {
		return nil
	}
	// With as many distinct files as entries, all of them last written,
	// every place was filled once.
	if !same || len(next) != len(entries) {
		sorted = sortByPath(sorted, entries)
		for i := range sorted {
			e := &sorted[i]
			key := fileKey{e.Dev, e.Ino}
			w := next[key]
			w.pos = i
			next[key] = w
		}
	}
	if c.orphans != nil {
		// The snapshot may pass the lines of starts journaled before it:
		// they must be durable first.
		if err := c.orphans.sync(); err != nil {
			c.m.CheckpointWrites.WithLabelValues("error").Inc()
			c.log.Warn("checkpoint", "held span starts could not be journaled; checkpoint not written, retrying", "err", err)
			return err
		}
	}
	if err := c.store.Save(checkpoint.State{Version: 1, Written: now, Files: sorted}); err != nil {
		c.m.CheckpointWrites.WithLabelValues("error").Inc()
		c.log.Warn("checkpoint", "checkpoint write failed; retrying", "err", err)
		return err
	}
	c.m.CheckpointWrites.WithLabelValues("ok").Inc()
	c.m.CheckpointLastWriteTime.Set(float64(now.UnixNano()) / 1e9)
	c.last, c.spare, c.written = next, c.last, true
	return nil
}

// sortByPath sets dst to entries in path order. It sorts their indices,
// not the entries: a comparison or a swap of entries copies 112 bytes.
func sortByPath(dst, entries []checkpoint.Entry) []checkpoint.Entry {
	order := make([]int32, len(entries))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return strings.Compare(entries[a].Path, entries[b].Path) })
	for i, j := range order {
		dst[i] = entries[j]
	}
	return dst
}

// publishLag sets spanshipper_lag_bytes and the per-file series of the
// metrics.MaxLagSeries files furthest behind, deleting the series of files
// that left that set, so cardinality stays bounded however many files match.
func (c *checkpointer) publishLag(entries []checkpoint.Entry) {
	var total int64
	for _, e := range entries {
		total += max(e.Size-e.Offset, 0)
	}
	c.m.Lag.Set(float64(total))
	top := furthestBehind(entries, metrics.MaxLagSeries)
	now := make(map[string]bool, len(top))
	for _, i := range top {
		e := &entries[i]
		now[e.Path] = true
		c.m.FileLag.WithLabelValues(e.Path).Set(float64(max(e.Size-e.Offset, 0)))
	}
	for p := range c.lagged {
		if !now[p] {
			c.m.FileLag.DeleteLabelValues(p)
		}
	}
	c.lagged = now
}

// furthestBehind returns the indices of the k entries furthest behind
// (size less offset), ties in path order, in no particular order: all of
// them when there are at most k. A heap of the k best so far, the worst at
// its root, compares most entries once; sorting 2,000 entries to take 100
// made twenty times the comparisons, each of two cold entries.
func furthestBehind(entries []checkpoint.Entry, k int) []int32 {
	if len(entries) <= k {
		all := make([]int32, len(entries))
		for i := range all {
			all[i] = int32(i)
		}
		return all
	}
	// before reports whether entry i ranks before entry j.
	before := func(i, j int32) bool {
		a, b := &entries[i], &entries[j]
		if la, lb := a.Size-a.Offset, b.Size-b.Offset; la != lb {
			return la > lb
		}
		return a.Path < b.Path
	}
	h := make([]int32, 0, k)
	down := func(i int) {
		for {
			w := i
			for _, c := range [2]int{2*i + 1, 2*i + 2} {
				if c < len(h) && before(h[w], h[c]) {
					w = c // c ranks after w: nearer the root
				}
			}
			if w == i {
				return
			}
			h[i], h[w] = h[w], h[i]
			i = w
		}
	}
	for i := range entries {
		e := int32(i)
		switch {
		case len(h) < k:
			h = append(h, e)
			for c := len(h) - 1; c > 0 && before(h[(c-1)/2], h[c]); c = (c - 1) / 2 {
				h[c], h[(c-1)/2] = h[(c-1)/2], h[c]
			}
		case before(e, h[0]):
			h[0] = e
			down(0)
		}
	}
	return h
}
