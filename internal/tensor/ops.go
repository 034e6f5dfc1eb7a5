package tensor

import (
	"fmt"
	"math"
	"slices"
)

// The elementwise, reduction and layout ops. Each checks its arguments,
// runs one or more Backend kernels, and records its node for autograd.

func (t *Tensor) float(op string) {
	t.check(op)
	if t.dtype == I32 {
		panic(fmt.Sprintf("tensor: %s: %s is an integer tensor", op, t.desc()))
	}
}

func sameDevice(op string, ts ...*Tensor) {
	for _, t := range ts[1:] {
		if t.dev != ts[0].dev {
			panic(fmt.Sprintf("tensor: %s: tensors on different devices", op))
		}
	}
}

// ---- unary ----

type unaryAux struct {
	op   UnaryOp
	a, b float32
}

func (t *Tensor) unary(op UnaryOp, a, b float32) *Tensor {
	name := op.String()
	t.float(name)
	out := t.dev.newTensor(t.dtype, t.shape)
	if n := t.Numel(); n > 0 {
		t.dev.be.Unary(op, out.buf(), t.buf(), n, a, b)
	}
	if op == StepGE {
		return out
	}
	return record(out, name, []*Tensor{t}, nil, unaryAux{op, a, b})
}

// Affine returns a*t + b.
func (t *Tensor) Affine(a, b float32) *Tensor { return t.unary(Affine, a, b) }

// MulScalar returns s*t.
func (t *Tensor) MulScalar(s float32) *Tensor { return t.unary(Affine, s, 0) }

// AddScalar returns t + s.
func (t *Tensor) AddScalar(s float32) *Tensor { return t.unary(Affine, 1, s) }

// Neg returns -t.
func (t *Tensor) Neg() *Tensor { return t.unary(Affine, -1, 0) }

// Exp returns e^t.
func (t *Tensor) Exp() *Tensor { return t.unary(Exp, 0, 0) }

// Log returns ln t.
func (t *Tensor) Log() *Tensor { return t.unary(Log, 0, 0) }

// Sqrt returns √t.
func (t *Tensor) Sqrt() *Tensor { return t.unary(Sqrt, 0, 0) }

// Rsqrt returns 1/√t.
func (t *Tensor) Rsqrt() *Tensor { return t.unary(Rsqrt, 0, 0) }

// Recip returns 1/t.
func (t *Tensor) Recip() *Tensor { return t.unary(Recip, 0, 0) }

// Square returns t².
func (t *Tensor) Square() *Tensor { return t.unary(Square, 0, 0) }

// Abs returns |t|.
func (t *Tensor) Abs() *Tensor { return t.unary(Abs, 0, 0) }

// Relu returns max(t, 0).
func (t *Tensor) Relu() *Tensor { return t.unary(Relu, 0, 0) }

// ReluSquare returns max(t, 0)², the MLP's activation, in one pass.
func (t *Tensor) ReluSquare() *Tensor { return t.unary(ReluSquare, 0, 0) }

// Sigmoid returns 1/(1+e^-t).
func (t *Tensor) Sigmoid() *Tensor { return t.unary(Sigmoid, 0, 0) }

// Tanh returns tanh t.
func (t *Tensor) Tanh() *Tensor { return t.unary(Tanh, 0, 0) }

// Softcap returns c*tanh(t/c), the logit soft cap, in one pass.
func (t *Tensor) Softcap(c float32) *Tensor { return t.unary(Softcap, c, 0) }

// ClampMin returns max(t, lo).
func (t *Tensor) ClampMin(lo float32) *Tensor { return t.unary(ClampMin, lo, 0) }

// ClampMax returns min(t, hi).
func (t *Tensor) ClampMax(hi float32) *Tensor { return t.unary(ClampMax, hi, 0) }

// Pow returns t^e for positive t.
func (t *Tensor) Pow(e float32) *Tensor { return t.unary(PowScalar, e, 0) }

// GELU returns x*Φ(x), the exact (erf) GELU (F.gelu(x)), in one pass.
func (t *Tensor) GELU() *Tensor { return t.unary(GELU, 0, 0) }

