//go:build unix

package transport

import (
	"syscall"
	"time"
)

// processCPU is the CPU time the test process has used (user and system), for benchmarks that
// report CPU per operation: their wall time per operation is the fsync's, not the work's.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
