//go:build !amd64

package litset

// vector is false: In says it cannot tell, and the caller searches for
// each literal on its own.
var vector = false

func scan(t *tables, p *byte, blocks int, last *byte) (block int, mask uint32) {
	panic("litset: no vector code")
}
