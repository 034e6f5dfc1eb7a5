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

// matmulRaw returns op(a)·op(b) in dtype dt (a and b already in the dtype the
// product multiplies in).
func matmulRaw(a *Tensor, ta bool, b *Tensor, tb bool, dt DType) *Tensor {
	g, shape := planMatmul("matmul", a, ta, b, tb)
	out := a.dev.newTensor(dt, shape)
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

// The matrix products, named for which operand is transposed (N: as is,
// T: its last two axes swapped; no transposed copy is made), all batched
// over the leading axes. In PyTorch terms:
//
//	MatMul(a, b)   = a @ b
//	MatMulNT(a, b) = a @ b.mT     (x·wᵀ, the Linear layer; q·kᵀ)
//	MatMulTN(a, b) = a.mT @ b     (Xᵀ·X in Muon; weight gradients)
//	MatMulTT(a, b) = a.mT @ b.mT
//
// On a BF16 device (see Device.ActivationDType) the operands are multiplied
// in BF16 and the product is BF16.

// MatMul returns a·b over the last two axes (batched over the others).
func MatMul(a, b *Tensor) *Tensor { return matMul(a, b, false, false) }

// MatMulNT returns a·bᵀ over the last two axes (a @ b.mT).
func MatMulNT(a, b *Tensor) *Tensor { return matMul(a, b, false, true) }

// MatMulTN returns aᵀ·b over the last two axes (a.mT @ b).
func MatMulTN(a, b *Tensor) *Tensor { return matMul(a, b, true, false) }

// MatMulTT returns aᵀ·bᵀ over the last two axes (a.mT @ b.mT).
func MatMulTT(a, b *Tensor) *Tensor { return matMul(a, b, true, true) }

// matMul returns op(a)·op(b), where op transposes the last two axes when its
// flag is set.
func matMul(a, b *Tensor, ta, tb bool) *Tensor {
	a.float("matmul")
	b.float("matmul")
	dt := a.dev.gemmDType(a.dtype, b.dtype)
	ac, bc := a.as(dt), b.as(dt)
	out := matmulRaw(ac, ta, bc, tb, dt)
	// The backward multiplies by the converted operands: the node saves its
	// own references to them (a weight's shared copy may be replaced by the
	// next optimizer step before this graph's backward runs).
	var saved []*Tensor
	if ac != a || bc != b {
		saved = []*Tensor{keepRef(a, ac), keepRef(b, bc)}
	}
	return record(out, "matmul", []*Tensor{a, b}, saved, matmulAux{ta, tb})
}

// keepRef returns a reference to c, a conversion of t (see as), that a node
// may hold: nil when c is t itself, else a view of the shared copy.
func keepRef(t, c *Tensor) *Tensor {
	if c == t {
		return nil
	}
	return c.view(c.shape)
}

// operand is input i of a product node as it was multiplied.
func operand(n *node, i int) *Tensor {
	if len(n.saved) > i && n.saved[i] != nil {
		return n.saved[i]
	}
	return n.inputs[i]
}

// Linear returns x·wᵀ: x [..., in], w [out, in] (PyTorch's nn.Linear layout,
// no bias) -> [..., out].
func Linear(x, w *Tensor) *Tensor {
	if len(w.shape) != 2 {
		panic(fmt.Sprintf("tensor: linear: weight %s is not 2-D", w.desc()))
	}
	if len(x.shape) == 1 {
		return MatMulNT(x.Reshape(1, -1), w).Reshape(w.shape[0])
	}
	return MatMulNT(x, w)
}

// matmulVJP: C = op(A)·op(B).
//
//	dA = g·op(B)ᵀ          (or, with A transposed, op(B)·gᵀ)
//	dB = op(A)ᵀ·g          (or, with B transposed, gᵀ·op(A))
//
// summed over batch entries where an operand was shared. Each gradient has
// its input's dtype (a BF16 product gives an F32 weight an F32 gradient
// straight from the GEMM). Where Backward offers an existing gradient to
// add into (n.accum), the GEMM adds into it (Beta = 1) instead of making a
// new tensor that Backward would then add.
func matmulVJP(n *node, out, g *Tensor) []*Tensor {
	a, b := n.inputs[0], n.inputs[1]
	ac, bc := operand(n, 0), operand(n, 1)
	ax := n.aux.(matmulAux)
	ta, tb := ax.ta, ax.tb
	a2, g2 := ac, g
	if len(b.shape) == 2 && !ta && len(a.shape) > 2 {
		// The folded Linear case: work on 2-D views so dB is one GEMM.
		a2 = ac.Reshape(-1, ac.shape[len(ac.shape)-1])
		g2 = g.Reshape(-1, g.shape[len(g.shape)-1])
	}
	var da, db *Tensor
	if n.needs(0) {
		if ta {
			da = gradGemm(a, n.accumFor(0), bc, tb, g2, true)
		} else {
			da = gradGemm(a, n.accumFor(0), g2, false, bc, !tb)
		}
	}
	if n.needs(1) {
		if tb {
			db = gradGemm(b, n.accumFor(1), g2, true, a2, ta)
		} else {
			db = gradGemm(b, n.accumFor(1), a2, !ta, g2, false)
		}
	}
	return []*Tensor{da, db}
}

// gradGemm returns op(x)·op(y) as the gradient of in (of in's shape and
// dtype): added into acc and acc returned, when acc is given and the
// product needs no sum over shared batch entries; else a new tensor.
func gradGemm(in, acc *Tensor, x *Tensor, tx bool, y *Tensor, ty bool) *Tensor {
	if acc != nil {
		g, shape := planMatmul("matmul", x, tx, y, ty)
		if numel(shape) == in.Numel() {
			acc.touch()
			if g.K > 0 && numel(shape) > 0 {
				g.Beta = 1
				g.A, g.B, g.C = x.buf(), y.buf(), acc.buf()
				in.dev.be.Gemm(&g)
			}
			return acc
		}
	}
	return shrink(matmulRaw(x, tx, y, ty, in.dtype), in.shape)
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

// AddMatMul computes c = alpha*a·b + beta*c in place, with no graph (the
// Newton–Schulz iterations of Muon use it); PyTorch's
// c.baddbmm_(a, b, beta=beta, alpha=alpha). AddMatMulNT, AddMatMulTN and
// AddMatMulTT transpose the operands as MatMulNT, MatMulTN and MatMulTT do.
// c must have the product's shape and must not share memory with a or b.
// On a BF16 device a and b are multiplied in BF16, accumulated in F32 into
// c's dtype.
func AddMatMul(c, a, b *Tensor, alpha, beta float32) { addMatMul(c, a, b, false, false, alpha, beta) }

// AddMatMulNT computes c = alpha*a·bᵀ + beta*c in place (see AddMatMul).
func AddMatMulNT(c, a, b *Tensor, alpha, beta float32) { addMatMul(c, a, b, false, true, alpha, beta) }

// AddMatMulTN computes c = alpha*aᵀ·b + beta*c in place (see AddMatMul).
func AddMatMulTN(c, a, b *Tensor, alpha, beta float32) { addMatMul(c, a, b, true, false, alpha, beta) }

// AddMatMulTT computes c = alpha*aᵀ·bᵀ + beta*c in place (see AddMatMul).
func AddMatMulTT(c, a, b *Tensor, alpha, beta float32) { addMatMul(c, a, b, true, true, alpha, beta) }

func addMatMul(c, a, b *Tensor, ta, tb bool, alpha, beta float32) {
	c.inPlace("AddMatMul")
	a.float("AddMatMul")
	b.float("AddMatMul")
	dt := c.dev.gemmDType(a.dtype, b.dtype)
	if c.dtype == BF16 {
		dt = BF16
	}
	a, b = a.as(dt), b.as(dt)
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
