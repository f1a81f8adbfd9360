package tailer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// This file is bouncewatch's own follow loop. It replaces github.com/nxadm/tail,
// which the design first named, because that library cannot give zero loss:
// after a rename rotation it closes the old file at once, so lines a syslog
// daemon still appends to the renamed file are lost (nxadm/tail #72, #74), and
// it notices truncation only when the size shrinks between two looks. The
// model here is mtail's: a file is its identity (device, inode and a
// fingerprint of its first bytes); a new identity at the path is a rotation,
// and the old file is drained until it has been quiet for RotateWait; the
// same identity with a smaller size, or other first bytes, is a truncation
// (copytruncate). Polling keeps it simple and robust for one to three mail
// logs; Poll is how often the path and the file are looked at.

// fingerprintBytes is how much of a file's start identifies it together with
// its device and inode (an inode number is re-used after delete and create).
const fingerprintBytes = 64

// Position is where a follower stands: the file and the offset after the last
// complete line handed out. The daemon checkpoints it.
type Position struct {
	Path        string `json:"path"`
	Dev         uint64 `json:"dev"`
	Ino         uint64 `json:"ino"`
	Fingerprint []byte `json:"fingerprint"`
	Offset      int64  `json:"offset"`
	Cursor      string `json:"cursor,omitempty"` // a journald source's position
}

// Handler receives what a follower reads. Calls come from the follower's
// goroutine, one at a time.
type Handler interface {
	// Line is one complete line without its newline (nil when tooLong: the
	// line was longer than the limit and skipped unread). n is its size in
	// the file, newline included; pos is the position after it.
	Line(line []byte, n int, tooLong bool, pos Position)
	// Rotated reports a rotation: "rename" (a new file at the path) or
	// "truncate" (the same file, cut).
	Rotated(kind string)
}

// Options configure a follower.
type Options struct {
	Path          string
	MaxLineBytes  int
	Poll          time.Duration // how often to look; default 250ms
	RotateWait    time.Duration // how long a rotated-away file must be quiet before it is let go; default 5s
	FromBeginning bool          // without Resume: read the file from its start instead of its end
	Inotify       bool          // also wake on inotify events in the log's directory (Linux)
	Resume        *Position     // where a previous run stopped
	Logger        *slog.Logger
	// CaughtUp is called once, after the file was first opened and read to its
	// end (and, on a resume, after the file rotated away meanwhile was
	// finished): from then on the counts include everything that was in the
	// logs when the follower started.
	CaughtUp func()
}

type openFile struct {
	f        *os.File
	dev, ino uint64
	fp       []byte
	offset   int64 // after the last complete line handed out
	lines    splitter
}

type follower struct {
	Options
	h        Handler
	cur      *openFile
	old      *openFile // a rotated-away file still being drained
	oldQuiet time.Time // when old last gave data
	buf      []byte
	caughtUp bool
	warned   string
}

