package main

import (
	"bufio"
	"fmt"

	"github.com/spanshipper/spanshipper/decode"
)

// longDelay is how many spans start between a span's start record and its
// end record in the long-spans file: at 1,000 spans a second, spans that
// last two seconds, as LLM calls do.
const longDelay = 2000

// openDelay is longDelay in the many-open file: a backlog read at full
// speed (a catch-up after downtime) with 20,000 spans open at once, whose
// start lines (~19 MB) pass the budget of held lines kept in memory
// (orphan.freshBudget, 4 MiB), so the oldest are journaled.
const openDelay = 20000

// ensureLongFile writes the span file with every span's end record moved to
// just after the start record of the span delay starts later (the last
// ones at the end), once. The lines are the same; only their order changes.
// In the span file itself half the spans end within 11 records, so the
// held span-starts (orphan rescue, on by default) stay in their nursery;
// here every one of them outlives it and is held as an entry, journaled when
// it blocks the checkpoint, and dropped when its end comes.
func ensureLongFile(spanFile string, delay int) (string, error) {
	what := fmt.Sprintf("with each end %d spans after its start", delay)
	suffix := ".long.jsonl"
	if delay != longDelay {
		suffix = fmt.Sprintf(".open%d.jsonl", delay)
	}
	return derived(spanFile, suffix, what, func(r *bufio.Reader, w *bufio.Writer) error {
		write := func(b []byte) { w.Write(b); w.WriteByte('\n') }
		d := newDelayer(delay)
		for {
			line, err := r.ReadSlice('\n')
			if err == bufio.ErrBufferFull {
				return fmt.Errorf("line over 1 MiB in %s", spanFile)
			}
			if len(line) == 0 {
				break
			}
			d.push(line[:len(line)-1], write)
		}
		return d.flush(write)
	})
}

// delayer reorders span records so that each span's end record comes just
// after the start record of the span delay starts later: spans that stay
// open while delay others start. Lines are passed on without their '\n'.
type delayer struct {
	dec   *decode.Decoder
	item  []byte
	delay int
	ring  []string            // the last delay started spans, oldest at next
	next  int                 // ring slot of the oldest
	n     int                 // spans started so far
	ends  map[string][]byte   // end records read, waiting for their turn
	late  map[string]struct{} // spans whose turn came before their end was read
}

func newDelayer(delay int) *delayer {
	return &delayer{dec: decode.New(decode.Options{}), delay: delay, ring: make([]string, delay),
		ends: map[string][]byte{}, late: map[string]struct{}{}}
}

// push takes the next line and emits the lines now due (line is not kept).
func (d *delayer) push(line []byte, emit func([]byte)) {
	var sp decode.Span
	var err error
	d.item, sp, err = d.dec.Append(d.item[:0], line)
	if err != nil || sp.Kind == decode.KindBlank {
		emit(line) // bad or blank lines stay where they are
		return
	}
	k := string(sp.TraceID) + "\x00" + string(sp.ID)
	if sp.Kind == decode.KindEnd {
		if _, ok := d.late[k]; ok {
			emit(line)
			delete(d.late, k)
		} else {
			d.ends[k] = append([]byte(nil), line...)
		}
		return
	}
	emit(line)
	if d.n >= d.delay {
		d.due(d.ring[d.next], emit)
	}
	d.ring[d.next] = k
	d.next = (d.next + 1) % d.delay
	d.n++
}

func (d *delayer) due(k string, emit func([]byte)) {
	if e, ok := d.ends[k]; ok {
		emit(e)
		delete(d.ends, k)
	} else {
		d.late[k] = struct{}{}
	}
}

// flush emits the ends of the spans still open, oldest first.
func (d *delayer) flush(emit func([]byte)) error {
	for i := range min(d.n, d.delay) {
		d.due(d.ring[(d.next+i)%d.delay], emit)
	}
	if len(d.ends) > 0 {
		return fmt.Errorf("%d end records of spans whose start was not read", len(d.ends))
	}
	return nil
}

// longRun ships the span file with every span open for delay spans: with
// longDelay, the cost of holding span starts that outlive the nursery; with
// openDelay, the cost and memory of a catch-up with many spans open.
func longRun(ships []shipper, dataDir string, spans, runs int, name string, delay int) error {
	p, ends, err := ensureFile(dataDir, spans)
	if err != nil {
		return err
	}
	long, err := ensureLongFile(p, delay)
	if err != nil {
		return err
	}
	_, err = runBulk(bulk{name: name, file: long, spans: spans, ends: ends}, ships, runs)
	return err
}
