package tailer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/rotatetest"
)

// TestRotationMatrix follows a file through each way logs are rotated, with
// a writer that goes on in the old file after a rename (as a syslog daemon
// does until its HUP), and asserts that every line arrives exactly once and
// in order, with the shipped RotateWait.
func TestRotationMatrix(t *testing.T) {
	tests := []struct {
		name   string
		rotate func(t *testing.T, path string, w *writer)
		kind   string
	}{
		{"rename, create, writer goes on in the old file", func(t *testing.T, path string, w *writer) {
			rename(t, path, path+".1")
			w.write(3) // still into the renamed file
			create(t, path)
		}, "rename"},
		{"rename, nocreate: the writer makes the new file", func(t *testing.T, path string, w *writer) {
			rename(t, path, path+".1")
			w.write(3)
		}, "rename"},
		{"delete and recreate", func(t *testing.T, path string, w *writer) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			w.write(2) // into the unlinked file, still open here and in the follower
			create(t, path)
		}, "rename"},
		{"copytruncate, lines written after the last look", func(t *testing.T, path string, w *writer) {
			w.write(3) // in the copy only
			copyFile(t, path, path+".1")
			if err := os.Truncate(path, 0); err != nil {
				t.Fatal(err)
			}
		}, "truncate"},
		{"copytruncate, regrown past the old size before the look", func(t *testing.T, path string, w *writer) {
			copyFile(t, path, path+".1")
			if err := os.Truncate(path, 0); err != nil {
				t.Fatal(err)
			}
			w.write(20) // bigger than before: only the fingerprint tells
		}, "truncate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "mail.log")
			w := openWriter(t, path)
			w.write(5)
			s := startStepped(t, FileOptions{Path: path, FromBeginning: true}, nil)
			tt.rotate(t, path, w)
			s.look(250 * time.Millisecond)
			if tt.kind == "rename" {
				w.reopen() // the HUP
			}
			w.write(4)
			s.look(250 * time.Millisecond)
			s.settle()
			w.write(2)
			s.look(250 * time.Millisecond)
			checkExactlyOnce(t, s.c.got(), w.n)
			if s.c.rotations[tt.kind] != 1 || len(s.c.rotations) != 1 {
				t.Errorf("want one %s rotation, got %v", tt.kind, s.c.rotations)
			}
			if len(s.fl.files) != 1 {
				t.Errorf("want only the file at the path open after RotateWait, got %d files", len(s.fl.files))
			}
		})
	}
}

