package batch

import (
	"bytes"
	"context"
	"hash/maphash"
	"sync"
	"time"

	"github.com/spanshipper/spanshipper/checkpoint"
)

// Options configure a Batcher. The zero value of each field means its default.
type Options struct {
	MaxItems int           // items per batch, clamped to 1..1000; 0 means 200
	MaxBytes int           // body bytes per batch; 0 means 4 MiB (a larger item goes alone)
	Linger   time.Duration // how long the first item waits for company; 0 means 250ms
	Clock    Clock         // nil means the real clock

	// OnDuplicate, if set, is called (under the batcher's lock) for every
	// record superseded by another record of the same span in one batch.
	OnDuplicate func()
}

// MaxItemsCap is the backend's limit of items per request.
const MaxItemsCap = 1000

// Clock starts linger timers; tests inject a fake one.
type Clock interface {
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a stoppable pending call.
type Timer interface{ Stop() bool }

type realClock struct{}

func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// Entry is one record to batch.
type Entry struct {
	JSON    []byte // the encoded item; copied by Add
	TraceID []byte // decoded trace_id and id: the span's identity
	ID      []byte
	End     bool            // a span-end record
	Mark    checkpoint.Mark // acked when the batch holding the record is final
	Path    string
	Offset  int64
}

// Batcher accumulates entries into batches and hands sealed batches to the
// channel returned by Out. Hand-off blocks: when nobody receives, Add blocks,
// so a slow backend stalls the reader instead of growing memory.
type Batcher struct {
	opt  Options
	ctx  context.Context
	out  chan *Batch
	seed maphash.Seed
	pool sync.Pool

	mu      sync.Mutex
	cur     *Batch
	keys    []byte // identities of cur's items, back to back
	keyEnds []int  // keys[keyEnds[i-1]:keyEnds[i]] is item i's identity
	dead    []bool // item i was superseded
	ndead   int
	index   map[uint64]int // identity hash -> item index
	timer   Timer
	gen     uint64 // bumped at every seal; a stale timer finds it changed
	closed  bool
	sending sync.WaitGroup // timer-driven hand-offs in progress
}

// New returns a batcher whose hand-offs give up when ctx ends.
func New(ctx context.Context, opt Options) *Batcher {
	if opt.MaxItems <= 0 {
		opt.MaxItems = 200
	}
	opt.MaxItems = min(opt.MaxItems, MaxItemsCap)
	if opt.MaxBytes <= 0 {
		opt.MaxBytes = 4 << 20
	}
	if opt.Linger <= 0 {
		opt.Linger = 250 * time.Millisecond
	}
	if opt.Clock == nil {
		opt.Clock = realClock{}
	}
	return &Batcher{
		opt:   opt,
		ctx:   ctx,
		out:   make(chan *Batch),
		seed:  maphash.MakeSeed(),
		index: make(map[uint64]int),
	}
}

// Out returns the channel of sealed batches. It is closed by Close.
func (b *Batcher) Out() <-chan *Batch { return b.out }

// Add copies e into the current batch, sealing and handing on batches as
// they fill. It blocks while the consumer is busy and returns ctx's error if
// ctx ends first.
func (b *Batcher) Add(ctx context.Context, e Entry) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		panic("batch: Add after Close")
	}
	if b.cur != nil && b.live() > 0 && len(b.cur.Body)+len(e.JSON)+3 > b.opt.MaxBytes {
		full := b.seal()
		b.mu.Unlock()
		if err := b.handOff(ctx, full); err != nil {
			return err
		}
		b.mu.Lock()
	}
	if b.cur == nil {
		b.cur = b.newBatch()
		gen := b.gen
		b.timer = b.opt.Clock.AfterFunc(b.opt.Linger, func() { b.lingerDone(gen) })
	}
	b.add(e)
	var full *Batch
	if b.live() >= b.opt.MaxItems {
		full = b.seal()
	}
	b.mu.Unlock()
	if full != nil {
		return b.handOff(ctx, full)
	}
	return nil
}

func (b *Batcher) live() int { return len(b.cur.Items) - b.ndead }

func (b *Batcher) newBatch() *Batch {
	bt, _ := b.pool.Get().(*Batch)
	if bt == nil {
		bt = &Batch{Body: make([]byte, 0, 64<<10)}
	}
	bt.Body = append(bt.Body[:0], `{"items":[`...)
	bt.Items = bt.Items[:0]
	bt.Marks = bt.Marks[:0]
	return bt
}

