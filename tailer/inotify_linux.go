package tailer

import (
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// watchDir wakes the follow loop when anything happens in the log's directory
// (writes, renames, creations, deletions), so that lines arrive without
// waiting for the next poll. Polling goes on as the safety net: inotify
// misses writes through some file systems and can run out of watches.
func watchDir(path string, wake chan<- struct{}) (stop func(), err error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, err
	}
	const mask = unix.IN_MODIFY | unix.IN_CREATE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO | unix.IN_DELETE | unix.IN_ATTRIB | unix.IN_CLOSE_WRITE
	if _, err := unix.InotifyAddWatch(fd, filepath.Dir(path), mask); err != nil {
		unix.Close(fd)
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "inotify") // non-blocking: Close wakes a pending Read
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64<<10)
		for {
			if _, err := f.Read(buf); err != nil {
				return
			}
			select {
			case wake <- struct{}{}:
			default: // a wake-up is pending already
			}
		}
	}()
	return func() { f.Close(); <-done }, nil
}
