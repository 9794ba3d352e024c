//go:build !amd64

package decode

import "encoding/binary"

// plainPrefix returns how many leading bytes of b are plain (see plain),
// testing 8 bytes per step. It stops at or before the first byte that is not
// plain, or where fewer than 8 bytes are left: the caller finishes those.
func plainPrefix(b []byte) int {
	i := 0
	for i+8 <= len(b) && !special8(binary.LittleEndian.Uint64(b[i:])) {
		i += 8
	}
	return i
}
