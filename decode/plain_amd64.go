package decode

// plainPrefix returns how many leading bytes of b are plain (see plain),
// testing 16 bytes per step. It stops at the first byte that is not plain, or
// where fewer than 16 bytes are left: the caller finishes those.
//
//go:noescape
func plainPrefix(b []byte) int
