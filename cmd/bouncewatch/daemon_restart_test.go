package main

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/exposition"
	"github.com/bouncewatch/bouncewatch/internal/loggen"
	"github.com/bouncewatch/bouncewatch/internal/rotatetest"
)

// feeder writes a generated Postfix mix into a log as a syslog daemon does
// and rotates it as logrotate does. After a rename it goes on in the renamed
// file for linger (the syslog daemon before its HUP). Every line it writes is
// also kept, in order, in one file for report.
type feeder struct {
	t        *testing.T
	mu       sync.Mutex
	path     string
	rot      *rotatetest.Rotator
	linger   time.Duration
	lines    [][]byte
	next     int
	f        *os.File
	reopenAt time.Time // while non-zero, the writer is still on a renamed file
	all      *bufio.Writer
	allFile  *os.File
	bytes    int64
	rotated  int
}

func newFeeder(t *testing.T, dir string, n int, rot rotatetest.Rotator, linger time.Duration) *feeder {
	t.Helper()
	var buf bytes.Buffer
	if err := loggen.Postfix(&buf, n, 7); err != nil {
		t.Fatal(err)
	}
	fd := &feeder{t: t, path: filepath.Join(dir, "mail.log"), rot: &rot, linger: linger}
	fd.rot.Path = fd.path
	for l := range bytes.Lines(buf.Bytes()) {
		fd.lines = append(fd.lines, l)
	}
	var err error
	if fd.allFile, err = os.Create(filepath.Join(dir, "all.log")); err != nil {
		t.Fatal(err)
	}
	fd.all = bufio.NewWriter(fd.allFile)
	fd.reopen()
	t.Cleanup(func() { fd.f.Close(); fd.allFile.Close() })
	return fd
}

func (fd *feeder) reopen() {
	if fd.f != nil {
		fd.f.Close()
	}
	f, err := os.OpenFile(fd.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		fd.t.Error(err)
		return
	}
	fd.f, fd.reopenAt = f, time.Time{}
}

// write appends up to n lines; it reports false once all are written.
func (fd *feeder) write(n int) bool {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	if !fd.reopenAt.IsZero() && time.Now().After(fd.reopenAt) {
		fd.reopen()
	}
	var chunk []byte
	for ; n > 0 && fd.next < len(fd.lines); n-- {
		chunk = append(chunk, fd.lines[fd.next]...)
		fd.next++
	}
	if _, err := fd.f.Write(chunk); err != nil {
		fd.t.Error(err)
	}
	fd.all.Write(chunk)
	fd.bytes += int64(len(chunk))
	return fd.next < len(fd.lines)
}

func (fd *feeder) rotate() {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	if !fd.reopenAt.IsZero() {
		fd.reopen() // the HUP of the last rotation came before this one
	}
	if err := fd.rot.Rotate(); err != nil {
		fd.t.Error(err)
	}
	fd.rotated++
	if !fd.rot.CopyTruncate {
		fd.reopenAt = time.Now().Add(fd.linger)
	}
}

// finish makes the writer reopen the path and returns the file with every
// line written, and its size.
func (fd *feeder) finish() (string, int64) {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	if !fd.reopenAt.IsZero() {
		fd.reopen()
	}
	fd.all.Flush()
	return fd.allFile.Name(), fd.bytes
}

// run writes rate lines a second, rotating every rotateEvery lines, until
// every line is written or stop is closed.
func (fd *feeder) run(rate, rotateEvery int, stop <-chan struct{}) {
	start := time.Now()
	written := 0
	for {
		want := int(time.Since(start).Seconds() * float64(rate))
		for written < want {
			k := min(want-written, rotateEvery-written%rotateEvery)
			more := fd.write(k)
			written += k
			if written%rotateEvery == 0 {
				fd.rotate()
			}
			if !more {
				return
			}
		}
		select {
		case <-stop:
			return
		case <-time.After(5 * time.Millisecond): // pacing the writer, not synchronisation
		}
	}
}

// watcher scrapes a daemon again and again and checks that no counter ever
// goes below what an earlier scrape (of this or an earlier process) showed.
type watcher struct {
	t     *testing.T
	last  exposition.Samples
	downs []string
}

func (w *watcher) check(s exposition.Samples, when string) {
	if s == nil {
		return
	}
	now := s.Counters()
	for _, d := range exposition.WentDown(w.last, now) {
		w.downs = append(w.downs, when+": "+d)
	}
	w.last = now
}

func (w *watcher) report() {
	if len(w.downs) > 0 {
		w.t.Errorf("Prometheus would have seen %d counter decreases, first: %s", len(w.downs), strings.Join(w.downs[:min(10, len(w.downs))], "\n"))
	}
}

// finalCheck starts the daemon once more after the writer is done and
// compares every counter with report over the same lines.
func finalCheck(t *testing.T, fd *feeder, w *watcher, args []string) {
	t.Helper()
	all, size := fd.finish()
	p := startDaemon(t, args...)
	p.waitHTTP("/-/ready")
	final := p.waitSample(`bouncewatch_log_bytes_total{source="mail"}`, float64(size))
	w.check(final, "after the last restart")
	w.report()
	if d := exposition.Diff(reportCounters(t, "mail", all), final.Counters(), daemonOnly); len(d) > 0 {
		t.Errorf("the daemon differs from report over the same %d lines:\n%s", fd.next, strings.Join(d, "\n"))
	}
	if lost := final[`bouncewatch_log_lost_files_total{source="mail"}`]; lost != 0 {
		t.Errorf("%v files lost", lost)
	}
	if code := p.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("SIGTERM: exit %d", code)
	}
}

