package tensor

import (
	"fmt"
	"slices"
)

// Inspection is what the graph of one micro-step shows: its work and the
// tensors that will not train as the program may think (Device.Inspect).
type Inspection struct {
	// FLOPs is the work of the forward and the backward, counted by the
	// convention of the original's estimate_flops: a matrix product of
	// [M, K] by [K, N] costs 2·M·K·N forward and as much again for each
	// operand that gets a gradient (so a Linear layer costs 6 per weight per
	// token), and attention 4·D per head, query and visible key forward and
	// twice that backward, with every query seeing min(window, T) keys: the
	// causal mask, which leaves about half of that to compute, is not
	// counted off, as the original does not. Elementwise ops, norms, the loss
	// and the optimizer count nothing.
	FLOPs float64
	// Warnings say, one line each, which tensors of the graph will not train:
	//
	//   - a tensor made in setup (the root scope) that is no parameter but
	//     feeds an op that would give it a gradient: a weight made with
	//     dev.Normal where dev.Parameter was meant stays as it was made;
	//   - a tensor that gets a gradient but is no parameter
	//     (SetRequiresGrad): no optimizer updates it;
	//   - a parameter that got no gradient: nothing it feeds reaches the loss.
	//
	// What the graph cannot show stays unsaid: a constant made in setup on
	// purpose (a fixed table) is named too; a tensor made anew inside the step
	// (random each time) is not; a parameter that reaches the loss but only
	// partly (a Detach on one of two paths) gets a gradient and passes; and
	// a parameter in no optimizer group is the optimizer's to refuse.
	Warnings []string
}

// constantInputs lists, per op, the float inputs that get no gradient by the
// op's definition (the rotary tables, the mask of Where): a setup tensor
// there is a constant, not a frozen weight.
var constantInputs = map[string][]int{"rotary": {1, 2}, "rotary_rms_norm": {1, 2}, "where": {0}}

// Inspect runs f, the forward of one micro-step returning its loss, then the
// backward of that loss, in a scope of its own, and reports what the graph
// shows (see Inspection). The gradients it makes are dropped (ZeroGrad, and
// those of non-parameters it reaches): run it before training, with no
// gradients pending. Backward's own errors (a loss no parameter reaches)
// panic as they would in the step.
func (d *Device) Inspect(f func() (loss *Tensor)) Inspection {
	s := d.Scope()
	defer s.Close()
	loss := f()
	loss.check("Inspect")
	var r Inspection
	// One line per message: tensors alike (one per layer, made on one line)
	// are counted on it.
	seen, index, count := map[*storage]bool{}, map[string]int{}, []int(nil)
	warn := func(t *Tensor, format string, args ...any) {
		if seen[t.st] {
			return
		}
		seen[t.st] = true
		msg := fmt.Sprintf(format, args...)
		if i, ok := index[msg]; ok {
			count[i]++
			return
		}
		index[msg] = len(r.Warnings)
		r.Warnings = append(r.Warnings, msg)
		count = append(count, 1)
	}
	var strays []*Tensor
	for _, x := range graphOrder(loss) {
		n := x.node
		r.FLOPs += nodeFLOPs(n, x)
		for i, in := range n.inputs {
			switch {
			case in == nil || in.node != nil || in.dtype == I32:
			case in.requiresGrad && in.name == "":
				if !slices.Contains(strays, in) {
					strays = append(strays, in)
				}
				warn(in, "tensor %s%s gets a gradient but is no parameter, so no optimizer updates it: make it with dev.Parameter",
					in.desc(), madeAt(in))
			case !in.requiresGrad && in.origin != "" && !slices.Contains(constantInputs[n.op], i):
				warn(in, "tensor %s%s feeds %s but is no parameter, so no gradient reaches it and it never trains: make it with dev.Parameter if it should (a constant may stay)",
					in.desc(), madeAt(in), n.op)
			}
		}
	}
	for i, n := range count {
		if n > 1 {
			r.Warnings[i] += fmt.Sprintf(" (%d such tensors)", n)
		}
	}
	had := make([]bool, len(strays))
	for i, t := range strays {
		had[i] = t.Grad != nil
	}
	loss.Backward()
	for _, p := range d.params {
		if p.Grad == nil {
			r.Warnings = append(r.Warnings, fmt.Sprintf("parameter %s %v got no gradient: nothing it feeds reaches the loss (or only through Detach or NoGrad), so it never trains",
				p.name, p.shape))
		}
	}
	d.ZeroGrad()
	for i, t := range strays {
		if !had[i] && t.Grad != nil {
			t.Grad.Free()
			t.Grad = nil
		}
	}
	return r
}

func madeAt(t *Tensor) string {
	if t.origin == "" {
		return ""
	}
	return " made at " + t.origin
}

// graphOrder lists the tensors of t's graph that an op made (those with a
// node), inputs before the ops that use them.
func graphOrder(t *Tensor) []*Tensor {
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
		if n != nil && f.next < len(n.inputs) {
			in := n.inputs[f.next]
			f.next++
			if in != nil && in.node != nil && !seen[in] {
				seen[in] = true
				stack = append(stack, frame{t: in})
			}
			continue
		}
		if n != nil {
			order = append(order, f.t)
		}
		stack = stack[:len(stack)-1]
	}
	return order
}

// nodeFLOPs is the work of the op that made out, forward and backward, by the
// convention of Inspection.FLOPs.
func nodeFLOPs(n *node, out *Tensor) float64 {
	switch n.op {
	case "matmul":
		a := n.inputs[0]
		k := a.shape[len(a.shape)-1]
		if n.aux.(matmulAux).ta {
			k = a.shape[len(a.shape)-2]
		}
		passes := 1
		for i := range n.inputs {
			if n.needs(i) {
				passes++
			}
		}
		return float64(passes) * 2 * float64(out.Numel()) * float64(k)
	case "attention":
		a := n.aux.(AttentionArgs)
		keys := a.T
		if a.Window >= 0 {
			keys = min(a.Window, a.T)
		}
		return 12 * float64(a.B) * float64(a.T) * float64(a.H) * float64(a.D) * float64(keys)
	}
	return 0
}
