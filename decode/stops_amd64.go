//go:build amd64 && !purego

package decode

import "golang.org/x/sys/cpu"

// stopWords sets dst[k] to the stop bits (see stop) of b[64k:64k+64]:
// bit j for byte 64k+j. len(b) is 64*len(dst).
func stopWords(dst []uint64, b []byte) {
	if hasAVX2 {
		stopWordsAVX2(dst, b)
	} else {
		stopWordsSSE2(dst, b)
	}
}

// hasAVX2 is read once at start-up (SSE2 is in every amd64).
var hasAVX2 = cpu.X86.HasAVX2

// stopWordsSSE2 is stopWords 16 bytes per step.
//
//go:noescape
func stopWordsSSE2(dst []uint64, b []byte)

// stopWordsAVX2 is stopWords 32 bytes per step.
//
//go:noescape
func stopWordsAVX2(dst []uint64, b []byte)
