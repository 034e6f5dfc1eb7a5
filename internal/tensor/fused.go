package tensor

import (
	"fmt"
	"slices"
)

// The fused layers: one kernel forward and one backward each, where a GPU
// would otherwise make several passes or keep large intermediates.

// Embedding looks up rows of table [V, C] for ids (I32, any shape) and
// returns [ids..., C].
func Embedding(table, ids *Tensor) *Tensor {
	table.float("embedding")
	ids.check("embedding")
	sameDevice("embedding", table, ids)
	if len(table.shape) != 2 || ids.dtype != I32 {
		panic(fmt.Sprintf("tensor: embedding: want table [V, C] and i32 ids, got %s and %s", table.desc(), ids.desc()))
	}
	v, c := table.shape[0], table.shape[1]
	if ids.ids != nil && int(ids.ids.max) >= v {
		panic(fmt.Sprintf("tensor: embedding: id %d out of range for a table of %d rows", ids.ids.max, v))
	}
	if ids.ids != nil && ids.ids.valid != ids.Numel() {
		panic("tensor: embedding: negative id")
	}
	dt := table.dtype
	if table.dev.act != F32 {
		dt = table.dev.act // rows of an F32 table come out as activations
	}
	out := table.dev.newTensor(dt, append(slices.Clone(ids.shape), c))
	if n := ids.Numel(); n > 0 {
		table.dev.be.Embedding(out.buf(), table.buf(), ids.buf(), n, c)
	}
	return record(out, "embedding", []*Tensor{table, ids}, nil, nil)
}

// RMSNorm normalises x over its last axis to unit root-mean-square, without
// a learned weight (F.rms_norm(x, (C,), eps=eps)).
//
// When x is the output of Rotary (QK-norm after the rotary embedding), the
// recorded node reaches back to Rotary's input: the backward is one pass
// (Backend.RotaryRMSNormBackward) instead of the norm's and then the inverse
// rotation's. The rotated tensor keeps its own node for any other use.
func RMSNorm(x *Tensor, eps float32) *Tensor {
	x.float("rms_norm")
	if len(x.shape) == 0 {
		panic("tensor: rms_norm: scalar input")
	}
	c := x.shape[len(x.shape)-1]
	rows := x.Numel() / max(c, 1)
	out := x.dev.newTensor(x.dtype, x.shape)
	rstd := x.dev.newTensor(F32, []int{rows})
	if x.Numel() > 0 {
		x.dev.be.RMSNorm(out.buf(), rstd.buf(), x.buf(), rows, c, eps)
	}
	if rn := x.node; rn != nil && rn.op == "rotary" && rn.inputs[0].requiresGrad && rn.inputs[0].dtype == x.dtype {
		o := record(out, "rotary_rms_norm", rn.inputs, []*Tensor{rstd}, nil)
		if o.node != nil {
			o.node.bypass = []*Tensor{x}
		}
		return o
	}
	return record(out, "rms_norm", []*Tensor{x}, []*Tensor{rstd}, eps)
}

func rotaryRaw(x, cos, sin *Tensor, inverse bool) *Tensor {
	x.float("rotary")
	cos.float("rotary")
	sin.float("rotary")
	sameDevice("rotary", x, cos, sin)
	if len(x.shape) != 4 || x.shape[3]%2 != 0 {
		panic(fmt.Sprintf("tensor: rotary: want x [B, T, H, D] with D even, got %v", x.shape))
	}
	b, t, h, d := x.shape[0], x.shape[1], x.shape[2], x.shape[3]
	if len(cos.shape) != 2 || cos.shape[1] != d/2 || cos.shape[0] < t || !slices.Equal(cos.shape, sin.shape) {
		panic(fmt.Sprintf("tensor: rotary: want cos, sin [T' >= %d, %d], got %v and %v", t, d/2, cos.shape, sin.shape))
	}
	out := x.dev.newTensor(x.dtype, x.shape)
	if x.Numel() > 0 {
		// The tables get no gradient: a converted copy needs no graph (and
		// persistent tables convert once).
		cos, sin = cos.as(x.dtype), sin.as(x.dtype)
		x.dev.be.Rotary(out.buf(), x.buf(), cos.buf(), sin.buf(), b, t, h, d, inverse)
	}
	return out
}

// Rotary applies the rotary position embedding to x [B, T, H, D], rotating
// the pairs (x[j], x[j+D/2]) by the angles whose cos and sin are rows 0..T-1
// of cos, sin [T', D/2] (the original's apply_rotary_emb). cos and sin get no
// gradient.
func Rotary(x, cos, sin *Tensor) *Tensor {
	return record(rotaryRaw(x, cos, sin, false), "rotary", []*Tensor{x, cos, sin}, nil, nil)
}

