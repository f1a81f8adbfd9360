//go:build !linux

package tailer

import "errors"

func watchDir(string, chan<- struct{}) (func(), error) {
	return nil, errors.New("inotify is only available on Linux")
}
