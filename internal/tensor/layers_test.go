package tensor

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// layerGradCases are the gradient checks of layers.go and the smooth
// activations, run by TestGradients with the others.
func layerGradCases() []gradCase {
	var cs []gradCase
	add := func(op, name string, ins []input, f func(d *Device, x []*Tensor) *Tensor) {
		if name != "" {
			name = op + "/" + name
		} else {
			name = op
		}
		cs = append(cs, gradCase{name: name, op: op, inputs: ins, f: f})
	}
	for _, a := range []struct {
		op string
		f  func(*Tensor) *Tensor
	}{
		{"gelu", (*Tensor).GELU}, {"gelu_tanh", (*Tensor).GELUTanh}, {"silu", (*Tensor).SiLU},
		{"softplus", (*Tensor).Softplus}, {"mish", (*Tensor).Mish},
	} {
		add(a.op, "", []input{{[]int{3, 5}, func(r *rand.Rand) float64 { return 2 * r.NormFloat64() }}},
			func(d *Device, x []*Tensor) *Tensor { return a.f(x[0]) })
	}

	add("layer_norm", "weight and bias", []input{normal(2, 3, 8), normal(8), normal(8)},
		func(d *Device, x []*Tensor) *Tensor { return LayerNorm(x[0], x[1], x[2], 1e-5) })
	add("layer_norm", "plain", []input{normal(4, 7)},
		func(d *Device, x []*Tensor) *Tensor { return LayerNorm(x[0], nil, nil, 1e-5) })
	add("layer_norm", "weight only", []input{normal(4, 7), normal(7)},
		func(d *Device, x []*Tensor) *Tensor { return LayerNorm(x[0], x[1], nil, 1e-5) })
	add("rms_norm_weight", "", []input{normal(2, 3, 8), normal(8)},
		func(d *Device, x []*Tensor) *Tensor { return RMSNormWeight(x[0], x[1], 1e-6) })

	// The checker evaluates the loss under NoGrad, where Dropout is the
	// identity: check the masked op itself, one fixed seed.
	add("dropout", "", []input{normal(4, 9)},
		func(d *Device, x []*Tensor) *Tensor { return dropout(x[0], 0.3, 12345) })

	opts := CrossEntropyOptions{LabelSmoothing: 0.1, ZLoss: 0.05}
	add("cross_entropy_opts", "smoothing and z-loss", []input{normal(6, 5)},
		func(d *Device, x []*Tensor) *Tensor { return CrossEntropyWith(x[0], d.FromInt32s(tgts, 6), opts) })
	add("cross_entropy_opts", "smoothing only, mean", []input{normal(2, 3, 5)},
		func(d *Device, x []*Tensor) *Tensor {
			return CrossEntropyMeanWith(x[0], d.FromInt32s(tgts, 2, 3), CrossEntropyOptions{LabelSmoothing: 0.2})
		})
	wide := input{[]int{6, 5}, func(r *rand.Rand) float64 { return 4 * r.NormFloat64() }}
	add("cross_entropy_opts", "softcapped", []input{wide},
		func(d *Device, x []*Tensor) *Tensor {
			return CrossEntropyWith(x[0].Softcap(3), d.FromInt32s(tgts, 6), opts)
		})
	add("cross_entropy_opts", "softcapped twice", []input{wide},
		func(d *Device, x []*Tensor) *Tensor {
			y := x[0].Softcap(3)
			return CrossEntropyWith(y, d.FromInt32s(tgts, 6), opts).Reshape(6, 1).Mul(y)
		})

	idx := []int32{4, 0, 4, 1, 2, 3} // [2, 3] rows of [2, 3, 5], a repeat in row 0
	add("gather", "", []input{normal(2, 3, 5)},
		func(d *Device, x []*Tensor) *Tensor { return Gather(x[0], d.FromInt32s(idx, 2, 3, 1)) })
	add("gather", "topk", []input{normal(3, 6)},
		func(d *Device, x []*Tensor) *Tensor { v, _ := TopK(x[0], 3); return v })
	add("scatter_add", "", []input{normal(3, 5), normal(3, 2)},
		func(d *Device, x []*Tensor) *Tensor { return ScatterAdd(x[0], d.FromInt32s(idx, 3, 2), x[1]) })
	rows := []int32{3, 1, 4, 1}
	add("index_select", "", []input{normal(5, 2, 3)},
		func(d *Device, x []*Tensor) *Tensor { return IndexSelect(x[0], d.FromInt32s(rows, 4)) })
	add("index_add", "", []input{normal(5, 3), normal(4, 3)},
		func(d *Device, x []*Tensor) *Tensor { return IndexAdd(x[0], d.FromInt32s(rows, 4), x[1]) })
	add("exp", "softmax", []input{normal(3, 5)}, func(d *Device, x []*Tensor) *Tensor { return Softmax(x[0]) })
	add("exp", "log_softmax", []input{normal(3, 5)}, func(d *Device, x []*Tensor) *Tensor { return LogSoftmax(x[0]) })

	// Tied embeddings: one table looks up the tokens and is the output
	// head; its gradient is the sum of both uses.
	add("embedding", "tied with the head", []input{normal(6, 4)},
		func(d *Device, x []*Tensor) *Tensor {
			h := Embedding(x[0], d.FromInt32s(ids, 2, 3)).Tanh()
			return CrossEntropy(Linear(h, x[0]), d.FromInt32s(tgts, 2, 3))
		})
	return cs
}

