// Package tailer reads log sources: finished files line by line (ReadLines),
// and live files followed through rotation, truncation and restarts (Follow).
// It never hands out part of a line, never buffers more than the longest
// allowed line however long a hostile line is, and tells its caller the file
// identity and offset after each line so that a restart can resume exactly
// there. Follow is bouncewatch's own loop rather than github.com/nxadm/tail,
// for the reasons given in follow.go.
package tailer

import (
	"bufio"
	"errors"
	"io"
)

// LineFunc receives one line without its newline. n is the number of bytes the
// line took in the input (newline included); tooLong says the line was longer
// than the limit, in which case line is nil and the line was skipped unread.
type LineFunc func(line []byte, n int, tooLong bool) error

// ReadLines splits r into lines of at most max bytes and calls fn for each.
// A final line without a newline is passed on when final is true (a file that
// is complete) and otherwise left unread, and its length is returned as rest,
// so a follower can resume at the start of that line.
func ReadLines(r io.Reader, max int, final bool, fn LineFunc) (rest int, err error) {
	br := bufio.NewReaderSize(r, max+1)
	for {
		line, err := br.ReadSlice('\n')
		switch {
		case err == nil:
			if err := fn(line[:len(line)-1], len(line), len(line)-1 > max); err != nil {
				return 0, err
			}
		case errors.Is(err, bufio.ErrBufferFull):
			n, done, err := skipLine(br, len(line))
			if err != nil && !errors.Is(err, io.EOF) {
				return 0, err
			}
			if !done && !final {
				return n, nil
			}
			if err := fn(nil, n, true); err != nil {
				return 0, err
			}
			if !done {
				return 0, nil
			}
		case errors.Is(err, io.EOF):
			if len(line) == 0 {
				return 0, nil
			}
			if !final {
				return len(line), nil
			}
			return 0, fn(line, len(line), len(line) > max)
		default:
			return 0, err
		}
	}
}

// skipLine discards the rest of an over-long line; n counts what was already
// read. done is false when the input ended before a newline.
func skipLine(br *bufio.Reader, n int) (total int, done bool, err error) {
	for {
		chunk, err := br.ReadSlice('\n')
		n += len(chunk)
		if err == nil {
			return n, true, nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return n, false, err
		}
	}
}
