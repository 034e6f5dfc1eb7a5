//go:build cuda

package cuda

// GPU benchmarks at the depth-8 model's shapes, for the performance work: cuBLAS GEMMs in
// TF32 and bf16, and the attention kernels. Run on the GPU machine with
//
//	bin/cuda/cuda.test -test.run '^$' -test.bench . -test.benchtime 20x

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"autoresearch/internal/tensor"
)

func gpuRandom(b *testing.B, dt tensor.DType, n int) tensor.Buffer {
	b.Helper()
	buf := gpu.Alloc(dt, n)
	gpu.Write(buf, 0, randn(rand.New(rand.NewPCG(uint64(n), 1)), n, 1))
	b.Cleanup(func() { gpu.Free(buf) })
	return buf
}

func BenchmarkGemm(b *testing.B) {
	const tokens = 32 * 2048
	shapes := [][3]int{{tokens, 512, 512}, {tokens, 2048, 512}, {tokens, 512, 2048}, {tokens, 8192, 512}}
	for _, mode := range []struct {
		name string
		dt   tensor.DType
		tf32 bool
	}{{"tf32", tensor.F32, true}, {"bf16", tensor.BF16, false}} {
		for _, s := range shapes {
			m, n, k := s[0], s[1], s[2]
			b.Run(fmt.Sprintf("%s/%dx%dx%d", mode.name, m, n, k), func(b *testing.B) {
				gpu.SetTF32(mode.tf32)
				g := tensor.GemmArgs{M: m, N: n, K: k, Batch: 1, Alpha: 1, TransB: true,
					A: gpuRandom(b, mode.dt, m*k), LdA: k, B: gpuRandom(b, mode.dt, n*k), LdB: k,
					C: gpuRandom(b, mode.dt, m*n), LdC: n}
				for b.Loop() {
					gpu.Gemm(&g)
				}
				if err := gpu.Sync(); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e12, "TFLOP/s")
			})
		}
	}
}

func BenchmarkAttention(b *testing.B) {
	const B, T, H, D = 4, 2048, 4, 128
	for _, window := range []int{-1, T / 2} {
		for _, backward := range []bool{false, true} {
			b.Run(fmt.Sprintf("window=%d/backward=%v", window, backward), func(b *testing.B) {
				n := B * T * H * D
				a := tensor.AttentionArgs{B: B, T: T, H: H, KVH: H, D: D, Window: window, Scale: float32(1 / math.Sqrt(D)),
					Q: gpuRandom(b, tensor.F32, n), K: gpuRandom(b, tensor.F32, n), V: gpuRandom(b, tensor.F32, n),
					Out: gpuRandom(b, tensor.F32, n), LSE: gpuRandom(b, tensor.F32, B*H*T),
					DOut: gpuRandom(b, tensor.F32, n), DQ: gpuRandom(b, tensor.F32, n), DK: gpuRandom(b, tensor.F32, n),
					DV: gpuRandom(b, tensor.F32, n)}
				gpu.Attention(&a)
				for b.Loop() {
					if backward {
						gpu.AttentionBackward(&a)
					} else {
						gpu.Attention(&a)
					}
				}
				if err := gpu.Sync(); err != nil {
					b.Fatal(err)
				}
				// Causal FLOPs, as FACTS.md counts them: 4·B·H·D per visible (query, key) pair
				// forward, 2.5 times that for the backward.
				pairs := float64(T) * float64(T+1) / 2
				if window >= 0 {
					pairs = 0
					for t := range T {
						pairs += float64(min(t, window) + 1)
					}
				}
				flops := 4 * B * H * D * pairs
				if backward {
					flops *= 2.5
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e12, "TFLOP/s")
			})
		}
	}
}
