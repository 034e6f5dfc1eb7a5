package tensor

import (
	"fmt"
	"slices"
)

// The layers research edits reach for beyond the baseline's: normalisation
// with learned weights, dropout, cross-entropy with label smoothing and
// z-loss, softmax, and the gathers and scatters of top-k routing (a mixture
// of experts). Each records one node whose backward is one kernel (or a
// few, for the compositions Softmax and LogSoftmax).

// ---- normalisation ----

type layerNormAux struct {
	eps    float32
	center bool
}

// LayerNorm normalises x over its last axis to zero mean and unit variance
// and applies weight and bias [C] (F.layer_norm(x, (C,), weight, bias,
// eps)); either may be nil. One pass forward, one backward.
func LayerNorm(x, weight, bias *Tensor, eps float32) *Tensor {
	return layerNorm("layer_norm", x, weight, bias, eps, true)
}

// RMSNormWeight is RMSNorm with a learned gain: x/rms(x) * weight over the
// last axis (F.rms_norm(x, (C,), weight, eps), nn.RMSNorm). One pass
// forward, one backward.
func RMSNormWeight(x, weight *Tensor, eps float32) *Tensor {
	if weight == nil {
		panic("tensor: rms_norm_weight: nil weight (use RMSNorm)")
	}
	return layerNorm("rms_norm_weight", x, weight, nil, eps, false)
}

func layerNorm(op string, x, w, b *Tensor, eps float32, center bool) *Tensor {
	x.float(op)
	if len(x.shape) == 0 {
		panic(fmt.Sprintf("tensor: %s: scalar input", op))
	}
	c := x.shape[len(x.shape)-1]
	for _, p := range []*Tensor{w, b} {
		if p == nil {
			continue
		}
		p.float(op)
		sameDevice(op, x, p)
		if len(p.shape) != 1 || p.shape[0] != c {
			panic(fmt.Sprintf("tensor: %s: weight and bias must be [%d] for x %v, got %v", op, c, x.shape, p.shape))
		}
	}
	// Weights are F32 (the kernels' contract); a BF16 one converts with a node.
	if w != nil && w.dtype != F32 {
		w = w.To(F32)
	}
	if b != nil && b.dtype != F32 {
		b = b.To(F32)
	}
	rows := x.Numel() / max(c, 1)
	out := x.dev.newTensor(x.dtype, x.shape)
	mean := x.dev.newTensor(F32, []int{rows})
	rstd := x.dev.newTensor(F32, []int{rows})
	if x.Numel() > 0 {
		x.dev.be.LayerNorm(out.buf(), mean.buf(), rstd.buf(), x.buf(), bufOf(w), bufOf(b), rows, c, eps, center)
	}
	return record(out, op, []*Tensor{x, w, b}, []*Tensor{mean, rstd}, layerNormAux{eps, center})
}

// bufOf is t's buffer, nil for a nil tensor (an absent weight).
func bufOf(t *Tensor) Buffer {
	if t == nil {
		return nil
	}
	return t.buf()
}

// layerNormVJP: with xh = (x-mean)*rstd and gh = g*w,
//
//	dx = rstd*(gh - mean(gh) - xh*mean(gh*xh))   (no mean(gh) term for RMSNorm)
//	dw = Σ_rows g*xh;  db = Σ_rows g
func layerNormVJP(n *node, out, g *Tensor) []*Tensor {
	x, w, b := n.inputs[0], n.inputs[1], n.inputs[2]
	a := n.aux.(layerNormAux)
	c := x.shape[len(x.shape)-1]
	var dw, db *Tensor
	if w != nil && n.needs(1) {
		dw = g.dev.newTensor(F32, w.shape)
	}
	if b != nil && n.needs(2) {
		db = g.dev.newTensor(F32, b.shape)
	}
	dx := g.dev.newTensor(x.dtype, x.shape)
	g.dev.be.LayerNormBackward(dx.buf(), bufOf(dw), bufOf(db), g.buf(), x.buf(), n.saved[0].buf(), n.saved[1].buf(),
		bufOf(w), x.Numel()/max(c, 1), c, a.center)
	return []*Tensor{dx, dw, db}
}

