package tailer

import (
	"bufio"
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// This file is bouncewatch's own follow loop. It replaces github.com/nxadm/tail,
// which the design first named, because that library cannot give zero loss:
// after a rename rotation it closes the old file at once, so lines a syslog
// daemon still appends to the renamed file are lost (nxadm/tail #72, #74), and
// it notices truncation only when the size shrinks between two looks.
//
// The model is mtail's, extended to every file a source has open:
//   - A file's content is recognised by its fingerprint (its first 64 bytes,
//     decompressed for a .gz), never by its name: rotation schemes differ
//     (logrotate's .1 is the newest, dateext counts up) and compression or
//     a copy gives the same content a new inode.
//   - A new identity (device, inode) at the path is a rename rotation. The
//     old file stays open, as a rotated file, and is drained until it has
//     been quiet for RotateWait: a syslog daemon writes to it until it is
//     signalled. While a rotated file still grows, newer files wait, so that
//     lines go to the parser in the order they were written.
//   - The same identity getting shorter, or changing its first bytes, is a
//     truncation (copytruncate). The copy logrotate made holds what was
//     written before the cut, so the lines after our offset are read from it
//     first; the copy itself is never read twice.
//   - Every open file, with its offset, is in the Position, so a restart
//     goes on in each. Files rotated while a source was down (or between
//     two looks) are found next to the path (mail.log.1, mail.log.2.gz,
//     mail.log-20261130) by a fingerprint that is neither known (read, or
//     there before the first start) nor open, and read in the order of
//     their first line.
//
// Polling keeps it simple and robust for one to three mail logs; Poll is how
// often the files and the path are looked at, and inotify (optional) and
// Sync (a scrape) only wake the loop sooner. Each look costs a wake-up and
// cold caches, so the poll is long and a reader who needs the lines now
// asks for them. The Clock is injected, so tests step a follower.

// FileOptions configure a file source.
type FileOptions struct {
	Path          string
	Poll          time.Duration // how often to look; default 2s (Sync looks at once)
	RotateWait    time.Duration // how long a rotated file must be quiet before it is let go; default 5s
	FromBeginning bool          // without Resume: read the file from its start instead of its end
	Inotify       bool          // also wake on inotify events in the log's directory (Linux)
	Resume        *Position     // where a previous run stopped
	Logger        *slog.Logger
	Clock         Clock // default RealClock
	// FirstTime reads the log time of a file's first line (mtime is the
	// file's modification time, for year-less time stamps). It orders the
	// rotated files found unread; without it, or when it fails, their
	// modification time does.
	FirstTime func(line []byte, mtime time.Time) (time.Time, bool)
}

// maxOpenRotated bounds the rotated files kept open at once: beyond it the
// oldest quiet ones are let go before their RotateWait.
const maxOpenRotated = 16

// maxKnown bounds the fingerprints remembered of rotated files.
const maxKnown = 1024

// File follows one log file through rotations. Make it with NewFile.
type File struct {
	FileOptions
	h      Handler
	files  []*openFile // oldest first; the last is at the path unless it is rotated
	known  []Fingerprint
	pos    Position
	lines  []Line
	buf    []byte
	status status
	warned string
	wake   chan struct{}
	looks  looks
	dirMod time.Time // the directory's modification time at the last look at the siblings
	// knownSeen is when each known fingerprint was last seen next to the
	// path: one scan can miss a file that is being renamed, so a known file
	// is forgotten only after it has been gone for a while.
	knownSeen map[Fingerprint]time.Time
}

// forgetAfter is how long a known rotated file must be gone before it is
// forgotten.
const forgetAfter = time.Minute

type openFile struct {
	path     string
	f        *os.File
	r        io.Reader // f, or a gzip reader on it
	gz       bool
	dev, ino uint64
	birth    int64
	fp       Fingerprint
	offset   int64 // after the last complete line handed out
	lines    splitter
	rotated  bool
	quiet    time.Time // rotated: when it was last seen to grow
	atEOF    bool      // it was read to its end once
}

// NewFile returns a follower of opts.Path.
func NewFile(opts FileOptions) *File {
	if opts.Poll <= 0 {
		opts.Poll = 2 * time.Second
	}
	if opts.RotateWait <= 0 {
		opts.RotateWait = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = RealClock{}
	}
	f := &File{FileOptions: opts, buf: make([]byte, 64<<10), wake: make(chan struct{}, 1)}
	f.status.s = Status{Kind: "file", Target: opts.Path}
	return f
}

// Status implements Source.
func (fl *File) Status() Status { return fl.status.get() }

// Run implements Source: it follows the file until ctx is done.
func (fl *File) Run(ctx context.Context, h Handler) error {
	fl.h = h
	defer fl.closeAll()
	if fl.Inotify {
		stop, err := watchDir(fl.Path, fl.wake)
		if err != nil {
			return fmt.Errorf("tailer: inotify on %s: %w", filepath.Dir(fl.Path), err)
		}
		defer stop()
	}
	defer fl.looks.stop()
	fl.start()
	fl.handOut() // where it starts: a checkpoint before the first line has it
	for {
		fl.looks.begin()
		settled := fl.poll()
		fl.publish(settled)
		fl.looks.end()
		next := fl.Poll
		for _, of := range fl.files {
			if of.rotated {
				// Look again when it may be let go, whatever wakes us.
				next = min(next, max(of.quiet.Add(fl.RotateWait).Sub(fl.Clock.Now()), time.Millisecond))
			}
		}
		if !fl.Clock.Sleep(ctx, next, fl.wake) {
			fl.drain()
			fl.publish(true)
			return nil
		}
	}
}

// Sync returns once the follower has looked at the log after the call: the
// lines written before it have been handed out (unless a rotated file was
// still being written, when the newer files wait for the next look). A scrape
// calls it, so that /metrics counts what the log held when it was asked,
// whatever the poll. It returns ctx's error if ctx ends first, and nil at
// once when the follower has stopped.
func (fl *File) Sync(ctx context.Context) error {
	done, want := fl.looks.after()
	select { // wake the loop; a pending wake-up does as well
	case fl.wake <- struct{}{}:
	default:
	}
	for done != nil {
		select {
		case <-done:
		case <-ctx.Done():
			return ctx.Err()
		}
		done = fl.looks.waitFor(want)
	}
	return nil
}

// looks counts the follower's looks at the log, for Sync.
type looks struct {
	mu       sync.Mutex
	begun    uint64
	finished uint64
	stopped  bool
	done     chan struct{} // closed when a look finishes, then replaced
}

func (l *looks) begin() {
	l.mu.Lock()
	l.begun++
	l.mu.Unlock()
}

func (l *looks) end() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.finished = l.begun
	if l.done != nil {
		close(l.done)
		l.done = nil
	}
}

