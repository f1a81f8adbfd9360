package tailer

import "golang.org/x/sys/unix"

// birth returns a file's creation time in unix nanoseconds, or 0 where the
// file system does not keep it. With the inode it tells a file from a new
// one that was given the inode of a deleted one.
func birth(path string) int64 {
	var st unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, path, 0, unix.STATX_BTIME, &st); err != nil || st.Mask&unix.STATX_BTIME == 0 {
		return 0
	}
	return st.Btime.Sec*1e9 + int64(st.Btime.Nsec)
}
