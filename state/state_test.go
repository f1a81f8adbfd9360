package state_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/state"
)

// write stores blocks as one state file.
func write(t *testing.T, path string, blocks ...[]byte) {
	t.Helper()
	w, err := state.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range blocks {
		if err := state.WriteBlock(w.Buffer(), b); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

// read returns the blocks of a state file, up to its end.
func read(path string) ([][]byte, error) {
	r, err := state.Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out [][]byte
	for {
		if _, err := r.Buffer().Peek(1); err == io.EOF {
			return out, nil
		}
		b, err := state.ReadBlock(r.Buffer())
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// TestRoundTrip: what is written is read back unchanged; a second file
// replaces the first; no temp file stays.
func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state")
	big := bytes.Repeat([]byte("pending recipient "), 100000)
	write(t, path, []byte(`{"a":1}`), big, nil)
	got, err := read(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || string(got[0]) != `{"a":1}` || !bytes.Equal(got[1], big) || len(got[2]) != 0 {
		t.Errorf("round trip: got %d blocks", len(got))
	}
	write(t, path, []byte("second"))
	if got, err := read(path); err != nil || len(got) != 1 || string(got[0]) != "second" {
		t.Errorf("after the second write: %q, %v", got, err)
	}
	if n := names(t, dir); !slices.Equal(n, []string{"state"}) {
		t.Errorf("want only the state file in the directory, got %q", n)
	}
}

// TestWriteIsAtomic: a reader running while the file is rewritten again and
// again only ever sees a whole old or a whole new file.
func TestWriteIsAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state")
	a, b := bytes.Repeat([]byte("a"), 1<<20), bytes.Repeat([]byte("b"), 1<<20)
	write(t, path, a)
	done := make(chan struct{})
	var wg sync.WaitGroup
	var reads int
	var bad []string
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			got, err := read(path)
			reads++
			switch {
			case err != nil:
				bad = append(bad, err.Error())
			case len(got) != 1 || !(bytes.Equal(got[0], a) || bytes.Equal(got[0], b)):
				bad = append(bad, "a mixed or short file")
			}
		}
	})
	for i := range 60 {
		write(t, path, [][]byte{a, b}[i%2])
	}
	close(done)
	wg.Wait()
	if len(bad) > 0 {
		t.Errorf("want every concurrent read to see a whole file, got %d bad of %d, first: %s", len(bad), reads, bad[0])
	}
}

// TestFailureLeavesNothing: a write that fails or is aborted changes nothing
// on disk.
func TestFailureLeavesNothing(t *testing.T) {
	t.Run("directory missing", func(t *testing.T) {
		dir := t.TempDir()
		if _, err := state.Create(filepath.Join(dir, "missing", "state")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("want an error that the directory does not exist, got %v", err)
		}
		if n := names(t, dir); len(n) != 0 {
			t.Errorf("want nothing created, got %q", n)
		}
	})
	t.Run("rename fails", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "state")
		if err := os.MkdirAll(filepath.Join(path, "keep"), 0o755); err != nil {
			t.Fatal(err)
		}
		w, err := state.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		state.WriteBlock(w.Buffer(), []byte("x"))
		if err := w.Commit(); err == nil {
			t.Error("want an error renaming over a directory, got none")
		}
		if n := names(t, dir); !slices.Equal(n, []string{"state"}) {
			t.Errorf("want only the state directory, got %q", n)
		}
	})
	t.Run("aborted", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "state")
		write(t, path, []byte("old"))
		w, err := state.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		state.WriteBlock(w.Buffer(), []byte("new"))
		w.Abort()
		if got, err := read(path); err != nil || string(got[0]) != "old" {
			t.Errorf("want the old file intact, got %q, %v", got, err)
		}
		if n := names(t, dir); !slices.Equal(n, []string{"state"}) {
			t.Errorf("want only the state file, got %q", n)
		}
	})
}