func (l *looks) stop() {
	l.mu.Lock()
	l.stopped = true
	l.mu.Unlock()
	l.end()
}

// after returns the look a caller must wait for, the next to begin, and a
// channel closed when a look finishes.
func (l *looks) after() (<-chan struct{}, uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.waitLocked(l.begun + 1), l.begun + 1
}

// waitFor returns nil when look want has finished (or the follower stopped),
// or else a channel closed when the next look finishes.
func (l *looks) waitFor(want uint64) <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.waitLocked(want)
}

func (l *looks) waitLocked(want uint64) <-chan struct{} {
	if l.stopped || l.finished >= want {
		return nil
	}
	if l.done == nil {
		l.done = make(chan struct{})
	}
	return l.done
}

// publish updates the status after a look.
func (fl *File) publish(settled bool) {
	fl.status.update(func(s *Status) {
		if settled {
			s.CaughtUp = true
		}
		s.Problem = fl.warned
		s.Files = s.Files[:0]
		for _, of := range fl.files {
			s.Files = append(s.Files, FileStatus{Path: of.path, Offset: of.offset, Rotated: of.rotated})
		}
	})
}

func (fl *File) closeAll() {
	for _, of := range fl.files {
		of.f.Close()
	}
	fl.files = nil
}

// drain reads what is there before a stop, so that a SIGTERM loses nothing
// that was already written.
func (fl *File) drain() {
	for _, of := range fl.files {
		fl.read(of)
	}
}

// ---- start ----

