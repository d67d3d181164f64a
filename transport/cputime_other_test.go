//go:build !unix

package transport

import "time"

// processCPU is not measured here: the benchmarks report no CPU per operation.
func processCPU() time.Duration { return 0 }