// ---- dropout ----

type dropoutAux struct {
	p    float32
	seed uint64
}

// Dropout zeroes each element of x with probability p and scales the rest
// by 1/(1-p) (F.dropout), while grad mode is on, i.e. in a training
// forward. Under NoGrad (evaluation: TokenLosses runs there) it returns x
// unchanged. Each call draws a seed from rng; the mask is a hash of that
// seed (see DropoutKeep), so it is never stored and is the same on every
// device.
func Dropout(x *Tensor, p float32, rng *RNG) *Tensor {
	x.float("dropout")
	if p < 0 || p >= 1 {
		panic(fmt.Sprintf("tensor: dropout: probability %g outside [0, 1)", p))
	}
	if p == 0 || !x.dev.GradEnabled() {
		return x
	}
	if rng == nil {
		panic("tensor: dropout: nil RNG (make one with tensor.NewRNG(seed) and keep it in the model)")
	}
	return dropout(x, p, rng.r.Uint64())
}

// dropout applies the mask of seed whatever the grad mode.
func dropout(x *Tensor, p float32, seed uint64) *Tensor {
	out := x.dev.newTensor(x.dtype, x.shape)
	if n := x.Numel(); n > 0 {
		x.dev.be.Dropout(out.buf(), x.buf(), n, p, seed)
	}
	return record(out, "dropout", []*Tensor{x}, nil, dropoutAux{p, seed})
}

// ---- cross-entropy with options ----

// CrossEntropyOptions are the variations of the loss F.cross_entropy and
// large-model recipes add. The zero value is plain cross-entropy.
type CrossEntropyOptions struct {
	// LabelSmoothing ε gives the target 1-ε of the probability mass and
	// spreads ε uniformly over the vocabulary (label_smoothing=ε).
	LabelSmoothing float32
	// ZLoss adds z*lse² per token (PaLM's z-loss), which keeps the
	// softmax's log-normaliser near 0; 1e-4 is the usual weight.
	ZLoss float32
}

type crossEntropyOptsAux struct {
	softcap float32
	o       CrossEntropyOptions
}

// CrossEntropyWith is CrossEntropy with label smoothing and a z-loss term:
// per token, (1-ε)*(lse - y[t]) + ε*(lse - mean(y)) + z*lse². Like
// CrossEntropy it fuses a Softcap right before it into its backward, and
// ignores negative targets. With zero options it is CrossEntropy.
func CrossEntropyWith(logits, targets *Tensor, o CrossEntropyOptions) *Tensor {
	if o == (CrossEntropyOptions{}) {
		return CrossEntropy(logits, targets)
	}
	if o.LabelSmoothing < 0 || o.LabelSmoothing > 1 || o.ZLoss < 0 {
		panic(fmt.Sprintf("tensor: cross_entropy: label smoothing %g outside [0, 1] or negative z-loss %g", o.LabelSmoothing, o.ZLoss))
	}
	n, v := checkCrossEntropy(logits, targets)
	losses := logits.dev.newTensor(F32, targets.shape)
	lse := logits.dev.newTensor(F32, []int{n})
	if n > 0 {
		logits.dev.be.CrossEntropyOpts(losses.buf(), lse.buf(), logits.buf(), targets.buf(), n, v, o.LabelSmoothing, o.ZLoss)
	}
	if sc := logits.node; sc != nil && sc.op == Softcap.String() && sc.inputs[0].requiresGrad {
		a := sc.aux.(unaryAux)
		out := record(losses, "cross_entropy_opts", []*Tensor{sc.inputs[0], targets}, []*Tensor{lse}, crossEntropyOptsAux{a.a, o})
		if out.node != nil {
			out.node.bypass = []*Tensor{logits}
		}
		return out
	}
	return record(losses, "cross_entropy_opts", []*Tensor{logits, targets}, []*Tensor{lse}, crossEntropyOptsAux{0, o})
}

