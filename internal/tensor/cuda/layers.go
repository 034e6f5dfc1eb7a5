//go:build cuda || cudaemu

package cuda

import (
	"fmt"

	"autoresearch/internal/tensor"
)

// The kernels of kernels/layers.cu: layer norm (and RMSNorm with a weight), dropout,
// cross-entropy with label smoothing and z-loss, top-k, gather and scatter-add. Semantics are
// tensor.Backend's comments.

// optF32 is an optional f32 [n] operand (a norm's weight or bias, or their gradients): its
// device pointer, or 0 for a nil buffer.
func (b *Backend) optF32(x tensor.Buffer, op string, n int) devptr {
	if x == nil {
		return 0
	}
	bb := b.buf(x, op)
	if bb.dt != tensor.F32 {
		panic(fmt.Errorf("cuda: %s: weight or bias is %v, not f32", op, bb.dt))
	}
	checkRange(op, bb, 0, n)
	return bb.ptr
}

// stats checks f32 per-row statistics (mean, rstd, lse).
func (b *Backend) stats(op string, n int, bufs ...tensor.Buffer) []*buffer {
	out := make([]*buffer, len(bufs))
	for i, x := range bufs {
		out[i] = b.buf(x, op)
		if out[i].dt != tensor.F32 {
			panic(fmt.Errorf("cuda: %s: statistics are %v, not f32", op, out[i].dt))
		}
		checkRange(op, out[i], 0, n)
	}
	return out
}

func (b *Backend) LayerNorm(dst, mean, rstd, x, w, bias tensor.Buffer, n, c int, eps float32, center bool) {
	const op = "LayerNorm"
	d, bx := b.buf(dst, op), b.buf(x, op)
	dt := b.float(op, d, bx)
	st := b.stats(op, n, mean, rstd)
	checkRange(op, d, 0, n*c)
	checkRange(op, bx, 0, n*c)
	pw, pb := b.optF32(w, op, c), b.optF32(bias, op, c)
	if n*c == 0 {
		return
	}
	b.args().ptr(d.ptr).ptr(st[0].ptr).ptr(st[1].ptr).ptr(bx.ptr).ptr(pw).ptr(pb).i64(n).i64(c).f32(eps).flag(center)
	b.launch1("layer_norm"+suffix(dt), rowBlocks(n), threads, 0)
}

// layerNormParamRows is the row chunk one thread of layer_norm_params_backward sums before
// its atomic add: few atomics, enough blocks.
const layerNormParamRows = 64

func (b *Backend) LayerNormBackward(dx, dw, db, dy, x, mean, rstd, w tensor.Buffer, n, c int, center bool) {
	const op = "LayerNormBackward"
	bdx, bdy, bx := b.buf(dx, op), b.buf(dy, op), b.buf(x, op)
	dt := b.float(op, bdx, bdy, bx)
	st := b.stats(op, n, mean, rstd)
	for _, q := range []*buffer{bdx, bdy, bx} {
		checkRange(op, q, 0, n*c)
	}
	pw, pdw, pdb := b.optF32(w, op, c), b.optF32(dw, op, c), b.optF32(db, op, c)
	if n*c == 0 {
		return
	}
	// The parameter gradients first: dx may be dy.
	if pdw != 0 || pdb != 0 {
		for _, g := range []tensor.Buffer{dw, db} {
			if g != nil {
				b.Fill(g, 0, c, 0)
			}
		}
		work := (c + threads - 1) / threads * ((n + layerNormParamRows - 1) / layerNormParamRows)
		b.args().ptr(pdw).ptr(pdb).ptr(bdy.ptr).ptr(bx.ptr).ptr(st[0].ptr).ptr(st[1].ptr).i64(n).i64(c).i64(layerNormParamRows)
		b.launch1("layer_norm_params_backward"+suffix(dt), min(work, maxGrid), threads, 0)
	}
	b.args().ptr(bdx.ptr).ptr(bdy.ptr).ptr(bx.ptr).ptr(st[0].ptr).ptr(st[1].ptr).ptr(pw).i64(n).i64(c).flag(center)
	b.launch1("layer_norm_backward"+suffix(dt), rowBlocks(n), threads, 0)
}

func (b *Backend) Dropout(dst, x tensor.Buffer, n int, p float32, seed uint64) {
	d, s := b.buf(dst, "Dropout"), b.buf(x, "Dropout")
	dt := b.float("Dropout", d, s)
	checkRange("Dropout", d, 0, n)
	checkRange("Dropout", s, 0, n)
	if !(p >= 0 && p < 1) {
		panic(fmt.Errorf("cuda: Dropout: probability %g outside [0, 1)", p))
	}
	if n == 0 {
		return
	}
	b.args().ptr(d.ptr).ptr(s.ptr).i64(n).f32(p).i64(int(seed))
	b.launch1("dropout"+suffix(dt), blocksFor(n, threads), threads, 0)
}

