package tensor

import (
	"fmt"
	"slices"
)

// Reverse-mode autodiff, define-by-run.
//
// While grad mode is on, an op whose inputs include a tensor that requires a
// gradient records a node on its output: the op's name, its inputs, the
// extra tensors its backward needs (saved) and its scalar arguments (aux).
// Backward walks the nodes from a scalar root (the loss) in reverse
// topological order. At each node it calls the op's VJP rule with the
// adjoint g = ∂loss/∂out and gets ∂loss/∂input for every input, which it
// sums into that input's adjoint. Leaves (parameters) add theirs into
// Tensor.Grad, so gradients accumulate across micro-steps until ZeroGrad.
// Adjoints of inner nodes are freed as soon as they are used.
//
// Every rule has one signature and lives in the vjps table below; the
// central caller checks each result's count and shape and names the op when
// one is wrong. Rules run with grad mode off and may use any op; they return
// g itself, a view of g, or new tensors, and nil for inputs that need no
// gradient.

type node struct {
	op     string
	inputs []*Tensor
	saved  []*Tensor
	aux    any
	done   bool
	// accum, set by Backward for the rules in addsInPlace, offers input i's
	// gradient so far: a rule may add its contribution into accum[i] and
	// return accum[i] itself, sparing a new tensor and an addition.
	accum []*Tensor
	// bypass lists intermediates a fused node skipped over (the softcapped
	// logits of a fused cross-entropy): no longer in the graph through this
	// node, they are freed with it unless another path reaches them.
	bypass []*Tensor
}

// needs reports whether input i wants a gradient.
func (n *node) needs(i int) bool { return n.inputs[i] != nil && n.inputs[i].requiresGrad }

// accumFor is the gradient a rule may add input i's contribution into, or nil.
func (n *node) accumFor(i int) *Tensor {
	if i < len(n.accum) {
		return n.accum[i]
	}
	return nil
}

// addsInPlace lists the rules that use node.accum.
var addsInPlace = map[string]bool{"matmul": true}

type vjpRule func(n *node, out, g *Tensor) []*Tensor

// vjps maps an op name to its backward rule (filled by init: the rules use
// ops that consult the table).
var vjps map[string]vjpRule

