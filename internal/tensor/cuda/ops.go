//go:build cuda || cudaemu

package cuda

import (
	"fmt"
	"math"

	"autoresearch/internal/tensor"
)

// The kernels of tensor.Backend: each method checks what the device cannot, collects the
// arguments and queues its kernel (kernels/*.cu) on the stream. Shapes and semantics are the
// interface's comments.

func (b *Backend) float(op string, bufs ...*buffer) tensor.DType {
	dt := bufs[0].dt
	for _, x := range bufs {
		if x.dt != dt {
			panic(fmt.Errorf("cuda: %s: mixed dtypes %v and %v", op, dt, x.dt))
		}
	}
	if dt != tensor.F32 && dt != tensor.BF16 {
		panic(fmt.Errorf("cuda: %s: dtype %v (f32 or bf16 only)", op, dt))
	}
	return dt
}

// kernel is the name of base's variant for the float dtypes of its operands, in parameter
// order: base_f32 or base_bf16 when they agree, else base_<each dtype>; it panics, naming the
// op and the dtypes, when no such variant exists.
func (b *Backend) kernel(op, base string, dts ...tensor.DType) string {
	name := base + suffix(dts[0])
	for _, dt := range dts[1:] {
		if dt != dts[0] {
			name = base
			for _, d := range dts {
				name += suffix(d)
			}
			break
		}
	}
	if _, ok := b.fns[name]; !ok {
		panic(fmt.Errorf("cuda: %s: no kernel for dtypes %v (%s)", op, dts, name))
	}
	return name
}

func isFloat(dt tensor.DType) bool { return dt == tensor.F32 || dt == tensor.BF16 }

func (b *Backend) dims(op string, shape []int, strides ...[]int) dims {
	d, err := makeDims(shape, strides...)
	if err != nil {
		panic(fmt.Errorf("cuda: %s: %v", op, err))
	}
	return d
}

// ---- layout ----

func (b *Backend) Fill(dst tensor.Buffer, off, n int, v float32) {
	d := b.buf(dst, "Fill")
	checkRange("Fill", d, off, n)
	if n == 0 {
		return
	}
	b.args().ptr(d.at(off)).i64(n).f32(v)
	b.launch1("fill"+suffix(d.dt), blocksFor(n, threads), threads, 0)
}

func (b *Backend) Copy(shape []int, dst tensor.Buffer, dstOff int, dstStrides []int, src tensor.Buffer, srcOff int,
	srcStrides []int, accumulate bool) {
	d, s := b.buf(dst, "Copy"), b.buf(src, "Copy")
	if d.dt != s.dt && !(isFloat(d.dt) && isFloat(s.dt)) {
		panic(fmt.Errorf("cuda: Copy: %v into %v", s.dt, d.dt))
	}
	dm := b.dims("Copy", shape, dstStrides, srcStrides)
	if dm.n == 0 {
		return
	}
	b.args().ptr(d.at(dstOff)).ptr(s.at(srcOff)).dims(&dm).flag(accumulate)
	b.launch1(b.kernel("Copy", "copy", d.dt, s.dt), blocksFor(dm.n, threads), threads, 0)
}

// ---- elementwise ----

func (b *Backend) Unary(op tensor.UnaryOp, dst, x tensor.Buffer, n int, a, c float32) {
	d, s := b.buf(dst, "Unary"), b.buf(x, "Unary")
	dt := b.float("Unary", d, s)
	checkRange("Unary", d, 0, n)
	checkRange("Unary", s, 0, n)
	if n == 0 {
		return
	}
	b.args().ptr(d.ptr).ptr(s.ptr).i64(n).i64(int(op)).f32(a).f32(c)
	b.launch1("unary"+suffix(dt), blocksFor(n, threads), threads, 0)
}