// GELUTanh returns the tanh approximation of GELU (F.gelu(x,
// approximate='tanh'), GPT-2's), in one pass.
func (t *Tensor) GELUTanh() *Tensor { return t.unary(GELUTanh, 0, 0) }

// SiLU returns x*σ(x) (F.silu, swish; SwiGLU is SiLU(a).Mul(b)), in one pass.
func (t *Tensor) SiLU() *Tensor { return t.unary(SiLU, 0, 0) }

// Softplus returns ln(1+e^x) (F.softplus, x itself above 20), in one pass.
func (t *Tensor) Softplus() *Tensor { return t.unary(Softplus, 0, 0) }

// Mish returns x*tanh(softplus(x)) (F.mish), in one pass.
func (t *Tensor) Mish() *Tensor { return t.unary(Mish, 0, 0) }

// StepGE returns 1 where t >= v, else 0 (a mask; no gradient).
func (t *Tensor) StepGE(v float32) *Tensor { return t.unary(StepGE, v, 0) }

// ---- binary, with broadcasting ----

// broadcastShapes returns the shape two shapes broadcast to, NumPy style
// (axes aligned from the right; a size of 1 stretches).
func broadcastShapes(op string, a, b []int) []int {
	r := max(len(a), len(b))
	out := make([]int, r)
	for i := range r {
		da, db := 1, 1
		if j := i - (r - len(a)); j >= 0 {
			da = a[j]
		}
		if j := i - (r - len(b)); j >= 0 {
			db = b[j]
		}
		switch {
		case da == db || db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			panic(fmt.Sprintf("tensor: %s: shapes %v and %v do not broadcast", op, a, b))
		}
	}
	return out
}

// broadcastStrides gives the strides that read a contiguous tensor of shape
// as if it had shape out (0 along broadcast axes).
func broadcastStrides(shape, out []int) []int {
	st := make([]int, len(out))
	cs := contiguousStrides(shape)
	off := len(out) - len(shape)
	for i := range out {
		j := i - off
		if j >= 0 && shape[j] != 1 {
			st[i] = cs[j]
		}
	}
	return st
}

func binaryRaw(op BinaryOp, x, y *Tensor) *Tensor {
	name := op.String()
	x.float(name)
	y.float(name)
	sameDevice(name, x, y)
	shape := broadcastShapes(name, x.shape, y.shape)
	out := x.dev.newTensor(x.dev.mixed(x.dtype, y.dtype), shape)
	if numel(shape) > 0 {
		x.dev.be.Binary(op, shape, out.buf(), x.buf(), broadcastStrides(x.shape, shape), y.buf(), broadcastStrides(y.shape, shape))
	}
	return out
}

func binary(op BinaryOp, x, y *Tensor) *Tensor {
	return record(binaryRaw(op, x, y), op.String(), []*Tensor{x, y}, nil, nil)
}

// Add returns t + u, broadcasting.
func (t *Tensor) Add(u *Tensor) *Tensor { return binary(Add, t, u) }

// Sub returns t - u, broadcasting.
func (t *Tensor) Sub(u *Tensor) *Tensor { return binary(Sub, t, u) }

// Mul returns t * u elementwise, broadcasting.
func (t *Tensor) Mul(u *Tensor) *Tensor { return binary(Mul, t, u) }

// Div returns t / u elementwise, broadcasting.
func (t *Tensor) Div(u *Tensor) *Tensor { return binary(Div, t, u) }

// Maximum returns max(t, u) elementwise (no gradient).
func (t *Tensor) Maximum(u *Tensor) *Tensor { return binaryRaw(Max, t, u) }

// Minimum returns min(t, u) elementwise (no gradient).
func (t *Tensor) Minimum(u *Tensor) *Tensor { return binaryRaw(Min, t, u) }

// GreaterEqual returns 1 where t >= u, else 0 (a mask; no gradient).
func (t *Tensor) GreaterEqual(u *Tensor) *Tensor { return binaryRaw(GE, t, u) }

