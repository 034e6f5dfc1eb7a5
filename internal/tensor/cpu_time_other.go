//go:build !linux

package tensor

import "time"

// threadTime is 0 where the thread's CPU time is not read: the peak is then
// timed by the wall clock alone.
func threadTime() time.Duration { return 0 }
