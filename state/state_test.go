package state_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/metrics"
	"github.com/bouncewatch/bouncewatch/state"
	"github.com/bouncewatch/bouncewatch/tailer"
	"github.com/bouncewatch/bouncewatch/tracker"
)

// sample is a state file with something in every part. Times are in UTC
// without a monotonic reading, so that they compare equal after JSON.
func sample() *state.File {
	t0 := time.Date(2025, 11, 27, 6, 2, 21, 0, time.UTC)
	return &state.File{
		Written: t0.Add(time.Hour),
		Sources: map[string]state.Source{
			"postfix": {
				Position: &tailer.Position{Path: "/var/log/mail.log", Dev: 2049, Ino: 131077, Fingerprint: []byte("Nov 27 06:02:21 mx postfix/smtpd[1]: connect"), Offset: 48213},
				Tracker: tracker.State{Now: t0.Add(30 * time.Minute), Messages: []tracker.MessageState{{
					ID: "6BD60BE58E", Last: t0.Add(20 * time.Minute).UnixNano(),
					Recipients: []tracker.RecipientState{
						{Recipient: "a@retry.example", Domain: "retry.example", First: t0.UnixNano(), Code: "4.3.2", Attempts: 3},
						{Recipient: "b@retry.example", Domain: "retry.example", First: t0.Add(time.Minute).UnixNano(), Code: "4.4.1", Attempts: 1},
					},
				}}},
			},
			"stdin": {Tracker: tracker.State{Now: t0, Messages: []tracker.MessageState{}}},
		},
		Metrics: metrics.State{
			Sources:  []string{"postfix", "stdin"},
			Domains:  []string{"retry.example", "gmail.com"},
			Codes:    []string{"2.0.0", "4.3.2", "5.1.1"},
			Overflow: map[string]uint64{"domain": 2, "code": 0},
			Series: []metrics.SeriesState{
				{Metric: "events", Labels: []string{"postfix", "deferred", "4.3.2"}, Value: 19},
				{Metric: "outcomes", Labels: []string{"postfix", "4.3.2", "delivered"}, Value: 3, Sum: 90, Buckets: []uint64{0, 1, 3}, Sum2: 7, Bucket2: []uint64{1, 2, 3}},
			},
			Gauges:    []metrics.SeriesState{{Metric: "pending", Labels: []string{"postfix", "4.3.2"}}},
			Lines:     map[string][]uint64{"postfix": {141, 12, 213, 0, 0}},
			Bytes:     map[string]uint64{"postfix": 48213},
			LastEvent: map[string]time.Time{"postfix": t0.Add(20 * time.Minute)},
			Rotations: map[string]map[string]uint64{"postfix": {"rename": 1}},
		},
	}
}

// names lists dir, sorted.
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

func dump(f *state.File) string {
	b, _ := json.MarshalIndent(f, "", "  ")
	return string(b)
}

// TestWriteReadRoundTrip: what Write stores, Read gives back unchanged, with
// the version set; a second Write replaces the first; no temp file stays.
func TestWriteReadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	want := sample()
	if err := state.Write(path, sample()); err != nil {
		t.Fatal(err)
	}
	want.Version = state.Version
	got, err := state.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(want, got) {
		t.Errorf("round trip:\nwant %s\ngot  %s", dump(want), dump(got))
	}
	if n := names(t, dir); !slices.Equal(n, []string{"state.json"}) {
		t.Errorf("after Write: want only state.json in the directory, got %q", n)
	}

	second := sample()
	second.Sources["postfix"].Position.Offset = 50000
	second.Metrics.Bytes["postfix"] = 50000
	if err := state.Write(path, second); err != nil {
		t.Fatal(err)
	}
	got, err = state.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(second, got) {
		t.Errorf("after the second Write:\nwant %s\ngot  %s", dump(second), dump(got))
	}
	if n := names(t, dir); !slices.Equal(n, []string{"state.json"}) {
		t.Errorf("after the second Write: want only state.json in the directory, got %q", n)
	}
}