// Follow follows opts.Path until ctx is done. It returns nil then; it never
// gives up on a missing or unreadable file, it reports and retries.
func Follow(ctx context.Context, opts Options, h Handler) error {
	if opts.Poll <= 0 {
		opts.Poll = 250 * time.Millisecond
	}
	if opts.RotateWait <= 0 {
		opts.RotateWait = 5 * time.Second
	}
	if opts.MaxLineBytes <= 0 {
		return errors.New("tailer: MaxLineBytes must be positive")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	fl := &follower{Options: opts, h: h, buf: make([]byte, 64<<10)}
	defer fl.closeAll()
	wake := make(chan struct{}, 1)
	if opts.Inotify {
		stop, err := watchDir(opts.Path, wake)
		if err != nil {
			return fmt.Errorf("tailer: inotify on %s: %w", filepath.Dir(opts.Path), err)
		}
		defer stop()
	}
	fl.start()
	timer := time.NewTimer(opts.Poll)
	defer timer.Stop()
	for {
		fl.poll()
		if !fl.caughtUp && fl.cur != nil && fl.old == nil {
			fl.caughtUp = true
			if fl.CaughtUp != nil {
				fl.CaughtUp()
			}
		}
		next := opts.Poll
		if fl.old != nil {
			// A rotated file is being drained: look again when it may be let
			// go, whatever wakes us meanwhile.
			next = min(next, max(time.Until(fl.oldQuiet.Add(fl.RotateWait)), time.Millisecond))
		}
		timer.Reset(next)
		select {
		case <-ctx.Done():
			fl.drainAll()
			return nil
		case <-timer.C:
		case <-wake:
		}
	}
}

func (fl *follower) closeAll() {
	for _, of := range []*openFile{fl.cur, fl.old} {
		if of != nil {
			of.f.Close()
		}
	}
}

// drainAll reads what is there before a stop, so that a SIGTERM loses nothing
// that was already written.
func (fl *follower) drainAll() {
	if fl.old != nil {
		fl.read(fl.old)
	}
	if fl.old == nil && fl.cur != nil {
		fl.read(fl.cur)
	}
}

// start opens the file where the previous run stopped, or at its end (or
// start), finishing first a file that was rotated away while we were down.
func (fl *follower) start() {
	r := fl.Resume
	if r == nil {
		of, err := fl.open(fl.Path)
		if err != nil {
			fl.report(err)
			return
		}
		if !fl.FromBeginning {
			if err := fl.seekToLastLine(of); err != nil {
				fl.report(err)
			}
		}
		fl.cur = of
		return
	}
	of, err := fl.open(fl.Path)
	if err == nil && of.dev == r.Dev && of.ino == r.Ino && fingerprintMatches(of.f, r.Fingerprint) {
		if st, err := of.f.Stat(); err == nil && st.Size() >= r.Offset {
			of.offset = r.Offset
			of.fp = append([]byte(nil), r.Fingerprint...)
			if _, err := of.f.Seek(r.Offset, io.SeekStart); err != nil {
				fl.report(err)
			}
		} else {
			fl.h.Rotated("truncate") // cut while we were down: read it all
		}
		fl.cur = of
		return
	}
	// The file at the path is another one: find ours next to it and finish it
	// now. It was rotated away before we started, so its writer has moved on;
	// it is read to its end at once rather than watched for RotateWait.
	if prev := fl.findRotated(r); prev != nil {
		prev.offset = r.Offset
		prev.fp = append([]byte(nil), r.Fingerprint...)
		if _, err := prev.f.Seek(r.Offset, io.SeekStart); err == nil {
			fl.Logger.Info("finishing the file rotated away while stopped", "file", prev.f.Name(), "offset", r.Offset)
			fl.read(prev)
		}
		prev.f.Close()
	} else {
		fl.Logger.Warn("the file followed before the restart is gone; its unread lines are lost", "path", r.Path, "offset", r.Offset)
	}
	fl.h.Rotated("rename")
	if err != nil {
		fl.report(err)
		return
	}
	fl.cur = of // from its start
}

// findRotated looks in the directory of the path for the file a position
// names, by device, inode and fingerprint (mail.log.1, mail.log-20261127...).
func (fl *follower) findRotated(r *Position) *openFile {
	dir := filepath.Dir(fl.Path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), filepath.Base(fl.Path)) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		st, err := os.Stat(p)
		if err != nil {
			continue
		}
		dev, ino := fileID(st)
		if dev != r.Dev || ino != r.Ino {
			continue
		}
		of, err := fl.open(p)
		if err != nil {
			continue
		}
		if fingerprintMatches(of.f, r.Fingerprint) {
			return of
		}
		of.f.Close()
	}
	return nil
}

func (fl *follower) open(path string) (*openFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("%s is a directory", path)
	}
	dev, ino := fileID(st)
	return &openFile{f: f, dev: dev, ino: ino, lines: splitter{max: fl.MaxLineBytes}}, nil
}

// seekToLastLine starts a file at its end, after its last complete line.
func (fl *follower) seekToLastLine(of *openFile) error {
	st, err := of.f.Stat()
	if err != nil {
		return err
	}
	end := st.Size()
	fp := make([]byte, min(end, fingerprintBytes))
	if _, err := of.f.ReadAt(fp, 0); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	of.fp = fp
	start := max(0, end-int64(fl.MaxLineBytes)-1)
	tail := make([]byte, end-start)
	if _, err := of.f.ReadAt(tail, start); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	of.offset = start + int64(bytes.LastIndexByte(tail, '\n')+1)
	if of.offset == start && start > 0 {
		of.offset = end // no newline in the last max bytes: an over-long line, skip it all
	}
	_, err = of.f.Seek(of.offset, io.SeekStart)
	return err
}

