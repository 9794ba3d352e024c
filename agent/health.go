package agent

import (
	"fmt"
	"sync/atomic"
	"time"
)

// DefaultStuckAfter is how long the pipeline may hold records without
// delivering any, while the backend answers, before it counts as stuck.
const DefaultStuckAfter = 2 * time.Minute

// progress tells a pipeline that waits from one that is wedged. Records
// waiting for a backend that is down are normal (the backend's state says
// so); records held while the backend answers, or a reader loop that stops
// turning while nothing holds it back, are not.
type progress struct {
	buffered atomic.Int64 // records read but not final
	shipped  atomic.Int64 // records brought to a final outcome by the senders
	moved    atomic.Int64 // unix nanoseconds: the last ack, or the first read after nothing was buffered
}

// read counts a record read; the first one after a quiet spell starts the
// clock that stuck measures.
func (p *progress) read() {
	if p.buffered.Add(1) == 1 {
		p.moved.Store(time.Now().UnixNano())
	}
}

func (p *progress) acked(n int64, now time.Time) {
	p.buffered.Add(-n)
	p.shipped.Add(n)
	p.moved.Store(now.UnixNano())
}

// stuck returns why the pipeline is wedged at now, or nil. backendUp says
// whether the backend last answered; beat is the reader loop's last turn.
func (p *progress) stuck(now time.Time, after time.Duration, backendUp bool, beat time.Time) error {
	b := p.buffered.Load()
	if b == 0 {
		if !beat.IsZero() && now.Sub(beat) > after {
			return fmt.Errorf("stuck: the file reader has not turned for %s", now.Sub(beat).Round(time.Second))
		}
		return nil
	}
	idle := now.Sub(time.Unix(0, p.moved.Load()))
	if backendUp && idle > after {
		return fmt.Errorf("stuck: %d records held and none delivered for %s while the backend answers", b, idle.Round(time.Second))
	}
	return nil
}
