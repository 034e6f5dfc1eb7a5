package tensor

import (
	"fmt"
	"strings"
)

// Helpers that keep a training program's memory and optimizer bookkeeping
// out of its way.

// Step runs f, one training step (the micro-steps' forwards and backwards and
// the optimizer update), in a scope of its own: every tensor f makes is freed
// when it returns, except parameters, their gradients and Keep'd tensors
// (optimizer state). It returns the value of the loss f returns, read once the
// step is done, as PyTorch's loss.item() after optimizer.step().
func (d *Device) Step(f func() (loss *Tensor)) float64 {
	s := d.Scope()
	defer s.Close()
	return f().Item()
}

// Eval runs f with gradient recording off, in a scope of its own: evaluation.
func (d *Device) Eval(f func()) {
	s := d.Scope()
	defer s.Close()
	d.NoGrad(f)
}

// CheckGroups checks that the parameter groups of an optimizer hold every
// parameter of the device exactly once, as PyTorch optimizers assert: a
// parameter in no group would silently never train, one in two groups would
// be updated twice. The error names the parameter.
func (d *Device) CheckGroups(groups ...[]*Tensor) error {
	in := map[*Tensor][]int{}
	for i, g := range groups {
		for _, p := range g {
			in[p] = append(in[p], i)
		}
	}
	var problems []string
	for _, p := range d.params {
		switch gs := in[p]; len(gs) {
		case 0:
			problems = append(problems, fmt.Sprintf("parameter %s is in no optimizer group", p.name))
		case 1:
		default:
			problems = append(problems, fmt.Sprintf("parameter %s is in %d optimizer groups (%v)", p.name, len(gs), gs))
		}
		delete(in, p)
	}
	for p := range in {
		problems = append(problems, fmt.Sprintf("tensor %s of an optimizer group is not a parameter (make it with Device.Parameter)", p.desc()))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s: every parameter must be in exactly one group", strings.Join(problems, "; "))
	}
	return nil
}

// ParametersUnder lists the parameters whose names begin with prefix, in the
// order made: "transformer.h." is every parameter of the blocks, as
// model.transformer.h.parameters() is in PyTorch.
func (d *Device) ParametersUnder(prefix string) []*Tensor {
	var ps []*Tensor
	for _, p := range d.params {
		if strings.HasPrefix(p.name, prefix) {
			ps = append(ps, p)
		}
	}
	return ps
}