func fingerprintMatches(f *os.File, fp []byte) bool {
	if len(fp) == 0 {
		return true
	}
	b := make([]byte, len(fp))
	n, _ := f.ReadAt(b, 0)
	return n == len(fp) && bytes.Equal(b, fp)
}

func fileID(st fs.FileInfo) (dev, ino uint64) {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return uint64(s.Dev), s.Ino
	}
	return 0, 0
}

// poll is one look: read what is new, then check the path for a rotation.
func (fl *follower) poll() {
	if fl.old != nil {
		if got, _ := fl.read(fl.old); got {
			fl.oldQuiet = time.Now()
		}
		if time.Since(fl.oldQuiet) < fl.RotateWait {
			return // lines from the rotated file come first
		}
		fl.old.f.Close()
		fl.old = nil
	}
	if fl.cur != nil {
		if _, cut := fl.read(fl.cur); cut || fl.truncated(fl.cur) {
			fl.h.Rotated("truncate")
			of := fl.cur
			of.offset, of.fp = 0, nil
			of.lines.reset()
			if _, err := of.f.Seek(0, io.SeekStart); err != nil {
				fl.report(err)
				return
			}
			fl.read(of)
		}
	}
	st, err := os.Stat(fl.Path)
	if err != nil {
		if fl.cur != nil && errors.Is(err, fs.ErrNotExist) {
			// Renamed or deleted, nothing new yet: keep draining it until a new
			// file appears.
			return
		}
		fl.report(err)
		return
	}
	if fl.cur == nil {
		of, err := fl.open(fl.Path)
		if err != nil {
			fl.report(err)
			return
		}
		fl.warned = ""
		fl.cur = of // a file that appears is read from its start
		fl.read(fl.cur)
		return
	}
	dev, ino := fileID(st)
	if dev != fl.cur.dev || ino != fl.cur.ino {
		of, err := fl.open(fl.Path)
		if err != nil {
			fl.report(err)
			return
		}
		fl.h.Rotated("rename")
		fl.old, fl.oldQuiet = fl.cur, time.Now()
		fl.cur = of
	}
}

// truncated tells whether the open file is now shorter than what was read of
// it, or starts with other bytes than when it was first read.
func (fl *follower) truncated(of *openFile) bool {
	st, err := of.f.Stat()
	if err != nil {
		return false
	}
	return st.Size() < of.offset+int64(of.lines.buffered()) || !fingerprintMatches(of.f, of.fp)
}

func (fl *follower) report(err error) {
	if msg := err.Error(); msg != fl.warned {
		fl.warned = msg
		fl.Logger.Warn("cannot read the log; retrying", "path", fl.Path, "err", err)
	}
}

// read hands out every complete line now in the file. got says whether it
// read anything; cut says the file was truncated under it, in which case what
// it read last was not handed out.
func (fl *follower) read(of *openFile) (got, cut bool) {
	for {
		n, err := of.f.Read(fl.buf)
		if n > 0 {
			// Checked after reading: if the file was cut and written again
			// between our last look and this read, the bytes just read are
			// the new file's, from the middle of a line, and must not count.
			if !fingerprintMatches(of.f, of.fp) {
				return got, true
			}
			got = true
			fl.consume(of, fl.buf[:n])
		}
		if err != nil || n == 0 {
			if err != nil && !errors.Is(err, io.EOF) {
				fl.report(err)
			}
			return got, false
		}
	}
}

// consume hands out the lines data completes, each with the position after
// it, and fills in the fingerprint while the file's first bytes go by.
func (fl *follower) consume(of *openFile, data []byte) {
	start := of.offset + int64(of.lines.buffered())
	if start < fingerprintBytes && int64(len(of.fp)) == start {
		of.fp = append(of.fp, data[:min(fingerprintBytes-len(of.fp), len(data))]...)
	}
	of.lines.feed(data, func(line []byte, n int, tooLong bool) error {
		of.offset += int64(n)
		fl.h.Line(line, n, tooLong, of.position(fl.Path))
		return nil
	})
}

func (of *openFile) position(path string) Position {
	return Position{Path: path, Dev: of.dev, Ino: of.ino, Fingerprint: of.fp, Offset: of.offset}
}