func (b *Backend) UnaryBackward(op tensor.UnaryOp, dx, dy, x, y tensor.Buffer, n int, a, c float32) {
	bx, bdy, bxx, by := b.buf(dx, "UnaryBackward"), b.buf(dy, "UnaryBackward"), b.buf(x, "UnaryBackward"), b.buf(y, "UnaryBackward")
	dt := b.float("UnaryBackward", bx, bdy, bxx, by)
	for _, q := range []*buffer{bx, bdy, bxx, by} {
		checkRange("UnaryBackward", q, 0, n)
	}
	if n == 0 {
		return
	}
	b.args().ptr(bx.ptr).ptr(bdy.ptr).ptr(bxx.ptr).ptr(by.ptr).i64(n).i64(int(op)).f32(a).f32(c)
	b.launch1("unary_backward"+suffix(dt), blocksFor(n, threads), threads, 0)
}

func (b *Backend) Binary(op tensor.BinaryOp, shape []int, dst, x tensor.Buffer, xStrides []int, y tensor.Buffer, yStrides []int) {
	d, bx, by := b.buf(dst, "Binary"), b.buf(x, "Binary"), b.buf(y, "Binary")
	for _, q := range []*buffer{d, bx, by} {
		if !isFloat(q.dt) {
			panic(fmt.Errorf("cuda: Binary: dtype %v (f32 or bf16 only)", q.dt))
		}
	}
	dm := b.dims("Binary", shape, xStrides, yStrides)
	if dm.n == 0 {
		return
	}
	checkRange("Binary", d, 0, dm.n)
	b.args().ptr(d.ptr).ptr(bx.ptr).ptr(by.ptr).dims(&dm).i64(int(op))
	b.launch1(b.kernel("Binary", "binary", d.dt, bx.dt, by.dt), blocksFor(dm.n, threads), threads, 0)
}

func (b *Backend) Where(shape []int, dst, cond tensor.Buffer, condStrides []int, x tensor.Buffer, xStrides []int, y tensor.Buffer, yStrides []int) {
	d, bc, bx, by := b.buf(dst, "Where"), b.buf(cond, "Where"), b.buf(x, "Where"), b.buf(y, "Where")
	dt := b.float("Where", d, bc, bx, by)
	dm := b.dims("Where", shape, condStrides, xStrides, yStrides)
	if dm.n == 0 {
		return
	}
	checkRange("Where", d, 0, dm.n)
	b.args().ptr(d.ptr).ptr(bc.ptr).ptr(bx.ptr).ptr(by.ptr).dims(&dm)
	b.launch1("where"+suffix(dt), blocksFor(dm.n, threads), threads, 0)
}

// ---- reductions ----

func (b *Backend) Reduce(op tensor.ReduceOp, dst, src tensor.Buffer, outer, n, inner int, alpha float32) {
	d, s := b.buf(dst, "Reduce"), b.buf(src, "Reduce")
	if !isFloat(s.dt) || !isFloat(d.dt) {
		panic(fmt.Errorf("cuda: Reduce: %v into %v (f32 or bf16 only)", s.dt, d.dt))
	}
	if n < 1 || outer < 0 || inner < 1 {
		panic(fmt.Errorf("cuda: Reduce: bad sizes outer=%d n=%d inner=%d", outer, n, inner))
	}
	checkRange("Reduce", s, 0, outer*n*inner)
	checkRange("Reduce", d, 0, outer*inner)
	if outer == 0 {
		return
	}
	// Few long reductions (the gradient of a scalar parameter sums a whole activation) would
	// run on a handful of blocks: split each into chunks reduced in parallel into an f32
	// scratch [outer, chunks, inner], then reduce the chunks.
	if blocks := outer * ((inner + 31) / 32); blocks < reduceSplitBlocks {
		if chunk := splitChunk(n); chunk > 0 {
			chunks := n / chunk
			part := b.Alloc(tensor.F32, outer*chunks*inner).(*buffer)
			b.reduce(op, part, s, outer*chunks, chunk, inner, 1)
			second := op
			if op == tensor.SumSquares {
				second = tensor.Sum
			}
			b.reduce(second, d, part, outer, chunks, inner, alpha)
			b.Free(part) // stream order: the block is reused only by later work
			return
		}
	}
	b.reduce(op, d, s, outer, n, inner, alpha)
}