// Lerp returns a + w*(b - a), PyTorch's lerp with a scalar weight.
func Lerp(a, b *Tensor, w float32) *Tensor { return a.Add(b.Sub(a).MulScalar(w)) }

// LerpT returns a + w*(b - a) with a tensor weight, broadcasting.
func LerpT(a, b, w *Tensor) *Tensor { return a.Add(b.Sub(a).Mul(w)) }

func whereRaw(cond, x, y *Tensor) *Tensor {
	cond.float("where")
	x.float("where")
	y.float("where")
	sameDevice("where", cond, x, y)
	shape := broadcastShapes("where", broadcastShapes("where", cond.shape, x.shape), y.shape)
	dt := x.dtype
	if cond.dtype != dt || y.dtype != dt {
		panic(fmt.Sprintf("tensor: where: mixed dtypes %v, %v, %v", cond.dtype, x.dtype, y.dtype))
	}
	out := x.dev.newTensor(dt, shape)
	if numel(shape) > 0 {
		x.dev.be.Where(shape, out.buf(), cond.buf(), broadcastStrides(cond.shape, shape),
			x.buf(), broadcastStrides(x.shape, shape), y.buf(), broadcastStrides(y.shape, shape))
	}
	return out
}

// Where returns x where cond is non-zero and y elsewhere, broadcasting all
// three. cond gets no gradient. Inputs of mixed dtypes are converted to the
// activation dtype first.
func Where(cond, x, y *Tensor) *Tensor {
	cond.float("where")
	x.float("where")
	y.float("where")
	if dt := x.dev.mixed(x.dev.mixed(cond.dtype, x.dtype), y.dtype); cond.dtype != dt || x.dtype != dt || y.dtype != dt {
		cond, x, y = cond.as(dt), x.To(dt), y.To(dt)
	}
	return record(whereRaw(cond, x, y), "where", []*Tensor{cond, x, y}, nil, nil)
}

// ---- reductions ----

type reduceAux struct {
	keep []int // the output shape with reduced axes kept as 1
}

// reduce applies op over axes (all when none are given), keeping reduced
// axes as size 1, or returning a 0-d scalar when reducing everything.
// Adjacent reduced axes merge into one kernel pass; others take a pass each.
func (t *Tensor) reduce(name string, op ReduceOp, mean bool, axes []int) *Tensor {
	return t.reduceInto(F32, name, op, mean, axes)
}

// reduceInto is reduce with the result in dtype dt (the sums are F32 whatever
// dt; a multi-pass reduction keeps its intermediates in F32).
func (t *Tensor) reduceInto(dt DType, name string, op ReduceOp, mean bool, axes []int) *Tensor {
	t.float(name)
	all := len(axes) == 0
	red := make([]bool, len(t.shape))
	if all {
		for i := range red {
			red[i] = true
		}
	}
	for _, a := range axes {
		red[t.axis(name, a)] = true
	}
	keep := slices.Clone(t.shape)
	for i := range keep {
		if red[i] {
			keep[i] = 1
		}
	}
	if t.Numel() == 0 {
		panic(fmt.Sprintf("tensor: %s: empty tensor %s", name, t.desc()))
	}
	cur := t
	curShape := slices.Clone(t.shape)
	first := true
	// The last pass is the run of reduced axes reached last (the first from the left).
	lastRun := -1
	for i := range red {
		if red[i] && t.shape[i] != 1 {
			lastRun = i
			break
		}
	}
	// Reduce runs of adjacent axes from the last run to the first, so the
	// earlier axes' positions stay put.
	for i := len(red) - 1; i >= 0; {
		if !red[i] || curShape[i] == 1 {
			i--
			continue
		}
		j := i
		for j > 0 && red[j-1] {
			j--
		}
		outer := numel(curShape[:j])
		n := numel(curShape[j : i+1])
		inner := numel(curShape[i+1:])
		pass := op
		alpha := float32(1)
		if mean {
			alpha = 1 / float32(n)
		}
		if !first && op == SumSquares {
			pass = Sum
		}
		nextShape := slices.Clone(curShape)
		for k := j; k <= i; k++ {
			nextShape[k] = 1
		}
		passDT := F32
		if j <= lastRun {
			passDT = dt
		}
		next := t.dev.newTensor(passDT, nextShape)
		t.dev.be.Reduce(pass, next.buf(), cur.buf(), outer, n, inner, alpha)
		if !first {
			cur.release()
		}
		cur, curShape, first = next, nextShape, false
		i = j - 1
	}
	if first { // nothing to reduce (all reduced axes have size 1)
		switch op {
		case SumSquares:
			cur = binaryRaw(Mul, t, t)
			if cur.dtype != dt {
				sq := cur
				cur = sq.convert(dt)
				sq.release()
			}
		default:
			cur = t.dev.newTensor(dt, t.shape)
			copyAll(cur, t)
		}
	}
	out := cur
	if all {
		out = cur.view(nil)
		cur.release()
	}
	return record(out, name, []*Tensor{t}, nil, reduceAux{keep: keep})
}