// TestKillsWhileRotating is the restart test with the shipped defaults: a
// Postfix mix written at 5,000 lines a second, rotated every 2 seconds
// (logrotate's numbering, the writer going on in the renamed file for half
// a second), the daemon SIGKILLed 20 times at random moments (so often in
// the drain window of a rotated file, with two files open) and restarted on
// the same state file. Every counter must end equal to report over the same
// lines, and no scrape may ever show a counter lower than an earlier one.
func TestKillsWhileRotating(t *testing.T) {
	kills := 20
	if testing.Short() {
		kills = 5
	}
	dir := t.TempDir()
	fd := newFeeder(t, dir, 400_000, rotatetest.Rotator{Keep: 1000, Create: true}, 500*time.Millisecond)
	args := []string{"--source.file=mail=" + fd.path, "--state.file=" + filepath.Join(dir, "state")}
	restarts(t, fd, args, kills, 5000, 10000, false)
}

// TestKillsAtTwentyThousandLinesASecond is the same at 20,000 lines a second,
// renamed every 20,000 lines, with 6 kills over 200,000 lines.
func TestKillsAtTwentyThousandLinesASecond(t *testing.T) {
	dir := t.TempDir()
	fd := newFeeder(t, dir, 200_000, rotatetest.Rotator{Keep: 1000, Create: true}, 500*time.Millisecond)
	args := []string{"--source.file=mail=" + fd.path, "--state.file=" + filepath.Join(dir, "state")}
	restarts(t, fd, args, 6, 20000, 20000, true)
}

// restarts runs the writer and kills the daemon kills times; with all, the
// writer then writes every line before the last start.
func restarts(t *testing.T, fd *feeder, args []string, kills, rate, rotateEvery int, all bool) {
	w := &watcher{t: t}
	// The first start, on the empty log: from its end is from its start.
	p := startDaemon(t, args...)
	p.waitHTTP("/-/ready")
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { defer close(done); fd.run(rate, rotateEvery, stop) }()
	rng := rand.New(rand.NewPCG(uint64(rate), 3))
	for i := range kills {
		if i > 0 {
			p = startDaemon(t, args...)
			p.waitHTTP("/metrics")
		}
		until := time.Now().Add(time.Duration(300+rng.IntN(1700)) * time.Millisecond)
		for time.Now().Before(until) {
			w.check(p.scrape(), fmt.Sprintf("run %d", i))
			time.Sleep(time.Duration(50+rng.IntN(100)) * time.Millisecond)
		}
		p.stop(syscall.SIGKILL)
		select {
		case <-done:
		default:
			continue
		}
		break
	}
	if !all {
		close(stop)
	}
	<-done
	t.Logf("%d lines in %d rotations, %d kills", fd.next, fd.rotated, kills)
	finalCheck(t, fd, w, args)
}

// TestDownAcrossRotations: the daemon is killed, the log is rotated 1, 2 or
// 3 times while it is down, as Debian's logrotate does for mail.log
// (compress, delaycompress), with dateext, and with copytruncate; the
// restart reads the rest of each file it had, every file rotated meanwhile
// and the new one, each exactly once.
func TestDownAcrossRotations(t *testing.T) {
	schemes := []struct {
		name string
		rot  rotatetest.Rotator
	}{
		{"compress+delaycompress", rotatetest.Rotator{Keep: 7, Compress: true, Delay: true, Create: true}},
		{"dateext+compress+delaycompress", rotatetest.Rotator{Keep: 7, DateExt: true, Compress: true, Delay: true, Create: true}},
		{"copytruncate+compress+delaycompress", rotatetest.Rotator{Keep: 7, CopyTruncate: true, Compress: true, Delay: true}},
	}
	for _, sc := range schemes {
		for _, down := range []int{1, 2, 3} {
			t.Run(fmt.Sprintf("%s/%d", sc.name, down), func(t *testing.T) {
				dir := t.TempDir()
				fd := newFeeder(t, dir, 60_000, sc.rot, 500*time.Millisecond)
				args := []string{"--source.file=mail=" + fd.path, "--state.file=" + filepath.Join(dir, "state")}
				w := &watcher{t: t}
				p := startDaemon(t, args...)
				p.waitHTTP("/-/ready")
				fd.write(3000)
				fd.rotate() // one rotation while it runs: two files open for 5 s
				fd.write(2000)
				w.check(p.waitSample(`bouncewatch_log_bytes_total{source="mail"}`, float64(fd.bytes)), "before the kill")
				fd.write(1000) // perhaps read, surely not checkpointed
				time.Sleep(100 * time.Millisecond)
				w.check(p.scrape(), "before the kill")
				p.stop(syscall.SIGKILL)
				for range down {
					fd.write(2000)
					fd.rotate()
				}
				time.Sleep(600 * time.Millisecond) // past the linger: the writer is on the new file
				fd.write(1500)
				p = startDaemon(t, args...)
				p.waitHTTP("/metrics")
				w.check(p.scrape(), "after the restart")
				fd.write(500)
				p.stop(syscall.SIGTERM)
				finalCheck(t, fd, w, args)
			})
		}
	}
}