// start opens the files where the previous run stopped, finds what was
// rotated meanwhile, or (first start) opens the path at its end.
func (fl *File) start() {
	fl.dirMod = fl.dirModTime()
	sibs := fl.siblings()
	if fl.Resume == nil {
		// What is next to the path now is older than what we read from here on.
		for _, s := range sibs {
			fl.known = append(fl.known, s.fp)
		}
		fl.capKnown()
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
		fl.files = []*openFile{of}
		return
	}
	fl.known = fl.Resume.Known
	atPath, _ := fl.identify(fl.Path)
	used := map[string]bool{}
	for _, fp := range fl.Resume.Files {
		if fp.FP.Len() == 0 {
			// Nothing read of it yet: its content, wherever it is now, is
			// read from its start as a rotated or a new file.
			continue
		}
		of, finished := fl.reopen(fp, atPath, sibs, used)
		switch {
		case of != nil:
			fl.files = append(fl.files, of)
			continue
		case finished:
		case fp.Size > fp.Offset || !fp.Rotated:
			// A rotated file read to its end and quiet had nothing more to
			// give; any other may have had lines we never saw.
			lost := max(fp.Size-fp.Offset, 0)
			fl.Logger.Warn("a log file read before the restart is gone; its unread lines are lost", "path", fp.Path, "offset", fp.Offset, "unread_bytes_at_least", lost)
			fl.h.Lost(fp.Path, lost)
		}
		// Never read again from its start, should it come back.
		fl.addKnown(fp.FP)
	}
	// The file at the path is the last one we had open, or new since. Each
	// file that left the path meanwhile is a rotation, as it would have
	// been counted had we been running: of the kind the last one shows.
	kind := "rename"
	if n := len(fl.Resume.Files); n > 0 {
		last := fl.Resume.Files[n-1]
		sameFile := last.Dev == atPath.dev && last.Ino == atPath.ino &&
			(last.Birth == 0 || atPath.birth == 0 || last.Birth == atPath.birth) // not a new file given a freed inode
		if !last.Rotated && sameFile {
			kind = "truncate"
		}
	}
	cur := len(fl.files) > 0 && !fl.files[len(fl.files)-1].rotated
	if n := len(fl.Resume.Files); !cur && n > 0 && !fl.Resume.Files[n-1].Rotated {
		fl.h.Rotated(kind)
	}
	fl.addUnread(sibs, used, kind)
	if !cur {
		if of, err := fl.open(fl.Path); err == nil {
			fl.files = append(fl.files, of) // new since: from its start
		} else {
			fl.report(err)
		}
	}
}

// sibling is a file next to the path that may be a rotated copy of it.
type sibling struct {
	path     string
	dev, ino uint64
	birth    int64
	fp       Fingerprint
	mtime    time.Time
	size     int64 // of the file; of the compressed data for a .gz
	gz       bool
}

// siblings lists the files whose names start with the path's name and a
// separator (mail.log.1, mail.log.2.gz, mail.log-20261130), with their
// fingerprints. Empty files are left out: they have nothing to read.
func (fl *File) siblings() []sibling {
	dir, base := filepath.Split(fl.Path)
	entries, err := os.ReadDir(filepath.Clean(dir))
	if err != nil {
		return nil
	}
	var out []sibling
	for _, e := range entries {
		name := e.Name()
		rest, ok := strings.CutPrefix(name, base)
		if !ok || rest == "" || !strings.ContainsRune(".-_", rune(rest[0])) || e.IsDir() {
			continue
		}
		if s, ok := fl.identify(filepath.Join(dir, name)); ok && s.fp.Len() > 0 {
			out = append(out, s)
		}
	}
	return out
}

// identify reads a file's identity and fingerprint.
func (fl *File) identify(path string) (sibling, bool) {
	f, err := os.Open(path)
	if err != nil {
		return sibling{}, false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return sibling{}, false
	}
	s := sibling{path: path, mtime: st.ModTime(), size: st.Size(), birth: birth(path)}
	s.dev, s.ino = fileID(st)
	r, gz, err := contentReader(f)
	s.gz = gz
	if err != nil {
		return s, true
	}
	n, _ := io.ReadFull(r, s.fp.b[:])
	s.fp.n = uint8(n)
	return s, true
}

