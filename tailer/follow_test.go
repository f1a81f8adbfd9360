package tailer

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// collector records what a follower hands out.
type collector struct {
	mu        sync.Mutex
	lines     []string
	rotations map[string]int
	last      Position
}

func (c *collector) Line(line []byte, n int, tooLong bool, pos Position) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if tooLong {
		c.lines = append(c.lines, fmt.Sprintf("<too long %d>", n))
	} else {
		c.lines = append(c.lines, string(line))
	}
	c.last = pos
}

func (c *collector) Rotated(kind string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rotations == nil {
		c.rotations = map[string]int{}
	}
	c.rotations[kind]++
}

func (c *collector) snapshot() ([]string, map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := map[string]int{}
	for k, v := range c.rotations {
		r[k] = v
	}
	return append([]string(nil), c.lines...), r
}

// waitFor polls until cond holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// follow starts a follower on path and returns its collector and a stop func.
func follow(t *testing.T, opts Options) (*collector, func()) {
	t.Helper()
	if opts.MaxLineBytes == 0 {
		opts.MaxLineBytes = 1024
	}
	if opts.Poll == 0 {
		opts.Poll = 5 * time.Millisecond
	}
	if opts.RotateWait == 0 {
		opts.RotateWait = 150 * time.Millisecond
	}
	c := &collector{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := Follow(ctx, opts, c); err != nil {
			t.Error(err)
		}
	}()
	return c, func() { cancel(); <-done }
}

// writer appends numbered lines to a path through its own file descriptor,
// as a syslog daemon does.
type writer struct {
	t *testing.T
	f *os.File
	n int
}

func openWriter(t *testing.T, path string) *writer {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	return &writer{t: t, f: f}
}

func (w *writer) write(k int) {
	for range k {
		w.n++
		if _, err := fmt.Fprintf(w.f, "line %d\n", w.n); err != nil {
			w.t.Fatal(err)
		}
	}
}

func (w *writer) reopen(path string) {
	w.f.Close()
	n := w.n
	*w = *openWriter(w.t, path)
	w.n = n
}

// checkExactlyOnce asserts lines 1..n each arrived once, in order.
func checkExactlyOnce(t *testing.T, got []string, n int) {
	t.Helper()
	if len(got) != n {
		t.Errorf("want %d lines, got %d", n, len(got))
	}
	seen := map[string]int{}
	for _, l := range got {
		seen[l]++
	}
	for i := 1; i <= n; i++ {
		if c := seen["line "+strconv.Itoa(i)]; c != 1 {
			t.Errorf("line %d arrived %d times", i, c)
		}
	}
}

func lineCount(c *collector) func() int {
	return func() int { l, _ := c.snapshot(); return len(l) }
}

// TestRotationMatrix follows a file through each way logs are rotated and
// asserts exact line counts: nothing lost, nothing read twice.
func TestRotationMatrix(t *testing.T) {
	tests := []struct {
		name       string
		rotate     func(t *testing.T, path string, w *writer)
		want       int
		rotation   map[string]int
		rotateWait time.Duration // the follower's, when not the test default
	}{
		{
			name: "rename and create, writer keeps appending to the old file for 2s",
			rotate: func(t *testing.T, path string, w *writer) {
				os.Rename(path, path+".1")
				os.WriteFile(path, nil, 0o644)
				for range 20 { // syslog keeps writing to the renamed file until HUP
					w.write(10)
					time.Sleep(100 * time.Millisecond)
				}
				w.reopen(path)
				w.write(100)
			},
			want: 400, rotation: map[string]int{"rename": 1}, rotateWait: time.Second,
		},
		{
			name: "copytruncate",
			rotate: func(t *testing.T, path string, w *writer) {
				data, _ := os.ReadFile(path)
				os.WriteFile(path+".1", data, 0o644)
				os.Truncate(path, 0)
				w.write(100)
			},
			want: 200, rotation: map[string]int{"truncate": 1},
		},
		{
			name: "copytruncate, regrown past the old size before the next look",
			rotate: func(t *testing.T, path string, w *writer) {
				os.Truncate(path, 0)
				w.write(300)
			},
			want: 400, rotation: map[string]int{"truncate": 1},
		},
		{
			name: "nocreate: renamed, the writer goes on in it, a new file comes later",
			rotate: func(t *testing.T, path string, w *writer) {
				os.Rename(path, path+".1")
				w.write(50)
				time.Sleep(50 * time.Millisecond)
				w.reopen(path)
				w.write(50)
			},
			want: 200, rotation: map[string]int{"rename": 1},
		},
		{
			name: "delete and recreate (the inode may be re-used)",
			rotate: func(t *testing.T, path string, w *writer) {
				w.f.Close()
				os.Remove(path)
				w.reopen(path)
				w.write(100)
			},
			want: 200,
		},
		{
			name: "symlink retargeted",
			rotate: func(t *testing.T, path string, w *writer) {
				dir := filepath.Dir(path)
				target := filepath.Join(dir, "mail.log-2")
				w.reopen(target)
				w.write(100)
				tmp := filepath.Join(dir, "link.tmp")
				os.Symlink(target, tmp)
				os.Rename(tmp, path)
			},
			want: 200, rotation: map[string]int{"rename": 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "mail.log")
			wpath := path
			if strings.HasPrefix(tt.name, "symlink") {
				wpath = filepath.Join(dir, "mail.log-1")
				os.WriteFile(wpath, nil, 0o644)
				os.Symlink(wpath, path)
			}
			w := openWriter(t, wpath)
			c, stop := follow(t, Options{Path: path, FromBeginning: true, RotateWait: tt.rotateWait})
			w.write(100)
			waitFor(t, "the first 100 lines", func() bool { return lineCount(c)() == 100 })
			tt.rotate(t, path, w)
			waitFor(t, fmt.Sprintf("%d lines", tt.want), func() bool { return lineCount(c)() >= tt.want })
			time.Sleep(300 * time.Millisecond) // long enough for a duplicate to show
			stop()
			w.f.Close()
			got, rot := c.snapshot()
			checkExactlyOnce(t, got, tt.want)
			if strings.HasPrefix(tt.name, "delete") {
				if rot["rename"]+rot["truncate"] != 1 {
					t.Errorf("want one rotation, got %v", rot)
				}
			} else if fmt.Sprint(rot) != fmt.Sprint(tt.rotation) {
				t.Errorf("want rotations %v, got %v", tt.rotation, rot)
			}
		})
	}
}

