//go:build !unix

package envelope

import "time"

// cpuTime is not measured here (the benchmark's peer pipeline is a POSIX
// shell anyway).
func cpuTime(bool) time.Duration { return 0 }