// rules returns the backward rules. F(x) is the op, g the adjoint of its
// output; each comment gives the math.
func rules() map[string]vjpRule {
	return map[string]vjpRule{
		// F = x + y -> g, g (summed over broadcast axes)
		"add": func(n *node, out, g *Tensor) []*Tensor {
			return []*Tensor{sumTo(n, 0, g), sumTo(n, 1, g)}
		},
		// F = x - y -> g, -g
		"sub": func(n *node, out, g *Tensor) []*Tensor {
			return []*Tensor{sumTo(n, 0, g), sumTo(n, 1, lazy(n, 1, func() *Tensor { return g.Neg() }))}
		},
		// F = x * y -> g*y, g*x
		"mul": func(n *node, out, g *Tensor) []*Tensor {
			x, y := n.inputs[0], n.inputs[1]
			return []*Tensor{sumTo(n, 0, lazy(n, 0, func() *Tensor { return g.Mul(y) })),
				sumTo(n, 1, lazy(n, 1, func() *Tensor { return g.Mul(x) }))}
		},
		// F = x / y -> g/y, -g*F/y
		"div": func(n *node, out, g *Tensor) []*Tensor {
			y := n.inputs[1]
			return []*Tensor{sumTo(n, 0, lazy(n, 0, func() *Tensor { return g.Div(y) })),
				sumTo(n, 1, lazy(n, 1, func() *Tensor { return g.Mul(out).Div(y).Neg() }))}
		},
		// F = a copy of x -> g
		"clone": func(n *node, out, g *Tensor) []*Tensor {
			return []*Tensor{g}
		},
		// F = x.reshape(s) -> g.reshape(x.shape)
		"reshape": func(n *node, out, g *Tensor) []*Tensor {
			return []*Tensor{g.Reshape(n.inputs[0].shape...)}
		},
		// F = x.permute(p) -> g.permute(p⁻¹)
		"permute": func(n *node, out, g *Tensor) []*Tensor {
			p := n.aux.([]int)
			inv := make([]int, len(p))
			for i, a := range p {
				inv[a] = i
			}
			return []*Tensor{g.Permute(inv...)}
		},
		// F = broadcast x to a larger shape -> g summed back to x.shape
		"expand": func(n *node, out, g *Tensor) []*Tensor {
			return []*Tensor{sumTo(n, 0, g)}
		},
		// F = x[.., start:end, ..] -> g placed into zeros of x.shape
		"slice": func(n *node, out, g *Tensor) []*Tensor {
			a := n.aux.(sliceAux)
			dx := g.dev.zeros(g.dtype, n.inputs[0].shape...)
			copyRegion(dx, g, a.axis, a.start, false)
			return []*Tensor{dx}
		},
		// F = concat(x_0, x_1, ..) along axis -> the matching slices of g
		"concat": func(n *node, out, g *Tensor) []*Tensor {
			axis := n.aux.(int)
			gs := make([]*Tensor, len(n.inputs))
			at := 0
			for i, x := range n.inputs {
				if n.needs(i) {
					gs[i] = g.Slice(axis, at, at+x.shape[axis])
				}
				at += x.shape[axis]
			}
			return gs
		},
		// F = Σ_axes x -> g broadcast over the reduced axes
		"sum": func(n *node, out, g *Tensor) []*Tensor {
			return []*Tensor{expandBack(g, n)}
		},
		// F = mean_axes x -> g/count broadcast over the reduced axes
		"mean": func(n *node, out, g *Tensor) []*Tensor {
			x := n.inputs[0]
			return []*Tensor{expandBack(g, n).MulScalar(float32(out.Numel()) / float32(x.Numel()))}
		},
		// F = Σ_axes x² -> 2x * g
		"sum_squares": func(n *node, out, g *Tensor) []*Tensor {
			gk := g.Reshape(n.aux.(reduceAux).keep...)
			return []*Tensor{n.inputs[0].Mul(gk).MulScalar(2)}
		},
		// F = max_axes x -> g where x equals the max (every tie gets it)
		"max": func(n *node, out, g *Tensor) []*Tensor {
			keep := n.aux.(reduceAux).keep
			x := n.inputs[0]
			mask := binaryRaw(Eq, x, out.Reshape(keep...))
			return []*Tensor{mask.Mul(g.Reshape(keep...))}
		},
		// F = op(A)·op(B) -> dop(A) = g·op(B)ᵀ, dop(B) = op(A)ᵀ·g, transposed back where op transposes
		"matmul": matmulVJP,
		// F = where(c, x, y) -> where(c, g, 0), where(c, 0, g)
		"where": func(n *node, out, g *Tensor) []*Tensor {
			c := n.inputs[0]
			zero := g.dev.zeros(g.dtype)
			return []*Tensor{nil,
				sumTo(n, 1, lazy(n, 1, func() *Tensor { return whereRaw(c, g, zero) })),
				sumTo(n, 2, lazy(n, 2, func() *Tensor { return whereRaw(c, zero, g) }))}
		},
		// F = table[ids] -> scatter-add g into zeros of the table's shape
		"embedding": func(n *node, out, g *Tensor) []*Tensor {
			table := n.inputs[0]
			dt := g.dev.Zeros(table.shape...)
			c := table.shape[1]
			g.dev.be.EmbeddingBackward(dt.buf(), g.buf(), n.inputs[1].buf(), g.Numel()/c, c)
			return []*Tensor{dt, nil}
		},
		// F = x*r, r = (mean x² + eps)^-½ -> r*g - r³/C * x * Σ g*x (per row)
		"rms_norm": func(n *node, out, g *Tensor) []*Tensor {
			x, rstd := n.inputs[0], n.saved[0]
			c := x.shape[len(x.shape)-1]
			dx := g.dev.newTensor(x.dtype, x.shape)
			g.dev.be.RMSNormBackward(dx.buf(), g.buf(), x.buf(), rstd.buf(), x.Numel()/c, c)
			return []*Tensor{dx}
		},
		// F = rms_norm(R(θ)x) -> R(-θ) rms_norm'(R(θ)x)ᵀ g, in one pass (see RMSNorm)
		"rotary_rms_norm": func(n *node, out, g *Tensor) []*Tensor {
			x, rstd := n.inputs[0], n.saved[0]
			cos, sin := n.inputs[1].as(x.dtype), n.inputs[2].as(x.dtype)
			dx := g.dev.newTensor(x.dtype, x.shape)
			g.dev.be.RotaryRMSNormBackward(dx.buf(), g.buf(), x.buf(), rstd.buf(), cos.buf(), sin.buf(),
				x.shape[0], x.shape[1], x.shape[2], x.shape[3])
			return []*Tensor{dx, nil, nil}
		},
		// F = R(θ)x, a rotation per pair -> R(-θ)g
		"rotary": func(n *node, out, g *Tensor) []*Tensor {
			return []*Tensor{rotaryRaw(g, n.inputs[1], n.inputs[2], true), nil, nil}
		},
		// F = softmax(scale·QKᵀ + mask)V -> the flash-attention backward (see AttentionArgs)
		"attention": func(n *node, out, g *Tensor) []*Tensor {
			q, k, v := n.inputs[0], n.inputs[1], n.inputs[2]
			a := n.aux.(AttentionArgs)
			dq := g.dev.newTensor(q.dtype, q.shape)
			dk := g.dev.newTensor(k.dtype, k.shape)
			dv := g.dev.newTensor(v.dtype, v.shape)
			a.Q, a.K, a.V, a.Out, a.LSE = q.buf(), k.buf(), v.buf(), out.buf(), n.saved[0].buf()
			a.DOut, a.DQ, a.DK, a.DV = g.buf(), dq.buf(), dk.buf(), dv.buf()
			g.dev.be.AttentionBackward(&a)
			return []*Tensor{dq, dk, dv}
		},
		// F_i = lse_i - y[i, t_i] with y the logits -> g_i * (softmax(y)_i - onehot(t_i));
		// with y = c·tanh(x/c) of the raw logits x (aux c > 0, see CrossEntropy),
		// times dy/dx = 1 - (y/c)², in the same pass.
		"cross_entropy": func(n *node, out, g *Tensor) []*Tensor {
			logits, targets := n.inputs[0], n.inputs[1]
			v := logits.shape[len(logits.shape)-1]
			softcap, _ := n.aux.(float32)
			dl := g.dev.newTensor(logits.dtype, logits.shape)
			g.dev.be.CrossEntropyBackward(dl.buf(), g.buf(), logits.buf(), n.saved[0].buf(), targets.buf(), logits.Numel()/v, v, softcap)
			return []*Tensor{dl, nil}
		},
		// F = x converted to another dtype -> g converted back
		"cast": func(n *node, out, g *Tensor) []*Tensor {
			return []*Tensor{g.convert(n.inputs[0].dtype)}
		},
	}
}