// add appends e to cur, resolving a repeat of a span already in cur: the end
// record wins, else the later one.
func (b *Batcher) add(e Entry) {
	cur := b.cur
	cur.Marks = append(cur.Marks, e.Mark)
	start := len(b.keys)
	b.keys = append(b.keys, e.TraceID...)
	b.keys = append(b.keys, 0)
	b.keys = append(b.keys, e.ID...)
	key := b.keys[start:]
	h := maphash.Bytes(b.seed, key)
	if i, ok := b.index[h]; ok && bytes.Equal(b.itemKey(i), key) {
		if cur.Items[i].End && !e.End {
			b.keys = b.keys[:start] // the new start is superseded by the end already here
			if b.opt.OnDuplicate != nil {
				b.opt.OnDuplicate()
			}
			return
		}
		b.dead[i] = true
		b.ndead++
		if b.opt.OnDuplicate != nil {
			b.opt.OnDuplicate()
		}
	}
	if len(cur.Items) > 0 {
		cur.Body = append(cur.Body, ',')
	}
	lo := len(cur.Body)
	cur.Body = append(cur.Body, e.JSON...)
	cur.Items = append(cur.Items, Item{Lo: lo, Hi: len(cur.Body), Path: e.Path, Offset: e.Offset, End: e.End})
	b.keyEnds = append(b.keyEnds, len(b.keys))
	b.dead = append(b.dead, false)
	b.index[h] = len(cur.Items) - 1
}

func (b *Batcher) itemKey(i int) []byte {
	lo := 0
	if i > 0 {
		lo = b.keyEnds[i-1]
	}
	return b.keys[lo:b.keyEnds[i]]
}

// seal closes cur and returns it; the caller hands it on outside the lock.
func (b *Batcher) seal() *Batch {
	bt := b.cur
	b.cur = nil
	b.gen++
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
	if b.ndead > 0 {
		bt = b.compact(bt)
	}
	bt.Body = append(bt.Body, "]}"...)
	b.keys = b.keys[:0]
	b.keyEnds = b.keyEnds[:0]
	b.dead = b.dead[:0]
	b.ndead = 0
	clear(b.index)
	return bt
}

// compact rebuilds bt without its superseded items.
func (b *Batcher) compact(bt *Batch) *Batch {
	nb := b.newBatch()
	nb.Marks = append(nb.Marks, bt.Marks...)
	for i, it := range bt.Items {
		if b.dead[i] {
			continue
		}
		if len(nb.Items) > 0 {
			nb.Body = append(nb.Body, ',')
		}
		lo := len(nb.Body)
		nb.Body = append(nb.Body, bt.Body[it.Lo:it.Hi]...)
		it.Lo, it.Hi = lo, len(nb.Body)
		nb.Items = append(nb.Items, it)
	}
	b.pool.Put(bt)
	return nb
}

func (b *Batcher) lingerDone(gen uint64) {
	b.mu.Lock()
	if b.closed || b.gen != gen || b.cur == nil {
		b.mu.Unlock()
		return
	}
	bt := b.seal()
	b.sending.Add(1)
	b.mu.Unlock()
	defer b.sending.Done()
	b.handOff(b.ctx, bt)
}

func (b *Batcher) handOff(ctx context.Context, bt *Batch) error {
	select {
	case b.out <- bt:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-b.ctx.Done():
		return b.ctx.Err()
	}
}

// Flush seals the current batch, if any, and hands it on.
func (b *Batcher) Flush(ctx context.Context) error {
	b.mu.Lock()
	if b.cur == nil || len(b.cur.Items) == 0 && len(b.cur.Marks) == 0 {
		b.mu.Unlock()
		return nil
	}
	bt := b.seal()
	b.mu.Unlock()
	return b.handOff(ctx, bt)
}

// Close flushes, waits for linger hand-offs in progress and closes Out. No
// Add may follow.
func (b *Batcher) Close(ctx context.Context) error {
	err := b.Flush(ctx)
	b.mu.Lock()
	b.closed = true
	if b.timer != nil {
		b.timer.Stop()
	}
	b.mu.Unlock()
	b.sending.Wait()
	close(b.out)
	return err
}

// Release returns a batch whose items are final, so its buffers are reused.
func (b *Batcher) Release(bt *Batch) {
	if cap(bt.Body) > 8<<20 {
		return // a one-off huge batch: let it go
	}
	b.pool.Put(bt)
}
