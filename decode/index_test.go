package decode

import "testing"

// TestStopWordsFlagsExactlyTheStops: every byte value at every position of
// a block, over random neighbours, sets its bit exactly when it is a stop,
// in the assembly (on amd64) and in the Go version alike.
func TestStopWordsFlagsExactlyTheStops(t *testing.T) {
	testStopWords(t, "stopWords", stopWords)
	testStopWords(t, "stopWordsGeneric", stopWordsGeneric)
}

func testStopWords(t *testing.T, name string, f func([]uint64, []byte)) {
	blocks := make([]byte, 3*64)
	words := make([]uint64, 3)
	seed := uint64(11)
	for round := range 40 {
		for i := range blocks {
			seed = seed*6364136223846793005 + 1442695040888963407
			blocks[i] = byte(seed >> 56)
			if round%2 == 0 && stop[blocks[i]] {
				blocks[i] = 'a' // mostly plain, so single stops stand alone
			}
		}
		for pos := range 64 {
			for c := range 256 {
				saved := blocks[64+pos]
				blocks[64+pos] = byte(c)
				f(words, blocks)
				for k, w := range words {
					for j := range 64 {
						if got, want := w>>j&1 == 1, stop[blocks[64*k+j]]; got != want {
							t.Fatalf("%s: byte %#x at %d: flagged %v, want %v", name, blocks[64*k+j], 64*k+j, got, want)
						}
					}
				}
				blocks[64+pos] = saved
			}
		}
	}
}

// TestScannerIndexesOnDemand: whatever the line's length and wherever a
// scan starts, nextStop finds the first stop, or the end of the line.
func TestScannerIndexesOnDemand(t *testing.T) {
	var s scanner
	for n := range 700 {
		b := make([]byte, n)
		for i := range b {
			b[i] = 'a'
			if i%97 == 50 {
				b[i] = '"'
			}
		}
		for _, from := range []int{0, 1, 63, 64, 65, 255, 256, 257, 300, 511, 512, 600} {
			if from > n {
				continue
			}
			s.reset(b)
			for s.done <= from && s.done < n {
				s.extend(from)
			}
			want := from
			for want < n && !stop[b[want]] {
				want++
			}
			got := s.nextStop(from)
			for got >= s.done && s.done < n {
				s.extend(got)
				got = s.nextStop(from)
			}
			if got != want {
				t.Fatalf("len %d from %d: next stop %d, want %d", n, from, got, want)
			}
		}
	}
}
