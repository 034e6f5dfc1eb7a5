package tensor

import (
	"strings"
	"testing"
)

func TestStepFreesWhatTheStepMade(t *testing.T) {
	d, err := Open("cpu")
	if err != nil {
		t.Fatal(err)
	}
	w := d.Parameter("w", d.Full(2, 4))
	state := d.Zeros(4).Keep()
	step := func() float64 {
		return d.Step(func() *Tensor {
			loss := w.Mul(w).Sum(0)
			trainLoss := loss.Detach()
			loss.Backward()
			d.NoGrad(func() { state.CopyFrom(state.Add(w.Grad)) })
			d.ZeroGrad()
			return trainLoss
		})
	}
	if got := step(); got != 16 {
		t.Errorf("loss %g, want 16", got)
	}
	inUse, _ := d.Memory()
	for range 5 {
		step()
	}
	if now, _ := d.Memory(); now != inUse {
		t.Errorf("memory in use %d bytes after more steps, %d after the first: a step leaks", now, inUse)
	}
	if got := state.Float32s()[0]; got != 6*4 {
		t.Errorf("kept state %g after 6 steps, want 24", got)
	}

	var out []float32
	d.Eval(func() {
		if d.GradEnabled() {
			t.Error("Eval records the graph")
		}
		out = w.MulScalar(3).Float32s()
	})
	if now, _ := d.Memory(); out[0] != 6 || now != inUse {
		t.Errorf("Eval: %v, memory %d (was %d)", out, now, inUse)
	}
}

func TestCheckGroupsNamesTheParameter(t *testing.T) {
	d, err := Open("cpu")
	if err != nil {
		t.Fatal(err)
	}
	a := d.Parameter("transformer.h.0.a", d.Zeros(2))
	b := d.Parameter("transformer.h.1.b", d.Zeros(2))
	c := d.Parameter("lm_head", d.Zeros(2))
	if got := d.ParametersUnder("transformer.h."); len(got) != 2 || got[0] != a || got[1] != b {
		t.Errorf("ParametersUnder: %v", got)
	}
	if err := d.CheckGroups([]*Tensor{a, b}, []*Tensor{c}); err != nil {
		t.Errorf("a partition rejected: %v", err)
	}
	for _, tc := range []struct {
		groups [][]*Tensor
		want   string
	}{
		{[][]*Tensor{{a, b}}, "parameter lm_head is in no optimizer group"},
		{[][]*Tensor{{a, b}, {c, a}}, "parameter transformer.h.0.a is in 2 optimizer groups ([0 1])"},
		{[][]*Tensor{{a, b, c}, {d.Zeros(3)}}, "is not a parameter"},
	} {
		if err := d.CheckGroups(tc.groups...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want one saying %q", err, tc.want)
		}
	}
}

// TestATensorOfAnEarlierStepSaysWhy checks the message of the slip the
// root-scope rule is about: state made lazily inside a step, used in the next.
func TestATensorOfAnEarlierStepSaysWhy(t *testing.T) {
	d := openCPU(t)
	w := d.Parameter("w", d.Full(2, 4))
	var ema *Tensor
	msg, _ := panicMessage(func() {
		for range 2 {
			d.Step(func() *Tensor {
				if ema == nil {
					ema = w.Detach().Clone()
				}
				LerpInto(ema, w, 0.1)
				return w.Sum()
			})
		}
	})
	if !strings.Contains(msg, "was freed (the scope it was made in closed") || !strings.Contains(msg, "make a tensor that must last (state kept across steps) in setup") {
		t.Errorf("using a tensor of an earlier step: panic %q", msg)
	}
}