func init() {
	vjps = rules()
	for op, r := range layerRules() {
		if _, dup := vjps[op]; dup {
			panic("tensor: two backward rules for " + op)
		}
		vjps[op] = r
	}
	// F = f(x) elementwise -> g * f'(x); one kernel serves every unary op.
	for op := UnaryOp(0); op < numUnaryOps; op++ {
		if op == StepGE {
			continue // a mask: never recorded
		}
		vjps[op.String()] = func(n *node, out, g *Tensor) []*Tensor {
			a := n.aux.(unaryAux)
			x := n.inputs[0]
			dx := g.dev.newTensor(x.dtype, x.shape)
			g.dev.be.UnaryBackward(a.op, dx.buf(), g.buf(), x.buf(), out.buf(), x.Numel(), a.a, a.b)
			return []*Tensor{dx}
		}
	}
}

// lazy computes input i's gradient only when that input wants one.
func lazy(n *node, i int, f func() *Tensor) *Tensor {
	if !n.needs(i) {
		return nil
	}
	return f()
}

// sumTo reduces g over the axes along which input i was broadcast.
func sumTo(n *node, i int, g *Tensor) *Tensor {
	if g == nil || !n.needs(i) {
		return nil
	}
	return reduceToShapeAs(g, n.inputs[i].shape, n.inputs[i].dtype)
}

// record attaches a node to out when grad mode is on and an input requires
// a gradient.
func record(out *Tensor, op string, inputs []*Tensor, saved []*Tensor, aux any) *Tensor {
	if !out.dev.GradEnabled() {
		return out
	}
	for _, in := range inputs {
		if in != nil && in.requiresGrad {
			if _, ok := vjps[op]; !ok {
				panic(fmt.Sprintf("tensor: %s: no gradient rule for this op", op))
			}
			out.requiresGrad = true
			out.node = &node{op: op, inputs: inputs, saved: saved, aux: aux}
			return out
		}
	}
	return out
}

