//go:build !amd64 || purego

package decode

// stopWords sets dst[k] to the stop bits (see stop) of b[64k:64k+64]:
// bit j for byte 64k+j. len(b) is 64*len(dst).
func stopWords(dst []uint64, b []byte) { stopWordsGeneric(dst, b) }
