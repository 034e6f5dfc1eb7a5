//go:build !unix

package harness

import "time"

// processCPUTime is not measured here: the budget falls back to wall-clock time.
func processCPUTime() (time.Duration, bool) { return 0, false }