// CrossEntropyMeanWith is CrossEntropyWith averaged over the targets that
// are not ignored: a scalar.
func CrossEntropyMeanWith(logits, targets *Tensor, o CrossEntropyOptions) *Tensor {
	losses := CrossEntropyWith(logits, targets, o)
	return losses.Sum().MulScalar(1 / float32(validTargets(targets)))
}

// ---- softmax ----

// Softmax returns exp(x)/Σexp(x) over the last axis (F.softmax(x, -1)),
// composed of Max, Sub, Exp, Sum and Div: a router's or a gate's softmax,
// not a hot path (attention and the loss have fused ones).
func Softmax(x *Tensor) *Tensor {
	e := x.Sub(rowMax(x)).Exp()
	return e.Div(e.Sum(-1).Reshape(keepLast(x)...))
}

// LogSoftmax returns x - log Σexp(x) over the last axis (F.log_softmax(x, -1)).
func LogSoftmax(x *Tensor) *Tensor {
	z := x.Sub(rowMax(x))
	return z.Sub(z.Exp().Sum(-1).Log().Reshape(keepLast(x)...))
}

// rowMax is the maximum of each row, outside the graph: the shift cancels
// in the softmax, so it needs no gradient.
func rowMax(x *Tensor) *Tensor {
	var m *Tensor
	x.dev.NoGrad(func() { m = x.Detach().Max(-1) })
	return m.Reshape(keepLast(x)...)
}

// keepLast is x's shape with its last axis 1.
func keepLast(x *Tensor) []int {
	s := slices.Clone(x.shape)
	s[len(s)-1] = 1
	return s
}

// ---- top-k, gather and scatter ----

// TopK returns the k largest values of x along its last axis, largest first,
// and their positions (torch.topk(x, k, dim=-1)): values [..., k] with x's
// gradient (through Gather), indices I32 [..., k]. Ties go to the lower
// position.
func TopK(x *Tensor, k int) (values, indices *Tensor) {
	x.float("topk")
	if len(x.shape) == 0 {
		panic("tensor: topk: scalar input")
	}
	c := x.shape[len(x.shape)-1]
	if k < 1 || k > c {
		panic(fmt.Sprintf("tensor: topk: k %d outside [1, %d]", k, c))
	}
	shape := slices.Clone(x.shape)
	shape[len(shape)-1] = k
	indices = x.dev.newTensor(I32, shape)
	if rows := x.Numel() / c; rows > 0 {
		x.dev.be.TopK(indices.buf(), x.buf(), rows, c, k)
	}
	return Gather(x, indices), indices
}

// checkIndex checks idx against x for an op along x's last axis: I32, the
// same leading axes, positions below C where known on the host.
func checkIndex(op string, x, idx *Tensor) (rows, c, k int) {
	x.float(op)
	idx.check(op)
	sameDevice(op, x, idx)
	r := len(x.shape)
	if idx.dtype != I32 || r == 0 || len(idx.shape) != r || !slices.Equal(x.shape[:r-1], idx.shape[:r-1]) {
		panic(fmt.Sprintf("tensor: %s: want x [..., C] and i32 indices [..., K] with the same leading axes, got %s and %s", op, x.desc(), idx.desc()))
	}
	c, k = x.shape[r-1], idx.shape[r-1]
	if idx.ids != nil && (int(idx.ids.max) >= c || idx.ids.valid != idx.Numel()) {
		panic(fmt.Sprintf("tensor: %s: an index is outside [0, %d)", op, c))
	}
	if c == 0 && idx.Numel() > 0 {
		panic(fmt.Sprintf("tensor: %s: no positions to index in %s", op, x.desc()))
	}
	if k == 0 {
		return 0, c, k
	}
	return idx.Numel() / k, c, k
}

