package decode

import (
	"encoding/binary"
	"testing"
)

// TestSpecial8NeverMissesASpecialByte: the 8-byte check may raise false
// alarms (the byte loop re-checks) but must flag every chunk holding a byte
// the byte loop would stop at, whatever its position and neighbours.
func TestSpecial8NeverMissesASpecialByte(t *testing.T) {
	var chunk [8]byte
	fill := func(seed uint64) {
		for i := range chunk {
			seed = seed*6364136223846793005 + 1442695040888963407
			chunk[i] = byte(0x20 + (seed>>33)%0x60) // plain ASCII...
			if chunk[i] == '"' || chunk[i] == '\\' {
				chunk[i] = 'a'
			}
		}
	}
	for seed := range uint64(2000) {
		fill(seed)
		if special8(binary.LittleEndian.Uint64(chunk[:])) {
			t.Fatalf("plain chunk %q flagged", chunk)
		}
		for pos := range 8 {
			for c := range 256 {
				if plain[c] {
					continue
				}
				saved := chunk[pos]
				chunk[pos] = byte(c)
				if !special8(binary.LittleEndian.Uint64(chunk[:])) {
					t.Fatalf("chunk %q with %#x at %d not flagged", chunk, c, pos)
				}
				chunk[pos] = saved
			}
		}
	}
}