// reduceSplitBlocks: a reduction of fewer blocks than this is split (a few per SM of an H100).
const reduceSplitBlocks = 256

// splitChunk is the length of the chunks a reduction over n splits into: the largest divisor
// of n between 1024 and 16384 that leaves at least 4 chunks, or 0 (no split).
func splitChunk(n int) int {
	for c := min(16384, n/4); c >= 1024; c-- {
		if n%c == 0 {
			return c
		}
	}
	return 0
}

func (b *Backend) reduce(op tensor.ReduceOp, d, s *buffer, outer, n, inner int, alpha float32) {
	if inner == 1 {
		b.args().ptr(d.ptr).ptr(s.ptr).i64(outer).i64(n).i64(int(op)).f32(alpha)
		b.launch1(b.kernel("Reduce", "reduce_rows", d.dt, s.dt), min(outer, maxGrid), threads, 0)
		return
	}
	b.args().ptr(d.ptr).ptr(s.ptr).i64(outer).i64(n).i64(inner).i64(int(op)).f32(alpha)
	b.launch1(b.kernel("Reduce", "reduce_cols", d.dt, s.dt), min(outer*((inner+31)/32), maxGrid), threads, 0)
}

// ---- matrix products ----

func (b *Backend) Gemm(g *tensor.GemmArgs) {
	a, bb, c := b.buf(g.A, "Gemm"), b.buf(g.B, "Gemm"), b.buf(g.C, "Gemm")
	call, err := planGemm(g, a, bb, c, b.tf32)
	if err != nil {
		panic(fmt.Errorf("cuda: Gemm: %v", err))
	}
	if g.M == 0 || g.N == 0 {
		return
	}
	if g.K == 0 || g.Alpha == 0 {
		// cuBLAS may skip C entirely here; the interface wants C = Beta*C.
		if g.Beta != 1 {
			b.args().ptr(c.at(g.OffC)).i64(g.Batch).i64(g.M).i64(g.N).i64(g.LdC).i64(g.StrideC).f32(g.Beta)
			b.launch1("scale_strided"+suffix(c.dt), blocksFor(g.Batch*g.M*g.N, threads), threads, 0)
		}
		return
	}
	b.before()
	if err := b.drv.gemm(&call); err != nil {
		panic(fmt.Errorf("cuda: Gemm %dx%dx%d (batch %d): %w", g.M, g.N, g.K, g.Batch, err))
	}
	b.launched("gemm")
}

// ---- fused layers ----

func (b *Backend) Embedding(dst, table, ids tensor.Buffer, n, c int) {
	d, t, id := b.buf(dst, "Embedding"), b.buf(table, "Embedding"), b.buf(ids, "Embedding")
	if id.dt != tensor.I32 {
		panic(fmt.Errorf("cuda: Embedding: ids are %v, not i32", id.dt))
	}
	checkRange("Embedding", d, 0, n*c)
	checkRange("Embedding", id, 0, n)
	if n*c == 0 {
		return
	}
	b.args().ptr(d.ptr).ptr(t.ptr).ptr(id.ptr).i64(n).i64(c)
	b.launch1(b.kernel("Embedding", "embedding", d.dt, t.dt), min(n, maxGrid), threads, 0)
}

func (b *Backend) EmbeddingBackward(dtable, dout, ids tensor.Buffer, n, c int) {
	t, g, id := b.buf(dtable, "EmbeddingBackward"), b.buf(dout, "EmbeddingBackward"), b.buf(ids, "EmbeddingBackward")
	if id.dt != tensor.I32 {
		panic(fmt.Errorf("cuda: EmbeddingBackward: ids are %v, not i32", id.dt))
	}
	checkRange("EmbeddingBackward", g, 0, n*c)
	checkRange("EmbeddingBackward", id, 0, n)
	if n*c == 0 {
		return
	}
	b.args().ptr(t.ptr).ptr(g.ptr).ptr(id.ptr).i64(n).i64(c)
	b.launch1(b.kernel("EmbeddingBackward", "embedding_backward", t.dt, g.dt), min(n, maxGrid), threads, 0)
}

