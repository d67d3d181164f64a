//go:build unix

package config

import (
	"os"
	"syscall"
)

// lockDir takes an exclusive flock(2) on directory dir, so that exlab processes editing an
// organization file in it (a running server and `exlab shell` on a stopped one's data
// directory) do not interleave. The lock is on the directory because the file itself is
// replaced by rename: a lock on its old inode would not exclude the next writer.
func lockDir(dir string) (unlock func(), err error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) {
	if f, err := os.Open(dir); err == nil {
		f.Sync()
		f.Close()
	}
}
