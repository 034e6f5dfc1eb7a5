package harness

import (
	"time"

	"golang.org/x/sys/unix"
)

// processCPUTime is the CPU time of every thread of the process, user and
// system, to the nanosecond.
func processCPUTime() (time.Duration, bool) {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts) != nil {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}