func rename(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

func create(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestOrderWhileTheOldFileGrows: lines of the new file wait while the renamed
// one still grows, so that a deferral written last into the old file is not
// read after the delivery in the new one.
func TestOrderWhileTheOldFileGrows(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mail.log")
	first := openWriter(t, path)
	first.write(2)
	s := startStepped(t, FileOptions{Path: path, FromBeginning: true}, nil)
	rename(t, path, path+".1")
	second := openWriter(t, path) // already on the new file...
	first.write(3)                // ...while the first still appends to the old one
	second.n = first.n
	second.write(2) // lines 6 and 7, in the new file
	s.look(250 * time.Millisecond)
	if got := s.c.got(); len(got) != 5 {
		t.Errorf("while the old file grows, only its lines: want 5, got %q", got)
	}
	s.look(250 * time.Millisecond)
	checkExactlyOnce(t, s.c.got(), 7)
}

// TestRotationsBetweenLooks: two or three rotations between two looks
// (logrotate forced twice, or a follower paused) must not skip the file in
// between, whatever the naming and compression.
func TestRotationsBetweenLooks(t *testing.T) {
	for _, lr := range []rotatetest.Rotator{
		{Keep: 5, Create: true},
		{Keep: 5, Compress: true, Delay: true, Create: true},
		{Keep: 5, Compress: true, Create: true},
		{Keep: 5, DateExt: true, Compress: true, Delay: true, Create: true},
		{Keep: 5, CopyTruncate: true, Compress: true, Delay: true},
	} {
		for _, n := range []int{2, 3} {
			for _, times := range []bool{true, false} {
				name := fmt.Sprintf("compress=%v,delay=%v,dateext=%v,copytruncate=%v/rotations=%d/first-line-times=%v",
					lr.Compress, lr.Delay, lr.DateExt, lr.CopyTruncate, n, times)
				t.Run(name, func(t *testing.T) {
					dir := t.TempDir()
					path := filepath.Join(dir, "mail.log")
					lr.Path = path
					w := openWriter(t, path)
					w.write(3)
					opts := FileOptions{Path: path, FromBeginning: true}
					if !times {
						opts.FirstTime = noTime
					}
					s := startStepped(t, opts, nil)
					for range n {
						w.write(4)
						rotate(t, &lr)
						w.reopen()
					}
					w.write(2)
					s.look(250 * time.Millisecond)
					s.settle()
					w.write(1)
					s.look(250 * time.Millisecond)
					checkExactlyOnce(t, s.c.got(), w.n)
				})
			}
		}
	}
}

// TestRestartMatrix stops a follower, rotates the log 0 to 3 times as
// logrotate would (rename, compress+delaycompress, dateext, copytruncate)
// while it is down, and starts a new one from the last position the first
// handed out: the rest of each file it had open, every file rotated
// meanwhile and the new file must each be read exactly once, in order.
func TestRestartMatrix(t *testing.T) {
	schemes := map[string]rotatetest.Rotator{
		"rename":                  {Keep: 7, Create: true},
		"compress+delaycompress":  {Keep: 7, Compress: true, Delay: true, Create: true},
		"compress":                {Keep: 7, Compress: true, Create: true},
		"dateext":                 {Keep: 7, DateExt: true, Create: true},
		"dateext+compress+delay":  {Keep: 7, DateExt: true, Compress: true, Delay: true, Create: true},
		"copytruncate":            {Keep: 7, CopyTruncate: true},
		"copytruncate+compress+d": {Keep: 7, CopyTruncate: true, Compress: true, Delay: true},
	}
	for name, lr := range schemes {
		for down := range 4 {
			for _, draining := range []bool{false, true} {
				if draining && lr.CopyTruncate {
					continue // a truncation leaves nothing to drain
				}
				t.Run(fmt.Sprintf("%s/down=%d/draining=%v", name, down, draining), func(t *testing.T) {
					restartCase(t, lr, down, draining)
				})
			}
		}
	}
}

func restartCase(t *testing.T, lr rotatetest.Rotator, down int, draining bool) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mail.log")
	lr.Path = path
	w := openWriter(t, path)
	w.write(3)
	// Old rotated files that were there before the first start: never read.
	rotate(t, &lr)
	w.reopen()
	rotate(t, &lr)
	w.reopen()
	old := w.n
	w.write(4)
	s := startStepped(t, FileOptions{Path: path, FromBeginning: true}, nil)
	if draining {
		// Killed while a renamed file is still drained: two files are open.
		rotate(t, &lr)
		w.write(2) // into the renamed file
		w.reopen()
		w.write(1)
		s.look(250 * time.Millisecond)
		s.look(250 * time.Millisecond)
		if n := len(s.fl.files); n != 2 {
			t.Fatalf("want 2 open files while draining, got %d", n)
		}
	}
	w.write(3)
	s.look(250 * time.Millisecond)
	pos, before := s.c.checkpoint()
	w.write(2) // read by the first follower after its checkpoint: read again
	s.look(250 * time.Millisecond)
	s.stop()
	if draining && len(pos.Files) != 2 {
		t.Fatalf("want both open files in the position, got %+v", pos.Files)
	}
	for range down {
		w.write(3)
		rotate(t, &lr)
		w.reopen()
	}
	w.write(2)
	c := newCollector()
	c.lines = before
	s2 := startStepped(t, FileOptions{Path: path, Resume: &pos}, c)
	s2.settle()
	w.write(1)
	s2.look(250 * time.Millisecond)
	got := c.got()
	// The lines before the first start are not read (they were there already,
	// read from the beginning only for the file at the path).
	want := make([]string, 0, w.n)
	for i := old + 1; i <= w.n; i++ {
		want = append(want, fmt.Sprintf("line %d", i))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("want lines %d..%d once each, in order; got %d lines:\n%s", old+1, w.n, len(got), strings.Join(got, " "))
	}
	if len(c.lost) != 0 {
		t.Errorf("nothing is lost, but got %v", c.lost)
	}
}

// TestRestartFileGone: a file the position names that no longer exists
// anywhere next to the path is reported lost, with its unread bytes.
func TestRestartFileGone(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mail.log")
	w := openWriter(t, path)
	w.write(3)
	s := startStepped(t, FileOptions{Path: path, FromBeginning: true}, nil)
	pos, _ := s.c.checkpoint()
	s.stop()
	w.write(2) // "line 4\nline 5\n": 14 bytes never read
	rename(t, path, path+".1")
	if err := os.Remove(path + ".1"); err != nil {
		t.Fatal(err)
	}
	w.reopen()
	w.write(1)
	pos.Files[0].Size += 14 // as a checkpoint taken after the follower saw them would say
	s2 := startStepped(t, FileOptions{Path: path, Resume: &pos}, nil)
	if fmt.Sprint(s2.c.lost) != "[mail.log 14]" {
		t.Errorf("want the lost file reported with 14 bytes, got %v", s2.c.lost)
	}
	if got := s2.c.got(); fmt.Sprint(got) != "[line 6]" {
		t.Errorf("want the new file read, got %q", got)
	}
}

func TestMissingAtStartThenCreated(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mail.log")
	s := startStepped(t, FileOptions{Path: path}, nil)
	st := s.fl.Status()
	if !st.CaughtUp || !strings.Contains(st.Problem, "no such file") {
		t.Errorf("a missing file: want caught up (nothing to read) with a problem, got %+v", st)
	}
	w := openWriter(t, path)
	w.write(3)
	s.look(250 * time.Millisecond)
	checkExactlyOnce(t, s.c.got(), 3)
	if st := s.fl.Status(); st.Problem != "" {
		t.Errorf("problem not cleared: %q", st.Problem)
	}
}

func TestStartsAtEndOnFirstStart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mail.log")
	w := openWriter(t, path)
	w.write(5)
	fmt.Fprint(w.f, "partial")
	s := startStepped(t, FileOptions{Path: path}, nil)
	fmt.Fprint(w.f, " line\n")
	s.look(250 * time.Millisecond)
	if got := s.c.got(); fmt.Sprint(got) != "[partial line]" {
		t.Errorf("want only the line completed after the start, got %q", got)
	}
}