// contentReader returns the content of f: f itself, or its decompressed
// data when it starts with gzip's magic bytes.
func contentReader(f *os.File) (io.Reader, bool, error) {
	var magic [2]byte
	n, _ := f.ReadAt(magic[:], 0)
	if n == 2 && magic == [2]byte{0x1f, 0x8b} {
		zr, err := gzip.NewReader(bufio.NewReader(f))
		if err != nil {
			return nil, true, err
		}
		return zr, true, nil
	}
	return f, false, nil
}

// reopen finds a checkpointed file again: the same file (device, inode and
// fingerprint), else a copy of its content (compressed, or the copy
// copytruncate left), and positions it at its offset. finished says the
// content was found but holds nothing after the offset (a copy made before
// the last lines were written to the original).
func (fl *File) reopen(fp FilePos, atPath sibling, sibs []sibling, used map[string]bool) (of *openFile, finished bool) {
	candidates := append([]sibling{atPath}, sibs...)
	pick := func(same bool) *sibling {
		for i := range candidates {
			c := &candidates[i]
			if c.path == "" || used[c.path] || !c.fp.matches(fp.FP) {
				continue
			}
			if same == (c.dev == fp.Dev && c.ino == fp.Ino) {
				return c
			}
		}
		return nil
	}
	c := pick(true)
	if c != nil && !c.gz && c.size < fp.Offset {
		c = nil // the same file, cut while we were down: the lines are in a copy
	}
	if c == nil {
		c = pick(false)
	}
	if c == nil {
		return nil, false
	}
	used[c.path] = true
	of, err := fl.open(c.path)
	if err != nil {
		fl.report(err)
		return nil, false
	}
	of.fp = fp.FP
	if err := fl.skipTo(of, fp.Offset); err != nil {
		of.f.Close()
		if errors.Is(err, io.EOF) {
			return nil, true
		}
		fl.Logger.Warn("cannot resume a log file at its offset", "path", c.path, "offset", fp.Offset, "err", err)
		return nil, false
	}
	if c.path != fl.Path || of.dev != atPath.dev || of.ino != atPath.ino {
		of.rotated, of.quiet = true, fl.Clock.Now()
	}
	if c.path != fp.Path {
		fl.Logger.Info("resuming a log file under its new name", "was", fp.Path, "now", c.path, "offset", fp.Offset)
	}
	return of, false
}

// skipTo positions a file at offset: a seek, or for compressed data,
// reading and dropping that much of it.
func (fl *File) skipTo(of *openFile, offset int64) error {
	if of.gz {
		if _, err := io.CopyN(io.Discard, of.r, offset); err != nil {
			return err
		}
	} else {
		st, err := of.f.Stat()
		if err != nil {
			return err
		}
		if st.Size() < offset {
			return io.EOF
		}
		if _, err := of.f.Seek(offset, io.SeekStart); err != nil {
			return err
		}
	}
	of.offset = offset
	return nil
}

// addUnread opens, as rotated files, the siblings that are neither known nor
// open nor used already: files rotated while we were not looking. They come
// after the files open now, in the order of their first lines. Each is a
// rotation of the given kind.
func (fl *File) addUnread(sibs []sibling, used map[string]bool, kind string) {
	var unread []sibling
	for _, s := range sibs {
		if used[s.path] || fl.isKnown(s.fp) || fl.isOpen(s) {
			continue
		}
		unread = append(unread, s)
	}
	fl.pruneKnown(sibs)
	if len(unread) == 0 {
		return
	}
	type keyed struct {
		s sibling
		t time.Time // of the first line; zero when unknown
	}
	ks := make([]keyed, len(unread))
	for i, s := range unread {
		ks[i] = keyed{s: s}
		if fl.FirstTime != nil {
			if t, ok := fl.FirstTime(firstLine(s.fp.bytes()), s.mtime); ok {
				ks[i].t = t
			}
		}
	}
	slices.SortStableFunc(ks, func(a, b keyed) int {
		if !a.t.IsZero() && !b.t.IsZero() {
			if c := a.t.Compare(b.t); c != 0 {
				return c
			}
		}
		return cmp.Or(fl.nameOrder(a.s.path, b.s.path), a.s.mtime.Compare(b.s.mtime))
	})
	for _, k := range ks {
		of, err := fl.open(k.s.path)
		if err != nil {
			fl.report(err)
			continue
		}
		of.rotated, of.quiet = true, fl.Clock.Now()
		used[k.s.path] = true
		fl.Logger.Info("reading a log file rotated while it was not followed", "path", k.s.path)
		fl.h.Rotated(kind)
		// Before the file at the path, if it is open.
		at := len(fl.files)
		if at > 0 && !fl.files[at-1].rotated {
			at--
		}
		fl.files = slices.Insert(fl.files, at, of)
	}
}

