package tailer

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

type gotLine struct {
	data    string
	n       int
	tooLong bool
}

// TestReadBatchesAsReadLines: whatever the input, the line limit and the
// sizes the reader returns, ReadBatches hands out the lines ReadLines does,
// across batch boundaries.
func TestReadBatchesAsReadLines(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	defer func(n int) { batchBytes = n }(batchBytes)
	for round := range 300 {
		batchBytes = 512 + r.IntN(4096) // many batches
		var in strings.Builder
		for range r.IntN(3000) {
			switch r.IntN(10) {
			case 0:
				in.WriteString(strings.Repeat("x", r.IntN(700))) // sometimes too long
			case 1:
				in.WriteString("\n")
			default:
				in.WriteString("Nov 27 10:27:16 mx1 postfix/qmgr[1033]: 36492CB79A: removed\n"[r.IntN(20):])
			}
		}
		data := in.String()
		max := 256 + r.IntN(400)
		var want []gotLine
		if _, err := ReadLines(strings.NewReader(data), max, true, func(l []byte, n int, tooLong bool) error {
			want = append(want, gotLine{string(l), n, tooLong})
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		readers := []io.Reader{strings.NewReader(data), iotest.HalfReader(strings.NewReader(data)), iotest.OneByteReader(strings.NewReader(data))}
		for _, rd := range readers {
			var got []gotLine
			free := []*Batch{{}, {}}
			err := ReadBatches(rd, max, func() *Batch {
				b := free[len(free)-1]
				free = free[:len(free)-1]
				return b
			}, func(b *Batch) error {
				for _, l := range b.Lines {
					got = append(got, gotLine{string(l.Data), l.N, l.TooLong})
				}
				free = append(free, b)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("round %d (max %d, %T): %d lines, ReadLines %d", round, max, rd, len(got), len(want))
			}
		}
	}
}

// TestReadBatchesErrorAfterLines: a read error comes after the lines
// before it, whole.
func TestReadBatchesErrorAfterLines(t *testing.T) {
	in := bytes.Repeat([]byte("Nov 27 10:27:16 mx1 postfix/qmgr[1033]: 36492CB79A: removed\n"), 10000)
	boom := errors.New("boom")
	var n int
	free := []*Batch{{}, {}}
	err := ReadBatches(io.MultiReader(bytes.NewReader(in), iotest.ErrReader(boom)), 1000, func() *Batch {
		b := free[len(free)-1]
		free = free[:len(free)-1]
		return b
	}, func(b *Batch) error {
		for _, l := range b.Lines {
			if string(l.Data) != "Nov 27 10:27:16 mx1 postfix/qmgr[1033]: 36492CB79A: removed" {
				t.Fatalf("line %d: %q", n, l.Data)
			}
			n++
		}
		free = append(free, b)
		return nil
	})
	if !errors.Is(err, boom) || n != 10000 {
		t.Errorf("%d lines, error %v; want 10000 and boom", n, err)
	}
}