func TestPartialAndLongLines(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mail.log")
	w := openWriter(t, path)
	s := startStepped(t, FileOptions{Path: path}, nil)
	fmt.Fprint(w.f, "half")
	s.look(250 * time.Millisecond)
	if got := s.c.got(); len(got) != 0 {
		t.Fatalf("a half line was handed out: %q", got)
	}
	fmt.Fprint(w.f, " done\n"+strings.Repeat("x", 3000)+"\nafter\n")
	s.look(250 * time.Millisecond)
	if got := s.c.got(); fmt.Sprint(got) != "[half done <too long 3001> after]" {
		t.Errorf("got %q", got)
	}
}

// TestMaxLineBytesApplies: a reload that raises or lowers the limit applies
// to a running follower at its next read.
func TestMaxLineBytesApplies(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mail.log")
	w := openWriter(t, path)
	s := startStepped(t, FileOptions{Path: path}, nil)
	fmt.Fprintln(w.f, strings.Repeat("a", 2000))
	s.look(250 * time.Millisecond)
	s.c.mu.Lock()
	s.c.maxLine = 4096
	s.c.mu.Unlock()
	fmt.Fprintln(w.f, strings.Repeat("b", 2000))
	s.look(250 * time.Millisecond)
	got := s.c.got()
	if len(got) != 2 || got[0] != "<too long 2001>" || got[1] != strings.Repeat("b", 2000) {
		t.Errorf("want the first line too long and the second read, got %d lines, first %.20q", len(got), got[0])
	}
}