// Sum sums over axes (every axis when none are given: a 0-d scalar), keeping
// the reduced axes as size 1. Every reduction returns F32 (it accumulates in
// F32 whatever its input's dtype).
func (t *Tensor) Sum(axes ...int) *Tensor { return t.reduce("sum", Sum, false, axes) }

// Mean averages over axes like Sum.
func (t *Tensor) Mean(axes ...int) *Tensor { return t.reduce("mean", Sum, true, axes) }

// SumSquares returns Σ t² over axes like Sum.
func (t *Tensor) SumSquares(axes ...int) *Tensor {
	return t.reduce("sum_squares", SumSquares, false, axes)
}

// Max returns the maximum over axes like Sum.
func (t *Tensor) Max(axes ...int) *Tensor { return t.reduce("max", MaxReduce, false, axes) }

// Norm returns the Euclidean norm over axes like Sum.
func (t *Tensor) Norm(axes ...int) *Tensor { return t.SumSquares(axes...).Sqrt() }

// expandBack broadcasts a reduction's adjoint back to its input's shape.
func expandBack(g *Tensor, n *node) *Tensor {
	return g.Reshape(n.aux.(reduceAux).keep...).Expand(n.inputs[0].shape...)
}

// reduceToShape sums g over the axes along which shape was broadcast to
// g's shape, into F32.
func reduceToShape(g *Tensor, shape []int) *Tensor { return reduceToShapeAs(g, shape, F32) }

// reduceToShapeAs is reduceToShape into dtype dt: a broadcast input's
// gradient comes out in its own dtype without a conversion pass.
func reduceToShapeAs(g *Tensor, shape []int, dt DType) *Tensor {
	if slices.Equal(g.shape, shape) {
		return g
	}
	lead := len(g.shape) - len(shape)
	var axes []int
	for i := range g.shape {
		if i < lead || (shape[i-lead] == 1 && g.shape[i] != 1) {
			axes = append(axes, i)
		}
	}
	if len(axes) == 0 {
		return g.Reshape(shape...)
	}
	s := g.reduceInto(dt, "sum", Sum, false, axes)
	r := s.Reshape(shape...)
	if r != s {
		s.release()
	}
	return r
}

// ---- layout ----

// Reshape returns a view of t with another shape of the same size; one
// dimension may be -1 (inferred).
func (t *Tensor) Reshape(shape ...int) *Tensor {
	t.check("reshape")
	shape = slices.Clone(shape)
	infer := -1
	known := 1
	for i, s := range shape {
		if s == -1 {
			if infer >= 0 {
				panic(fmt.Sprintf("tensor: reshape: more than one -1 in %v", shape))
			}
			infer = i
		} else {
			known *= s
		}
	}
	if infer >= 0 && known > 0 {
		shape[infer] = t.Numel() / known
	}
	if numel(shape) != t.Numel() {
		panic(fmt.Sprintf("tensor: reshape: cannot view %s as %v", t.desc(), shape))
	}
	return record(t.view(shape), "reshape", []*Tensor{t}, nil, nil)
}

