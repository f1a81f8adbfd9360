package main

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/loggen"
)

// logWriter appends generated log lines to a path at a steady pace, and can
// rotate the file (rename to the next mail.log.N, create a new one).
type logWriter struct {
	mu      sync.Mutex
	path    string
	lines   [][]byte
	next    int
	f       *os.File
	rotated []string // rotated files, oldest first
	bytes   int64
}

func newLogWriter(t *testing.T, path string, lines int) *logWriter {
	var buf bytes.Buffer
	if err := loggen.Postfix(&buf, lines, 7); err != nil {
		t.Fatal(err)
	}
	w := &logWriter{path: path}
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		w.lines = append(w.lines, append(append([]byte(nil), sc.Bytes()...), '\n'))
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	w.f = f
	return w
}

// write appends up to n lines; it reports false when all are written.
func (w *logWriter) write(n int) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for ; n > 0 && w.next < len(w.lines); n-- {
		k, _ := w.f.Write(w.lines[w.next])
		w.bytes += int64(k)
		w.next++
	}
	return w.next < len(w.lines)
}

func (w *logWriter) rotate(t *testing.T) {
	w.mu.Lock()
	defer w.mu.Unlock()
	name := fmt.Sprintf("%s.%d", w.path, len(w.rotated)+1)
	if err := os.Rename(w.path, name); err != nil {
		t.Fatal(err)
	}
	w.rotated = append(w.rotated, name)
	w.f.Close()
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	w.f = f
}

// files returns every file written, oldest first, for report.
func (w *logWriter) files() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append(append([]string(nil), w.rotated...), w.path)
}

// checkMonotonic fails when a counter of now is below its value in before.
func checkMonotonic(t *testing.T, before, now map[string]float64, when string) {
	t.Helper()
	var bad []string
	for k, v := range before {
		if now[k] < v {
			bad = append(bad, fmt.Sprintf("%s: %v -> %v", k, v, now[k]))
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Errorf("%s: counters went down:\n%s", when, strings.Join(bad, "\n"))
	}
}

// TestRestartContinuity kills the daemon with SIGKILL (or stops it with
// SIGTERM) at random moments while a writer appends, rotating the log in
// between some restarts. After the last restart every counter equals what
// report computes over the same lines (so nothing was lost or counted twice),
// and no scraped counter ever went down.
func TestRestartContinuity(t *testing.T) {
	for _, tc := range []struct {
		sig   syscall.Signal
		kills int
	}{{syscall.SIGKILL, 20}, {syscall.SIGTERM, 10}} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			kills := tc.kills
			if testing.Short() {
				kills = 5
			}
			restartContinuity(t, tc.sig, kills)
		})
	}
}

func restartContinuity(t *testing.T, sig syscall.Signal, kills int) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mail.log")
	w := newLogWriter(t, path, 30000)
	args := []string{"--source.file=mail=" + path, "--source.from-beginning", "--state.file=" + filepath.Join(dir, "state.json"),
		"--state.interval=30ms", "--tail.rotate-wait=100ms"}

	stop := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for w.write(60) {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	defer func() { close(stop); <-writerDone }()

	rng := rand.New(rand.NewPCG(1, 2))
	last := map[string]float64{}
	for i := 0; i < kills; i++ {
		p := startDaemon(t, args...)
		p.waitHTTP("/-/ready")
		now := counters(p.scrape())
		checkMonotonic(t, last, now, fmt.Sprintf("restart %d", i))
		last = now
		if i%4 == 1 {
			w.rotate(t) // while running
		}
		time.Sleep(time.Duration(50+rng.IntN(250)) * time.Millisecond)
		now = counters(p.scrape())
		checkMonotonic(t, last, now, fmt.Sprintf("run %d", i))
		last = now
		if code := p.stop(sig); sig == syscall.SIGTERM && code != 0 {
			t.Errorf("SIGTERM: exit %d", code)
		}
		if i%4 == 3 {
			w.rotate(t) // while down
		}
	}
	<-writerDone
	p := startDaemon(t, args...)
	p.waitHTTP("/-/ready")
	final := counters(p.waitSample(`bouncewatch_log_bytes_total{source="mail"}`, float64(w.bytes)))
	checkMonotonic(t, last, final, "last restart")
	want := reportCounters(t, "mail", w.files()...)
	if d := diffCounters(want, final); len(d) > 0 {
		sort.Strings(d)
		t.Errorf("after %d times %v the daemon differs from report:\n%s", kills, sig, strings.Join(d, "\n"))
	}
	if code := p.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("SIGTERM: exit %d", code)
	}
}