// TestNoState: a missing file, or a path under something that is not a
// directory, is a first start, not an unusable file.
func TestNoState(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(dir, "notadir")
	if err := os.WriteFile(notDir, []byte("a file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{filepath.Join(dir, "state"), filepath.Join(dir, "missing", "state"), filepath.Join(notDir, "state")} {
		if _, err := state.Open(path); !errors.Is(err, state.ErrNoState) {
			t.Errorf("Open(%s): want ErrNoState, got %v", path, err)
		}
	}
}

// TestBad: files that cannot be used are refused, before anything is read
// from them, with an error that names the file and says what is wrong.
func TestBad(t *testing.T) {
	good := filepath.Join(t.TempDir(), "good")
	write(t, good, []byte(`{"sources":[]}`), bytes.Repeat([]byte("x"), 5000))
	content, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	flipped := slices.Clone(content)
	flipped[len(flipped)/2] ^= 1
	tests := []struct {
		name, content, want string
	}{
		{"empty", "", "empty state file"},
		{"cut short", string(content[:len(content)-100]), "corrupt state file: the checksum does not match (torn or damaged)"},
		{"one bit flipped", string(flipped), "corrupt state file: the checksum does not match (torn or damaged)"},
		{"only the header", "bouncewatch-state 2\n", "not a bouncewatch state file"},
		{"garbage", "\x00\x8f\xff garbage\n", "not a bouncewatch state file"},
		{"version 1", `{"version":1,"sources":{}}`, "state file version 1 (JSON) from an older bouncewatch: this one reads version 2; the counters start again from 0"},
		{"newer version", "bouncewatch-state 3\nxxxxxxxxxxxx", `state file version "3" is not 2, the one this bouncewatch reads`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := state.Open(path)
			if err == nil || err.Error() != path+": "+tt.want {
				t.Errorf("want error\n%s: %s\ngot\n%v", path, tt.want, err)
			}
			if errors.Is(err, state.ErrNoState) {
				t.Error("want an unusable file, got ErrNoState")
			}
		})
	}
	t.Run("directory", func(t *testing.T) {
		_, err := state.Open(t.TempDir())
		if err == nil || errors.Is(err, state.ErrNoState) || !strings.Contains(err.Error(), "is a directory") {
			t.Errorf("want an \"is a directory\" error, got %v", err)
		}
	})
	t.Run("a block cut inside a good checksum", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "state")
		w, _ := state.Create(path)
		w.Buffer().Write([]byte{0, 0, 0, 9, 'x'}) // says 9 bytes, has 1
		w.Commit()
		if _, err := read(path); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("want an unexpected EOF, got %v", err)
		}
	})
}

// TestMoveAside: the file is renamed to PATH.bad-<unix seconds>.
func TestMoveAside(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state")
	if err := os.WriteFile(path, []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := time.Now().Unix()
	aside, err := state.MoveAside(path)
	if err != nil {
		t.Fatal(err)
	}
	suffix, ok := strings.CutPrefix(aside, path+".bad-")
	if sec, err := strconv.ParseInt(suffix, 10, 64); !ok || err != nil || sec < before {
		t.Errorf("want %s.bad-<unix>, got %s", path, aside)
	}
	if got, _ := os.ReadFile(aside); string(got) != "junk" {
		t.Errorf("want the bytes kept, got %q", got)
	}
	if _, err := state.MoveAside(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("MoveAside of a missing file: want os.ErrNotExist, got %v", err)
	}
}

// TestCreateReusing: a file written with the buffer of the one before is
// whole and has only its own content, after a commit, after an abort with
// unflushed data, and for a file larger than the buffer.
func TestCreateReusing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state")
	var prev *state.Writer
	for i, c := range []struct {
		blocks [][]byte
		abort  bool
	}{
		{blocks: [][]byte{[]byte("first"), []byte("second")}},
		{blocks: [][]byte{[]byte("aborted, never flushed")}, abort: true},
		{blocks: [][]byte{bytes.Repeat([]byte("x"), 600<<10), []byte("after the big one")}},
		{blocks: [][]byte{[]byte("last")}},
	} {
		w, err := state.CreateReusing(path, prev)
		if err != nil {
			t.Fatal(err)
		}
		prev = w
		for _, b := range c.blocks {
			if err := state.WriteBlock(w.Buffer(), b); err != nil {
				t.Fatal(err)
			}
		}
		if c.abort {
			w.Abort()
			continue
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		got, err := read(path)
		if err != nil {
			t.Fatalf("file %d: %v", i, err)
		}
		if !slices.EqualFunc(got, c.blocks, bytes.Equal) {
			t.Errorf("file %d: read back %d blocks, not the %d written", i, len(got), len(c.blocks))
		}
	}
	if got := names(t, dir); !slices.Equal(got, []string{"state"}) {
		t.Errorf("files left: %q", got)
	}
}
