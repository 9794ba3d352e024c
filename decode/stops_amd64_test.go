//go:build amd64 && !purego

package decode

import (
	"testing"

	"golang.org/x/sys/cpu"
)

// TestStopWordsKernels runs the stop index test on each amd64 kernel this
// CPU has, whichever stopWords picked.
func TestStopWordsKernels(t *testing.T) {
	testStopWords(t, "stopWordsSSE2", stopWordsSSE2)
	if cpu.X86.HasAVX2 {
		testStopWords(t, "stopWordsAVX2", stopWordsAVX2)
	}
}
