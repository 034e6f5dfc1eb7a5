//go:build cuda

package cuda

import (
	"fmt"
	"math"
	"testing"

	"autoresearch/internal/tensor"
)

// The lm_head GEMM of gpt/train.go's depth-8 step at its device batch of 128 writes
// B·T × V = 262,144 × 8,192 = 2^31 logits, one element past the largest int32: cuBLAS gets
// only int sizes (m, n, ld), and the element offsets past 2^31 are its own to compute.
// The audit (audit_test.go) checks every argument's type without a GPU; this runs the GEMM
// on the card and checks rows at the start, the middle and the very end of the output
// against dot products in float64. The other rows of A hold a constant, so only the checked
// rows need random data on the host. About 4 GiB of device memory.
func TestParityGemmPastInt32Elements(t *testing.T) {
	const M, N, K = 128 * 2048, 8192, 512 // x [B·T, d] · headᵀ [d, V] = logits [B·T, V]
	r := rng(t)
	a := gpu.Alloc(tensor.BF16, M*K)
	b := gpu.Alloc(tensor.BF16, N*K)
	c := gpu.Alloc(tensor.BF16, M*N)
	defer func() { gpu.Free(a); gpu.Free(b); gpu.Free(c) }()
	gpu.Fill(a, 0, M*K, 0.01)
	rows := []int{0, M / 2, M - 1}
	rowData := map[int][]float32{}
	for _, row := range rows {
		rowData[row] = roundBF16(randn(r, K, 1))
		gpu.Write(a, row*K, rowData[row])
	}
	head := roundBF16(randn(r, N*K, 0.05))
	gpu.Write(b, 0, head)
	gpu.Gemm(&tensor.GemmArgs{M: M, N: N, K: K, Batch: 1, Alpha: 1, TransB: true,
		A: a, LdA: K, B: b, LdB: K, C: c, LdC: N})
	got := make([]float32, N)
	for _, row := range rows {
		gpu.Read(c, row*N, got)
		want := make([]float32, N)
		for j := range N {
			var s float64
			for k := range K {
				s += float64(rowData[row][k]) * float64(head[j*K+k])
			}
			want[j] = float32(s)
		}
		record(t, fmt.Sprintf("gemm %d×%d×%d bf16, row %d (elements from %d)", M, N, K, row, row*N),
			relErr(got, want), tolBF16)
	}
	if last := (M-1)*N + N - 1; last <= math.MaxInt32 {
		t.Fatalf("the last element %d does not pass int32", last)
	}
}