func (b *Backend) CrossEntropyOpts(losses, lse, logits, targets tensor.Buffer, n, v int, smoothing, zloss float32) {
	const op = "CrossEntropyOpts"
	st := b.stats(op, n, losses, lse)
	g, t := b.buf(logits, op), b.buf(targets, op)
	if !isFloat(g.dt) || t.dt != tensor.I32 {
		panic(fmt.Errorf("cuda: %s: logits %v and targets %v (f32 or bf16 logits, i32 targets)", op, g.dt, t.dt))
	}
	checkRange(op, g, 0, n*v)
	checkRange(op, t, 0, n)
	if n == 0 {
		return
	}
	b.args().ptr(st[0].ptr).ptr(st[1].ptr).ptr(g.ptr).ptr(t.ptr).i64(n).i64(v).f32(smoothing).f32(zloss)
	b.launch1("cross_entropy_opts"+suffix(g.dt), min(n, maxGrid), threads, 0)
}

func (b *Backend) CrossEntropyOptsBackward(dlogits, dlosses, logits, lse, targets tensor.Buffer, n, v int, softcap, smoothing, zloss float32) {
	const op = "CrossEntropyOptsBackward"
	dl, lg, t := b.buf(dlogits, op), b.buf(logits, op), b.buf(targets, op)
	st := b.stats(op, n, dlosses, lse)
	if dl.dt != lg.dt || !isFloat(lg.dt) || t.dt != tensor.I32 {
		panic(fmt.Errorf("cuda: %s: dtypes %v %v %v (dlogits and logits alike, i32 targets)", op, dl.dt, lg.dt, t.dt))
	}
	if softcap < 0 {
		panic(fmt.Errorf("cuda: %s: negative softcap %g", op, softcap))
	}
	checkRange(op, dl, 0, n*v)
	checkRange(op, lg, 0, n*v)
	checkRange(op, t, 0, n)
	if n*v == 0 {
		return
	}
	b.args().ptr(dl.ptr).ptr(st[0].ptr).ptr(lg.ptr).ptr(st[1].ptr).ptr(t.ptr).i64(n).i64(v).f32(softcap).f32(smoothing).f32(zloss)
	b.launch1("cross_entropy_opts_backward"+suffix(lg.dt), min(n, maxGrid), threads, 0)
}

// indexed checks the operands of TopK, Gather and ScatterAdd: x [n, c] float, idx i32 [n, k],
// other [n, k] of x's dtype (nil for TopK).
func (b *Backend) indexed(op string, x, idx, other tensor.Buffer, n, c, k int) (bx, bi, bo *buffer) {
	bx, bi = b.buf(x, op), b.buf(idx, op)
	if !isFloat(bx.dt) || bi.dt != tensor.I32 {
		panic(fmt.Errorf("cuda: %s: %v values and %v indices (f32 or bf16, i32)", op, bx.dt, bi.dt))
	}
	if k > c && op == "TopK" {
		panic(fmt.Errorf("cuda: TopK: k %d over %d columns", k, c))
	}
	checkRange(op, bx, 0, n*c)
	checkRange(op, bi, 0, n*k)
	if other != nil {
		bo = b.buf(other, op)
		b.float(op, bx, bo)
		checkRange(op, bo, 0, n*k)
	}
	return bx, bi, bo
}

func (b *Backend) TopK(idx, x tensor.Buffer, n, c, k int) {
	bx, bi, _ := b.indexed("TopK", x, idx, nil, n, c, k)
	if n*k == 0 {
		return
	}
	b.args().ptr(bi.ptr).ptr(bx.ptr).i64(n).i64(c).i64(k)
	b.launch1("topk"+suffix(bx.dt), rowBlocks(n), threads, 0)
}

func (b *Backend) Gather(dst, x, idx tensor.Buffer, n, c, k int) {
	bx, bi, bd := b.indexed("Gather", x, idx, dst, n, c, k)
	if n*k == 0 {
		return
	}
	b.args().ptr(bd.ptr).ptr(bx.ptr).ptr(bi.ptr).i64(n).i64(c).i64(k)
	b.launch1("gather"+suffix(bx.dt), blocksFor(n*k, threads), threads, 0)
}

func (b *Backend) ScatterAdd(dst, src, idx tensor.Buffer, n, c, k int) {
	bd, bi, bs := b.indexed("ScatterAdd", dst, idx, src, n, c, k)
	if n*k == 0 {
		return
	}
	b.args().ptr(bd.ptr).ptr(bs.ptr).ptr(bi.ptr).i64(n).i64(c).i64(k)
	b.launch1("scatter_add"+suffix(bd.dt), blocksFor(n*k, threads), threads, 0)
}
