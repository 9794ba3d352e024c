package decode

import (
	"encoding/binary"
	"math/bits"
	"testing"
)

// TestPlainPrefixStopsAtTheFirstSpecialByte: plainPrefix never passes a byte
// the byte loop would stop at, and stops short of one only in the last 15
// bytes, whatever the byte, its position and the length.
func TestPlainPrefixStopsAtTheFirstSpecialByte(t *testing.T) {
	buf := make([]byte, 80)
	seed := uint64(1)
	for n := range len(buf) {
		for pos := -1; pos < n; pos++ {
			for c := range 256 {
				if pos < 0 && c > 0 || pos >= 0 && plain[c] {
					continue
				}
				b := buf[:n]
				for i := range b {
					seed = seed*6364136223846793005 + 1442695040888963407
					b[i] = byte(0x20 + (seed>>33)%0x60)
					if !plain[b[i]] {
						b[i] = 'a'
					}
				}
				first := n
				if pos >= 0 {
					b[pos], first = byte(c), pos
				}
				got := plainPrefix(b)
				if got > first || got < first && n-got >= 16 {
					t.Fatalf("plainPrefix(%q) = %d, first special byte at %d", b, got, first)
				}
			}
		}
	}
}

// TestSpecialMaskMarksTheFirstSpecialByteExactly: skipString jumps to the
// lowest byte specialMask flags, so no plain byte below the first special one
// may be flagged, whatever the bytes above it.
func TestSpecialMaskMarksTheFirstSpecialByteExactly(t *testing.T) {
	var chunk [8]byte
	seed := uint64(7)
	for range 300 {
		for i := range chunk {
			seed = seed*6364136223846793005 + 1442695040888963407
			chunk[i] = byte(seed >> 56) // anything, special or not
		}
		for pos := range 8 {
			for c := range 256 {
				if plain[c] {
					continue
				}
				x := chunk
				for j := range pos {
					if !plain[x[j]] {
						x[j] = 'a'
					}
				}
				x[pos] = byte(c)
				m := specialMask(binary.LittleEndian.Uint64(x[:]))
				if got := bits.TrailingZeros64(m) >> 3; got != pos {
					t.Fatalf("specialMask(%q): lowest flagged byte %d, first special byte %d", x, got, pos)
				}
			}
		}
	}
}
