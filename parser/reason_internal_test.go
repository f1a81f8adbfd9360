package parser

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// TestIndexDefer: indexDefer is bytes.Index for "defer (", on Exim's texts
// and on texts made of its pieces.
func TestIndexDefer(t *testing.T) {
	pieces := []string{"defer (", "defer", " (", "(", "d", "R=dnslookup ", "er (", "x", "defer  ("}
	rng := rand.New(rand.NewPCG(5, 6))
	texts := []string{"", "defer (", "R=dnslookup T=remote_smtp defer (-44) H=mx [192.0.2.1]: 451 4.3.2 x"}
	for range 20000 {
		var b strings.Builder
		for range rng.IntN(6) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		texts = append(texts, b.String())
	}
	for _, text := range texts {
		if got, want := indexDefer([]byte(text)), strings.Index(text, "defer ("); got != want {
			t.Fatalf("%q: indexDefer = %d, want %d", text, got, want)
		}
	}
}
