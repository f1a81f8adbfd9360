package tailer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSoakRotations follows a log through 1,000 rename rotations under a
// writer of several thousand numbered lines a second that, like a syslog
// daemon before its HUP, goes on appending to the renamed file for 1 to 20ms
// before it reopens the path. Every line must arrive exactly once, every
// rotation must be seen, and once the follower stops its goroutines and file
// descriptors must be gone. The same runs, shorter, with inotify wake-ups,
// which add a goroutine and a descriptor that must go too.
func TestSoakRotations(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test: skipped with -short")
	}
	t.Run("poll", func(t *testing.T) { soakRotations(t, false, 1000) })
	t.Run("inotify", func(t *testing.T) { soakRotations(t, true, 200) })
}

func soakRotations(t *testing.T, inotify bool, rotations int) {
	const (
		rate       = 5000 // lines per second
		poll       = 2 * time.Millisecond
		rotateWait = 30 * time.Millisecond
	)
	dir := t.TempDir()
	path := filepath.Join(dir, "mail.log")
	// Open and close a file once before taking the baseline: the first file
	// opened creates the runtime's poller descriptors, which stay.
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	baseGoroutines, baseFDs := runtime.NumGoroutine(), openFDs(t)
	// No GC while the test runs: it would close a file the follower forgot
	// to close (an *os.File's cleanup does), hiding the leak. The test peaks
	// at about 130 MB under -race this way.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))

	w := openWriter(t, path)
	c := &collector{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	stop := func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("the follower did not return within 10s of its context being cancelled")
		}
	}
	defer stop()
	caughtUp := make(chan struct{})
	opts := Options{
		Path: path, MaxLineBytes: 1024, Poll: poll, RotateWait: rotateWait, Inotify: inotify,
		FromBeginning: true, CaughtUp: func() { close(caughtUp) },
	}
	go func() {
		defer close(done)
		if err := Follow(ctx, opts, c); err != nil {
			t.Error(err)
		}
	}()
	select {
	case <-caughtUp:
	case <-time.After(10 * time.Second):
		t.Fatal("the follower did not catch up with the empty log in time")
	}

	// The writer's loop: keep to the rate; rotate once the follower has seen
	// the previous rotation (a follower that polls a path cannot see a file
	// that was created and renamed away between two of its looks); after a
	// rotation go on writing to the renamed file for 1 to 20ms, then reopen.
	start := time.Now()
	rotated, early := 0, 0
	var oldUntil time.Time // while non-zero, the writer is still on the renamed file
	lastWrite, waitSince := start, start
write:
	for {
		for want := int(time.Since(start).Seconds() * rate); w.n < want; {
			if !oldUntil.IsZero() && time.Since(lastWrite) > rotateWait/2 {
				// The writer was held up (a loaded machine): a line written
				// now could come after the follower let the quiet file go,
				// which RotateWait allows. Reopen, as after a HUP.
				early++
				w.reopen(path)
				oldUntil, waitSince = time.Time{}, time.Now()
			}
			w.write(1)
			lastWrite = time.Now()
		}
		now := time.Now()
		switch {
		case !oldUntil.IsZero():
			if now.After(oldUntil) {
				w.reopen(path)
				oldUntil, waitSince = time.Time{}, now
			}
		case renames(c) == rotated:
			if rotated == rotations {
				break write
			}
			if err := os.Rename(path, path+".1"); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			rotated++
			oldUntil = now.Add(time.Duration(1+rotated*7%20) * time.Millisecond)
		case now.Sub(waitSince) > 10*time.Second:
			t.Fatalf("rotation %d: want it seen within 10s, got %d rotations seen", rotated, renames(c))
		}
		time.Sleep(time.Millisecond) // pacing the writer, not synchronisation
	}
	w.write(100) // lines after the last rotation, in the newest file
	if err := w.f.Close(); err != nil {
		t.Fatal(err)
	}
	total := w.n
	deadline := time.Now().Add(10 * time.Second)
	for received(c) < total && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	elapsed := time.Since(start)
	got, rot := c.snapshot()
	t.Logf("%d rotations, %d lines in %v (%.0f lines/s); early reopens (the writer held up on a renamed file): %d",
		rotations, total, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds(), early)

	if lost, dup := exactlyOnce(t, got, total); lost != 0 || dup != 0 {
		t.Errorf("want %d lines each exactly once, got %d lines: %d lost, %d duplicated", total, len(got), lost, dup)
	}
	if want := fmt.Sprint(map[string]int{"rename": rotations}); fmt.Sprint(rot) != want {
		t.Errorf("want rotations %s, got %v", want, rot)
	}
	waitBaseline(t, "goroutines", baseGoroutines, runtime.NumGoroutine)
	waitBaseline(t, "open file descriptors", baseFDs, func() int { return openFDs(t) })
}

// renames is the number of rename rotations the collector has seen.
func renames(c *collector) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rotations["rename"]
}

// received is the number of lines the collector holds, without copying them.
func received(c *collector) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.lines)
}

// exactlyOnce counts the lines among 1..n that are missing and those that
// arrived more than once, and logs the first few of each; a line that is not
// "line N" with N in 1..n counts as a duplicate.
func exactlyOnce(t *testing.T, got []string, n int) (lost, dup int) {
	t.Helper()
	seen := make([]int, n+1)
	for _, l := range got {
		k, err := strconv.Atoi(strings.TrimPrefix(l, "line "))
		if err != nil || k < 1 || k > n || !strings.HasPrefix(l, "line ") {
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

// openFDs counts the process's open file descriptors.
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
	for {
		n := count()
		if n <= base {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s after the follower stopped: want %d (before the test), got %d", what, base, n)
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}