// copyAll copies src into dst, both contiguous of one size.
func copyAll(dst, src *Tensor) {
	n := src.Numel()
	dst.dev.be.Copy([]int{n}, dst.buf(), 0, []int{1}, src.buf(), 0, []int{1}, false)
}

// Clone returns a copy of t with storage of its own; the gradient flows
// through it unchanged. For a copy outside the graph (the starting weights
// of an EMA), clone under NoGrad or clone t.Detach().
func (t *Tensor) Clone() *Tensor {
	t.check("clone")
	out := t.dev.newTensor(t.dtype, t.shape)
	out.ids = t.ids
	if out.Numel() > 0 {
		copyAll(out, t)
	}
	return record(out, "clone", []*Tensor{t}, nil, nil)
}

// Permute returns t with its axes reordered: axis i of the result is axis
// perm[i] of t.
func (t *Tensor) Permute(perm ...int) *Tensor {
	t.check("permute")
	if len(perm) != len(t.shape) {
		panic(fmt.Sprintf("tensor: permute: %v for shape %v", perm, t.shape))
	}
	seen := make([]bool, len(perm))
	shape := make([]int, len(perm))
	src := contiguousStrides(t.shape)
	strides := make([]int, len(perm))
	for i, p := range perm {
		p = t.axis("permute", p)
		if seen[p] {
			panic(fmt.Sprintf("tensor: permute: axis %d repeated in %v", p, perm))
		}
		seen[p] = true
		perm[i] = p
		shape[i] = t.shape[p]
		strides[i] = src[p]
	}
	out := t.dev.newTensor(t.dtype, shape)
	out.ids = t.ids
	if out.Numel() > 0 {
		t.dev.be.Copy(shape, out.buf(), 0, contiguousStrides(shape), t.buf(), 0, strides, false)
	}
	return record(out, "permute", []*Tensor{t}, nil, slices.Clone(perm))
}

// Transpose swaps axes a and b.
func (t *Tensor) Transpose(a, b int) *Tensor {
	perm := make([]int, len(t.shape))
	for i := range perm {
		perm[i] = i
	}
	a, b = t.axis("transpose", a), t.axis("transpose", b)
	perm[a], perm[b] = perm[b], perm[a]
	return t.Permute(perm...)
}

// Expand broadcasts t to shape (NumPy rules), materialising the copy.
func (t *Tensor) Expand(shape ...int) *Tensor {
	t.check("expand")
	if got := broadcastShapes("expand", t.shape, shape); !slices.Equal(got, shape) {
		panic(fmt.Sprintf("tensor: expand: %v does not broadcast to %v", t.shape, shape))
	}
	if slices.Equal(t.shape, shape) {
		return t.Reshape(shape...)
	}
	out := t.dev.newTensor(t.dtype, shape)
	if t.Numel() > 0 {
		out.ids = t.ids.scaled(out.Numel() / t.Numel())
	}
	if out.Numel() > 0 {
		t.dev.be.Copy(shape, out.buf(), 0, contiguousStrides(shape), t.buf(), 0, broadcastStrides(t.shape, shape), false)
	}
	return record(out, "expand", []*Tensor{t}, nil, nil)
}

type sliceAux struct{ axis, start, end int }

// Slice returns t[..., start:end, ...] along axis, as a copy.
func (t *Tensor) Slice(axis, start, end int) *Tensor {
	t.check("slice")
	axis = t.axis("slice", axis)
	if start < 0 || end > t.shape[axis] || start > end {
		panic(fmt.Sprintf("tensor: slice: [%d:%d] out of range for axis %d of %v", start, end, axis, t.shape))
	}
	shape := slices.Clone(t.shape)
	shape[axis] = end - start
	out := t.dev.newTensor(t.dtype, shape)
	out.ids = t.partIDs(out.Numel())
	if out.Numel() > 0 {
		st := contiguousStrides(t.shape)
		t.dev.be.Copy(shape, out.buf(), 0, contiguousStrides(shape), t.buf(), start*st[axis], st, false)
	}
	return record(out, "slice", []*Tensor{t}, nil, sliceAux{axis, start, end})
}

