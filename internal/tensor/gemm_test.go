package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

// TestSgemmKernelsMatchReference runs every micro-kernel this machine has
// through all transpose cases, edge tiles, several K blocks, alpha/beta and
// shared batch operands, against the float64 reference loop.
func TestSgemmKernelsMatchReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	shapes := [][3]int{{1, 1, 1}, {13, 33, 7}, {50, 70, 300}, {200, 65, 513}, {12, 32, 256}}
	for _, kr := range sgemmKernels {
		for _, s := range shapes {
			for _, ta := range []bool{false, true} {
				for _, tb := range []bool{false, true} {
					m, n, k := s[0], s[1], s[2]
					name := fmt.Sprintf("%s/%dx%dx%d/ta=%v/tb=%v", kr.name, m, n, k, ta, tb)
					t.Run(name, func(t *testing.T) {
						batch := 3
						lda, ldb, ldc := k+3, n+1, n+5
						if ta {
							lda = m + 2
						}
						if tb {
							ldb = k + 4
						}
						rowsA, rowsB := m, k
						if ta {
							rowsA = k
						}
						if tb {
							rowsB = n
						}
						a := randSlice(r, 5+rowsA*lda*batch)
						b := randSlice(r, 2+rowsB*ldb) // shared by the batch
						c0 := randSlice(r, 1+m*ldc*batch)
						g := GemmArgs{TransA: ta, TransB: tb, M: m, N: n, K: k, Batch: batch, Alpha: 0.7, Beta: 0.5,
							OffA: 5, LdA: lda, StrideA: rowsA * lda, OffB: 2, LdB: ldb, StrideB: 0,
							OffC: 1, LdC: ldc, StrideC: m * ldc}
						got := append([]float32(nil), c0...)
						sgemm(kr, &g, a, b, got)
						a64, b64, want := to64(a), to64(b), to64(c0)
						gemmRef(&g, a64, b64, want)
						for i := range got {
							if d := math.Abs(float64(got[i]) - want[i]); d > 1e-4*math.Sqrt(float64(k))+1e-5 {
								t.Fatalf("C[%d] = %v, reference %v", i, got[i], want[i])
							}
						}
					})
				}
			}
		}
	}
}

func to64(s []float32) []float64 {
	out := make([]float64, len(s))
	for i, v := range s {
		out[i] = float64(v)
	}
	return out
}

// TestGemmBetaZeroIgnoresNaN: beta = 0 must overwrite C, NaNs included.
func TestGemmBetaZeroIgnoresNaN(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	a, b := randSlice(r, 20*30), randSlice(r, 30*40)
	c := make([]float32, 20*40)
	for i := range c {
		c[i] = float32(math.NaN())
	}
	g := GemmArgs{M: 20, N: 40, K: 30, Batch: 1, Alpha: 1, LdA: 30, LdB: 40, LdC: 40}
	sgemm(sgemmKernels[0], &g, a, b, c)
	for i, v := range c {
		if math.IsNaN(float64(v)) {
			t.Fatalf("C[%d] is NaN after beta = 0", i)
		}
	}
}

// The model's GEMM shapes: tokens × d_model × 4·d_model for the cpu profile
// (B·T = 16·256 tokens, d = 256) and the lm_head, plus a Newton–Schulz step.
var gemmBenchShapes = []struct {
	name    string
	m, n, k int
	ta, tb  bool
}{
	{"linear_fwd_4096x1024x256", 4096, 1024, 256, false, true},
	{"linear_dx_4096x256x1024", 4096, 256, 1024, false, false},
	{"linear_dw_1024x256x4096", 1024, 256, 4096, true, false},
	{"lm_head_4096x2048x256", 4096, 2048, 256, false, true},
	{"square_1024", 1024, 1024, 1024, false, false},
	{"muon_256x256x1024", 256, 256, 1024, false, true},
}

func BenchmarkGemm(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, kr := range sgemmKernels {
		for _, s := range gemmBenchShapes {
			b.Run(kr.name+"/"+s.name, func(b *testing.B) {
				a, bb, c := randSlice(r, s.m*s.k), randSlice(r, s.k*s.n), make([]float32, s.m*s.n)
				lda, ldb := s.k, s.n
				if s.ta {
					lda = s.m
				}
				if s.tb {
					ldb = s.k
				}
				g := GemmArgs{TransA: s.ta, TransB: s.tb, M: s.m, N: s.n, K: s.k, Batch: 1, Alpha: 1, LdA: lda, LdB: ldb, LdC: s.n}
				b.ResetTimer()
				for range b.N {
					sgemm(kr, &g, a, bb, c)
				}
				b.ReportMetric(2*float64(s.m)*float64(s.n)*float64(s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