// rowBlocks is the grid of the warp-per-row kernels.
func rowBlocks(n int) int { return blocksFor(n, threads/32) }

func (b *Backend) RMSNorm(dst, rstd, x tensor.Buffer, n, c int, eps float32) {
	d, r, bx := b.buf(dst, "RMSNorm"), b.buf(rstd, "RMSNorm"), b.buf(x, "RMSNorm")
	dt := b.float("RMSNorm", d, bx)
	if r.dt != tensor.F32 {
		panic(fmt.Errorf("cuda: RMSNorm: rstd is %v, not f32", r.dt))
	}
	checkRange("RMSNorm", d, 0, n*c)
	checkRange("RMSNorm", bx, 0, n*c)
	checkRange("RMSNorm", r, 0, n)
	if n == 0 {
		return
	}
	b.args().ptr(d.ptr).ptr(r.ptr).ptr(bx.ptr).i64(n).i64(c).f32(eps)
	b.launch1("rms_norm"+suffix(dt), rowBlocks(n), threads, 0)
}

func (b *Backend) RMSNormBackward(dx, dy, x, rstd tensor.Buffer, n, c int) {
	bdx, bdy, bx, r := b.buf(dx, "RMSNormBackward"), b.buf(dy, "RMSNormBackward"), b.buf(x, "RMSNormBackward"), b.buf(rstd, "RMSNormBackward")
	dt := b.float("RMSNormBackward", bdx, bdy, bx)
	if r.dt != tensor.F32 {
		panic(fmt.Errorf("cuda: RMSNormBackward: rstd is %v, not f32", r.dt))
	}
	for _, q := range []*buffer{bdx, bdy, bx} {
		checkRange("RMSNormBackward", q, 0, n*c)
	}
	checkRange("RMSNormBackward", r, 0, n)
	if n == 0 {
		return
	}
	b.args().ptr(bdx.ptr).ptr(bdy.ptr).ptr(bx.ptr).ptr(r.ptr).i64(n).i64(c)
	b.launch1("rms_norm_backward"+suffix(dt), rowBlocks(n), threads, 0)
}

func (b *Backend) Rotary(dst, x, cos, sin tensor.Buffer, bs, t, h, d int, inverse bool) {
	bd, bx, bc, bsn := b.buf(dst, "Rotary"), b.buf(x, "Rotary"), b.buf(cos, "Rotary"), b.buf(sin, "Rotary")
	dt := b.float("Rotary", bd, bx, bc, bsn)
	if d%2 != 0 {
		panic(fmt.Errorf("cuda: Rotary: odd head dim %d", d))
	}
	checkRange("Rotary", bd, 0, bs*t*h*d)
	checkRange("Rotary", bx, 0, bs*t*h*d)
	checkRange("Rotary", bc, 0, t*d/2)
	checkRange("Rotary", bsn, 0, t*d/2)
	if bs*t*h*d == 0 {
		return
	}
	b.args().ptr(bd.ptr).ptr(bx.ptr).ptr(bc.ptr).ptr(bsn.ptr).i64(bs).i64(t).i64(h).i64(d).flag(inverse)
	b.launch1("rotary"+suffix(dt), min(bs*t, maxGrid), threads, 0)
}

