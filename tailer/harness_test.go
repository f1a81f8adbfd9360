package tailer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/rotatetest"
)

// stepClock is a Clock the test steps: Sleep tells the test that the
// follower finished a look, then waits until the test lets it look again,
// with the time moved on by what the test says.
type stepClock struct {
	mu   sync.Mutex
	now  time.Time
	idle chan struct{}
	step chan time.Duration
}

func newStepClock() *stepClock {
	return &stepClock{now: time.Date(2026, 11, 30, 6, 0, 0, 0, time.UTC), idle: make(chan struct{}), step: make(chan time.Duration)}
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) Sleep(ctx context.Context, _ time.Duration, _ <-chan struct{}) bool {
	select {
	case c.idle <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	select {
	case d := <-c.step:
		c.mu.Lock()
		c.now = c.now.Add(d)
		c.mu.Unlock()
		return true
	case <-ctx.Done():
		return false
	}
}

// lineTime reads "line N" as the time N seconds after the epoch: the test
// logs' time stamps, which order rotated files as a log's first line does.
func lineTime(line []byte, _ time.Time) (time.Time, bool) {
	n, err := strconv.Atoi(strings.TrimPrefix(string(line), "line "))
	return time.Unix(int64(n), 0), err == nil
}

// noTime is a FirstTime that never reads a time: rotated files are ordered
// by their names.
func noTime([]byte, time.Time) (time.Time, bool) { return time.Time{}, false }

// collector is a Handler that records what a source hands out, and every
// position it was given (the checkpoints a daemon could have written).
type collector struct {
	mu        sync.Mutex
	lines     []string
	positions []Position // positions[i] holds after lines[:marks[i]]
	marks     []int
	rotations map[string]int
	lost      []string
	maxLine   int
}

func newCollector() *collector {
	return &collector{rotations: map[string]int{}, maxLine: 1024}
}

func (c *collector) Lines(lines []Line, pos *Position) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, l := range lines {
		if l.TooLong {
			c.lines = append(c.lines, fmt.Sprintf("<too long %d>", l.N))
		} else {
			c.lines = append(c.lines, string(l.Data))
		}
	}
	var p Position
	pos.CopyTo(&p)
	c.positions = append(c.positions, p)
	c.marks = append(c.marks, len(c.lines))
}

func (c *collector) Rotated(kind string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rotations[kind]++
}

func (c *collector) Lost(path string, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lost = append(c.lost, fmt.Sprintf("%s %d", filepath.Base(path), bytes))
}

func (c *collector) MaxLineBytes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.maxLine
}

func (c *collector) got() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.lines...)
}

// checkpoint returns the last position handed out and the lines before it.
func (c *collector) checkpoint() (Position, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.positions) == 0 {
		return Position{}, nil
	}
	n := len(c.positions) - 1
	return c.positions[n], append([]string(nil), c.lines[:c.marks[n]]...)
}

// stepped is a file follower run by a test, one look at a time.
type stepped struct {
	t     *testing.T
	clock *stepClock
	c     *collector
	fl    *File
	stop  func()
}

// startStepped starts a follower and waits for its first look.
func startStepped(t *testing.T, opts FileOptions, c *collector) *stepped {
	t.Helper()
	if c == nil {
		c = newCollector()
	}
	clock := newStepClock()
	opts.Clock = clock
	if opts.RotateWait == 0 {
		opts.RotateWait = 5 * time.Second // the shipped default
	}
	if opts.FirstTime == nil {
		opts.FirstTime = lineTime
	}
	s := &stepped{t: t, clock: clock, c: c, fl: NewFile(opts)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.fl.Run(ctx, c) }()
	var once sync.Once
	s.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Error(err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the follower did not stop within 10s")
			}
		})
	}
	t.Cleanup(s.stop)
	s.waitIdle()
	return s
}

func (s *stepped) waitIdle() {
	s.t.Helper()
	select {
	case <-s.clock.idle:
	case <-time.After(10 * time.Second):
		s.t.Fatal("the follower did not finish a look within 10s")
	}
}

// look lets the follower look once more, d later than the last look.
func (s *stepped) look(d time.Duration) {
	s.t.Helper()
	select {
	case s.clock.step <- d:
	case <-time.After(10 * time.Second):
		s.t.Fatal("the follower is not waiting for a look")
	}
	s.waitIdle()
}

// settle looks until every rotated file is let go (the default RotateWait).
func (s *stepped) settle() {
	s.t.Helper()
	for range 3 {
		s.look(6 * time.Second)
	}
}

// writer appends numbered lines to a path through its own descriptor, as a
// syslog daemon does: after a rename it goes on in the renamed file until
// it reopens the path.
type writer struct {
	t    *testing.T
	path string
	f    *os.File
	n    int
}

func openWriter(t *testing.T, path string) *writer {
	t.Helper()
	w := &writer{t: t, path: path}
	w.reopen()
	t.Cleanup(func() { w.f.Close() })
	return w
}

func (w *writer) write(k int) {
	w.t.Helper()
	for range k {
		w.n++
		if _, err := fmt.Fprintf(w.f, "line %d\n", w.n); err != nil {
			w.t.Fatal(err)
		}
	}
}

func (w *writer) reopen() {
	w.t.Helper()
	if w.f != nil {
		w.f.Close()
	}
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		w.t.Fatal(err)
	}
	w.f = f
}

// checkExactlyOnce asserts lines 1..n each arrived once, in order.
func checkExactlyOnce(t *testing.T, got []string, n int) {
	t.Helper()
	want := make([]string, n)
	for i := range want {
		want[i] = "line " + strconv.Itoa(i+1)
	}
	if strings.Join(got, "\n") == strings.Join(want, "\n") {
		return
	}
	seen := map[string]int{}
	for _, l := range got {
		seen[l]++
	}
	var missing, twice []int
	for i := 1; i <= n; i++ {
		switch c := seen["line "+strconv.Itoa(i)]; {
		case c == 0:
			missing = append(missing, i)
		case c > 1:
			twice = append(twice, i)
		}
	}
	t.Errorf("want lines 1..%d once each in order, got %d lines; missing %v; more than once %v; first 20 got %q",
		n, len(got), short(missing), short(twice), got[:min(20, len(got))])
}

func short(v []int) []int {
	if len(v) > 20 {
		return append(v[:20:20], -1)
	}
	return v
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	if err := rotatetest.Copy(from, to); err != nil {
		t.Fatal(err)
	}
}

// rotate rotates with r, failing the test on an error.
func rotate(t *testing.T, r *rotatetest.Rotator) {
	t.Helper()
	if err := r.Rotate(); err != nil {
		t.Fatal(err)
	}
}
