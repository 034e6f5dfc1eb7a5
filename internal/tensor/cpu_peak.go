package tensor

import (
	"runtime"
	"sync"
	"time"
)

// PeakFLOPS is the CPU's float32 ceiling for MFU: the FLOP/s of the GEMM
// micro-kernel on cache-resident panels on one core, best of a few short
// windows, times the cores Go uses. It is measured once (about 50 ms), the
// first time it is asked for. One core is timed rather than all at once so
// that other busy processes (CI, a second experiment) do not shrink the
// ceiling and inflate MFU. The float64 backend reports the same figure.
//
// The windows are timed in the thread's own CPU time where the system has
// it (threadTime), so a window in which the scheduler ran something else on
// the core still measures the core, not the share of it this process got.
func (c *cpuBackend[T]) PeakFLOPS() float64 {
	peakOnce.Do(func() { peakFLOPS = measurePeak(3, 15*time.Millisecond) * float64(runtime.GOMAXPROCS(0)) })
	return peakFLOPS
}

var (
	peakOnce  sync.Once
	peakFLOPS float64
)

// measurePeak returns one core's best micro-kernel FLOP/s over windows of
// length d.
func measurePeak(windows int, d time.Duration) float64 {
	kr := sgemmKernels[0]
	const k = gemmKC
	a := make([]float32, kr.mr*k)
	b := make([]float32, kr.nr*k)
	c := make([]float32, kr.mr*kr.nr)
	for i := range a {
		a[i] = 1e-3
	}
	for i := range b {
		b[i] = 1e-3
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	best := 0.0
	for range windows {
		start, cpu0 := time.Now(), threadTime()
		var flops float64
		for time.Since(start) < d {
			for range 64 {
				kr.fn(k, &a[0], &b[0], &c[0], kr.nr, 1, 1)
			}
			flops += 64 * 2 * float64(kr.mr*kr.nr*k)
		}
		elapsed := time.Since(start)
		if cpu := threadTime() - cpu0; cpu > 0 && cpu < elapsed {
			elapsed = cpu
		}
		best = max(best, flops/elapsed.Seconds())
	}
	return best
}