func (b *Backend) RotaryRMSNormBackward(dx, dy, x, rstd, cos, sin tensor.Buffer, bs, t, h, d int) {
	const op = "RotaryRMSNormBackward"
	bdx, bdy, bx, r, bc, bsn := b.buf(dx, op), b.buf(dy, op), b.buf(x, op), b.buf(rstd, op), b.buf(cos, op), b.buf(sin, op)
	dt := b.float(op, bdx, bdy, bx, bc, bsn)
	if r.dt != tensor.F32 {
		panic(fmt.Errorf("cuda: %s: rstd is %v, not f32", op, r.dt))
	}
	if d%2 != 0 {
		panic(fmt.Errorf("cuda: %s: odd head dim %d", op, d))
	}
	n := bs * t * h
	for _, q := range []*buffer{bdx, bdy, bx} {
		checkRange(op, q, 0, n*d)
	}
	checkRange(op, r, 0, n)
	checkRange(op, bc, 0, t*d/2)
	checkRange(op, bsn, 0, t*d/2)
	if n == 0 {
		return
	}
	b.args().ptr(bdx.ptr).ptr(bdy.ptr).ptr(bx.ptr).ptr(r.ptr).ptr(bc.ptr).ptr(bsn.ptr).i64(bs).i64(t).i64(h).i64(d)
	b.launch1("rotary_rms_norm_backward"+suffix(dt), rowBlocks(n), threads, 0)
}

// Attention tiles (attention.cu): 32 rows, 32 columns, head dim up to 256.
const (
	attTile = 32
	attMaxD = 256
)

// attSmem is the dynamic shared memory, in bytes, of each attention kernel for head dim d.
func attSmem(kernel string, d int) int {
	row := attTile * (d + 1)
	sq := attTile * (attTile + 1)
	switch kernel {
	case "attention_forward":
		return 4 * (3*row + sq)
	case "attention_backward_dq":
		return 4 * (4*row + sq)
	case "attention_backward_dkdv":
		return 4 * (4*row + 2*sq + 2*attTile)
	}
	panic("cuda: unknown attention kernel " + kernel)
}

type attBufs struct{ q, k, v, out, lse, dout, dq, dk, dv *buffer }

func (b *Backend) checkAttention(op string, a *tensor.AttentionArgs, backward bool) (attBufs, tensor.DType) {
	if a.B < 1 || a.T < 1 || a.H < 1 || a.KVH < 1 || a.D < 1 || a.H%a.KVH != 0 {
		panic(fmt.Errorf("cuda: %s: bad sizes B=%d T=%d H=%d KVH=%d D=%d (H a multiple of KVH)", op, a.B, a.T, a.H, a.KVH, a.D))
	}
	if a.D > attMaxD {
		panic(fmt.Errorf("cuda: %s: head dim %d over the kernel's maximum %d", op, a.D, attMaxD))
	}
	if a.H > 65535 || a.B > 65535 {
		panic(fmt.Errorf("cuda: %s: B=%d or H=%d over the grid limit 65535", op, a.B, a.H))
	}
	var o attBufs
	o.q, o.k, o.v, o.out, o.lse = b.buf(a.Q, op), b.buf(a.K, op), b.buf(a.V, op), b.buf(a.Out, op), b.buf(a.LSE, op)
	all := []*buffer{o.q, o.k, o.v, o.out}
	if backward {
		o.dout, o.dq, o.dk, o.dv = b.buf(a.DOut, op), b.buf(a.DQ, op), b.buf(a.DK, op), b.buf(a.DV, op)
		all = append(all, o.dout, o.dq, o.dk, o.dv)
	}
	dt := b.float(op, all...)
	if o.lse.dt != tensor.F32 {
		panic(fmt.Errorf("cuda: %s: LSE is %v, not f32", op, o.lse.dt))
	}
	qn, kn := a.B*a.T*a.H*a.D, a.B*a.T*a.KVH*a.D
	for _, x := range []*buffer{o.q, o.out, o.dout, o.dq} {
		if x != nil {
			checkRange(op, x, 0, qn)
		}
	}
	for _, x := range []*buffer{o.k, o.v, o.dk, o.dv} {
		if x != nil {
			checkRange(op, x, 0, kn)
		}
	}
	checkRange(op, o.lse, 0, a.B*a.H*a.T)
	return o, dt
}

