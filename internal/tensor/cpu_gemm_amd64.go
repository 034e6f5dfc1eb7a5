//go:build amd64 && !purego

package tensor

import "golang.org/x/sys/cpu"

// sgemmKernel12x32 is the AVX-512 micro-kernel in cpu_gemm_amd64.s.
//
//go:noescape
func sgemmKernel12x32(k int, a, b, c *float32, ldc int, alpha, beta float32)

// sgemmKernel6x16 is the AVX2+FMA micro-kernel in cpu_gemm_amd64.s.
//
//go:noescape
func sgemmKernel6x16(k int, a, b, c *float32, ldc int, alpha, beta float32)

// expAVX512 sets dst[i] = e^src[i] for i < n, n a multiple of 16.
//
//go:noescape
func expAVX512(dst, src *float32, n int)

// tanhAVX512 sets dst[i] = c*tanh(src[i]/c) for i < n, n a multiple of 16.
//
//go:noescape
func tanhAVX512(dst, src *float32, n int, c float32)

func init() {
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		sgemmKernels = append([]microKernel{{name: "avx2-6x16", mr: 6, nr: 16, fn: sgemmKernel6x16}}, sgemmKernels...)
	}
	if cpu.X86.HasAVX512F {
		tanh32Slice = func(d, s []float32, c float32) {
			n := len(s) &^ 15
			if n > 0 {
				tanhAVX512(&d[0], &s[0], n, c)
			}
			tanh32Go(d[n:len(s)], s[n:], c)
		}
		exp32Slice = func(d, s []float32) {
			n := len(s) &^ 15
			if n > 0 {
				expAVX512(&d[0], &s[0], n)
			}
			for i := n; i < len(s); i++ {
				d[i] = exp32(s[i])
			}
		}
		sgemmKernels = append([]microKernel{{name: "avx512-12x32", mr: 12, nr: 32, fn: sgemmKernel12x32}}, sgemmKernels...)
	}
}
