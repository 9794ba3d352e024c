package ship

import (
	"fmt"
	"sync"
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