// copyRegion copies all of src into dst at offset at along axis (the other
// axes equal).
func copyRegion(dst, src *Tensor, axis, at int, accumulate bool) {
	if src.Numel() == 0 {
		return
	}
	ds := contiguousStrides(dst.shape)
	dst.dev.be.Copy(src.shape, dst.buf(), at*ds[axis], ds, src.buf(), 0, contiguousStrides(src.shape), accumulate)
}

// Concat joins tensors of one shape (but for axis) along axis.
func Concat(axis int, ts ...*Tensor) *Tensor {
	if len(ts) == 0 {
		panic("tensor: concat: no tensors")
	}
	for _, t := range ts {
		t.check("concat")
	}
	sameDevice("concat", ts...)
	axis = ts[0].axis("concat", axis)
	if ts[0].dtype != I32 {
		dt := ts[0].dtype
		for _, t := range ts {
			dt = t.dev.mixed(dt, t.dtype)
		}
		conv := slices.Clone(ts)
		for i, t := range conv {
			if t.dtype != I32 {
				conv[i] = t.To(dt)
			}
		}
		ts = conv
	}
	shape := slices.Clone(ts[0].shape)
	shape[axis] = 0
	for _, t := range ts {
		if len(t.shape) != len(shape) || t.dtype != ts[0].dtype {
			panic(fmt.Sprintf("tensor: concat: %s does not match %s", t.desc(), ts[0].desc()))
		}
		for i := range shape {
			if i != axis && t.shape[i] != shape[i] {
				panic(fmt.Sprintf("tensor: concat: shape %v does not match %v off axis %d", t.shape, ts[0].shape, axis))
			}
		}
		shape[axis] += t.shape[axis]
	}
	out := ts[0].dev.newTensor(ts[0].dtype, shape)
	out.ids = concatIDs(ts)
	at := 0
	for _, t := range ts {
		copyRegion(out, t, axis, at, false)
		at += t.shape[axis]
	}
	return record(out, "concat", slices.Clone(ts), nil, axis)
}

// concatIDs is the id info of ts joined: known when every part's is.
func concatIDs(ts []*Tensor) *idInfo {
	info := &idInfo{max: math.MinInt32}
	for _, t := range ts {
		if t.ids == nil {
			return nil
		}
		info.valid += t.ids.valid
		info.max = max(info.max, t.ids.max)
	}
	return info
}

// Stack joins tensors of one shape along a new axis.
func Stack(axis int, ts ...*Tensor) *Tensor {
	if len(ts) == 0 {
		panic("tensor: stack: no tensors")
	}
	r := len(ts[0].shape)
	if axis < 0 {
		axis += r + 1
	}
	if axis < 0 || axis > r {
		panic(fmt.Sprintf("tensor: stack: axis out of range for shape %v", ts[0].shape))
	}
	us := make([]*Tensor, len(ts))
	for i, t := range ts {
		t.check("stack")
		if !slices.Equal(t.shape, ts[0].shape) {
			panic(fmt.Sprintf("tensor: stack: shape %v does not match %v", t.shape, ts[0].shape))
		}
		shape := slices.Insert(slices.Clone(t.shape), axis, 1)
		us[i] = t.Reshape(shape...)
	}
	return Concat(axis, us...)
}

// ---- in-place updates (optimizer math; never recorded) ----

func (t *Tensor) inPlace(op string) {
	t.float(op)
	if t.dev.GradEnabled() && t.requiresGrad {
		// Updating a parameter in place while recording would corrupt the
		// graph's saved values; optimizer code runs under NoGrad.
		panic(fmt.Sprintf("tensor: %s: in-place update of %s while recording gradients; run it under NoGrad", op, t.desc()))
	}
	t.touch()
}

// CopyFrom overwrites t with src's values (same number of elements).
func (t *Tensor) CopyFrom(src *Tensor) {
	t.inPlace("CopyFrom")
	src.check("CopyFrom")
	if src.Numel() != t.Numel() {
		panic(fmt.Sprintf("tensor: CopyFrom: %s into %s", src.desc(), t.desc()))
	}
	if t.Numel() > 0 {
		copyAll(t, src)
	}
}

