//go:build unix

package harness

import (
	"runtime"
	"syscall"
)

func peakRSSMB() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	if runtime.GOOS == "darwin" {
		return float64(ru.Maxrss) / 1024 / 1024 // bytes there
	}
	return float64(ru.Maxrss) / 1024 // KiB on Linux and the BSDs
}
