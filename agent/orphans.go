package agent

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/semaphore"

	"github.com/spanshipper/spanshipper/batch"
	"github.com/spanshipper/spanshipper/decode"
	"github.com/spanshipper/spanshipper/kube"
	"github.com/spanshipper/spanshipper/metrics"
	"github.com/spanshipper/spanshipper/orphan"
	"github.com/spanshipper/spanshipper/ratelog"
	"github.com/spanshipper/spanshipper/tailer"
)

// rescueBatch is how many due starts the rescuer takes at a time.
const rescueBatch = 256

// orphans connects the held span starts (package orphan) to the pipeline:
// the reader holds starts and drops them at their ends, the rescuer ships
// the starts that fall due, and the checkpointer journals held starts
// before each checkpoint (see orphan/design.md).
type orphans struct {
	set     *orphan.Set
	batcher *batch.Batcher
	sem     *semaphore.Weighted
	prog    *progress

	pending      prometheus.Gauge
	dropped      prometheus.Counter
	afterRescued prometheus.Counter
	limitRescued prometheus.Counter
}

func newOrphans(set *orphan.Set, b *batch.Batcher, sem *semaphore.Weighted, prog *progress, m *metrics.Metrics) *orphans {
	return &orphans{
		set: set, batcher: b, sem: sem, prog: prog,
		pending:      m.PendingStarts,
		dropped:      m.SpansDropped.WithLabelValues("span_start"),
		afterRescued: m.SpansRescued.WithLabelValues(string(orphan.ReasonOrphanAfter)),
		limitRescued: m.SpansRescued.WithLabelValues(string(orphan.ReasonPendingLimit)),
	}
}

// hold takes a span-start record line read from f (decoded with
// decode.Options.StartKeys: not encoded, not fully validated). Past
// --max-pending-starts the oldest held start ships at once.
func (o *orphans) hold(ctx context.Context, f *tailer.File, line []byte, span decode.Span, start, end int64) error {
	out, r, err := o.set.Hold(span.TraceID, span.ID, line, f.Cursor(), start, end, f.Path(), f.ReadTime())
	if err != nil {
		return err
	}
	if out != orphan.Held {
		o.dropped.Inc()
	}
	if r != nil {
		return o.send(ctx, r)
	}
	return nil
}

// ended drops the held start of a span whose end record was read.
func (o *orphans) ended(span decode.Span) {
	if o.set.End(span.TraceID, span.ID) {
		o.dropped.Inc()
	}
}

// send hands a rescued start to the batcher like any record read: it waits
// for room under --max-buffered.
func (o *orphans) send(ctx context.Context, r *orphan.Rescue) error {
	if err := o.sem.Acquire(ctx, 1); err != nil {
		return err
	}
	o.prog.read()
	if r.Reason == orphan.ReasonPendingLimit {
		o.limitRescued.Inc()
	} else {
		o.afterRescued.Inc()
	}
	return o.batcher.Add(ctx, batch.Entry{
		JSON: r.Item, TraceID: r.TraceID, ID: r.ID, Mark: r.Mark, Path: r.Path, Offset: r.Offset,
	})
}

// run ships held starts as they fall due, until ctx ends or stop is
// closed (between two rounds: a round under way is finished). A start
// taken but not handed on when ctx ends is not lost: a fresh one's line is
// still behind the checkpoint, a journaled one is still in the journal.
func (o *orphans) run(ctx context.Context, stop <-chan struct{}) error {
	for {
		if err := o.shipDue(ctx); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
		wait := time.Second
		if t, ok := o.set.NextDue(); ok {
			wait = min(wait, max(time.Until(t), 10*time.Millisecond))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-stop:
			return nil
		case <-time.After(wait):
		}
	}
}

// shipDue ships every held start that is due now. It returns nil when
// ctx ends.
func (o *orphans) shipDue(ctx context.Context) error {
	for {
		due, err := o.set.Due(rescueBatch)
		for i := range due {
			if o.send(ctx, &due[i]) != nil {
				return nil // ctx ended
			}
		}
		if err != nil || len(due) < rescueBatch {
			return err
		}
	}
}

