// Package agent wires spanshipper's stages into one pipeline with one
// lifecycle:
//
//	tailer ──lines──▶ decode ──items──▶ batch ──batches──▶ ship ×N ──acks──▶ cursors ──▶ checkpoint
//
// Data flows one way and every hand-off blocks, so a slow or absent backend
// stops reading instead of growing memory: at most --max-buffered records are
// read but not final. Every record carries its file cursor mark; the
// checkpoint is the cursors' committed offsets, which never pass a record
// without a final outcome.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"

	"github.com/spanshipper/spanshipper/batch"
	"github.com/spanshipper/spanshipper/checkpoint"
	"github.com/spanshipper/spanshipper/decode"
	"github.com/spanshipper/spanshipper/frame"
	"github.com/spanshipper/spanshipper/metrics"
	"github.com/spanshipper/spanshipper/ship"
	"github.com/spanshipper/spanshipper/tailer"
)

// DeadLetterFile is the dead-letter file's name inside the state directory.
const DeadLetterFile = "dead-letter.jsonl"

// Config is the resolved configuration of one pipeline.
type Config struct {
	StateDir string
	Tailer   tailer.Config
	Decode   decode.Options
	// Format is how files are framed; Auto (the zero value) decides per
	// file from its first line.
	Format frame.Format
	// K8sMetadata adds pod metadata from kubelet log paths to items.
	K8sMetadata     bool
	Batch           batch.Options
	Ship            ship.Config // DeadLetters, Logger and Metrics are filled in by Run
	Concurrency     int         // requests in flight; 0 means 3
	MaxBuffered     int         // records read but not final; 0 means automatic
	ShutdownTimeout time.Duration
	// CheckpointInterval is the least time between two checkpoint writes;
	// 0 means 1s. It bounds what a crash re-sends beyond what was in flight;
	// each write costs two fsyncs, which at 250ms was most of the CPU of
	// a steady 2,000 spans/s (docs/performance.md).
	CheckpointInterval time.Duration
	// OrphanAfter is how long a span-start record is held, with
	// Decode.SkipStart, before it ships as an in-progress item; 0 drops
	// starts at once (pure end-only ingest). MaxPendingStarts bounds the
	// starts held; 0 means orphan.DefaultMaxPending.
	OrphanAfter      time.Duration
	MaxPendingStarts int
	// StuckAfter is how long records may be held, while the backend
	// answers, with none delivered, before /readyz and the systemd
	// watchdog call the pipeline stuck; 0 means DefaultStuckAfter.
	StuckAfter time.Duration
	Logger     *slog.Logger
	Metrics    *metrics.Metrics
}

// AutoMaxBuffered is the --max-buffered used when it is 0: a batch being
// filled, one waiting, and one per request in flight.
func AutoMaxBuffered(batchSize, concurrency int) int {
	return batchSize * (concurrency + 2)
}

// Agent runs the pipeline. Build it with New and call Run once.
type Agent struct {
	cfg    Config
	log    *slog.Logger
	m      *metrics.Metrics
	client *ship.Client

	prog    progress
	started chan struct{} // closed once the files are scanned and reading begins

	mu     sync.Mutex
	tailer *tailer.Tailer
}

// New validates cfg and builds the HTTP client.
func New(cfg Config) (*Agent, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New()
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 3
	}
	if cfg.Batch.MaxItems <= 0 {
		cfg.Batch.MaxItems = 200
	}
	if cfg.MaxBuffered <= 0 {
		cfg.MaxBuffered = AutoMaxBuffered(cfg.Batch.MaxItems, cfg.Concurrency)
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 10 * time.Second
	}
	if cfg.CheckpointInterval <= 0 {
		cfg.CheckpointInterval = time.Second
	}
	if cfg.StuckAfter <= 0 {
		cfg.StuckAfter = DefaultStuckAfter
	}
	if cfg.StateDir == "" {
		return nil, errors.New("agent: no state directory")
	}
	cfg.Tailer.Logger = cfg.Logger.With("component", "tailer")
	cfg.Tailer.Metrics = cfg.Metrics
	cfg.Ship.Logger = cfg.Logger.With("component", "ship")
	cfg.Ship.Metrics = cfg.Metrics
	return &Agent{cfg: cfg, log: cfg.Logger, m: cfg.Metrics, started: make(chan struct{})}, nil
}

