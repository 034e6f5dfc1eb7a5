//go:build unix && !linux

package harness

import (
	"syscall"
	"time"
)

// processCPUTime is the CPU time of the process, user and system.
func processCPUTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