func (b *Backend) smemFor(op, kernel string, d int) int {
	need := attSmem(kernel, d)
	if limit := b.drv.maxDynamicSmem(); need > limit {
		panic(fmt.Errorf("cuda: %s: head dim %d needs %d bytes of shared memory, the device allows %d", op, d, need, limit))
	}
	return need
}

// Flash attention (flash.cu): bf16 on the tensor cores, 64-row tiles, head dims 64 and 128.
const (
	flashTile = 64
	flashPad  = 8 // bf16 elements of padding per shared row
)

// useFlash reports whether the tensor-core kernels take an attention of dtype dt, head dim d.
func (b *Backend) useFlash(dt tensor.DType, d int) bool {
	return b.flash && dt == tensor.BF16 && (d == 64 || d == 128)
}

// flashSmem is the dynamic shared memory, in bytes, of each flash kernel for head dim d.
func flashSmem(kernel string, d int) int {
	row := 2 * (d + flashPad) // bytes of a padded bf16 row
	switch kernel {
	case "flash_forward":
		return 3 * flashTile * row
	case "flash_backward_dq":
		return 4 * flashTile * row
	case "flash_backward_dkdv":
		return (2*flashTile+2*flashTile/2)*row + 2*4*flashTile/2
	}
	panic("cuda: unknown flash kernel " + kernel)
}

func (b *Backend) flashSmemFor(op, kernel string, d int) int {
	need := flashSmem(kernel, d)
	if limit := b.drv.maxDynamicSmem(); need > limit {
		panic(fmt.Errorf("cuda: %s: head dim %d needs %d bytes of shared memory, the device allows %d", op, d, need, limit))
	}
	return need
}

func (b *Backend) Attention(a *tensor.AttentionArgs) {
	o, dt := b.checkAttention("Attention", a, false)
	if b.useFlash(dt, a.D) {
		smem := b.flashSmemFor("Attention", "flash_forward", a.D)
		b.args().ptr(o.out.ptr).ptr(o.lse.ptr).ptr(o.q.ptr).ptr(o.k.ptr).ptr(o.v.ptr).
			attDims(a.B, a.T, a.H, a.KVH, a.D, a.Window).f32(a.Scale)
		b.launch(fmt.Sprintf("flash_forward_d%d", a.D), [3]int{(a.T + flashTile - 1) / flashTile, a.H, a.B}, 128, smem)
		return
	}
	smem := b.smemFor("Attention", "attention_forward", a.D)
	b.args().ptr(o.out.ptr).ptr(o.lse.ptr).ptr(o.q.ptr).ptr(o.k.ptr).ptr(o.v.ptr).
		attDims(a.B, a.T, a.H, a.KVH, a.D, a.Window).f32(a.Scale)
	b.launch("attention_forward"+suffix(dt), [3]int{(a.T + attTile - 1) / attTile, a.H, a.B}, threads, smem)
}