// nameOrder orders two rotated files by what their names say, when their
// first lines do not: a bigger number after the name is older (logrotate's
// mail.log.2 is older than mail.log.1), other suffixes sort as text (dateext
// counts up).
func (fl *File) nameOrder(a, b string) int {
	base := filepath.Base(fl.Path)
	ra := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(a), base), ".gz")
	rb := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(b), base), ".gz")
	na, errA := strconv.Atoi(strings.TrimPrefix(ra, "."))
	nb, errB := strconv.Atoi(strings.TrimPrefix(rb, "."))
	if errA == nil && errB == nil && ra[0] == '.' && rb[0] == '.' {
		return cmp.Compare(nb, na)
	}
	return strings.Compare(ra, rb)
}

// firstLine returns the first line of a fingerprint (up to its newline).
func firstLine(b []byte) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i]
	}
	return b
}

func (fl *File) isKnown(fp Fingerprint) bool {
	for _, k := range fl.known {
		if k.matches(fp) {
			return true
		}
	}
	return false
}

func (fl *File) isOpen(s sibling) bool {
	for _, of := range fl.files {
		if (of.dev == s.dev && of.ino == s.ino) || of.fp.matches(s.fp) {
			return true
		}
	}
	return false
}

// pruneKnown forgets fingerprints of files that have been gone for a while:
// they cannot be mistaken for unread ones any more. The slice is replaced,
// never changed.
func (fl *File) pruneKnown(sibs []sibling) {
	if fl.knownSeen == nil {
		fl.knownSeen = map[Fingerprint]time.Time{}
	}
	now := fl.Clock.Now()
	keep := fl.known[:0:0]
	for _, k := range fl.known {
		seen, ok := fl.knownSeen[k]
		for _, s := range sibs {
			if k.matches(s.fp) {
				seen, ok = now, true
				break
			}
		}
		if !ok {
			seen = now // known from a checkpoint: give it time to be seen
		}
		if now.Sub(seen) < forgetAfter {
			keep = append(keep, k)
			fl.knownSeen[k] = seen
		} else {
			delete(fl.knownSeen, k)
		}
	}
	if len(keep) != len(fl.known) {
		fl.known = keep
	}
}

// addKnown remembers a file let go after it was read to its end.
func (fl *File) addKnown(fp Fingerprint) {
	if fp.Len() == 0 {
		return
	}
	fl.known = append(slices.Clip(fl.known), fp)
	fl.capKnown()
}

func (fl *File) capKnown() {
	if n := len(fl.known); n > maxKnown {
		fl.known = slices.Clone(fl.known[n-maxKnown:])
	}
}

