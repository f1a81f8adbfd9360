// Package rotatetest rotates log files the way logrotate does, for the tests
// of the tailer and of the daemon: numbered or dated names, compress with or
// without delaycompress, copytruncate, create.
package rotatetest

import (
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"time"
)

// Rotator rotates Path as logrotate does with the options set.
type Rotator struct {
	Path         string
	Keep         int  // rotate N: older files are deleted
	Compress     bool // gzip rotated files
	Delay        bool // delaycompress: not the newest rotated one
	DateExt      bool // name-YYYYMMDD instead of name.N
	CopyTruncate bool // copy, then truncate the file in place
	Create       bool // an empty file at the path after the rename
	day          int
}

// Rotate rotates once.
func (r *Rotator) Rotate() error {
	r.day++
	var newest string
	if r.DateExt {
		newest = r.dated(r.day)
		if r.Compress && r.Delay && exists(r.dated(r.day-1)) {
			// The one rotated last time gets compressed now.
			if err := Gzip(r.dated(r.day - 1)); err != nil {
				return err
			}
		}
		if old := r.dated(r.day - r.Keep); r.Keep > 0 {
			os.Remove(old)
			os.Remove(old + ".gz")
		}
	} else {
		for i := r.Keep; i >= 1; i-- {
			for _, ext := range []string{"", ".gz"} {
				from := r.numbered(i) + ext
				if !exists(from) {
					continue
				}
				if i == r.Keep {
					os.Remove(from)
					continue
				}
				if err := os.Rename(from, r.numbered(i+1)+ext); err != nil {
					return err
				}
			}
		}
		newest = r.numbered(1)
	}
	if r.CopyTruncate {
		if err := Copy(r.Path, newest); err != nil {
			return err
		}
		if err := os.Truncate(r.Path, 0); err != nil {
			return err
		}
	} else {
		if err := os.Rename(r.Path, newest); err != nil {
			return err
		}
		if r.Create {
			if err := os.WriteFile(r.Path, nil, 0o644); err != nil {
				return err
			}
		}
	}
	switch {
	case !r.Compress:
	case !r.Delay:
		return Gzip(newest)
	case !r.DateExt && exists(r.numbered(2)):
		return Gzip(r.numbered(2))
	}
	return nil
}

func (r *Rotator) numbered(i int) string { return fmt.Sprintf("%s.%d", r.Path, i) }

func (r *Rotator) dated(day int) string {
	return fmt.Sprintf("%s-%s", r.Path, (dateBase.AddDate(0, 0, day)).Format("20060102"))
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Gzip compresses a file as gzip does: path.gz with a new inode, then path
// removed.
func Gzip(path string) error {
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(path + ".gz")
	if err != nil {
		return err
	}
	zw := gzip.NewWriter(out)
	if _, err := io.Copy(zw, in); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Remove(path)
}

// Copy copies a file's bytes into a new file, as copytruncate does.
func Copy(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o644)
}

var dateBase = mustDate("20261101")

func mustDate(s string) (t time.Time) {
	t, err := time.Parse("20060102", s)
	if err != nil {
		panic(err)
	}
	return t
}
