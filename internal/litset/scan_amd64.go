package litset

import "golang.org/x/sys/cpu"

// vector says whether this machine runs scan (AVX2, since 2013).
var vector = cpu.X86.HasAVX2

// scan looks at blocks of 32 positions, blocks of them from p and then one
// from last unless it is nil, reading two bytes past each, and returns the
// first block (blocks for the one from last) with a position where some
// bucket's window may start, with a bit for each such position of the
// block; or -1.
//
//go:noescape
func scan(t *tables, p *byte, blocks int, last *byte) (block int, mask uint32)