// TestTiedParameterAccumulates: a parameter used as the embedding and as
// the output head gets the sum of the gradients of both uses, across
// micro-steps, on the float32 device a training program runs on.
func TestTiedParameterAccumulates(t *testing.T) {
	d := openCPU(t)
	w := d.Parameter("wte", d.Normal(NewRNG(3), 0, 1, 7, 4))
	other := d.Parameter("head", d.Normal(NewRNG(3), 0, 1, 7, 4)) // an untied copy
	idsT, tg := d.FromInt32s([]int32{1, 5, 2, 6}, 4), d.FromInt32s([]int32{5, 2, 6, 0}, 4)
	loss := func(emb, head *Tensor) *Tensor {
		return CrossEntropyMean(Linear(Embedding(emb, idsT).Tanh(), head), tg)
	}
	loss(w, w).Backward()
	loss(w, w).Backward() // a second micro-step adds to the first
	tied := w.Grad.Float32s()
	d.ZeroGrad()
	// The two uses apart: the embedding's gradient lands in w, the head's
	// in other.
	loss(w, other).Backward()
	emb, head := w.Grad.Float32s(), other.Grad.Float32s()
	nonzero := 0
	for i := range tied {
		want := 2 * (float64(emb[i]) + float64(head[i]))
		if math.Abs(float64(tied[i])-want) > 1e-5*math.Max(1, math.Abs(want)) {
			t.Fatalf("element %d: tied gradient %g, want 2*(embedding %g + head %g) = %g", i, tied[i], emb[i], head[i], want)
		}
		if emb[i] != 0 && head[i] != 0 {
			nonzero++
		}
	}
	if nonzero == 0 {
		t.Fatal("no element gets a gradient from both uses: the test checks nothing")
	}
}

// TestActivationsMatchFormulas: the float32 kernels (vector paths
// included) against the textbook formulas in float64, over a range that
// crosses softplus's threshold.
func TestActivationsMatchFormulas(t *testing.T) {
	d := openCPU(t)
	var xs []float32
	for x := -25.0; x <= 25; x += 0.37 {
		xs = append(xs, float32(x))
	}
	x := d.FromFloat32s(xs, len(xs))
	phi := func(v float64) float64 { return 0.5 * (1 + math.Erf(v/math.Sqrt2)) }
	sp := func(v float64) float64 { return math.Log(1 + math.Exp(v)) }
	for _, c := range []struct {
		name string
		got  *Tensor
		f    func(float64) float64
	}{
		{"gelu", x.GELU(), func(v float64) float64 { return v * phi(v) }},
		{"gelu_tanh", x.GELUTanh(), func(v float64) float64 {
			return 0.5 * v * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*v*v*v)))
		}},
		{"silu", x.SiLU(), func(v float64) float64 { return v / (1 + math.Exp(-v)) }},
		{"softplus", x.Softplus(), sp},
		{"mish", x.Mish(), func(v float64) float64 { return v * math.Tanh(sp(v)) }},
	} {
		want := make([]float64, len(xs))
		for i, v := range xs {
			want[i] = c.f(float64(v))
		}
		closeTo(t, c.name, c.got.Float32s(), want, 2e-6)
	}
}