// prepare journals the held starts the coming checkpoint must not lose
// and settles acknowledged rescues; call it before the tailer snapshot.
func (o *orphans) prepare() {
	o.set.Spill()
	o.pending.Set(float64(o.set.Len()))
}

// sync makes the journal durable; call it after the snapshot and before
// the checkpoint is written.
func (o *orphans) sync() error { return o.set.Sync() }

// openOrphans opens the held starts of the state directory when starts are
// held (skipping on, --orphan-after > 0) or when a journal left by such a
// run must still be shipped (skipping off: its starts ship at once). With
// --orphan-after 0 (pure end-only ingest) a journal left behind is removed.
func (a *Agent) openOrphans(b *batch.Batcher, sem *semaphore.Weighted, fc fileConfig) (*orphans, error) {
	after := a.cfg.OrphanAfter
	if a.cfg.Decode.SkipStart && after <= 0 {
		n, err := orphan.Discard(a.cfg.StateDir)
		if err != nil {
			return nil, fmt.Errorf("pending starts: %w", err)
		}
		if n > 0 {
			a.log.Warn("held span starts dropped: --orphan-after 0 is pure end-only ingest", "count", n)
		}
		return nil, nil
	}
	if !a.cfg.Decode.SkipStart {
		n, err := orphan.Count(a.cfg.StateDir)
		if err != nil || n == 0 {
			return nil, err
		}
		after = 0 // starts ship: the held ones too, now
	}
	enc := newStartEncoder(fc)
	badLog := ratelog.New(a.log, 10*time.Second)
	set, err := orphan.Open(a.cfg.StateDir, orphan.Options{
		After: after, MaxPending: a.cfg.MaxPendingStarts, Logger: a.log.With("component", "orphan"),
		Encode: func(dst, line []byte, path string) ([]byte, error) {
			item, span, err := enc.decoder(path).Append(dst, line)
			if err == nil && span.Kind != decode.KindStart {
				err = &decode.Error{Reason: decode.ReasonInvalidJSON, Msg: "held span start is no longer one"}
			}
			return item, err
		},
		OnBad: func(path string, offset int64, err error) {
			reason := string(decode.ReasonInvalidJSON)
			if de, ok := err.(*decode.Error); ok {
				reason = string(de.Reason)
			}
			a.m.BadLines.WithLabelValues(reason).Inc()
			badLog.Warn("bad:"+reason, "skipping bad input line", "file", path, "offset", offset, "reason", reason, "err", err)
		},
	})
	if err != nil {
		return nil, err
	}
	return newOrphans(set, b, sem, &a.prog, a.m), nil
}

// startEncoder encodes held starts into items, with the metadata the
// reader's decoder for their file adds (--metadata, pod metadata from
// kubelet paths). Held starts are encoded only when journaled or rescued,
// under the orphan.Set's lock, so it needs no lock of its own.
type startEncoder struct {
	fc     fileConfig
	plain  *decode.Decoder
	byPath map[string]*decode.Decoder // files with pod metadata
}

func newStartEncoder(fc fileConfig) *startEncoder {
	fc.decode.SkipStart, fc.decode.StartKeys = false, false
	return &startEncoder{fc: fc, plain: decode.New(fc.decode), byPath: map[string]*decode.Decoder{}}
}

func (e *startEncoder) decoder(path string) *decode.Decoder {
	if !e.fc.k8sMetadata {
		return e.plain
	}
	if d, ok := e.byPath[path]; ok {
		return d
	}
	d := e.plain
	if attrs := kube.FromPath(path); attrs != nil {
		d = decode.New(e.fc.withPod(attrs))
	}
	if len(e.byPath) >= 4096 {
		clear(e.byPath) // paths come and go with pods: start afresh
	}
	e.byPath[path] = d
	return d
}