// TestWriteIsAtomic: a reader running while the file is rewritten again and
// again only ever sees a whole old or a whole new file, never an empty or
// torn one.
func TestWriteIsAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	a, b := sample(), sample()
	b.Sources["postfix"].Position.Offset = 99999
	// Big enough that a non-atomic write would be seen half done.
	for i := range 2000 {
		b.Metrics.Domains = append(b.Metrics.Domains, "d"+strconv.Itoa(i)+".example")
	}
	if err := state.Write(path, a); err != nil {
		t.Fatal(err)
	}

	done := make(chan struct{})
	var wg sync.WaitGroup
	var reads int
	var bad []string
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			f, err := state.Read(path)
			reads++
			if err != nil {
				bad = append(bad, err.Error())
				continue
			}
			if off := f.Sources["postfix"].Position.Offset; off != a.Sources["postfix"].Position.Offset && off != b.Sources["postfix"].Position.Offset {
				bad = append(bad, "offset "+strconv.FormatInt(off, 10))
			}
		}
	}()
	for i := range 100 {
		f := a
		if i%2 == 0 {
			f = b
		}
		if err := state.Write(path, f); err != nil {
			close(done)
			wg.Wait()
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	if len(bad) > 0 {
		t.Errorf("want every concurrent Read to see a whole file, got %d bad of %d, first: %s", len(bad), reads, bad[0])
	}
	if n := names(t, dir); !slices.Equal(n, []string{"state.json"}) {
		t.Errorf("want only state.json in the directory, got %q", n)
	}
}

// TestWriteFailureLeavesNothing: a Write that fails changes nothing on disk:
// no temp file, no partial file, the old file as it was.
func TestWriteFailureLeavesNothing(t *testing.T) {
	t.Run("directory missing", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "missing", "state.json")
		err := state.Write(path, sample())
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("want an error that the directory does not exist, got %v", err)
		}
		if n := names(t, dir); len(n) != 0 {
			t.Errorf("want nothing created, got %q", n)
		}
	})
	t.Run("rename fails", func(t *testing.T) {
		// The target is a non-empty directory: the temp file is written,
		// then cannot be renamed over it, and must be removed.
		dir := t.TempDir()
		path := filepath.Join(dir, "state.json")
		if err := os.MkdirAll(filepath.Join(path, "keep"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := state.Write(path, sample()); err == nil {
			t.Error("want an error renaming over a directory, got none")
		}
		if n := names(t, dir); !slices.Equal(n, []string{"state.json"}) {
			t.Errorf("want only the state.json directory, got %q", n)
		}
		if n := names(t, path); !slices.Equal(n, []string{"keep"}) {
			t.Errorf("want the directory untouched, got %q", n)
		}
	})
	t.Run("unencodable content", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "state.json")
		if err := state.Write(path, sample()); err != nil {
			t.Fatal(err)
		}
		old, _ := os.ReadFile(path)
		f := sample()
		f.Metrics.Series[1].Sum = math.NaN()
		err := state.Write(path, f)
		if err == nil || !strings.Contains(err.Error(), "NaN") {
			t.Errorf("want an error about NaN, got %v", err)
		}
		if now, _ := os.ReadFile(path); !bytes.Equal(old, now) {
			t.Errorf("want the old file intact after a failed Write, got %q", now)
		}
		if n := names(t, dir); !slices.Equal(n, []string{"state.json"}) {
			t.Errorf("want only state.json in the directory, got %q", n)
		}
	})
}

