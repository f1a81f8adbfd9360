package tailer

import (
	"bytes"
	"errors"
	"io"
)

// Batch is lines of a finished file read into one buffer: a reader fills
// batches on one goroutine while the lines of the last are parsed on
// another. Lines refer to the buffer, so a batch is handed back (to be
// filled again) only when its lines are no longer used.
type Batch struct {
	Lines []Line
	buf   []byte
}

// batchBytes is the size of a batch's buffer: large enough that handing a
// batch over costs nothing next to its lines, small enough to stay in cache.
// (A variable for the tests, which make batches small.)
var batchBytes = 256 << 10

// ReadBatches reads r to its end in batches of whole lines, as ReadLines
// would hand them out with final set: a line longer than limit bytes is
// skipped unread (TooLong), and a last line without a newline is a line.
// get returns an empty batch to fill; put takes a filled one and returns an
// error to stop. get is called for the next batch before the last is put
// (the start of its last line moves over), so at least two must go round. A read error is returned after the lines before it were put.
func ReadBatches(r io.Reader, limit int, get func() *Batch, put func(*Batch) error) error {
	b := get()
	size := max(batchBytes, 2*(limit+1))
	if cap(b.buf) < size {
		b.buf = make([]byte, size)
	}
	buf := b.buf[:cap(b.buf)]
	b.Lines = b.Lines[:0]
	var (
		fill     int // bytes in buf
		start    int // where the line not yet complete starts
		skipping int // > 0: inside a too-long line, this many bytes so far, not kept
	)
	for {
		n, rerr := readFull(r, buf[fill:])
		scan := fill
		fill += n
		for {
			i := bytes.IndexByte(buf[scan:fill], '\n')
			if i < 0 {
				break
			}
			end := scan + i
			if l := skipping + end - start; l > limit {
				b.Lines = append(b.Lines, Line{N: l + 1, TooLong: true})
			} else {
				b.Lines = append(b.Lines, Line{Data: buf[start:end:end], N: l + 1})
			}
			skipping, start, scan = 0, end+1, end+1
		}
		if skipping > 0 || fill-start > limit {
			skipping += fill - start // the line is too long: forget its bytes
			fill = start
		}
		if rerr != nil {
			if errors.Is(rerr, io.EOF) {
				rerr = nil
				if l := skipping + fill - start; l > limit {
					b.Lines = append(b.Lines, Line{N: l, TooLong: true})
				} else if l > 0 {
					b.Lines = append(b.Lines, Line{Data: buf[start:fill:fill], N: l})
				}
			}
			if len(b.Lines) > 0 {
				if err := put(b); err != nil {
					return err
				}
			}
			return rerr
		}
		if fill < len(buf) {
			continue
		}
		// The buffer is full: hand it over, and carry the start of the
		// line not yet complete into the next.
		nb := get()
		if cap(nb.buf) < size {
			nb.buf = make([]byte, size)
		}
		nb.Lines = nb.Lines[:0]
		nbuf := nb.buf[:cap(nb.buf)]
		fill = copy(nbuf, buf[start:fill])
		start = 0
		if err := put(b); err != nil {
			return err
		}
		b, buf = nb, nbuf
	}
}

// readFull reads until buf is full or r fails; io.EOF means r ended.
func readFull(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
		if m == 0 && len(buf) > 0 {
			// A reader that returns nothing and no error: try again, as
			// io.ReadFull does (it is allowed, if discouraged).
			continue
		}
	}
	return n, nil
}