func TestMissingAtStartThenCreated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mail.log")
	looked := make(chan struct{}, 1) // the follower reports the missing file once it has looked
	c, stop := follow(t, Options{Path: path, Logger: slog.New(signal{looked})})
	defer stop()
	<-looked
	w := openWriter(t, path)
	w.write(50)
	waitFor(t, "50 lines", func() bool { return lineCount(c)() == 50 })
	w.write(50)
	waitFor(t, "100 lines", func() bool { return lineCount(c)() == 100 })
	got, _ := c.snapshot()
	checkExactlyOnce(t, got, 100)
}

// signal is a slog handler that tells a test a record was logged.
type signal struct{ ch chan<- struct{} }

func (s signal) Enabled(context.Context, slog.Level) bool { return true }
func (s signal) WithAttrs([]slog.Attr) slog.Handler       { return s }
func (s signal) WithGroup(string) slog.Handler            { return s }
func (s signal) Handle(context.Context, slog.Record) error {
	select {
	case s.ch <- struct{}{}:
	default:
	}
	return nil
}

// TestStartsAtEnd: without a resume point a follower starts after the last
// complete line, and a half-written line is read once it is complete.
func TestStartsAtEnd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mail.log")
	os.WriteFile(path, []byte("old 1\nold 2\nhalf"), 0o644)
	caught := make(chan struct{})
	c, stop := follow(t, Options{Path: path, CaughtUp: func() { close(caught) }})
	defer stop()
	<-caught
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(" done\nnew\n")
	f.Close()
	waitFor(t, "2 lines", func() bool { return lineCount(c)() == 2 })
	got, _ := c.snapshot()
	if fmt.Sprint(got) != "[half done new]" {
		t.Errorf("want [half done new], got %q", got)
	}
}

// TestPartialLinesAndLongLines: a line written in pieces is handed out whole,
// and an over-long line is skipped and counted without being kept.
func TestPartialLinesAndLongLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mail.log")
	f, _ := os.Create(path)
	defer f.Close()
	c, stop := follow(t, Options{Path: path, FromBeginning: true, MaxLineBytes: 100})
	defer stop()
	f.WriteString("par")
	time.Sleep(20 * time.Millisecond)
	f.WriteString("tial\n")
	f.WriteString(strings.Repeat("x", 150))
	time.Sleep(20 * time.Millisecond)
	f.WriteString(strings.Repeat("x", 10000) + "\nafter\n")
	waitFor(t, "3 lines", func() bool { return lineCount(c)() == 3 })
	got, _ := c.snapshot()
	if want := "[partial <too long 10151> after]"; fmt.Sprint(got) != want {
		t.Errorf("want %s, got %q", want, got)
	}
	if c.last.Offset != int64(8+10151+6) {
		t.Errorf("want offset %d, got %d", 8+10151+6, c.last.Offset)
	}
}

// TestResume: a follower resumes after the position a previous one reached,
// in the same file or, when that was rotated away meanwhile, in the rotated
// file first and then the new one.
func TestResume(t *testing.T) {
	for _, rotated := range []bool{false, true} {
		t.Run(fmt.Sprintf("rotated while down=%v", rotated), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "mail.log")
			w := openWriter(t, path)
			c, stop := follow(t, Options{Path: path, FromBeginning: true})
			w.write(100)
			waitFor(t, "100 lines", func() bool { return lineCount(c)() == 100 })
			stop()
			pos := c.last
			w.write(30) // written while stopped
			want := 130
			if rotated {
				os.Rename(path, path+".1")
				w.reopen(path)
				w.write(20)
				want = 150
			}
			c2, stop2 := follow(t, Options{Path: path, Resume: &pos})
			defer stop2()
			waitFor(t, "the rest", func() bool { return lineCount(c2)()+100 >= want })
			time.Sleep(200 * time.Millisecond)
			got1, _ := c.snapshot()
			got2, _ := c2.snapshot()
			checkExactlyOnce(t, append(got1, got2...), want)
		})
	}
}

// TestInotifyWakes: with inotify the follower reads new lines and follows a
// rename rotation without waiting for a poll (the poll interval here is an
// hour, so only inotify can wake it).
func TestInotifyWakes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mail.log")
	w := openWriter(t, path)
	defer func() { w.f.Close() }()
	c, stop := follow(t, Options{Path: path, FromBeginning: true, Inotify: true, Poll: time.Hour, RotateWait: time.Millisecond})
	defer stop()
	w.write(10)
	waitFor(t, "10 lines", func() bool { return lineCount(c)() == 10 })
	os.Rename(path, path+".1")
	w.reopen(path)
	w.write(10)
	waitFor(t, "20 lines", func() bool { return lineCount(c)() == 20 })
	got, rot := c.snapshot()
	checkExactlyOnce(t, got, 20)
	if rot["rename"] != 1 {
		t.Errorf("want 1 rename, got %v", rot)
	}
}
