package litset

import "golang.org/x/sys/cpu"

// vector says whether this machine runs scan (AVX2, since 2013).
var vector = cpu.X86.HasAVX2

// scan looks at blocks of 32 positions from p, reading 32*blocks+2 bytes,
// and returns the first block with a position where some bucket's window
// may start, with a bit for each such position of the block; or -1.
//
//go:noescape
func scan(t *tables, p *byte, blocks int) (block int, mask uint32)
