package decode

import (
	"encoding/binary"
	"math/bits"
)

// scanner is a line and its stop index: one bit per byte, set where a string
// scan must stop and look (stop). Skipping a string is then a bit-scan per
// special byte instead of a test per byte, the way simdjson's stage 1 indexes
// a document before parsing it.
//
// The index is built on demand, in 64-byte blocks: a dropped span-start
// record is read only as far as end_time, and the rest of it never indexed.
type scanner struct {
	b []byte
	// words[k] bit j: b[64k+j] is a stop. Every bit from done on is set
	// too (past the end of b, or up to the next block not indexed yet),
	// so a scan always ends, at a stop or at done.
	words []uint64
	done  int // b[:done] is indexed: a multiple of 64, or len(b)
}

// firstIndex is how much of a line is indexed first: enough for the
// members a dropped span-start record is read for.
const firstIndex = 256

// reset starts on a new line; the index's storage is kept between lines.
func (s *scanner) reset(b []byte) {
	n := len(b)>>6 + 1
	if cap(s.words) < n {
		s.words = make([]uint64, n, n+n/4)
	}
	s.words = s.words[:n]
	s.words[0] = ^uint64(0)
	s.b, s.done = b, 0
}

// extend indexes more of the line, at least the block holding b[i] when
// there is one: the first call firstIndex bytes, then the rest.
func (s *scanner) extend(i int) {
	end := len(s.b)
	if s.done == 0 && i < firstIndex && end > firstIndex {
		end = firstIndex
	}
	if s.done >= end {
		return
	}
	whole := end &^ 63
	stopWords(s.words[s.done>>6:whole>>6], s.b[s.done:whole])
	if whole < end {
		// The line's last bytes: padded with stops (quotes), so the bits
		// past the end are set.
		block := quotes
		copy(block[:], s.b[whole:])
		stopWords(s.words[whole>>6:whole>>6+1], block[:])
	} else {
		s.words[whole>>6] = ^uint64(0)
	}
	s.done = end
}

// quotes pads the line's last block: every byte a stop.
var quotes = func() (q [64]byte) {
	for j := range q {
		q[j] = '"'
	}
	return q
}()

// stop marks the bytes a string scan stops at: '"', '\\', control
// characters and non-ASCII bytes: the bytes that are not plain.
var stop = func() (t [256]bool) {
	for c := range 256 {
		t[c] = !plain[c]
	}
	return t
}()

// stopWordsGeneric is stopWords in Go: eight bytes at a time, each flagged
// exactly (no borrow crosses a byte), the flags gathered into a byte.
func stopWordsGeneric(dst []uint64, b []byte) {
	for k := range dst {
		blk := b[k*64 : k*64+64]
		var w uint64
		for j := 0; j < 64; j += 8 {
			w |= stopBits8(binary.LittleEndian.Uint64(blk[j:])) << j
		}
		dst[k] = w
	}
}

// stopBits8 returns bit j set when byte j of x (little endian) is a stop.
func stopBits8(x uint64) uint64 {
	const low7 = 0x7f7f7f7f7f7f7f7f
	t := x & low7
	ctrl := ^(t + ones*(0x80-0x20)) // high bit clear where t >= 0x20
	q := x ^ (ones * '"')
	q = ^((q&low7 + low7) | q) // high bit set where q == 0
	bs := x ^ (ones * '\\')
	bs = ^((bs&low7 + low7) | bs)
	m := (x | ctrl | q | bs) & highs
	return m * 0x0002040810204081 >> 56 // byte j's high bit to bit j
}

// nextStop returns the index of the first stop at or after i (i <= done).
func (s *scanner) nextStop(i int) int {
	k := i >> 6
	w := s.words[k] >> (i & 63)
	if w != 0 {
		return i + bits.TrailingZeros64(w)
	}
	for {
		k++
		if w = s.words[k]; w != 0 {
			return k<<6 + bits.TrailingZeros64(w)
		}
	}
}