// Attention is causal self-attention with grouped-query heads and an
// optional sliding window, fused (flash_attn_func(q, k, v, causal=True,
// window_size=(window, 0))): q [B, T, H, D], k, v [B, T, KVH, D] -> [B, T, H, D].
// Query t sees keys t-window..t; window < 0 means all earlier keys. The
// scores are scaled by 1/√D.
func Attention(q, k, v *Tensor, window int) *Tensor {
	for _, t := range []*Tensor{q, k, v} {
		t.float("attention")
	}
	sameDevice("attention", q, k, v)
	if dt := q.dev.mixed(q.dev.mixed(q.dtype, k.dtype), v.dtype); q.dtype != dt || k.dtype != dt || v.dtype != dt {
		q, k, v = q.To(dt), k.To(dt), v.To(dt)
	}
	if len(q.shape) != 4 || len(k.shape) != 4 || !slices.Equal(k.shape, v.shape) ||
		q.shape[0] != k.shape[0] || q.shape[1] != k.shape[1] || q.shape[3] != k.shape[3] ||
		k.shape[2] == 0 || q.shape[2]%k.shape[2] != 0 {
		panic(fmt.Sprintf("tensor: attention: want q [B, T, H, D], k and v [B, T, KVH, D] with H a multiple of KVH; got %v, %v, %v", q.shape, k.shape, v.shape))
	}
	a := AttentionArgs{B: q.shape[0], T: q.shape[1], H: q.shape[2], KVH: k.shape[2], D: q.shape[3], Window: window, Scale: scaleFor(q.shape[3])}
	out := q.dev.newTensor(q.dtype, q.shape)
	lse := q.dev.newTensor(F32, []int{a.B, a.H, a.T})
	if out.Numel() > 0 {
		args := a
		args.Q, args.K, args.V, args.Out, args.LSE = q.buf(), k.buf(), v.buf(), out.buf(), lse.buf()
		q.dev.be.Attention(&args)
	}
	return record(out, "attention", []*Tensor{q, k, v}, []*Tensor{lse}, a)
}

// CrossEntropy returns the per-token loss -log softmax(logits)[target]:
// logits [..., V], targets I32 [...] -> [...] (F32 whatever logits' dtype).
// Negative targets are ignored (loss 0, no gradient), like ignore_index=-1.
//
// When logits are the output of Softcap (the original's logit soft cap),
// the recorded node reaches back to Softcap's input: the backward computes
// the gradient of the raw logits in one pass (see CrossEntropyBackward)
// instead of a cross-entropy pass and then a softcap pass over [N, V]. The
// softcapped tensor keeps its own node, so a second use of it still gets
// its gradient through the softcap.
func CrossEntropy(logits, targets *Tensor) *Tensor {
	n, v := checkCrossEntropy(logits, targets)
	losses := logits.dev.newTensor(F32, targets.shape)
	lse := logits.dev.newTensor(F32, []int{n})
	if n > 0 {
		logits.dev.be.CrossEntropy(losses.buf(), lse.buf(), logits.buf(), targets.buf(), n, v)
	}
	if sc := logits.node; sc != nil && sc.op == Softcap.String() && sc.inputs[0].requiresGrad {
		a := sc.aux.(unaryAux)
		out := record(losses, "cross_entropy", []*Tensor{sc.inputs[0], targets}, []*Tensor{lse}, a.a)
		if out.node != nil {
			out.node.bypass = []*Tensor{logits}
		}
		return out
	}
	return record(losses, "cross_entropy", []*Tensor{logits, targets}, []*Tensor{lse}, nil)
}

// CrossEntropyMean is CrossEntropy averaged over the targets that are not
// ignored (reduction='mean'): a scalar.
func CrossEntropyMean(logits, targets *Tensor) *Tensor {
	losses := CrossEntropy(logits, targets)
	return losses.Sum().MulScalar(1 / float32(validTargets(targets)))
}

// validTargets counts the targets that are not ignored: from what the ids
// remember, else (targets an op made that could not keep count) by reading
// them back, which waits for the device.
func validTargets(targets *Tensor) int {
	if targets.ids != nil {
		return targets.ids.valid
	}
	n := 0
	for _, id := range targets.Int32s() {
		if id >= 0 {
			n++
		}
	}
	return n
}

// checkCrossEntropy checks logits [..., V] against i32 targets [...] and
// returns the number of targets and V.
func checkCrossEntropy(logits, targets *Tensor) (n, v int) {
	logits.float("cross_entropy")
	targets.check("cross_entropy")
	sameDevice("cross_entropy", logits, targets)
	r := len(logits.shape)
	if targets.dtype != I32 || r < 1 || !slices.Equal(logits.shape[:r-1], targets.shape) {
		panic(fmt.Sprintf("tensor: cross_entropy: want logits [..., V] and i32 targets [...], got %s and %s", logits.desc(), targets.desc()))
	}
	v = logits.shape[r-1]
	if targets.ids != nil && int(targets.ids.max) >= v {
		panic(fmt.Sprintf("tensor: cross_entropy: target %d out of range for %d classes", targets.ids.max, v))
	}
	return targets.Numel(), v
}