// Gather returns x[..., idx[..., j]] along the last axis (torch.gather(x,
// -1, idx)): x [..., C], idx I32 [..., K] -> [..., K].
func Gather(x, idx *Tensor) *Tensor {
	rows, c, k := checkIndex("gather", x, idx)
	out := x.dev.newTensor(x.dtype, idx.shape)
	if rows*k > 0 {
		x.dev.be.Gather(out.buf(), x.buf(), idx.buf(), rows, c, k)
	}
	return record(out, "gather", []*Tensor{x, idx}, nil, nil)
}

// ScatterAdd returns a copy of x with src[..., j] added at position
// idx[..., j] of the last axis (torch.scatter_add(x, -1, idx, src)): x
// [..., C], idx I32 and src [..., K]. Positions may repeat; their sources
// add up. ScatterAdd(zeros, idx, w) builds dense routing weights.
func ScatterAdd(x, idx, src *Tensor) *Tensor {
	rows, c, k := checkIndex("scatter_add", x, idx)
	src.float("scatter_add")
	sameDevice("scatter_add", x, src)
	if !slices.Equal(src.shape, idx.shape) {
		panic(fmt.Sprintf("tensor: scatter_add: src %v and indices %v differ in shape", src.shape, idx.shape))
	}
	if src.dtype != x.dtype {
		src = src.To(x.dtype)
	}
	out := x.dev.newTensor(x.dtype, x.shape)
	copyAll(out, x)
	if rows*k > 0 {
		x.dev.be.ScatterAdd(out.buf(), src.buf(), idx.buf(), rows, c, k)
	}
	return record(out, "scatter_add", []*Tensor{x, idx, src}, nil, nil)
}

// checkRows checks ids for an op over rows of x (axis 0): I32, one axis,
// rows below N where known on the host. It returns N and the row length.
func checkRows(op string, x, ids *Tensor) (n, row int) {
	x.float(op)
	ids.check(op)
	sameDevice(op, x, ids)
	if ids.dtype != I32 || len(ids.shape) != 1 || len(x.shape) == 0 {
		panic(fmt.Sprintf("tensor: %s: want x [N, ...] and i32 ids [M], got %s and %s", op, x.desc(), ids.desc()))
	}
	n = x.shape[0]
	if ids.ids != nil && (int(ids.ids.max) >= n || ids.ids.valid != ids.Numel()) {
		panic(fmt.Sprintf("tensor: %s: an id is outside [0, %d)", op, n))
	}
	return n, x.Numel() / max(n, 1)
}

// IndexSelect returns the rows ids of x (torch.index_select(x, 0, ids),
// x[ids]): x [N, ...], ids I32 [M] -> [M, ...]. The tokens an expert takes.
func IndexSelect(x, ids *Tensor) *Tensor {
	_, row := checkRows("index_select", x, ids)
	shape := append([]int{ids.shape[0]}, x.shape[1:]...)
	out := x.dev.newTensor(x.dtype, shape)
	if out.Numel() > 0 {
		x.dev.be.Embedding(out.buf(), x.buf(), ids.buf(), ids.shape[0], row)
	}
	return record(out, "index_select", []*Tensor{x, ids}, nil, nil)
}

// IndexAdd returns a copy of x with row i of src added into row ids[i]
// (torch.index_add(x, 0, ids, src)): x [N, ...], ids I32 [M], src [M, ...].
// Ids may repeat; their rows add up. An expert's outputs put back.
func IndexAdd(x, ids, src *Tensor) *Tensor {
	_, row := checkRows("index_add", x, ids)
	src.float("index_add")
	sameDevice("index_add", x, src)
	if want := append([]int{ids.shape[0]}, x.shape[1:]...); !slices.Equal(src.shape, want) {
		panic(fmt.Sprintf("tensor: index_add: src is %v, want %v", src.shape, want))
	}
	if src.dtype != x.dtype {
		src = src.To(x.dtype)
	}
	out := x.dev.newTensor(x.dtype, x.shape)
	copyAll(out, x)
	if src.Numel() > 0 {
		x.dev.be.EmbeddingBackward(out.buf(), src.buf(), ids.buf(), ids.shape[0], row)
	}
	return record(out, "index_add", []*Tensor{x, ids, src}, nil, nil)
}

