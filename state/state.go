// Package state is the daemon's checkpoint: per source the file position (or
// nothing, for standard input) and the tracker, plus every metric value,
// written atomically so that a crash at any moment leaves either the old or
// the new file, never a torn one. It is a package of its own because both the
// writing (temp file, fsync, rename, fsync of the directory) and the refusal
// of bad files (empty, corrupt, from a newer version) need tests of their own.
package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/bouncewatch/bouncewatch/metrics"
	"github.com/bouncewatch/bouncewatch/tailer"
	"github.com/bouncewatch/bouncewatch/tracker"
)

// Version is the format version this build writes and the newest it reads.
const Version = 1

// File is the content of a state file.
type File struct {
	Version int               `json:"version"`
	Written time.Time         `json:"written"`
	Sources map[string]Source `json:"sources"`
	Metrics metrics.State     `json:"metrics"`
}

// Source is one log source's state.
type Source struct {
	Position *tailer.Position `json:"position,omitempty"`
	Tracker  tracker.State    `json:"tracker"`
}

// Write stores f at path atomically: a temporary file in the same directory,
// fsync, rename over path, fsync of the directory.
func Write(path string, f *File) error {
	f.Version = Version
	data, err := json.Marshal(f)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // gone after the rename; cleans up after a failure
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// ErrNoState means there is no state file: a first start.
var ErrNoState = errors.New("no state file")

// Read loads a state file. It returns ErrNoState when there is none, and an
// error that says what is wrong for a file that cannot be used.
func Read(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) { // ENOTDIR: a parent is a file, so there is no state file
		return nil, ErrNoState
	}
	if err != nil {
		return nil, err
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("%s: empty state file", path)
	}
	var f File
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%s: corrupt state file: %w", path, err)
	}
	if f.Version > Version {
		return nil, fmt.Errorf("%s: state file version %d is from a newer bouncewatch (this one reads up to %d)", path, f.Version, Version)
	}
	if f.Version < 1 {
		return nil, fmt.Errorf("%s: not a bouncewatch state file (no version)", path)
	}
	return &f, nil
}

// MoveAside renames an unusable state file out of the way, so the daemon can
// start fresh without losing the evidence, and returns the new name.
func MoveAside(path string) (string, error) {
	aside := path + ".bad-" + strconv.FormatInt(time.Now().Unix(), 10)
	return aside, os.Rename(path, aside)
}