func (b *Backend) AttentionBackward(a *tensor.AttentionArgs) {
	o, dt := b.checkAttention("AttentionBackward", a, true)
	// delta = rowsum(dout * out), a scratch [B, H, T] in f32; freed at once, since the
	// stream runs the kernels below before anything that reuses the block.
	rows := a.B * a.H * a.T
	delta := b.Alloc(tensor.F32, rows).(*buffer)
	defer b.Free(delta)
	b.args().ptr(delta.ptr).ptr(o.dout.ptr).ptr(o.out.ptr).attDims(a.B, a.T, a.H, a.KVH, a.D, a.Window)
	b.launch1("attention_delta"+suffix(dt), rowBlocks(rows), threads, 0)

	if b.useFlash(dt, a.D) {
		smemQ := b.flashSmemFor("AttentionBackward", "flash_backward_dq", a.D)
		smemKV := b.flashSmemFor("AttentionBackward", "flash_backward_dkdv", a.D)
		tiles := (a.T + flashTile - 1) / flashTile
		b.args().ptr(o.dq.ptr).ptr(o.q.ptr).ptr(o.k.ptr).ptr(o.v.ptr).ptr(o.dout.ptr).ptr(o.lse.ptr).ptr(delta.ptr).
			attDims(a.B, a.T, a.H, a.KVH, a.D, a.Window).f32(a.Scale)
		b.launch(fmt.Sprintf("flash_backward_dq_d%d", a.D), [3]int{tiles, a.H, a.B}, 128, smemQ)
		b.args().ptr(o.dk.ptr).ptr(o.dv.ptr).ptr(o.q.ptr).ptr(o.k.ptr).ptr(o.v.ptr).ptr(o.dout.ptr).ptr(o.lse.ptr).ptr(delta.ptr).
			attDims(a.B, a.T, a.H, a.KVH, a.D, a.Window).f32(a.Scale)
		b.launch(fmt.Sprintf("flash_backward_dkdv_d%d", a.D), [3]int{tiles, a.KVH, a.B}, 128, smemKV)
		return
	}
	smemQ := b.smemFor("AttentionBackward", "attention_backward_dq", a.D)
	smemKV := b.smemFor("AttentionBackward", "attention_backward_dkdv", a.D)

	tiles := (a.T + attTile - 1) / attTile
	b.args().ptr(o.dq.ptr).ptr(o.q.ptr).ptr(o.k.ptr).ptr(o.v.ptr).ptr(o.dout.ptr).ptr(o.lse.ptr).ptr(delta.ptr).
		attDims(a.B, a.T, a.H, a.KVH, a.D, a.Window).f32(a.Scale)
	b.launch("attention_backward_dq"+suffix(dt), [3]int{tiles, a.H, a.B}, threads, smemQ)

	b.args().ptr(o.dk.ptr).ptr(o.dv.ptr).ptr(o.q.ptr).ptr(o.k.ptr).ptr(o.v.ptr).ptr(o.dout.ptr).ptr(o.lse.ptr).ptr(delta.ptr).
		attDims(a.B, a.T, a.H, a.KVH, a.D, a.Window).f32(a.Scale)
	b.launch("attention_backward_dkdv"+suffix(dt), [3]int{tiles, a.KVH, a.B}, threads, smemKV)
}

func (b *Backend) CrossEntropy(losses, lse, logits, targets tensor.Buffer, n, v int) {
	l, z, g, t := b.buf(losses, "CrossEntropy"), b.buf(lse, "CrossEntropy"), b.buf(logits, "CrossEntropy"), b.buf(targets, "CrossEntropy")
	if l.dt != tensor.F32 || z.dt != tensor.F32 || !isFloat(g.dt) || t.dt != tensor.I32 {
		panic(fmt.Errorf("cuda: CrossEntropy: dtypes %v %v %v %v (f32 losses and lse, f32 or bf16 logits, i32 targets)", l.dt, z.dt, g.dt, t.dt))
	}
	checkRange("CrossEntropy", g, 0, n*v)
	checkRange("CrossEntropy", l, 0, n)
	checkRange("CrossEntropy", z, 0, n)
	checkRange("CrossEntropy", t, 0, n)
	if n == 0 {
		return
	}
	b.args().ptr(l.ptr).ptr(z.ptr).ptr(g.ptr).ptr(t.ptr).i64(n).i64(v)
	b.launch1("cross_entropy"+suffix(g.dt), min(n, maxGrid), threads, 0)
}

