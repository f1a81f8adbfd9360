package tailer

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/rotatetest"
)

// TestSoakRotations follows a log for a few seconds of real time under a
// writer of 20,000 numbered lines a second, rotated every 100ms as logrotate
// does (numbered, with delaycompress), often more than once between two
// looks of the follower, the writer going on in the renamed file for 1 to
// 20ms before it reopens the path. Every line must arrive exactly once, and
// once the follower stops its goroutines and descriptors must be gone.
func TestSoakRotations(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test: skipped with -short")
	}
	for _, inotify := range []bool{false, true} {
		t.Run(fmt.Sprintf("inotify=%v", inotify), func(t *testing.T) { soak(t, inotify, 1500*time.Millisecond) })
	}
}

func soak(t *testing.T, inotify bool, length time.Duration) {
	const rate = 20000
	dir := t.TempDir()
	path := filepath.Join(dir, "mail.log")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	baseGoroutines, baseFDs := runtime.NumGoroutine(), openFDs(t)
	// No GC while the test runs: it would close a file the follower forgot
	// to close (an *os.File's cleanup does), hiding the leak.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))

	w := openWriter(t, path)
	lr := rotatetest.Rotator{Path: path, Keep: 1000, Compress: true, Delay: true, Create: true}
	c := newCollector()
	// A slow look (5ms) and a RotateWait well above the writer's 20ms on a
	// renamed file: several rotations happen between two looks.
	fl := NewFile(FileOptions{Path: path, Poll: 5 * time.Millisecond, RotateWait: 300 * time.Millisecond, Inotify: inotify, FromBeginning: true, Logger: testLogger(t)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fl.Run(ctx, c) }()
	waitFor(t, "the first look", func() bool { return fl.Status().CaughtUp })

	start := time.Now()
	rotations := 0
	var oldUntil, nextRotation time.Time
	nextRotation = start.Add(100 * time.Millisecond)
	for time.Since(start) < length {
		for want := int(time.Since(start).Seconds() * rate); w.n < want; {
			w.write(1)
		}
		now := time.Now()
		switch {
		case !oldUntil.IsZero() && now.After(oldUntil):
			w.reopen()
			oldUntil = time.Time{}
		case oldUntil.IsZero() && now.After(nextRotation):
			rotate(t, &lr)
			rotations++
			oldUntil = now.Add(time.Duration(1+rotations*7%20) * time.Millisecond)
			nextRotation = now.Add(100 * time.Millisecond)
		}
		time.Sleep(200 * time.Microsecond) // pacing the writer, not synchronisation
	}
	w.reopen()
	w.write(100)
	waitFor(t, "every line", func() bool { return len(c.got()) >= w.n })
	cancel()
	if err := <-done; err != nil {
		t.Error(err)
	}
	got := c.got()
	t.Logf("%d rotations, %d lines in %v", rotations, w.n, time.Since(start).Round(time.Millisecond))
	if lost, dup := exactlyOnce(t, got, w.n); lost != 0 || dup != 0 {
		t.Errorf("want %d lines each exactly once, got %d lines: %d lost, %d duplicated", w.n, len(got), lost, dup)
	}
	if c.rotations["rename"] == 0 || c.rotations["rename"] > rotations {
		t.Errorf("%d rotations, %d seen", rotations, c.rotations["rename"])
	}
	w.f.Close()
	waitBaseline(t, "goroutines", baseGoroutines, runtime.NumGoroutine)
	waitBaseline(t, "open file descriptors", baseFDs, func() int { return openFDs(t) })
}

// exactlyOnce counts the lines among 1..n that are missing and those that
// arrived more than once, and logs the first few of each.
func exactlyOnce(t *testing.T, got []string, n int) (lost, dup int) {
	t.Helper()
	seen := make([]int, n+1)
	for _, l := range got {
		k, err := strconv.Atoi(strings.TrimPrefix(l, "line "))
		if err != nil || k < 1 || k > n {
			if dup++; dup <= 5 {
				t.Logf("unexpected line %q", l)
			}
			continue
		}
		seen[k]++
	}
	for k := 1; k <= n; k++ {
		switch {
		case seen[k] == 0:
			if lost++; lost <= 5 {
				t.Logf("line %d lost", k)
			}
		case seen[k] > 1:
			if dup += seen[k] - 1; dup <= 5 {
				t.Logf("line %d arrived %d times", k, seen[k])
			}
		}
	}
	return lost, dup
}

func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count file descriptors: %v", err)
	}
	return len(entries)
}

// waitBaseline polls count until it is back to at most base.
func waitBaseline(t *testing.T, what string, base int, count func() int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for count() > base {
		if time.Now().After(deadline) {
			t.Errorf("%s after the follower stopped: want %d (before the test), got %d", what, base, count())
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitFor polls cond until it holds or 10s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	return context.WithCancel(t.Context())
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, nil))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