func TestSymlinkRetargeted(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mail.log")
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	w := openWriter(t, a)
	w.write(3)
	if err := os.Symlink(a, path); err != nil {
		t.Fatal(err)
	}
	s := startStepped(t, FileOptions{Path: path, FromBeginning: true}, nil)
	w.write(1)
	w.path = b
	w.reopen()
	w.write(2)
	tmp := path + ".new"
	if err := os.Symlink(b, tmp); err != nil {
		t.Fatal(err)
	}
	rename(t, tmp, path)
	s.look(250 * time.Millisecond)
	s.look(250 * time.Millisecond)
	checkExactlyOnce(t, s.c.got(), 6)
}

func TestUnreadableReportedThenRead(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads any file")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "mail.log")
	w := openWriter(t, path)
	w.write(2)
	os.Chmod(path, 0)
	s := startStepped(t, FileOptions{Path: path, FromBeginning: true}, nil)
	if st := s.fl.Status(); !strings.Contains(st.Problem, "permission denied") {
		t.Errorf("want the permission problem in the status, got %+v", st)
	}
	os.Chmod(path, 0o644)
	s.look(250 * time.Millisecond)
	checkExactlyOnce(t, s.c.got(), 2)
}

// TestInotifyWakes uses the real clock: a line written is read at once,
// long before the next poll.
func TestInotifyWakes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mail.log")
	w := openWriter(t, path)
	c := newCollector()
	fl := NewFile(FileOptions{Path: path, Poll: time.Hour, Inotify: true})
	ctx, cancel := contextWithCancel(t)
	done := make(chan error, 1)
	go func() { done <- fl.Run(ctx, c) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "the first look", func() bool { return fl.Status().CaughtUp })
	w.write(1)
	waitFor(t, "the line, woken by inotify", func() bool { return len(c.got()) == 1 })
}

// TestSyncReadsNow uses the real clock: with an hour between polls, Sync
// returns only once the lines written before it have been handed out, and
// at once when the follower has stopped.
func TestSyncReadsNow(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mail.log")
	w := openWriter(t, path)
	c := newCollector()
	fl := NewFile(FileOptions{Path: path, Poll: time.Hour})
	ctx, cancel := contextWithCancel(t)
	done := make(chan error, 1)
	go func() { done <- fl.Run(ctx, c) }()
	waitFor(t, "the first look", func() bool { return fl.Status().CaughtUp })
	for round := 1; round <= 3; round++ {
		w.write(1)
		if err := fl.Sync(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := c.got(); len(got) != round {
			t.Fatalf("after Sync %d: want %d lines, got %q", round, round, got)
		}
	}
	cancel()
	<-done
	stopped, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	if err := fl.Sync(stopped); err != nil {
		t.Fatalf("Sync after the stop: %v, want nil at once", err)
	}
}

// TestLinesAcrossReads: a read's lines are handed out together, and those
// completed across two reads of 64 KiB stay intact until the handler has
// them.
func TestLinesAcrossReads(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mail.log")
	var want []string
	var b strings.Builder
	for i := range 20000 {
		l := fmt.Sprintf("line %d %s", i, strings.Repeat("x", i%97))
		want = append(want, l)
		b.WriteString(l + "\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startStepped(t, FileOptions{Path: path, FromBeginning: true}, nil)
	got := s.c.got()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				t.Fatalf("line %d: want %q, got %q", i, want[i], got[i])
			}
		}
		t.Fatalf("want %d lines, got %d", len(want), len(got))
	}
}
