//go:build !unix

package harness

func peakRSSMB() float64 { return 0 }