func (b *Backend) CrossEntropyBackward(dlogits, dlosses, logits, lse, targets tensor.Buffer, n, v int, softcap float32) {
	dl, g, lg, z, t := b.buf(dlogits, "CrossEntropyBackward"), b.buf(dlosses, "CrossEntropyBackward"),
		b.buf(logits, "CrossEntropyBackward"), b.buf(lse, "CrossEntropyBackward"), b.buf(targets, "CrossEntropyBackward")
	if dl.dt != lg.dt || !isFloat(lg.dt) || g.dt != tensor.F32 || z.dt != tensor.F32 || t.dt != tensor.I32 {
		panic(fmt.Errorf("cuda: CrossEntropyBackward: dtypes %v %v %v %v %v (dlogits and logits alike, f32 dlosses and lse, i32 targets)",
			dl.dt, g.dt, lg.dt, z.dt, t.dt))
	}
	if softcap < 0 {
		panic(fmt.Errorf("cuda: CrossEntropyBackward: negative softcap %g", softcap))
	}
	checkRange("CrossEntropyBackward", dl, 0, n*v)
	checkRange("CrossEntropyBackward", lg, 0, n*v)
	checkRange("CrossEntropyBackward", g, 0, n)
	checkRange("CrossEntropyBackward", z, 0, n)
	checkRange("CrossEntropyBackward", t, 0, n)
	if n*v == 0 {
		return
	}
	b.args().ptr(dl.ptr).ptr(g.ptr).ptr(lg.ptr).ptr(z.ptr).ptr(t.ptr).i64(n).i64(v).f32(softcap)
	b.launch1("cross_entropy_backward"+suffix(lg.dt), min(n, maxGrid), threads, 0)
}

// ---- optimizer updates ----

func (b *Backend) f32s(op string, n int, bufs ...tensor.Buffer) []*buffer {
	out := make([]*buffer, len(bufs))
	for i, x := range bufs {
		out[i] = b.buf(x, op)
		if out[i].dt != tensor.F32 {
			panic(fmt.Errorf("cuda: %s: %v buffer (f32 only)", op, out[i].dt))
		}
		checkRange(op, out[i], 0, n)
	}
	return out
}

func (b *Backend) AdamW(p, g, m, v tensor.Buffer, n int, h tensor.AdamWArgs) {
	bs := b.f32s("AdamW", n, p, g, m, v)
	if n == 0 {
		return
	}
	// The step's constants, in float64 as the CPU backend computes them.
	decay := float32(1 - float64(h.LR)*float64(h.WeightDecay))
	bias1 := 1 - math.Pow(float64(h.Beta1), float64(h.Step))
	bias2 := 1 - math.Pow(float64(h.Beta2), float64(h.Step))
	b.args().ptr(bs[0].ptr).ptr(bs[1].ptr).ptr(bs[2].ptr).ptr(bs[3].ptr).i64(n).f32(decay).
		f32(1 - h.Beta1).f32(1 - h.Beta2).f32(float32(float64(h.LR) / bias1)).f32(float32(1 / bias2)).f32(h.Eps)
	b.launch1("adamw_f32", blocksFor(n, threads), threads, 0)
}

func (b *Backend) Nesterov(g, buf tensor.Buffer, n int, momentum float32) {
	bs := b.f32s("Nesterov", n, g, buf)
	if n == 0 {
		return
	}
	b.args().ptr(bs[0].ptr).ptr(bs[1].ptr).i64(n).f32(momentum)
	b.launch1("nesterov_f32", blocksFor(n, threads), threads, 0)
}

func (b *Backend) Lerp(a, x tensor.Buffer, n int, w float32) {
	bs := b.f32s("Lerp", n, a, x)
	if n == 0 {
		return
	}
	b.args().ptr(bs[0].ptr).ptr(bs[1].ptr).i64(n).f32(w)
	b.launch1("lerp_f32", blocksFor(n, threads), threads, 0)
}

func (b *Backend) MuonUpdate(p, g, s tensor.Buffer, np, r, c int, perRow bool, lr, wd float32) {
	n := np * r * c
	bs := b.f32s("MuonUpdate", n, p, g)
	sn := np * c
	if perRow {
		sn = np * r
	}
	sc := b.f32s("MuonUpdate", sn, s)[0]
	if n == 0 {
		return
	}
	b.args().ptr(bs[0].ptr).ptr(bs[1].ptr).ptr(sc.ptr).i64(np).i64(r).i64(c).flag(perRow).f32(lr).f32(wd)
	b.launch1("muon_update_f32", blocksFor(n, threads), threads, 0)
}

var _ tensor.Backend = (*Backend)(nil)
