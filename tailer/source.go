package tailer

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"sync"
	"time"
)

// Source is one kind of log source: a followed file, a journald unit, or
// standard input. Run hands every complete line to h, in order, until ctx is
// done; it never gives up on a source that is missing or unreadable, it
// reports and retries.
type Source interface {
	Run(ctx context.Context, h Handler) error
	// Status says what the source is doing, for /-/ready and the status
	// page. It is safe to call from any goroutine.
	Status() Status
}

// Syncer is a Source that can be asked to look at its log now rather than
// at its next poll: a file. A journal or standard input hands lines out as
// they come.
type Syncer interface {
	Sync(ctx context.Context) error
}

// Line is one line a source read, without its newline.
type Line struct {
	Data    []byte // nil when TooLong
	N       int    // bytes it took in the source, newline included
	TooLong bool   // longer than the limit: skipped unread
}

// Handler receives what a source reads. Calls come from the source's
// goroutine, one at a time.
type Handler interface {
	// Lines is called with the lines of one read, in order, and the
	// source's position after the last of them. Neither may be kept after
	// the call; Position.CopyTo copies a position.
	Lines(lines []Line, pos *Position)
	// Rotated reports a rotation: "rename" (a new file at the path) or
	// "truncate" (the same file, cut).
	Rotated(kind string)
	// Lost reports a file that is gone before it was read to its end, with
	// the bytes known to be unread in it.
	Lost(path string, bytes int64)
	// MaxLineBytes is the longest line to hand out; asked before every
	// read, so that a reload of the limit applies at once.
	MaxLineBytes() int
}

// Position is where a source stands: what a restart needs to go on with
// the next line. The daemon checkpoints it.
type Position struct {
	// Files are the open files of a file source, oldest first: rotated files
	// still being drained, then the file at the path.
	Files []FilePos `json:"files,omitempty"`
	// Known are the fingerprints of the rotated files next to the path that
	// need no reading: read to their end, or there before the first start.
	// The slice is never changed in place, so copies share it.
	Known []Fingerprint `json:"known,omitempty"`
	// Cursor is a journal source's position: the last entry handed out.
	Cursor string `json:"cursor,omitempty"`
}

// FilePos is one open file.
type FilePos struct {
	Path   string      `json:"path"` // where it was last seen
	Dev    uint64      `json:"dev"`
	Ino    uint64      `json:"ino"`
	Birth  int64       `json:"birth,omitempty"` // creation time, unix nanoseconds, where the file system keeps it
	FP     Fingerprint `json:"fingerprint"`
	Offset int64       `json:"offset"` // after the last line handed out; of the decompressed data for a .gz
	Size   int64       `json:"size"`   // bytes seen so far, for the loss count of a file that goes
	// Rotated: no longer at the path, drained until quiet.
	Rotated bool `json:"rotated,omitempty"`
}

// CopyTo copies p into dst, reusing dst's memory.
func (p *Position) CopyTo(dst *Position) {
	dst.Files = append(dst.Files[:0], p.Files...)
	dst.Known = p.Known
	dst.Cursor = p.Cursor
}

// fingerprintBytes is how much of a file's start identifies its content:
// enough for the time stamp, host and program of the first line.
const fingerprintBytes = 64

// Fingerprint is the first bytes of a file (of its decompressed data for a
// .gz): it identifies the content whatever the file is called, even after a
// copy or compression gave it a new inode.
type Fingerprint struct {
	b [fingerprintBytes]byte
	n uint8
}

// Len returns how many bytes the fingerprint has (fewer than 64 for a file
// that was shorter when it was taken).
func (f Fingerprint) Len() int { return int(f.n) }

func (f Fingerprint) bytes() []byte { return f.b[:f.n] }

// matches says whether two fingerprints can be of the same content: the
// shorter is a prefix of the longer (a file grows). An empty one matches
// nothing.
func (f Fingerprint) matches(o Fingerprint) bool {
	n := min(f.n, o.n)
	return n > 0 && bytes.Equal(f.b[:n], o.b[:n])
}

func (f *Fingerprint) add(data []byte) {
	n := copy(f.b[f.n:], data)
	f.n += uint8(n)
}

// MarshalText writes the fingerprint in hex.
func (f Fingerprint) MarshalText() ([]byte, error) {
	return []byte(hex.EncodeToString(f.bytes())), nil
}

// UnmarshalText reads what MarshalText wrote.
func (f *Fingerprint) UnmarshalText(b []byte) error {
	if hex.DecodedLen(len(b)) > fingerprintBytes {
		return fmt.Errorf("fingerprint of %d bytes, at most %d", hex.DecodedLen(len(b)), fingerprintBytes)
	}
	n, err := hex.Decode(f.b[:], b)
	f.n = uint8(n)
	return err
}

// Status is what a source is doing.
type Status struct {
	Kind   string // "file", "journal" or "stdin"
	Target string // the path or the unit
	// CaughtUp: what the source held when it started (or was restored) has
	// been read. A file that does not exist has nothing to catch up.
	CaughtUp bool
	// Problem says why the source cannot be read now ("" when it can):
	// the file is missing or unreadable, journalctl failed.
	Problem string
	Files   []FileStatus // open files of a file source, oldest first
	// LastRead is the wall time of the last line read (zero before one).
	LastRead time.Time
}

// FileStatus is one open file of a file source.
type FileStatus struct {
	Path    string
	Offset  int64
	Rotated bool // no longer at the path: drained until quiet
}

// status is a Status behind a lock: the source's goroutine writes it, HTTP
// handlers read it.
type status struct {
	mu sync.Mutex
	s  Status
}

func (st *status) get() Status {
	st.mu.Lock()
	defer st.mu.Unlock()
	s := st.s
	s.Files = append([]FileStatus(nil), s.Files...)
	return s
}

func (st *status) update(f func(s *Status)) {
	st.mu.Lock()
	defer st.mu.Unlock()
	f(&st.s)
}

// Clock is the time and the waiting of a follower. Tests give one they
// step by hand, so that no test sleeps.
type Clock interface {
	Now() time.Time
	// Sleep waits for d, a wake-up on wake, or ctx; it returns false when
	// ctx is done.
	Sleep(ctx context.Context, d time.Duration, wake <-chan struct{}) bool
}

// RealClock is the wall clock and real timers.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// Sleep waits with a timer.
func (RealClock) Sleep(ctx context.Context, d time.Duration, wake <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-wake:
	}
	return true
}
