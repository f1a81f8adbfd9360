// Package tailer reads log sources: finished files line by line (ReadLines),
// and the sources the daemon follows (Source: a file through rotation,
// truncation and restarts, a journald unit, standard input). It never hands
// out part of a line, never buffers more than the longest allowed line
// however long a hostile line is, and tells its caller the position after
// every batch of lines (every open file with its identity and offset, or the
// journal cursor) so that a restart can resume exactly there. It owns offsets
// and file identity. The file follower is bouncewatch's own loop rather than
// github.com/nxadm/tail, for the reasons given in follow.go.
package tailer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"time"
)

// LineFunc receives one line without its newline. n is the number of bytes the
// line took in the input (newline included); tooLong says the line was longer
// than the limit, in which case line is nil and the line was skipped unread.
type LineFunc func(line []byte, n int, tooLong bool) error

// splitter cuts a stream of bytes into lines, whatever the size of the pieces
// it is fed. Over-long lines are skipped without being kept, so it never holds
// more than max bytes. Both ReadLines and the follower use it.
type splitter struct {
	max      int
	pending  []byte // the start of a line not yet complete
	spare    []byte // the other buffer: see feed
	skipping int    // > 0: inside a too-long line, this many bytes so far
}

// buffered is how many bytes of an incomplete line were fed.
func (s *splitter) buffered() int { return len(s.pending) + s.skipping }

func (s *splitter) reset() { s.pending, s.skipping = s.pending[:0], 0 }

// feed hands every line completed by data to emit.
func (s *splitter) feed(data []byte, emit LineFunc) error {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if s.skipping > 0 {
			if i < 0 {
				s.skipping += len(data)
				return nil
			}
			n := s.skipping + i + 1
			s.skipping = 0
			if err := emit(nil, n, true); err != nil {
				return err
			}
			data = data[i+1:]
			continue
		}
		if i < 0 {
			if len(s.pending)+len(data) > s.max {
				s.skipping = len(s.pending) + len(data)
				s.pending = s.pending[:0]
				return nil
			}
			s.pending = append(s.pending, data...)
			return nil
		}
		line := data[:i]
		if len(s.pending) > 0 {
			s.pending = append(s.pending, line...)
			line = s.pending
		}
		var err error
		if len(line) > s.max {
			err = emit(nil, len(line)+1, true)
		} else {
			err = emit(line, len(line)+1, false)
		}
		if len(s.pending) > 0 {
			// The line handed out may be kept until the end of this feed
			// (the follower hands out a read's lines together): the next
			// partial line goes into the other buffer.
			s.pending, s.spare = s.spare[:0], s.pending
		}
		if err != nil {
			return err
		}
		data = data[i+1:]
	}
	return nil
}

// flush hands out an incomplete last line as if it were complete.
func (s *splitter) flush(emit LineFunc) error {
	defer s.reset()
	switch {
	case s.skipping > 0:
		return emit(nil, s.skipping, true)
	case len(s.pending) > 0:
		return emit(s.pending, len(s.pending), false)
	}
	return nil
}

// ReadLines splits r into lines of at most max bytes and calls fn for each.
// A final line without a newline is passed on when final is true (a file that
// is complete) and otherwise left unread, and its length is returned as rest,
// so a follower can resume at the start of that line.
func ReadLines(r io.Reader, max int, final bool, fn LineFunc) (rest int, err error) {
	s := splitter{max: max}
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if err := s.feed(buf[:n], fn); err != nil {
				return 0, err
			}
		}
		if errors.Is(err, io.EOF) {
			if final {
				return 0, s.flush(fn)
			}
			return s.buffered(), nil
		}
		if err != nil {
			return 0, err
		}
	}
}

// Stdin is a reader (standard input) as a source: read to its end, as it
// comes, with no position to resume from.
type Stdin struct {
	r      io.Reader
	status status
}

// NewStdin returns a source reading r.
func NewStdin(r io.Reader) *Stdin {
	s := &Stdin{r: r}
	// Nothing to catch up with: what comes is counted as it comes.
	s.status.s = Status{Kind: "stdin", Target: "-", CaughtUp: true}
	return s
}

// Status implements Source.
func (s *Stdin) Status() Status { return s.status.get() }

// Run implements Source. A read from standard input cannot be interrupted:
// Run returns at the end of the input or at the first line after ctx is done.
func (s *Stdin) Run(ctx context.Context, h Handler) error {
	var pos Position
	batch := make([]Line, 1)
	_, err := ReadLines(s.r, h.MaxLineBytes(), true, func(line []byte, n int, tooLong bool) error {
		batch[0] = Line{Data: line, N: n, TooLong: tooLong}
		h.Lines(batch, &pos)
		s.status.update(func(st *Status) { st.LastRead = time.Now() })
		return ctx.Err()
	})
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
