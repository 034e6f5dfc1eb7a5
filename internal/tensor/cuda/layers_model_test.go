//go:build cuda || cudaemu

package cuda

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"autoresearch/internal/tensor"
)

// The new layers in one graph with bf16 activations, against the same graph in f32 on the CPU:
// a tied embedding (table and head), LayerNorm, dropout, a softmax router with top-2 routing
// into SwiGLU and GELU experts (IndexSelect, IndexAdd, ScatterAdd, Gather), RMSNorm with a
// weight and cross-entropy with label smoothing and z-loss. Checks the mixed-dtype paths of
// the tensor layer and that every parameter, the tied one included, gets the CPU's gradient
// within bf16's precision.
func TestParityLayersInABF16Graph(t *testing.T) {
	_, g := bf16Device(t)
	c, err := tensor.Open("cpu")
	if err != nil {
		t.Fatal(err)
	}
	const n, v, ch, e, hid = 12, 16, 32, 4, 16
	ids := []int32{1, 5, 2, 9, 14, 3, 3, 7, 0, 11, 6, 15}
	tgts := []int32{5, 2, 9, 14, 3, 3, 7, -1, 11, 6, 15, 1}
	build := func(d *tensor.Device) (loss float64, grads map[string][]float32) {
		s := d.Scope()
		defer s.Close()
		rng := tensor.NewRNG(11)
		p := func(name string, std float64, shape ...int) *tensor.Tensor {
			return d.Parameter(name, d.Normal(rng, 0, std, shape...))
		}
		table, lnw, lnb := p("table", 1, v, ch), p("ln.w", 0.2, ch), p("ln.b", 0.2, ch)
		router, norm := p("router", 0.5, e, ch), p("norm.w", 0.3, ch)
		var up, down []*tensor.Tensor
		for i := range e {
			up = append(up, p(fmt.Sprintf("up%d", i), 0.3, 2*hid, ch))
			down = append(down, p(fmt.Sprintf("down%d", i), 0.3, ch, hid))
		}
		h := tensor.Embedding(table, d.FromInt32s(ids, n))
		h = tensor.Dropout(tensor.LayerNorm(h, lnw.AddScalar(1), lnb, 1e-5), 0.1, tensor.NewRNG(3))
		probs := tensor.Softmax(tensor.Linear(h, router))
		vals, idx := tensor.TopK(probs, 2)
		gate := tensor.ScatterAdd(d.Zeros(n, e), idx, vals)
		picks := idx.Int32s()
		out := d.Zeros(n, ch)
		for x := range e {
			var rows []int32
			for r := range n {
				if slices.Contains(picks[2*r:2*r+2], int32(x)) {
					rows = append(rows, int32(r))
				}
			}
			if len(rows) == 0 {
				continue
			}
			sel := d.FromInt32s(rows, len(rows))
			u := tensor.Linear(tensor.IndexSelect(h, sel), up[x])
			a, b := u.Slice(-1, 0, hid), u.Slice(-1, hid, 2*hid)
			act := a.SiLU().Mul(b)
			if x%2 == 1 {
				act = a.GELUTanh().Mul(b.GELU())
			}
			y := tensor.Linear(act, down[x]).Mul(tensor.IndexSelect(gate.Slice(1, x, x+1), sel))
			out = tensor.IndexAdd(out, sel, y)
		}
		h = tensor.RMSNormWeight(h.Add(out), norm, 1e-6)
		logits := tensor.Linear(h, table).Softcap(15) // the tied head
		l := tensor.CrossEntropyMeanWith(logits, d.FromInt32s(tgts, n), tensor.CrossEntropyOptions{LabelSmoothing: 0.1, ZLoss: 1e-3})
		loss = l.Item()
		l.Backward()
		grads = map[string][]float32{}
		for _, q := range d.Parameters() {
			if q.Grad == nil {
				t.Fatalf("%s: parameter %s got no gradient", d.Name(), q.Name())
			}
			grads[q.Name()] = q.Grad.Float32s()
		}
		return loss, grads
	}
	lg, gg := build(g)
	lc, gc := build(c)
	var worst []string
	record := func(name string, e float64) {
		resultsMu.Lock()
		results = append(results, result{name: "LayersInABF16Graph " + name, err: e, tol: 5e-2})
		resultsMu.Unlock()
		if !(e <= 5e-2) {
			worst = append(worst, fmt.Sprintf("%s %.2e", name, e))
		}
	}
	record("loss", math.Abs(lg-lc)/math.Abs(lc))
	for name, want := range gc {
		record("grad "+name, relErr(gg[name], want))
	}
	if len(worst) > 0 {
		t.Fatalf("bf16 against f32 over 5e-2: %s", strings.Join(worst, ", "))
	}
}