// TestReadNoState: a missing file, or a path under something that is not a
// directory, is a first start, not an unusable file.
func TestReadNoState(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(dir, "notadir")
	if err := os.WriteFile(notDir, []byte("a file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{
		filepath.Join(dir, "state.json"),
		filepath.Join(dir, "missing", "state.json"),
		filepath.Join(notDir, "state.json"),
	} {
		f, err := state.Read(path)
		if !errors.Is(err, state.ErrNoState) || f != nil {
			t.Errorf("Read(%s): want ErrNoState, got %v, %v", path, f, err)
		}
	}
}

// TestReadBad: files that cannot be used are refused with an error that
// names the file and says what is wrong.
func TestReadBad(t *testing.T) {
	good, err := json.Marshal(func() *state.File { f := sample(); f.Version = state.Version; return f }())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		content string
		want    string // the text after "PATH: "
		wantErr any    // the wrapped error's type, if any
	}{
		{"empty", "", "empty state file", nil},
		{"truncated", string(good[:len(good)/2]), "corrupt state file: unexpected end of JSON input", new(*json.SyntaxError)},
		{"corrupt bytes", "\x00\x8f\xff garbage\n", "corrupt state file: invalid character '\\x00' looking for beginning of value", new(*json.SyntaxError)},
		{"not an object", `[1,2]`, "corrupt state file: json: cannot unmarshal array into Go value of type state.File", new(*json.UnmarshalTypeError)},
		{"version of the wrong type", `{"version":"1"}`, "corrupt state file: json: cannot unmarshal string into Go struct field File.version of type int", new(*json.UnmarshalTypeError)},
		{"newer version", `{"version":99}`, "state file version 99 is from a newer bouncewatch (this one reads up to 1)", nil},
		{"no version", `{}`, "not a bouncewatch state file (no version)", nil},
		{"version 0", `{"version":0,"sources":{}}`, "not a bouncewatch state file (no version)", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.json")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			f, err := state.Read(path)
			if err == nil {
				t.Fatalf("want error %q, got a file: %s", tt.want, dump(f))
			}
			if f != nil {
				t.Errorf("want no file with the error, got %s", dump(f))
			}
			if want := path + ": " + tt.want; err.Error() != want {
				t.Errorf("want error\n%s\ngot\n%s", want, err)
			}
			if errors.Is(err, state.ErrNoState) {
				t.Errorf("want an unusable file, got ErrNoState")
			}
			if tt.wantErr != nil && !errors.As(err, tt.wantErr) {
				t.Errorf("want the error to wrap %T, got %#v", tt.wantErr, errors.Unwrap(err))
			}
		})
	}
	t.Run("directory", func(t *testing.T) {
		path := t.TempDir()
		_, err := state.Read(path)
		if err == nil || errors.Is(err, state.ErrNoState) || !strings.Contains(err.Error(), "is a directory") {
			t.Errorf("want an \"is a directory\" error, got %v", err)
		}
	})
}

// TestMoveAside: the file is renamed to PATH.bad-<unix seconds> with its
// bytes, and the path is free; a missing file reports os.ErrNotExist.
func TestMoveAside(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	content := []byte("{\"version\":99}")
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	before := time.Now().Unix()
	aside, err := state.MoveAside(path)
	after := time.Now().Unix()
	if err != nil {
		t.Fatal(err)
	}
	suffix, ok := strings.CutPrefix(aside, path+".bad-")
	if !ok {
		t.Fatalf("want %s.bad-<unix>, got %s", path, aside)
	}
	if sec, err := strconv.ParseInt(suffix, 10, 64); err != nil || sec < before || sec > after {
		t.Errorf("want a unix time in [%d, %d] after .bad-, got %q", before, after, suffix)
	}
	if got, err := os.ReadFile(aside); err != nil || !bytes.Equal(got, content) {
		t.Errorf("want %s to hold %q, got %q, %v", aside, content, got, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("want %s gone, got %v", path, err)
	}
	if n := names(t, dir); !slices.Equal(n, []string{filepath.Base(aside)}) {
		t.Errorf("want only %s in the directory, got %q", filepath.Base(aside), n)
	}

	if _, err := state.MoveAside(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("MoveAside of a missing file: want os.ErrNotExist, got %v", err)
	}
}
