// Package state is the container of the daemon's checkpoint: a file written
// as a stream (so that a million pending recipients need no copy in memory),
// atomically (temp file, fsync, rename, fsync of the directory: a crash at
// any moment leaves the old file or the new one, never a torn one), and
// checked as a whole before anything is read from it (a CRC-32C of every
// byte). What goes inside is its writers' business; state only frames it.
//
// A state file is the line "bouncewatch-state 2", then the content, then the
// checksum of both in 4 bytes. Version 1 (JSON, written by bouncewatch
// before 2026-11-30) is recognised and refused with a message that says so.
package state

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Version is the format version this build writes and reads.
const Version = 2

var header = []byte("bouncewatch-state " + strconv.Itoa(Version) + "\n")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Writer writes a state file. Write the content to Buffer, then Commit (or
// Abort, which leaves the old file as it was).
type Writer struct {
	path string
	tmp  *os.File
	crc  hash.Hash32
	bw   *bufio.Writer
}

// Create starts a state file at path: a temporary file in the same
// directory, renamed over path by Commit.
func Create(path string) (*Writer, error) { return CreateReusing(path, nil) }

// CreateReusing is Create with the buffer of prev, a Writer committed or
// aborted (nil: a new buffer): a daemon that writes a checkpoint every 10 s
// keeps one buffer rather than 256 KB of fresh memory each time, whose page
// faults cost more than filling it.
func CreateReusing(path string, prev *Writer) (*Writer, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, err
	}
	w := &Writer{path: path, tmp: tmp, crc: crc32.New(castagnoli)}
	if prev != nil {
		w.bw = prev.bw
		w.bw.Reset(io.MultiWriter(tmp, w.crc))
	} else {
		w.bw = bufio.NewWriterSize(io.MultiWriter(tmp, w.crc), 256<<10)
	}
	w.bw.Write(header)
	return w, nil
}

// Buffer is where the content goes.
func (w *Writer) Buffer() *bufio.Writer { return w.bw }

// Abort removes the temporary file.
func (w *Writer) Abort() {
	w.tmp.Close()
	os.Remove(w.tmp.Name())
}

// Commit ends the file with its checksum, syncs it and renames it over the
// path, then syncs the directory.
func (w *Writer) Commit() error {
	err := w.bw.Flush()
	if err == nil {
		_, err = w.tmp.Write(w.crc.Sum(nil))
	}
	if err == nil {
		err = w.tmp.Sync()
	}
	if cerr := w.tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(w.tmp.Name(), w.path)
	}
	if err != nil {
		os.Remove(w.tmp.Name())
		return err
	}
	d, err := os.Open(filepath.Dir(w.path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// ErrNoState means there is no state file: a first start.
var ErrNoState = errors.New("no state file")

// Reader reads a state file whose checksum was found right.
type Reader struct {
	f  *os.File
	br *bufio.Reader
}

// Open checks a state file and opens it for reading. It returns ErrNoState
// when there is none, and an error that names the file and says what is
// wrong for one that cannot be used.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) { // ENOTDIR: a parent is a file, so there is no state file
		return nil, ErrNoState
	}
	if err != nil {
		return nil, err
	}
	r, err := check(path, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return r, nil
}

func check(path string, f *os.File) (*Reader, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s: is a directory", path)
	}
	size := st.Size()
	if size == 0 {
		return nil, fmt.Errorf("%s: empty state file", path)
	}
	first := make([]byte, min(size, int64(len(header))))
	if _, err := io.ReadFull(f, first); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if first[0] == '{' {
		return nil, fmt.Errorf("%s: state file version 1 (JSON) from an older bouncewatch: this one reads version %d; the counters start again from 0", path, Version)
	}
	if v, ok := bytes.CutPrefix(first, []byte("bouncewatch-state ")); ok && !bytes.Equal(first, header) {
		n, _, _ := bytes.Cut(v, []byte("\n"))
		return nil, fmt.Errorf("%s: state file version %q is not %d, the one this bouncewatch reads", path, n, Version)
	}
	if !bytes.Equal(first, header) || size < int64(len(header))+crc32.Size {
		return nil, fmt.Errorf("%s: not a bouncewatch state file", path)
	}
	crc := crc32.New(castagnoli)
	crc.Write(first)
	if _, err := io.CopyN(crc, f, size-int64(len(header))-crc32.Size); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var sum [crc32.Size]byte
	if _, err := io.ReadFull(f, sum[:]); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if !bytes.Equal(sum[:], crc.Sum(nil)) {
		return nil, fmt.Errorf("%s: corrupt state file: the checksum does not match (torn or damaged)", path)
	}
	if _, err := f.Seek(int64(len(header)), io.SeekStart); err != nil {
		return nil, err
	}
	body := io.LimitReader(f, size-int64(len(header))-crc32.Size)
	return &Reader{f: f, br: bufio.NewReaderSize(body, 256<<10)}, nil
}

// Buffer is where the content is read from.
func (r *Reader) Buffer() *bufio.Reader { return r.br }

// Close closes the file.
func (r *Reader) Close() error { return r.f.Close() }

// WriteBlock writes a length-prefixed block (a JSON document, say).
func WriteBlock(w *bufio.Writer, b []byte) error {
	var n [4]byte
	n[0], n[1], n[2], n[3] = byte(len(b)>>24), byte(len(b)>>16), byte(len(b)>>8), byte(len(b))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	_, err := w.Write(b)
	return err
}

// maxBlock bounds a block read back: the metadata of a source with every
// label set full is a few megabytes.
const maxBlock = 256 << 20

// ReadBlock reads what WriteBlock wrote.
func ReadBlock(r *bufio.Reader) ([]byte, error) {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, noEOF(err)
	}
	size := int(n[0])<<24 | int(n[1])<<16 | int(n[2])<<8 | int(n[3])
	if size > maxBlock {
		return nil, errors.New("a block larger than the limit")
	}
	b := make([]byte, size)
	_, err := io.ReadFull(r, b)
	return b, noEOF(err)
}

// noEOF turns a plain EOF inside content that should be there into an
// unexpected one.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// MoveAside renames an unusable state file out of the way, so the daemon can
// start fresh without losing the evidence, and returns the new name.
func MoveAside(path string) (string, error) {
	aside := path + ".bad-" + strconv.FormatInt(time.Now().Unix(), 10)
	return aside, os.Rename(path, aside)
}
