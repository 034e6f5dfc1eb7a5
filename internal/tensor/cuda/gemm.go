//go:build cuda || cudaemu

package cuda

import (
	"fmt"

	"autoresearch/internal/tensor"
)

// Element types of a GEMM operand, as the driver's gemm knows them.
const (
	gemmF32  = 0
	gemmBF16 = 1
)

// gemmCall is one cuBLAS call in cuBLAS's own column-major terms:
//
//	C_i = alpha * op(A_i) · op(B_i) + beta * C_i,  op(A_i) m×k, op(B_i) k×n, C_i m×n,
//
// each matrix column-major with its leading dimension, batch entry i at i*stride elements.
type gemmCall struct {
	transA, transB      bool
	m, n, k, batch      int
	alpha, beta         float32
	a, b, c             devptr
	lda, ldb, ldc       int
	strideA, strideB    int64
	strideC             int64
	typeA, typeB, typeC int
	tf32                bool // F32 inputs rounded to TF32 on the tensor cores
}

func gemmType(dt tensor.DType) (int, error) {
	switch dt {
	case tensor.F32:
		return gemmF32, nil
	case tensor.BF16:
		return gemmBF16, nil
	}
	return 0, fmt.Errorf("dtype %v cannot be a GEMM operand", dt)
}

// planGemm turns the row-major product of tensor.GemmArgs into the column-major call that
// computes it: a row-major R×C matrix with row pitch ld is the column-major C×R matrix with
// leading dimension ld, so C = op(A)·op(B) becomes Cᵀ = op(B)ᵀ·op(A)ᵀ — cuBLAS's A is our B,
// its B our A, m = N and n = M, and each transpose flag stays with its operand.
func planGemm(g *tensor.GemmArgs, a, b, c *buffer, tf32 bool) (gemmCall, error) {
	var call gemmCall
	if g.M < 0 || g.N < 0 || g.K < 0 || g.Batch < 1 {
		return call, fmt.Errorf("bad sizes M=%d N=%d K=%d Batch=%d", g.M, g.N, g.K, g.Batch)
	}
	// The stored shapes: A_i is [M, K] (or [K, M] transposed), B_i [K, N] (or [N, K]).
	rowsA, colsA := g.M, g.K
	if g.TransA {
		rowsA, colsA = g.K, g.M
	}
	rowsB, colsB := g.K, g.N
	if g.TransB {
		rowsB, colsB = g.N, g.K
	}
	if g.LdA < max(1, colsA) || g.LdB < max(1, colsB) || g.LdC < max(1, g.N) {
		return call, fmt.Errorf("leading dimensions LdA=%d LdB=%d LdC=%d below the row lengths %d, %d, %d",
			g.LdA, g.LdB, g.LdC, colsA, colsB, g.N)
	}
	if err := fits("A", a, g.OffA, g.StrideA, g.Batch, rowsA, colsA, g.LdA); err != nil {
		return call, err
	}
	if err := fits("B", b, g.OffB, g.StrideB, g.Batch, rowsB, colsB, g.LdB); err != nil {
		return call, err
	}
	if err := fits("C", c, g.OffC, g.StrideC, g.Batch, g.M, g.N, g.LdC); err != nil {
		return call, err
	}
	var err error
	if call.typeA, err = gemmType(b.dt); err != nil {
		return call, err
	}
	if call.typeB, err = gemmType(a.dt); err != nil {
		return call, err
	}
	if call.typeC, err = gemmType(c.dt); err != nil {
		return call, err
	}
	if a.dt != b.dt || (a.dt == tensor.F32 && c.dt != tensor.F32) {
		return call, fmt.Errorf("operand dtypes A %v, B %v, C %v: use all f32, all bf16, or bf16 inputs with an f32 C",
			a.dt, b.dt, c.dt)
	}
	call.transA, call.transB = g.TransB, g.TransA
	call.m, call.n, call.k, call.batch = g.N, g.M, g.K, g.Batch
	call.alpha, call.beta = g.Alpha, g.Beta
	call.a, call.lda, call.strideA = b.at(g.OffB), g.LdB, int64(g.StrideB)
	call.b, call.ldb, call.strideB = a.at(g.OffA), g.LdA, int64(g.StrideA)
	call.c, call.ldc, call.strideC = c.at(g.OffC), g.LdC, int64(g.StrideC)
	call.tf32 = tf32 && a.dt == tensor.F32
	return call, nil
}

// fits checks that every batch entry of a rows×cols operand with row pitch ld lies inside buf.
func fits(name string, buf *buffer, off, stride, batch, rows, cols, ld int) error {
	if rows == 0 || cols == 0 {
		return nil
	}
	if off < 0 || stride < 0 {
		return fmt.Errorf("%s: negative offset %d or stride %d", name, off, stride)
	}
	last := off + (batch-1)*stride + (rows-1)*ld + cols
	if last > buf.n {
		return fmt.Errorf("%s: the product reads up to element %d of a buffer of %d", name, last, buf.n)
	}
	return nil
}