// LerpInto moves a toward b in place: a = a + w*(b - a), PyTorch's
// a.lerp_(b, w), in one pass. An exponential moving average of the weights:
// LerpInto(ema, p, 1-decay) under NoGrad. a is F32; b has a's shape.
func LerpInto(a, b *Tensor, w float32) {
	a.inPlace("LerpInto")
	b.float("LerpInto")
	sameDevice("LerpInto", a, b)
	if a.dtype != F32 || !slices.Equal(a.shape, b.shape) || a.st == b.st {
		panic(fmt.Sprintf("tensor: LerpInto: want an f32 a and a b of its shape, distinct; got %s and %s", a.desc(), b.desc()))
	}
	b = b.as(F32)
	if n := a.Numel(); n > 0 {
		a.dev.be.Lerp(a.buf(), b.buf(), n, w)
	}
}

// Fill sets every element of t to v.
func (t *Tensor) Fill(v float32) {
	t.inPlace("Fill")
	if n := t.Numel(); n > 0 {
		t.dev.be.Fill(t.buf(), 0, n, v)
	}
}

// AdamWStep updates parameter p from its gradient g and moments m, v in
// place (see Backend.AdamW for the math).
func AdamWStep(p, g, m, v *Tensor, h AdamWArgs) {
	for _, t := range []*Tensor{p, g, m, v} {
		t.inPlace("AdamWStep")
		if t.Numel() != p.Numel() {
			panic(fmt.Sprintf("tensor: AdamWStep: %s does not match parameter %s", t.desc(), p.desc()))
		}
	}
	if h.Step < 1 {
		panic("tensor: AdamWStep: Step counts from 1")
	}
	p.dev.be.AdamW(p.buf(), g.buf(), m.buf(), v.buf(), p.Numel(), h)
}

// Nesterov applies Muon's momentum in place: buf = lerp(buf, g, 1-μ),
// g = lerp(g, buf, μ).
func Nesterov(g, buf *Tensor, momentum float32) {
	g.inPlace("Nesterov")
	buf.inPlace("Nesterov")
	if g.Numel() != buf.Numel() {
		panic(fmt.Sprintf("tensor: Nesterov: %s and %s differ in size", g.desc(), buf.desc()))
	}
	g.dev.be.Nesterov(g.buf(), buf.buf(), g.Numel(), momentum)
}

// MuonUpdate applies Muon's scaled, cautiously decayed update in place to
// the stacked parameters p [P, R, C] from the orthogonalised g [P, R, C]
// and scales s, [P, R, 1] (per row) or [P, 1, C] (per column).
func MuonUpdate(p, g, s *Tensor, lr, wd float32) {
	p.inPlace("MuonUpdate")
	g.float("MuonUpdate")
	s.float("MuonUpdate")
	if len(p.shape) != 3 || !slices.Equal(p.shape, g.shape) || len(s.shape) != 3 || s.shape[0] != p.shape[0] {
		panic(fmt.Sprintf("tensor: MuonUpdate: want p, g [P, R, C] and s [P, R, 1] or [P, 1, C]; got %v, %v, %v", p.shape, g.shape, s.shape))
	}
	np, r, c := p.shape[0], p.shape[1], p.shape[2]
	var perRow bool
	switch {
	case s.shape[1] == r && s.shape[2] == 1:
		perRow = true
	case s.shape[1] == 1 && s.shape[2] == c:
	default:
		panic(fmt.Sprintf("tensor: MuonUpdate: scale shape %v fits neither [%d, %d, 1] nor [%d, 1, %d]", s.shape, np, r, np, c))
	}
	p.dev.be.MuonUpdate(p.buf(), g.buf(), s.buf(), np, r, c, perRow, lr, wd)
}

// scaleFor is 1/√d, the attention's default softmax scale.
func scaleFor(d int) float32 { return float32(1 / math.Sqrt(float64(d))) }
