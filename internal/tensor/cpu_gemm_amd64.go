//go:build amd64 && !purego

package tensor

import "golang.org/x/sys/cpu"

// sgemmKernel12x32 is the AVX-512 micro-kernel in cpu_gemm_amd64.s.
//
//go:noescape
func sgemmKernel12x32(k int, a, b, c *float32, ldc int, alpha float32)

func init() {
	if cpu.X86.HasAVX512F {
		sgemmKernels = append([]microKernel{{name: "avx512-12x32", mr: 12, nr: 32, fn: sgemmKernel12x32}}, sgemmKernels...)
	}
}