// Ready reports, for /readyz, whether the backend is reachable and the
// pipeline is not stuck, and if not, why.
func (a *Agent) Ready() (bool, string) {
	a.mu.Lock()
	c, tl := a.client, a.tailer
	a.mu.Unlock()
	if c == nil || tl == nil {
		return false, "starting"
	}
	if err := a.Alive(); err != nil {
		return false, err.Error()
	}
	return c.Ready()
}

// Alive returns an error when the pipeline is wedged, for the systemd
// watchdog: a restart would help. Waiting for a backend that is down is not
// wedged (a restart would not help), and neither is starting up.
func (a *Agent) Alive() error {
	a.mu.Lock()
	c, tl := a.client, a.tailer
	a.mu.Unlock()
	if c == nil || tl == nil {
		return nil
	}
	up, _ := c.Ready()
	return a.prog.stuck(time.Now(), a.cfg.StuckAfter, up, tl.LastBeat())
}

// Started is closed once the checkpoints are loaded, the files scanned and
// reading begun: the moment to tell systemd the service is ready.
func (a *Agent) Started() <-chan struct{} { return a.started }

// Progress is how far a run has come, for the --exit-on-eof progress line.
type Progress struct {
	Done, Total int64 // bytes before the files' checkpoints (final), bytes in the files
	Shipped     int64 // records brought to a final outcome by this process
}

// Progress returns how far the run has come; zero before the first scan.
func (a *Agent) Progress() Progress {
	a.mu.Lock()
	tl := a.tailer
	a.mu.Unlock()
	p := Progress{Shipped: a.prog.shipped.Load()}
	if tl == nil {
		return p
	}
	for _, e := range tl.Snapshot() {
		p.Done += e.Offset
		p.Total += max(e.Size, e.Offset)
	}
	return p
}

