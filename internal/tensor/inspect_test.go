package tensor

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// TestInspectCountsFLOPs checks the count of a graph against the convention
// written out by hand: 2·M·K·N per product for the forward and for each
// operand's gradient, 12·D per head, query and visible key for attention.
func TestInspectCountsFLOPs(t *testing.T) {
	d := open64(t)
	rng := NewRNG(1)
	const B, T, C, H = 2, 5, 4, 6
	w1 := d.Parameter("w1", d.Normal(rng, 0, 1, H, C))
	w2 := d.Parameter("w2", d.Normal(rng, 0, 1, C, H))
	got := d.Inspect(func() *Tensor {
		x := d.Normal(rng, 0, 1, B, T, C) // data: no gradient, so no backward product for it
		return Linear(Linear(x, w1).Relu(), w2).Sum()
	})
	N := float64(B * T)
	// First layer: forward and w1's gradient; second: forward, its input's and w2's.
	if want := 2*2*N*C*H + 3*2*N*H*C; got.FLOPs != want {
		t.Errorf("two Linear layers: %g FLOPs, want %g", got.FLOPs, want)
	}
	if len(got.Warnings) != 0 {
		t.Errorf("warnings for a model whose every weight trains: %q", got.Warnings)
	}
	for _, window := range []int{-1, 2, 9} {
		d := open64(t)
		const KVH, D = 2, 3
		q := d.Parameter("q", d.Normal(rng, 0, 1, B, T, 2*KVH, D))
		k := d.Parameter("k", d.Normal(rng, 0, 1, B, T, KVH, D))
		v := d.Parameter("v", d.Normal(rng, 0, 1, B, T, KVH, D))
		got := d.Inspect(func() *Tensor { return Attention(q, k, v, window).Sum() })
		keys := T
		if window >= 0 {
			keys = min(window, T)
		}
		if want := 12.0 * B * T * 2 * KVH * D * float64(keys); got.FLOPs != want {
			t.Errorf("attention with window %d: %g FLOPs, want %g", window, got.FLOPs, want)
		}
	}
}

// line is the line of its caller.
func line() int {
	_, _, l, _ := runtime.Caller(1)
	return l
}

// TestInspectNamesWhatWillNotTrain builds a model with each kind of tensor
// that will not train beside ones that are fine (a parameter, rotary tables,
// a mask): the warnings name each of them and nothing else, a frozen one by
// where it was made (one line for a kind made once per layer), and the
// inspection leaves no gradient behind.
func TestInspectNamesWhatWillNotTrain(t *testing.T) {
	d := open64(t)
	rng := NewRNG(2)
	const B, T, C = 2, 4, 6
	w := d.Parameter("w", d.Normal(rng, 0, 1, C, C))
	frozen, at := d.Normal(rng, 0, 1, C, C), line() // meant as a parameter
	// One per layer, made on one line by a helper: one warning names that
	// line and counts them.
	newGate := func() *Tensor { return d.Normal(rng, 0, 1, C, C) }
	var gates []*Tensor
	for range 3 {
		gates = append(gates, newGate())
	}
	gateAt := line() - 2
	d.Parameter("unused", d.Zeros(3, C))
	stray, strayAt := d.Ones(C).SetRequiresGrad(), line()
	cos, sin := ropeTables(d, T, C) // constants by the op's definition
	mask := d.FromFloat32s([]float32{1, 0, 1, 1, 0, 1}, C)
	r := d.Inspect(func() *Tensor {
		x := d.Normal(rng, 0, 1, B, T, C)
		h := Linear(Linear(x, w), frozen).Mul(stray)
		for _, g := range gates {
			h = Linear(h, g)
		}
		h = Rotary(h.Reshape(B, T, 1, C), cos, sin).Reshape(B, T, C)
		return Where(mask, h, h.Square()).Sum()
	})
	want := []string{
		fmt.Sprintf("tensor f32[%d %d] made at inspect_test.go:%d feeds matmul but is no parameter", C, C, at),
		fmt.Sprintf("tensor f32[%d] made at inspect_test.go:%d gets a gradient but is no parameter", C, strayAt),
		fmt.Sprintf("tensor f32[%d %d] made at inspect_test.go:%d feeds matmul but is no parameter", C, C, gateAt),
		fmt.Sprintf("parameter unused [3 %d] got no gradient", C),
	}
	if len(r.Warnings) != len(want) {
		t.Fatalf("%d warnings, want %d:\n%s", len(r.Warnings), len(want), strings.Join(r.Warnings, "\n"))
	}
	if !strings.HasSuffix(r.Warnings[2], "(3 such tensors)") {
		t.Errorf("the per-layer warning does not count the layers: %s", r.Warnings[2])
	}
	for i, w := range want {
		if !strings.HasPrefix(r.Warnings[i], w) {
			t.Errorf("warning %d:\n%s\nwant it to begin\n%s", i, r.Warnings[i], w)
		}
	}
	for _, p := range d.Parameters() {
		if p.Grad != nil {
			t.Errorf("%s keeps the inspection's gradient", p.Name())
		}
	}
	if stray.Grad != nil {
		t.Error("the stray tensor keeps the inspection's gradient")
	}
	// The step itself then trains as before: w gets its gradient.
	s := d.Scope()
	Linear(d.Normal(rng, 0, 1, B, C), w).Sum().Backward()
	s.Close()
	if w.Grad == nil {
		t.Error("no gradient after the inspection")
	}
}