// TestLayerNormMatchesFormula: mean, variance, weight and bias by hand.
func TestLayerNormMatchesFormula(t *testing.T) {
	d := openCPU(t)
	r := rand.New(rand.NewPCG(5, 5))
	const n, c = 6, 10
	xs, ws, bs := rnd(r, n*c), rnd(r, c), rnd(r, c)
	x, w, b := d.FromFloat32s(xs, n, c), d.FromFloat32s(ws, c), d.FromFloat32s(bs, c)
	ln, rms := LayerNorm(x, w, b, 1e-5).Float32s(), RMSNormWeight(x, w, 1e-6).Float32s()
	wantLN, wantRMS := make([]float64, n*c), make([]float64, n*c)
	for i := range n {
		var m, v, ss float64
		for j := range c {
			m += float64(xs[i*c+j]) / c
			ss += float64(xs[i*c+j]) * float64(xs[i*c+j]) / c
		}
		for j := range c {
			v += (float64(xs[i*c+j]) - m) * (float64(xs[i*c+j]) - m) / c
		}
		for j := range c {
			wantLN[i*c+j] = (float64(xs[i*c+j])-m)/math.Sqrt(v+1e-5)*float64(ws[j]) + float64(bs[j])
			wantRMS[i*c+j] = float64(xs[i*c+j]) / math.Sqrt(ss+1e-6) * float64(ws[j])
		}
	}
	closeTo(t, "layer_norm", ln, wantLN, 1e-5)
	closeTo(t, "rms_norm_weight", rms, wantRMS, 1e-5)
}

// TestCrossEntropyWithMatchesFormula: smoothing and z-loss from an explicit
// log-softmax; zero options are plain CrossEntropy.
func TestCrossEntropyWithMatchesFormula(t *testing.T) {
	d := openCPU(t)
	r := rand.New(rand.NewPCG(6, 6))
	const n, v = 6, 9
	ls := rnd(r, n*v)
	logits, tg := d.FromFloat32s(ls, n, v), d.FromInt32s(tgts, n)
	o := CrossEntropyOptions{LabelSmoothing: 0.1, ZLoss: 1e-2}
	got := CrossEntropyWith(logits, tg, o).Float32s()
	want := make([]float64, n)
	for i := range n {
		if tgts[i] < 0 {
			continue
		}
		var s, mean float64
		for j := range v {
			s += math.Exp(float64(ls[i*v+j]))
			mean += float64(ls[i*v+j]) / v
		}
		lse := math.Log(s)
		want[i] = 0.9*(lse-float64(ls[i*v+int(tgts[i])])) + 0.1*(lse-mean) + 1e-2*lse*lse
	}
	closeTo(t, "cross_entropy with options", got, want, 1e-5)
	plain := CrossEntropy(logits, tg).Float64s()
	closeTo(t, "zero options", CrossEntropyWith(logits, tg, CrossEntropyOptions{}).Float32s(), plain, 0)
}