// Run ships until ctx ends or, with Tailer.ExitOnEOF, until everything in the
// files is final. Then it stops reading, ships what was read within
// ShutdownTimeout, writes the checkpoint and returns. Records not final by
// then are left for the next run (they are re-read, never skipped).
func (a *Agent) Run(ctx context.Context) error {
	store, st, err := checkpoint.Open(a.cfg.StateDir, a.log.With("component", "checkpoint"))
	if err != nil {
		return fmt.Errorf("open state: %w", err)
	}
	defer store.Close()
	dl, err := ship.OpenDeadLetters(filepath.Join(a.cfg.StateDir, DeadLetterFile))
	if err != nil {
		return fmt.Errorf("open dead letters: %w", err)
	}
	defer dl.Close()
	scfg := a.cfg.Ship
	scfg.DeadLetters = dl
	client, err := ship.New(scfg)
	if err != nil {
		return fmt.Errorf("http client: %w", err)
	}
	defer client.Close()
	a.mu.Lock()
	a.client = client
	a.mu.Unlock()

	// sendCtx outlives ctx by up to ShutdownTimeout so what was read ships.
	sendCtx, abandon := context.WithCancel(context.WithoutCancel(ctx))
	defer abandon()
	var stopping atomic.Int64 // unix nanoseconds of the stop signal
	stopTimer := context.AfterFunc(ctx, func() {
		stopping.Store(time.Now().UnixNano())
		a.log.Info("stopping: reading stopped; shipping the spans already read, then writing the checkpoint",
			"spans_to_drain", a.prog.buffered.Load(), "within", a.cfg.ShutdownTimeout.String())
		t := time.AfterFunc(a.cfg.ShutdownTimeout, func() {
			a.log.Warn("shutdown timeout reached; records not yet delivered stay behind the checkpoint and are re-read next start")
			abandon()
		})
		context.AfterFunc(sendCtx, func() { t.Stop() })
	})
	defer stopTimer()

	sem := semaphore.NewWeighted(int64(a.cfg.MaxBuffered))
	bopt := a.cfg.Batch
	dups := a.m.SpansDropped.WithLabelValues("duplicate")
	bopt.OnDuplicate = dups.Inc
	batcher := batch.New(sendCtx, bopt)
	maxLine := a.cfg.Tailer.MaxLineBytes
	if maxLine <= 0 {
		maxLine = 4 << 20
	}
	fc := fileConfig{decode: a.cfg.Decode, format: a.cfg.Format, k8sMetadata: a.cfg.K8sMetadata, maxLine: maxLine}
	orph, err := a.openOrphans(batcher, sem, fc)
	if err != nil {
		return err
	}
	if orph != nil {
		defer orph.set.Close()
		fc.decode.StartKeys = fc.decode.SkipStart // held starts need their identity
	}
	h := newLineHandler(ctx, fc, batcher, sem, &a.prog, a.m, a.log)
	if a.cfg.Decode.SkipStart {
		h.orphans = orph
	}
	tl, err := tailer.New(a.cfg.Tailer, st, h)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.tailer = tl
	a.mu.Unlock()

	ck := newCheckpointer(store, tl, a.cfg.CheckpointInterval, &a.prog, a.m, a.log)
	ck.orphans = orph
	ck.links = &h.links
	ckCtx, stopCk := context.WithCancel(context.WithoutCancel(ctx))
	defer stopCk()
	ckDone := make(chan struct{})
	go func() { defer close(ckDone); ck.run(ckCtx) }()

	a.log.Info("pipeline started", "max_buffered", a.cfg.MaxBuffered, "concurrency", a.cfg.Concurrency)
	var g errgroup.Group
	g.Go(func() error {
		// The tailer scans before anything else, so this returns.
		select {
		case <-tl.ScannedC():
			close(a.started)
		case <-ctx.Done():
		}
		return nil
	})
	g.Go(func() error {
		// The rescuer adds to the batcher too, so it stops before Close.
		stopRescue := make(chan struct{})
		rescued := make(chan error, 1)
		if orph != nil {
			go func() { rescued <- orph.run(ctx, stopRescue) }()
		} else {
			rescued <- nil
		}
		err := tl.Run(ctx)
		close(stopRescue)
		if rerr := <-rescued; err == nil {
			err = rerr
		}
		if err == nil && orph != nil && ctx.Err() == nil {
			err = orph.shipDue(ctx) // --exit-on-eof: what is due ships now
		}
		if cerr := batcher.Close(sendCtx); err == nil && cerr != nil && !errors.Is(cerr, context.Canceled) {
			err = cerr
		}
		return err
	})
	for range a.cfg.Concurrency {
		g.Go(func() error {
			for bt := range batcher.Out() {
				if err := client.Send(sendCtx, bt); err != nil {
					continue // abandoned at the shutdown timeout: not final, not acked
				}
				n := int64(len(bt.Marks))
				// Counted before the cursors move, so a checkpoint
				// that shows a record final never sees it buffered.
				a.prog.acked(n, time.Now())
				bt.Ack()
				sem.Release(n)
				batcher.Release(bt)
				ck.poke()
			}
			return nil
		})
	}
	runErr := g.Wait()
	stopCk()
	<-ckDone
	if err := ck.save(); err != nil {
		return errors.Join(runErr, fmt.Errorf("final checkpoint: %w", err))
	}
	if runErr != nil {
		return runErr
	}
	attrs := []any{"checkpoint", filepath.Join(a.cfg.StateDir, checkpoint.FileName)}
	if at := stopping.Load(); at != 0 {
		attrs = append(attrs, "drained_in", time.Since(time.Unix(0, at)).Round(time.Millisecond).String(), "left_for_next_start", a.prog.buffered.Load())
	}
	a.log.Info("stopped", attrs...)
	return nil
}
