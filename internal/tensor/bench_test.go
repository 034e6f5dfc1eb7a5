package tensor

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
)

// Benchmarks at the cpu profile's scale: T = 256, d_model 256, heads of 64,
// vocab 2048. Run with: go test -run '^$' -bench . -benchtime 3x ./internal/tensor/

func BenchmarkAttention(b *testing.B) {
	const B, T, H, D = 8, 256, 4, 64
	for _, w := range []int{-1, T / 2} {
		for _, bwd := range []bool{false, true} {
			name := fmt.Sprintf("B%dT%dH%dD%d/window=%d/backward=%v", B, T, H, D, w, bwd)
			b.Run(name, func(b *testing.B) {
				d := openCPU(b)
				r := rand.New(rand.NewPCG(1, 1))
				q := d.FromFloat32s(randSlice(r, B*T*H*D), B, T, H, D).SetRequiresGrad()
				k := d.FromFloat32s(randSlice(r, B*T*H*D), B, T, H, D).SetRequiresGrad()
				v := d.FromFloat32s(randSlice(r, B*T*H*D), B, T, H, D).SetRequiresGrad()
				// FLOPs: QKᵀ and PV over the visible keys, 4·D per (query, key).
				vis := 0
				for t := range T {
					vis += t - visible(t, w) + 1
				}
				flops := float64(4 * B * H * D * vis)
				if bwd {
					flops *= 3.5 // recomputed scores plus four products
				}
				b.ResetTimer()
				for range b.N {
					s := d.Scope()
					out := Attention(q, k, v, w)
					if bwd {
						out.Sum().Backward()
					}
					s.Close()
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkModelStep is a forward and backward of a transformer stack of
// the original's blocks; tok/s is what a trainer of this shape would see.
func BenchmarkModelStep(b *testing.B) {
	for _, c := range []modelCfg{
		{B: 8, T: 256, C: 256, H: 4, KVH: 4, V: 2048, L: 4},
		{B: 8, T: 64, C: 128, H: 2, KVH: 2, V: 512, L: 2},
	} {
		b.Run(fmt.Sprintf("B%dT%dC%dL%dV%d", c.B, c.T, c.C, c.L, c.V), func(b *testing.B) {
			d := openCPU(b)
			m := newModel(d, 1, c)
			idx, tg := batchFor(d, 1, c)
			b.ResetTimer()
			for range b.N {
				s := d.Scope()
				m.loss(idx, tg).Backward()
				s.Close()
			}
			b.ReportMetric(float64(c.B*c.T*b.N)/b.Elapsed().Seconds(), "tok/s")
		})
	}
}

// BenchmarkPeak is the micro-kernel alone on cache-resident panels, per
// core and as PeakFLOPS reports it (times the cores): the ceiling the GEMM
// benchmarks are measured against.
func BenchmarkPeak(b *testing.B) {
	for range b.N {
		one := measurePeak(5, 40*time.Millisecond)
		b.ReportMetric(one/1e9, "GFLOP/s/core")
		b.ReportMetric(one*float64(runtime.GOMAXPROCS(0))/1e9, "GFLOP/s")
	}
}