// Int32s copies an I32 tensor (indices from TopK) to the host, waiting for
// the device: what a sparse mixture of experts needs to know how many
// tokens each expert takes. Values must be below 2²⁴ (they pass through
// float32).
func (t *Tensor) Int32s() []int32 {
	t.check("Int32s")
	if t.dtype != I32 {
		panic(fmt.Sprintf("tensor: Int32s: %s is not an i32 tensor", t.desc()))
	}
	f := make([]float32, t.Numel())
	if len(f) > 0 {
		t.dev.be.Read(t.buf(), 0, f) // exact: indices are below 2²⁴
	}
	out := make([]int32, len(f))
	for i, v := range f {
		out[i] = int32(v)
	}
	return out
}

// layerRules are the backward rules of the ops above, added to the table
// of autograd.go.
func layerRules() map[string]vjpRule {
	return map[string]vjpRule{
		// F = LN(x)*w + b -> see layerNormVJP
		"layer_norm":      layerNormVJP,
		"rms_norm_weight": layerNormVJP,
		// F = x*mask/(1-p) -> g*mask/(1-p), the mask redrawn from the seed
		"dropout": func(n *node, out, g *Tensor) []*Tensor {
			a := n.aux.(dropoutAux)
			dx := g.dev.newTensor(g.dtype, g.shape)
			g.dev.be.Dropout(dx.buf(), g.buf(), g.Numel(), a.p, a.seed)
			return []*Tensor{dx}
		},
		// F_i = (1+z·lse)·lse - (1-ε)y_t - ε·mean(y) -> g_i*((1+2z·lse)softmax - (1-ε)onehot - ε/V)
		"cross_entropy_opts": func(n *node, out, g *Tensor) []*Tensor {
			logits, targets := n.inputs[0], n.inputs[1]
			a := n.aux.(crossEntropyOptsAux)
			v := logits.shape[len(logits.shape)-1]
			dl := g.dev.newTensor(logits.dtype, logits.shape)
			g.dev.be.CrossEntropyOptsBackward(dl.buf(), g.buf(), logits.buf(), n.saved[0].buf(), targets.buf(),
				logits.Numel()/v, v, a.softcap, a.o.LabelSmoothing, a.o.ZLoss)
			return []*Tensor{dl, nil}
		},
		// F = x[..., idx] -> g scattered (added) into zeros of x's shape
		"gather": func(n *node, out, g *Tensor) []*Tensor {
			x, idx := n.inputs[0], n.inputs[1]
			dx := g.dev.zeros(x.dtype, x.shape...)
			if k := idx.shape[len(idx.shape)-1]; g.Numel() > 0 {
				g.dev.be.ScatterAdd(dx.buf(), g.buf(), idx.buf(), g.Numel()/k, x.shape[len(x.shape)-1], k)
			}
			return []*Tensor{dx, nil}
		},
		// F = x with src added at idx -> g, g[..., idx]
		"scatter_add": func(n *node, out, g *Tensor) []*Tensor {
			idx := n.inputs[1]
			return []*Tensor{g, nil, lazy(n, 2, func() *Tensor { return Gather(g, idx) })}
		},
		// F = x[ids] (rows) -> g added into zero rows ids
		"index_select": func(n *node, out, g *Tensor) []*Tensor {
			x, ids := n.inputs[0], n.inputs[1]
			dx := g.dev.zeros(x.dtype, x.shape...)
			if g.Numel() > 0 {
				g.dev.be.EmbeddingBackward(dx.buf(), g.buf(), ids.buf(), ids.shape[0], g.Numel()/ids.shape[0])
			}
			return []*Tensor{dx, nil}
		},
		// F = x with src's rows added at ids -> g, g[ids]
		"index_add": func(n *node, out, g *Tensor) []*Tensor {
			ids := n.inputs[1]
			return []*Tensor{g, nil, lazy(n, 2, func() *Tensor { return IndexSelect(g, ids) })}
		},
	}
}
