//go:build unix

package envelope

import (
	"syscall"
	"time"
)

// cpuTime is user+system CPU time of this process, or of its waited-for
// children: on a shared, loaded machine a fairer measure than wall time.
func cpuTime(children bool) time.Duration {
	who := syscall.RUSAGE_SELF
	if children {
		who = syscall.RUSAGE_CHILDREN
	}
	var ru syscall.Rusage
	syscall.Getrusage(who, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
