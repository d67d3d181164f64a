//go:build !unix

package config

// lockDir has no file lock on this platform: EditFile serializes the edits of one process
// only (Windows cannot lock a directory handle, and the file is replaced by rename).
func lockDir(dir string) (unlock func(), err error) { return func() {}, nil }

// syncDir is a no-op here: Windows cannot open a directory for FlushFileBuffers.
func syncDir(dir string) {}