// TestDropout: about p of the elements dropped, the rest scaled; the same
// seed the same mask; the identity under NoGrad and for p = 0.
func TestDropout(t *testing.T) {
	d := openCPU(t)
	const n, p = 20000, 0.25
	x := d.Ones(n).SetRequiresGrad()
	y := Dropout(x, p, NewRNG(1)).Float32s()
	dropped := 0
	for _, v := range y {
		switch v {
		case 0:
			dropped++
		case 1 / (1 - p):
		default:
			t.Fatalf("kept element %g, want %g", v, 1/(1-p))
		}
	}
	if frac := float64(dropped) / n; math.Abs(frac-p) > 0.02 {
		t.Fatalf("dropped %.3f of the elements, want about %g", frac, p)
	}
	if a, b := Dropout(x, p, NewRNG(9)).Float32s(), Dropout(x, p, NewRNG(9)).Float32s(); !slices.Equal(a, b) {
		t.Fatal("one seed gave two masks")
	}
	d.NoGrad(func() {
		if Dropout(x, p, NewRNG(1)) != x {
			t.Fatal("Dropout under NoGrad is not the identity")
		}
	})
	if Dropout(x, 0, NewRNG(1)) != x {
		t.Fatal("Dropout with p = 0 is not the identity")
	}
}

// TestTopKAndRouting: TopK against a sort, ties to the lower position;
// Int32s reads the indices; a dense top-k gate built with ScatterAdd.
func TestTopKAndRouting(t *testing.T) {
	d := openCPU(t)
	x := d.FromFloat32s([]float32{
		0.1, 0.9, 0.3, 0.9, -1,
		5, 4, 3, 2, 1,
	}, 2, 5)
	vals, idx := TopK(x, 3)
	if got, want := idx.Int32s(), []int32{1, 3, 2, 0, 1, 2}; !slices.Equal(got, want) {
		t.Fatalf("TopK indices %v, want %v", got, want)
	}
	closeTo(t, "TopK values", vals.Float32s(), []float64{0.9, 0.9, 0.3, 5, 4, 3}, 1e-7)
	gate := ScatterAdd(d.Zeros(2, 5), idx, Softmax(vals)).Float32s()
	var sum float64
	for _, g := range gate {
		sum += float64(g)
	}
	if math.Abs(sum-2) > 1e-5 || gate[4] != 0 || gate[9] != 0 {
		t.Fatalf("dense gate %v: rows must sum to 1 with zeros off the top 3", gate)
	}
	rows := IndexAdd(d.Zeros(3, 2), d.FromInt32s([]int32{2, 0, 2}, 3), d.FromFloat32s([]float32{1, 2, 3, 4, 5, 6}, 3, 2))
	closeTo(t, "IndexAdd", rows.Float32s(), []float64{3, 4, 0, 0, 6, 8}, 0)
	closeTo(t, "IndexSelect", IndexSelect(rows, d.FromInt32s([]int32{2, 2, 0}, 3)).Float32s(), []float64{6, 8, 6, 8, 3, 4}, 0)
}

// BenchmarkActivations times the MLP activation's forward and backward over
// the cpu profile's MLP hidden activations (8×256 tokens × 1024): the fused
// ops against ReLU² and against GELU composed from smaller ops.
//
//	go test -run '^$' -bench Activations ./internal/tensor/
func BenchmarkActivations(b *testing.B) {
	const n = 8 * 256 * 1024
	gelu := func(h *Tensor) *Tensor { // 0.5h(1+tanh(√(2/π)(h+0.044715h³))) from small ops
		return h.Mul(h.Add(h.Mul(h).Mul(h).MulScalar(0.044715)).MulScalar(0.7978845608).Tanh().AddScalar(1)).MulScalar(0.5)
	}
	for _, c := range []struct {
		name string
		f    func(*Tensor) *Tensor
	}{
		{"relu_square", (*Tensor).ReluSquare}, {"gelu_tanh", (*Tensor).GELUTanh}, {"gelu_tanh_composed", gelu},
		{"gelu", (*Tensor).GELU}, {"silu", (*Tensor).SiLU}, {"softplus", (*Tensor).Softplus}, {"mish", (*Tensor).Mish},
	} {
		b.Run(c.name, func(b *testing.B) {
			d := openCPU(b)
			x := d.FromFloat32s(randSlice(rand.New(rand.NewPCG(1, 1)), n), n).SetRequiresGrad()
			b.ResetTimer()
			for range b.N {
				s := d.Scope()
				c.f(x).Sum().Backward()
				s.Close()
				x.Grad.Free()
				x.Grad = nil
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Melem/s")
		})
	}
}
