package ship

import (
	"context"
	"fmt"
	"sync"

	"github.com/spanshipper/spanshipper/batch"
)

// DefaultRejectStorm is how many single items in a row the backend may
// reject permanently, with no 2xx between, before spanshipper blames the
// backend rather than the spans (SPEC §4 "Reject storms").
const DefaultRejectStorm = 32

// storm tells a few bad spans from a backend that rejects everything (a bad
// deploy, a schema change). Poison items come one at a time between
// accepted batches; a run of rejections with no 2xx between them is the
// backend's fault, and dead-lettering through it would empty the files into
// the dead-letter file. During a storm batches are held and retried instead.
type storm struct {
	threshold int // rejections in a row that start a storm; < 0: never

	mu     sync.Mutex
	run    int // single-item rejections since the last 2xx
	on     bool
	reason string
}

// hold counts a permanent rejection (of a single item when single) and
// reports whether the batch must be held and retried rather than split or
// dead-lettered: a storm is on, or this rejection starts one.
func (s *storm) hold(single bool, status int, body string) bool {
	if s.threshold < 0 {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if single && !s.on {
		s.run++
		if s.run > s.threshold {
			s.on = true
			s.reason = fmt.Sprintf("reject storm: the backend rejected %d spans in a row (last: %s); holding batches until it accepts one",
				s.threshold, Cause(status, body, nil, 0))
		}
	}
	return s.on
}

// accepted ends the run on a 2xx; it reports whether a storm ended.
func (s *storm) accepted() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	was := s.on
	s.run, s.on, s.reason = 0, false, ""
	return was
}

// state reports whether a storm is on, and why.
func (s *storm) state() (bool, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.on, s.reason
}

// holdInStorm is called with a permanent rejection of the items idx of bt.
// Unless a reject storm is on (or this rejection starts one) it returns that
// answer at once, for send to split or dead-letter. During a storm the batch
// is held: retried with backoff, as for a transient failure, until an answer
// other than a storm's rejection comes, which it returns. While held, a
// batch of several items is first probed with one of them, a different one
// each time: a batch holding a truly bad span must not keep the storm going
// once the backend accepts spans again.
func (c *Client) holdInStorm(ctx context.Context, bt *batch.Batch, idx []int, body []byte, status int, respBody string) (int, string, error) {
	for held := 1; c.storm.hold(len(idx) == 1, status, respBody); held++ {
		_, why := c.storm.state()
		c.rlog.Error("reject-storm", "the backend rejects every span: treating it as a backend fault, not bad spans; holding batches and retrying, nothing more is dead-lettered",
			"endpoint", c.cfg.Endpoint, "reason", why, "held_spans", c.sending.Load())
		if err := sleep(ctx, c.backoff.Wait(held, nil)); err != nil {
			return 0, "", err
		}
		if len(idx) > 1 {
			probe := idx[(held-1)%len(idx)]
			st, rb, err := c.exchange(ctx, c.body(bt, []int{probe}))
			if err != nil {
				return 0, "", err
			}
			if Classify(st, nil) != OK {
				status, respBody = st, rb
				continue
			}
			c.stormOver()
		}
		var err error
		status, respBody, err = c.exchange(ctx, body)
		if err != nil || Classify(status, nil) != Permanent {
			return status, respBody, err
		}
	}
	return status, respBody, nil
}

// stormOver ends a reject storm on a 2xx, saying so if one was on.
func (c *Client) stormOver() {
	if c.storm.accepted() {
		c.log.Info("reject storm over: the backend accepts spans again; held batches ship", "endpoint", c.cfg.Endpoint)
	}
}