func (fl *File) open(path string) (*openFile, error) {
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
	of := &openFile{path: path, f: f, r: f, birth: birth(path)}
	of.dev, of.ino = fileID(st)
	r, gz, err := contentReader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	of.r, of.gz = r, gz
	if gz {
		// The fingerprint of compressed data is taken from its decompressed
		// start, which the reads go through.
		return of, nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	return of, nil
}

// seekToLastLine starts a file at its end, after its last complete line.
func (fl *File) seekToLastLine(of *openFile) error {
	st, err := of.f.Stat()
	if err != nil {
		return err
	}
	end := st.Size()
	n, err := of.f.ReadAt(of.fp.b[:min(end, fingerprintBytes)], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	of.fp.n = uint8(n)
	maxLine := int64(fl.h.MaxLineBytes())
	start := max(0, end-maxLine-1)
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

func fileID(st fs.FileInfo) (dev, ino uint64) {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return uint64(s.Dev), s.Ino
	}
	return 0, 0
}

// ---- the loop ----

// poll is one look: check the path for a rotation, then read what is new in
// every open file, oldest first. It returns true when every open file was
// read to its end.
func (fl *File) poll() (settled bool) {
	settled = true
	fl.checkPath()
	now := fl.Clock.Now()
	for i := 0; i < len(fl.files); i++ {
		of := fl.files[i]
		wasEOF := of.atEOF
		got, changed := fl.readChecked(of)
		if changed {
			i-- // files were put before this one: read on from the first
			continue
		}
		if !of.rotated {
			continue
		}
		if got {
			of.quiet = now
			if wasEOF {
				// Its writer is still at it: newer files wait, so that lines
				// reach the parser in the order they were written.
				settled = false
				break
			}
		}
		if now.Sub(of.quiet) >= fl.RotateWait || fl.rotatedCount() > maxOpenRotated {
			fl.release(i)
			i--
		}
	}
	return settled
}

func (fl *File) rotatedCount() int {
	n := 0
	for _, of := range fl.files {
		if of.rotated {
			n++
		}
	}
	return n
}

// release closes a rotated file that has been quiet long enough.
func (fl *File) release(i int) {
	of := fl.files[i]
	of.f.Close()
	fl.files = slices.Delete(fl.files, i, i+1)
	fl.addKnown(of.fp)
	fl.handOut() // the position without it
}

// readChecked reads a file and, for the one at the path, notices a cut. Then
// it puts what the copy holds after our offset, and the files rotated
// meanwhile, before the file's new content, and reports changed: the caller
// reads on from the first of them.
func (fl *File) readChecked(of *openFile) (got, changed bool) {
	got, cut := fl.read(of)
	if of.rotated || !(cut || fl.truncated(of)) {
		return got, false
	}
	fl.h.Rotated("truncate")
	sibs := fl.siblings()
	fl.recoverFromCopy(of, sibs)
	fl.addUnread(sibs, fl.openPaths(), "truncate")
	of.offset, of.fp, of.atEOF = 0, Fingerprint{}, false
	of.lines.reset()
	if _, err := of.f.Seek(0, io.SeekStart); err != nil {
		fl.report(err)
	}
	return got, true
}

// recoverFromCopy reads, from the copy copytruncate made of a file just cut,
// the lines written after our offset and before the copy. The copy is read
// from our offset with nothing buffered: a line we had begun is in it whole.
// Copies with nothing after our offset are only remembered, never read.
func (fl *File) recoverFromCopy(of *openFile, sibs []sibling) {
	found := false
	for _, s := range sibs {
		if (s.dev == of.dev && s.ino == of.ino) || !s.fp.matches(of.fp) || fl.isKnown(s.fp) {
			continue
		}
		if found {
			fl.addKnown(s.fp)
			continue
		}
		cp, err := fl.open(s.path)
		if err != nil {
			continue
		}
		cp.fp = of.fp
		if err := fl.skipTo(cp, of.offset); err != nil {
			cp.f.Close()
			fl.addKnown(s.fp)
			continue
		}
		found = true
		fl.Logger.Info("reading the end of a truncated log from its copy", "copy", s.path, "offset", of.offset)
		cp.rotated, cp.quiet = true, fl.Clock.Now()
		fl.files = slices.Insert(fl.files, slices.Index(fl.files, of), cp)
	}
}

// dirModTime returns the modification time of the path's directory, which
// changes when a file in it is created, renamed or removed.
func (fl *File) dirModTime() time.Time {
	st, err := os.Stat(filepath.Dir(fl.Path))
	if err != nil {
		return time.Time{}
	}
	return st.ModTime()
}

// checkPath looks at the path: a new file there is a rotation, and files
// rotated between two looks come before it. When the directory changed with
// the same file at the path, it looks for such files too (a copytruncate of
// a file we had not read a byte of yet), unless the file at the path was cut:
// readChecked handles that, putting what the copy holds first.
func (fl *File) checkPath() {
	mod := fl.dirModTime()
	dirChanged := !mod.Equal(fl.dirMod)
	fl.dirMod = mod
	var cur *openFile
	if n := len(fl.files); n > 0 && !fl.files[n-1].rotated {
		cur = fl.files[n-1]
	}
	st, err := os.Stat(fl.Path)
	switch {
	case err != nil && cur != nil && errors.Is(err, fs.ErrNotExist):
		// Renamed or deleted, nothing new yet: keep reading it until a new
		// file appears.
		return
	case err != nil:
		fl.report(err)
		return
	case cur != nil:
		if dev, ino := fileID(st); dev == cur.dev && ino == cur.ino {
			if dirChanged && !fl.truncated(cur) {
				// A new file next to the same file at the path is a copy.
				fl.addUnread(fl.siblings(), fl.openPaths(), "truncate")
			}
			return
		}
		fl.h.Rotated("rename")
		cur.rotated, cur.quiet = true, fl.Clock.Now()
	}
	fl.addUnread(fl.siblings(), fl.openPaths(), "rename")
	of, err := fl.open(fl.Path)
	if err != nil {
		fl.report(err)
		return
	}
	fl.warned = ""
	fl.files = append(fl.files, of) // a file that appears is read from its start
}

// openPaths returns the names of the open files.
func (fl *File) openPaths() map[string]bool {
	used := map[string]bool{}
	for _, of := range fl.files {
		used[of.path] = true
	}
	return used
}

// truncated tells whether the file at the path is now shorter than what was
// read of it, or starts with other bytes than when it was first read.
func (fl *File) truncated(of *openFile) bool {
	if of.gz {
		return false
	}
	st, err := of.f.Stat()
	if err != nil {
		return false
	}
	return st.Size() < of.offset+int64(of.lines.buffered()) || !fingerprintMatches(of.f, of.fp)
}

func fingerprintMatches(f *os.File, fp Fingerprint) bool {
	if fp.n == 0 {
		return true
	}
	var b [fingerprintBytes]byte
	n, _ := f.ReadAt(b[:fp.n], 0)
	return n == int(fp.n) && bytes.Equal(b[:n], fp.b[:n])
}

func (fl *File) report(err error) {
	if msg := err.Error(); msg != fl.warned {
		fl.warned = msg
		fl.Logger.Warn("cannot read the log; retrying", "path", fl.Path, "err", err)
	}
}

// read hands out every complete line now in the file. got says whether it
// read anything; cut says the file was truncated under it, in which case what
// it read last was not handed out.
func (fl *File) read(of *openFile) (got, cut bool) {
	for {
		n, err := of.r.Read(fl.buf)
		if n > 0 {
			// Checked after reading: if the file was cut and written again
			// between our last look and this read, the bytes just read are
			// the new file's, from the middle of a line, and must not count.
			if !of.gz && !fingerprintMatches(of.f, of.fp) {
				return got, true
			}
			got = true
			fl.consume(of, fl.buf[:n])
		}
		if err != nil || n == 0 {
			if err != nil && !errors.Is(err, io.EOF) {
				fl.Logger.Warn("reading a log file", "path", of.path, "err", err)
			}
			of.atEOF = true
			return got, false
		}
	}
}

// consume hands out the lines data completes, with the position after them,
// and fills in the fingerprint while the file's first bytes go by.
func (fl *File) consume(of *openFile, data []byte) {
	start := of.offset + int64(of.lines.buffered())
	if start < fingerprintBytes && int64(of.fp.n) == start {
		of.fp.add(data)
	}
	of.lines.max = fl.h.MaxLineBytes()
	fl.lines = fl.lines[:0]
	of.lines.feed(data, func(line []byte, n int, tooLong bool) error {
		of.offset += int64(n)
		fl.lines = append(fl.lines, Line{Data: line, N: n, TooLong: tooLong})
		return nil
	})
	if len(fl.lines) > 0 {
		fl.handOut()
		fl.status.update(func(s *Status) { s.LastRead = fl.Clock.Now() })
	}
}

// handOut gives the lines collected (possibly none) to the handler with the
// position of every open file.
func (fl *File) handOut() {
	fl.pos.Files = fl.pos.Files[:0]
	for _, of := range fl.files {
		fl.pos.Files = append(fl.pos.Files, FilePos{Path: of.path, Dev: of.dev, Ino: of.ino, Birth: of.birth, FP: of.fp,
			Offset: of.offset, Size: of.offset + int64(of.lines.buffered()), Rotated: of.rotated})
	}
	fl.pos.Known = fl.known
	fl.h.Lines(fl.lines, &fl.pos)
	fl.lines = fl.lines[:0]
}
