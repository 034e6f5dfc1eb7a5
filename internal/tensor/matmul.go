package tensor

import (
	"fmt"
	"slices"
)

type matmulAux struct{ ta, tb bool }

// planMatmul maps op(a)·op(b) over the last two axes onto one strided-batched
// GEMM. Batch axes must be equal, or one side has none (it is shared). When
// b has none and a is not transposed, a's batch axes fold into M: one large
// GEMM, the shape of every Linear layer.
func planMatmul(op string, a *Tensor, ta bool, b *Tensor, tb bool) (GemmArgs, []int) {
	a.float(op)
	b.float(op)
	sameDevice(op, a, b)
	ar, br := len(a.shape), len(b.shape)
	if ar < 2 || br < 2 {
		panic(fmt.Sprintf("tensor: %s: need at least 2 axes, got %v and %v", op, a.shape, b.shape))
	}
	a0, a1 := a.shape[ar-2], a.shape[ar-1]
	b0, b1 := b.shape[br-2], b.shape[br-1]
	m, k := a0, a1
	if ta {
		m, k = a1, a0
	}
	kb, n := b0, b1
	if tb {
		kb, n = b1, b0
	}
	if k != kb {
		panic(fmt.Sprintf("tensor: %s: inner dimensions differ: %v (transposed %v) and %v (transposed %v)", op, a.shape, ta, b.shape, tb))
	}
	batchA, batchB := a.shape[:ar-2], b.shape[:br-2]
	g := GemmArgs{TransA: ta, TransB: tb, M: m, N: n, K: k, Batch: 1, Alpha: 1, LdA: a1, LdB: b1, LdC: n}
	var batch []int
	switch {
	case len(batchB) == 0 && !ta:
		g.M = numel(batchA) * m
		batch = batchA
	case slices.Equal(batchA, batchB):
		batch = batchA
		g.Batch, g.StrideA, g.StrideB, g.StrideC = numel(batch), a0*a1, b0*b1, m*n
	case len(batchB) == 0:
		batch = batchA
		g.Batch, g.StrideA, g.StrideC = numel(batch), a0*a1, m*n
	case len(batchA) == 0:
		batch = batchB
		g.Batch, g.StrideB, g.StrideC = numel(batch), b0*b1, m*n
	default:
		panic(fmt.Sprintf("tensor: %s: batch axes %v and %v differ", op, batchA, batchB))
	}
	return g, append(slices.Clone(batch), m, n)
}

func matmulRaw(a *Tensor, ta bool, b *Tensor, tb bool) *Tensor {
	g, shape := planMatmul("matmul", a, ta, b, tb)
	out := a.dev.newTensor(F32, shape)
	if out.Numel() > 0 {
		if g.K == 0 {
			out.dev.be.Fill(out.buf(), 0, out.Numel(), 0)
		} else {
			g.A, g.B, g.C = a.buf(), b.buf(), out.buf()
			a.dev.be.Gemm(&g)
		}
	}
	return out
}

// MatMul returns a·b over the last two axes (batched over the others).
func MatMul(a, b *Tensor) *Tensor { return MatMulT(a, b, false, false) }

// MatMulT returns op(a)·op(b), where op transposes the last two axes when
// its flag is set; no transposed copy is made.
func MatMulT(a, b *Tensor, ta, tb bool) *Tensor {
	return record(matmulRaw(a, ta, b, tb), "matmul", []*Tensor{a, b}, nil, matmulAux{ta, tb})
}

// Linear returns x·wᵀ: x [..., in], w [out, in] (PyTorch's nn.Linear layout,
// no bias) -> [..., out].
func Linear(x, w *Tensor) *Tensor {
	if len(w.shape) != 2 {
		panic(fmt.Sprintf("tensor: linear: weight %s is not 2-D", w.desc()))
	}
	if len(x.shape) == 1 {
		return MatMulT(x.Reshape(1, -1), w, false, true).Reshape(w.shape[0])
	}
	return MatMulT(x, w, false, true)
}

// matmulVJP: C = op(A)·op(B).
//
//	dA = g·op(B)ᵀ          (or, with A transposed, op(B)·gᵀ)
//	dB = op(A)ᵀ·g          (or, with B transposed, gᵀ·op(A))
//
// summed over batch entries where an operand was shared.
func matmulVJP(n *node, out, g *Tensor) []*Tensor {
	a, b := n.inputs[0], n.inputs[1]
	ax := n.aux.(matmulAux)
	ta, tb := ax.ta, ax.tb
	a2, g2 := a, g
	if len(b.shape) == 2 && !ta && len(a.shape) > 2 {
		// The folded Linear case: work on 2-D views so dB is one GEMM.
		a2 = a.Reshape(-1, a.shape[len(a.shape)-1])
		g2 = g.Reshape(-1, g.shape[len(g.shape)-1])
	}
	var da, db *Tensor
	if n.needs(0) {
		if ta {
			da = matmulRaw(b, tb, g2, true)
		} else {
			da = matmulRaw(g2, false, b, !tb)
		}
		da = shrink(da, a.shape)
	}
	if n.needs(1) {
		if tb {
			db = matmulRaw(g2, true, a2, ta)
		} else {
			db = matmulRaw(a2, !ta, g2, false)
		}
		db = shrink(db, b.shape)
	}
	return []*Tensor{da, db}
}

// shrink brings a gradient to shape: a reshape of a folded product, or a sum
// over the batch entries of an operand that was shared.
func shrink(x *Tensor, shape []int) *Tensor {
	if slices.Equal(x.shape, shape) {
		return x
	}
	var r *Tensor
	if x.Numel() == numel(shape) {
		r = x.Reshape(shape...)
	} else {
		r = reduceToShape(x, shape)
	}
	x.release()
	return r
}

// AddMatMul computes c = alpha*op(a)·op(b) + beta*c in place, with no
// graph: the Newton–Schulz iterations of Muon use it. c must have the
// product's shape and must not share memory with a or b.
func AddMatMul(c, a, b *Tensor, ta, tb bool, alpha, beta float32) {
	c.inPlace("AddMatMul")
	g, shape := planMatmul("AddMatMul", a, ta, b, tb)
	if !slices.Equal(shape, c.shape) {
		panic(fmt.Sprintf("tensor: AddMatMul: product has shape %v, c is %v", shape, c.shape))
	}
	if c.st == a.st || c.st == b.st {
		panic("tensor: AddMatMul: c shares memory with an operand")
	}
	if c.Numel() == 0 {
		return
	}
	g.Alpha, g.Beta = alpha, beta
	g.A, g.B, g.C = a.buf(), b.buf(), c.buf()
	if g.K == 0 {
		c.dev.be.Unary(Affine, c.buf(), c.buf(), c.Numel(), beta, 0)
		return
	}
	c.dev.be.Gemm(&g)
}