// Backward computes the gradient of the scalar t with respect to every leaf
// that requires one and adds it into that leaf's Grad. The graph is used up:
// its intermediate tensors (made by recorded ops; not t, leaves or Retain'd
// ones) are freed as soon as the backward is past them, and a second
// Backward through it panics (run the forward again).
func (t *Tensor) Backward() {
	t.check("Backward")
	if t.Numel() != 1 {
		panic(fmt.Sprintf("tensor: Backward: root %s is not a scalar", t.desc()))
	}
	if !t.requiresGrad {
		panic("tensor: Backward: the root does not require a gradient (no parameter reached it, or it was computed under NoGrad)")
	}
	d := t.dev
	// Topological order by depth-first post-order, iteratively (graphs of a
	// deep model are thousands of nodes long).
	var order []*Tensor
	seen := map[*Tensor]bool{t: true}
	type frame struct {
		t    *Tensor
		next int
	}
	stack := []frame{{t: t}}
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		n := f.t.node
		if n != nil && n.done {
			panic(fmt.Sprintf("tensor: Backward: the graph through %s was already used by an earlier Backward; run the forward again", n.op))
		}
		if n != nil && f.next < len(n.inputs) {
			in := n.inputs[f.next]
			f.next++
			if in != nil && in.requiresGrad && !seen[in] {
				seen[in] = true
				stack = append(stack, frame{t: in})
			}
			continue
		}
		order = append(order, f.t)
		stack = stack[:len(stack)-1]
	}

	d.noGrad++
	defer func() { d.noGrad-- }()
	root := d.newTensor(t.dtype, t.shape)
	d.be.Fill(root.buf(), 0, 1, 1)
	grads := map[*Tensor]*Tensor{t: root}
	for i := len(order) - 1; i >= 0; i-- {
		x := order[i]
		g := grads[x]
		delete(grads, x)
		if g == nil {
			continue
		}
		n := x.node
		if n == nil {
			accumulateLeaf(x, g)
			continue
		}
		x.check("Backward (" + n.op + ")")
		n.accum = nil
		if addsInPlace[n.op] {
			n.accum = make([]*Tensor, len(n.inputs))
			for j, in := range n.inputs {
				if n.needs(j) {
					n.accum[j] = addable(in, grads[in])
				}
			}
		}
		// The rule runs in its own scope, so its temporaries (views of g
		// or of activations, partial sums) go as soon as it returns.
		rs := d.Scope()
		gs := vjps[n.op](n, x, g)
		if len(gs) != len(n.inputs) {
			panic(fmt.Sprintf("tensor: Backward: rule for %s returned %d gradients for %d inputs", n.op, len(gs), len(n.inputs)))
		}
		inPlace := func(j int) bool { return gs[j] != nil && gs[j] == n.accumFor(j) }
		var keep []*Tensor
		for j, gj := range gs {
			if !inPlace(j) {
				keep = append(keep, gj)
			}
		}
		rs.Close(keep...)
		for j, in := range n.inputs {
			if !n.needs(j) || inPlace(j) {
				continue
			}
			gj := gs[j]
			if gj == nil {
				panic(fmt.Sprintf("tensor: Backward: %s has no gradient for its input %d (%s)", n.op, j, in.desc()))
			}
			if !slices.Equal(gj.shape, in.shape) {
				panic(fmt.Sprintf("tensor: Backward: rule for %s gave input %d a gradient of shape %v, want %v", n.op, j, gj.shape, in.shape))
			}
			var own *Tensor
			if gj.dtype != in.dtype { // a tensor's gradient has its dtype
				own = gj.convert(in.dtype)
			} else {
				own = gj.view(gj.shape) // a reference of our own: rules may return g, or one tensor twice
			}
			if prev := grads[in]; prev != nil {
				sum := binaryRaw(Add, prev, own)
				prev.release()
				own.release()
				own = sum
			}
			grads[in] = own
		}
		for j, gj := range gs {
			if gj != nil && !inPlace(j) {
				gj.release()
			}
		}
		n.accum = nil
		g.release()
		n.done = true
		// Every consumer of x has run (they come later in topological
		// order), so x and its op's saved tensors are needed no more: free
		// the activations now rather than at the scope's end.
		for _, s := range n.saved {
			if s != nil {
				s.release()
			}
		}
		for _, b := range n.bypass {
			if !seen[b] && !b.retain && !b.persistent {
				b.freedBy = "Backward frees the graph's intermediate tensors; call Retain before Backward to keep one"
				b.release()
			}
		}
		if x != t && !x.retain && !x.persistent {
			x.freedBy = "Backward frees the graph's intermediate tensors; call Retain before Backward to keep one"
			x.release()
		}
	}
}

// addable is the tensor a rule may add input in's gradient into: its
// gradient so far in this Backward (prev), or, for a leaf with none yet, its
// Grad from earlier Backwards. Only a tensor whose buffer nothing else
// shares qualifies (rules return g itself or views of it, which alias).
func addable(in, prev *Tensor) *Tensor {
	if prev != nil {
		if prev.st.refs == 1 && prev.dtype == in.dtype {
			return prev
		}
		return nil
	}
	if in.node == nil && in.Grad != nil && in.Grad.st.refs == 1 && in.Grad.dtype == in.dtype {
		return in.Grad
	}
	return nil
}

// accumulateLeaf adds g into leaf x's Grad, taking g over when it can.
func accumulateLeaf(x, g *Tensor) {
	if x.Grad == nil {
		if g.st.refs == 1 && g.dtype == x.dtype {
			g.persistent = true
			x.Grad = g
			return
		}
		c := x.dev.newTensor(x.dtype, g.shape)
		copyAll(c, g)
		g.release()
		c.persistent = true
		x.Grad = c
		return
	}
	x.Grad.touch()
	x.dev.be.Binary(Add, x.shape, x.Grad.buf(), x.Grad.buf(), contiguousStrides(x.shape), g.buf(), contiguousStrides(x.shape))
	g.release()
}
