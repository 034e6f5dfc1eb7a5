package main

import (
	"math"
	"math/rand/v2"
	"testing"

	"autoresearch/internal/tensor"
)

// Checks of the model and the optimizer against references written from
// the original train.py's formulas, in float64 on the cpu64 backend.

// tinyConfig exercises every feature at a size finite differences can
// afford: grouped-query heads (4 query heads on 2 key/value heads), three
// layers (value embeddings on layers 0 and 2, windows S, S, L), a context
// of 8 (short window 4).
var tinyConfig = GPTConfig{SequenceLen: 8, VocabSize: 11, NLayer: 3, NHead: 4, NKVHead: 2, NEmbd: 32, WindowPattern: "SSSL"}

func open64(t testing.TB) *tensor.Device {
	t.Helper()
	dev, err := tensor.Open("cpu64")
	if err != nil {
		t.Fatal(err)
	}
	return dev
}

// randomized returns a tiny model whose every parameter is random. The
// original's initialisation zeroes the projections and gates, which would
// leave parts of the graph untested.
func randomized(t testing.TB, dev *tensor.Device, seed uint64) *GPT {
	t.Helper()
	m, err := NewGPT(dev, tinyConfig, tensor.NewRNG(seed))
	if err != nil {
		t.Fatal(err)
	}
	rng := tensor.NewRNG(seed + 1)
	dev.NoGrad(func() {
		for _, p := range dev.Parameters() {
			mean, std := 0.0, 0.5
			switch p {
			case m.residLambdas:
				mean, std = 1, 0.2
			case m.x0Lambdas:
				mean, std = 0.1, 0.2
			}
			p.CopyFrom(dev.Normal(rng, mean, std, p.Shape()...))
		}
	})
	return m
}

func randomTokens(r *rand.Rand, n, vocab int) []int32 {
	ids := make([]int32, n)
	for i := range ids {
		ids[i] = int32(r.IntN(vocab))
	}
	return ids
}

// TestForwardMatchesReference compares the model's per-token losses with a
// direct float64 transcription of train.py's GPT.forward.
func TestForwardMatchesReference(t *testing.T) {
	dev := open64(t)
	m := randomized(t, dev, 3)
	const B = 2
	T := tinyConfig.SequenceLen
	r := rand.New(rand.NewPCG(5, 6))
	idx, tgt := randomTokens(r, B*T, tinyConfig.VocabSize), randomTokens(r, B*T, tinyConfig.VocabSize)

	var got []float64
	var mean float64
	dev.NoGrad(func() {
		x, y := dev.FromInt32s(idx, B, T), dev.FromInt32s(tgt, B, T)
		got = m.Forward(x, y, "none").Float64s()
		mean = m.Forward(x, y, "mean").Item()
	})
	want := referenceLosses(m, idx, tgt, B, T)
	sum := 0.0
	for i := range want {
		sum += want[i]
		if math.Abs(got[i]-want[i]) > 1e-9*math.Max(1, math.Abs(want[i])) {
			t.Errorf("token %d: loss %.12f, reference %.12f", i, got[i], want[i])
		}
	}
	if wm := sum / float64(len(want)); math.Abs(mean-wm) > 1e-9 {
		t.Errorf("mean loss %.12f, reference %.12f", mean, wm)
	}
}

// referenceLosses is GPT.forward(idx, targets, reduction='none') of the
// original, one token at a time, in plain float64.
func referenceLosses(m *GPT, idx, tgt []int32, B, T int) []float64 {
	c := m.config
	C, H, KVH, V := c.NEmbd, c.NHead, c.NKVHead, c.VocabSize
	D := C / H
	vals := func(p *tensor.Tensor) []float64 { return p.Float64s() }
	// linear is nn.Linear without bias: out[o] = Σ_i w[o, i]·x[i].
	linear := func(w []float64, x []float64, out int) []float64 {
		in := len(x)
		y := make([]float64, out)
		for o := range out {
			for i := range in {
				y[o] += w[o*in+i] * x[i]
			}
		}
		return y
	}
	rmsNorm := func(x []float64) []float64 {
		ss := 0.0
		for _, v := range x {
			ss += v * v
		}
		r := 1 / math.Sqrt(ss/float64(len(x))+0x1p-23)
		y := make([]float64, len(x))
		for i, v := range x {
			y[i] = v * r
		}
		return y
	}
	// rotary rotates the pairs (x[j], x[j+D/2]) by t / 10000^(2j/D).
	rotary := func(x []float64, t int) []float64 {
		d := len(x) / 2
		y := make([]float64, len(x))
		for j := range d {
			// inv_freq = 1/base^(2j/D); the tables hold float32 values.
			ang := float64(t) * (1 / math.Pow(10000, float64(2*j)/float64(len(x))))
			cs, sn := float64(float32(math.Cos(ang))), float64(float32(math.Sin(ang)))
			y[j] = x[j]*cs + x[j+d]*sn
			y[j+d] = -x[j]*sn + x[j+d]*cs
		}
		return y
	}
	wte, head := vals(m.wte), vals(m.lmHead)
	resid, x0l := vals(m.residLambdas), vals(m.x0Lambdas)

	losses := make([]float64, 0, B*T)
	for b := range B {
		// The residual stream of every position of this row.
		x := make([][]float64, T)
		x0 := make([][]float64, T)
		for t := range T {
			id := int(idx[b*T+t])
			x[t] = rmsNorm(wte[id*C : (id+1)*C])
			x0[t] = append([]float64(nil), x[t]...)
		}
		for i := range c.NLayer {
			blk := &m.h[i]
			wq, wk, wv, wo := vals(blk.attn.cQ), vals(blk.attn.cK), vals(blk.attn.cV), vals(blk.attn.cProj)
			fc, proj := vals(blk.mlp.cFc), vals(blk.mlp.cProj)
			// "SSSL" from the config: S sees half the context, the last layer all.
			window := c.SequenceLen / 2
			if c.WindowPattern[i%len(c.WindowPattern)] == 'L' || i == c.NLayer-1 {
				window = c.SequenceLen
			}
			q := make([][]float64, T) // [t][h*D+d], after rotary and norm
			k := make([][]float64, T) // [t][kvh*D+d]
			v := make([][]float64, T)
			for t := range T {
				for j := range C {
					x[t][j] = resid[i]*x[t][j] + x0l[i]*x0[t][j]
				}
				h := rmsNorm(x[t])
				qt, kt, vt := linear(wq, h, H*D), linear(wk, h, KVH*D), linear(wv, h, KVH*D)
				if table := m.valueEmbeds[i]; table != nil {
					ve := vals(table)[int(idx[b*T+t])*KVH*D:]
					gate := linear(vals(blk.attn.veGate), h[:veGateChannels], KVH)
					for g := range KVH {
						s := 2 / (1 + math.Exp(-gate[g]))
						for d := range D {
							vt[g*D+d] += s * ve[g*D+d]
						}
					}
				}
				for hh := range H {
					copy(qt[hh*D:], rmsNorm(rotary(qt[hh*D:(hh+1)*D], t)))
				}
				for g := range KVH {
					copy(kt[g*D:], rmsNorm(rotary(kt[g*D:(g+1)*D], t)))
				}
				q[t], k[t], v[t] = qt, kt, vt
			}
			for t := range T {
				y := make([]float64, C)
				for hh := range H {
					g := hh / (H / KVH)
					lo := max(0, t-window)
					scores := make([]float64, t+1-lo)
					mx := math.Inf(-1)
					for s := lo; s <= t; s++ {
						dot := 0.0
						for d := range D {
							dot += q[t][hh*D+d] * k[s][g*D+d]
						}
						scores[s-lo] = dot * f32(1/math.Sqrt(float64(D))) // the kernel's float32 scale
						mx = math.Max(mx, scores[s-lo])
					}
					z := 0.0
					for i := range scores {
						scores[i] = math.Exp(scores[i] - mx)
						z += scores[i]
					}
					for s := lo; s <= t; s++ {
						for d := range D {
							y[hh*D+d] += scores[s-lo] / z * v[s][g*D+d]
						}
					}
				}
				out := linear(wo, y, C)
				for j := range C {
					x[t][j] += out[j]
				}
				f := linear(fc, rmsNorm(x[t]), 4*C)
				for j := range f {
					f[j] = math.Pow(math.Max(f[j], 0), 2)
				}
				out = linear(proj, f, C)
				for j := range C {
					x[t][j] += out[j]
				}
			}
		}
		for t := range T {
			logits := linear(head, rmsNorm(x[t]), V)
			mx := math.Inf(-1)
			for j := range logits {
				logits[j] = 15 * math.Tanh(logits[j]/15)
				mx = math.Max(mx, logits[j])
			}
			z := 0.0
			for _, l := range logits {
				z += math.Exp(l - mx)
			}
			losses = append(losses, mx+math.Log(z)-logits[tgt[b*T+t]])
		}
	}
	return losses
}

// TestModelGradients checks the whole model's gradients (every parameter,
// through every layer) against central finite differences of its loss.
func TestModelGradients(t *testing.T) {
	dev := open64(t)
	m := randomized(t, dev, 11)
	const B = 2
	T := tinyConfig.SequenceLen
	r := rand.New(rand.NewPCG(12, 13))
	idx, tgt := randomTokens(r, B*T, tinyConfig.VocabSize), randomTokens(r, B*T, tinyConfig.VocabSize)
	x, y := dev.FromInt32s(idx, B, T).Keep(), dev.FromInt32s(tgt, B, T).Keep()
	lossAt := func() float64 {
		s := dev.Scope()
		defer s.Close()
		var l float64
		dev.NoGrad(func() { l = m.Forward(x, y, "mean").Item() })
		return l
	}

	s := dev.Scope()
	m.Forward(x, y, "mean").Backward()
	s.Close()

	// h is exactly representable; perturbations happen in float64 on the
	// device (p + h·e_j), so the differences keep float64 precision.
	h := float64(float32(1e-5))
	for _, p := range dev.Parameters() {
		if p.Grad == nil {
			t.Errorf("%s got no gradient", p.Name())
			continue
		}
		grad := p.Grad.Float64s()
		n := p.Numel()
		// Up to 6 elements of each parameter, the first and last included.
		picks := []int{0, n - 1}
		for len(picks) < min(6, n) {
			picks = append(picks, r.IntN(n))
		}
		for _, j := range picks {
			var fp, fm float64
			dev.NoGrad(func() {
				s := dev.Scope()
				defer s.Close()
				orig := p.MulScalar(1)
				e := make([]float32, n)
				e[j] = float32(h)
				step := dev.FromFloat32s(e, p.Shape()...)
				p.CopyFrom(orig.Add(step))
				fp = lossAt()
				p.CopyFrom(orig.Sub(step))
				fm = lossAt()
				p.CopyFrom(orig)
			})
			num := (fp - fm) / (2 * h)
			if math.Abs(grad[j]-num) > 1e-8+1e-5*math.Abs(num) {
				t.Errorf("%s element %d: backward %.10g, finite difference %.10g", p.Name(), j, grad[j], num)
			}
		}
	}
}

// TestMuonMatchesReference runs two MuonAdamW steps on Muon groups of a
// tall, a wide and a square shape and compares the parameters with a plain
// float64 transcription of the original's muon_step_fused.
func TestMuonMatchesReference(t *testing.T) {
	for _, shape := range [][2]int{{6, 4}, {4, 6}, {5, 5}} {
		dev := open64(t)
		rows, cols := shape[0], shape[1]
		const P = 2
		rng := tensor.NewRNG(uint64(rows*10 + cols))
		var params []*tensor.Tensor
		for i := range P {
			params = append(params, dev.Parameter("w"+string(rune('a'+i)), dev.Normal(rng, 0, 1, rows, cols)))
		}
		g := &ParamGroup{Kind: "muon", Params: params, LR: 0.03, Momentum: 0.9, NSSteps: 5, Beta2: 0.95, WeightDecay: 0.2}
		opt, err := NewMuonAdamW(dev, []*ParamGroup{g})
		if err != nil {
			t.Fatal(err)
		}
		ref := newRefMuon(P, rows, cols)
		for i, p := range params {
			ref.params[i] = p.Float64s()
		}
		for step := range 2 {
			for i, p := range params {
				p.Grad = dev.Normal(rng, 0, 1, rows, cols).Keep()
				ref.grads[i] = p.Grad.Float64s()
			}
			dev.Step(func() *tensor.Tensor { opt.Step(); return dev.Scalar(0) })
			// The device takes its scalars (rates, coefficients) as float32.
			ref.step(f32(g.Momentum), f32(g.LR*math.Sqrt(max(1, float64(rows)/float64(cols)))), f32(g.WeightDecay), f32(g.Beta2), g.NSSteps)
			for i, p := range params {
				got := p.Float64s()
				for j := range got {
					if d := math.Abs(got[j] - ref.params[i][j]); d > 1e-10 {
						t.Fatalf("%dx%d step %d, matrix %d element %d: %.12f, reference %.12f", rows, cols, step, i, j, got[j], ref.params[i][j])
					}
				}
			}
			dev.ZeroGrad()
		}
	}
}

// refMuon is the Muon state of P matrices [R, C], as the original keeps it.
type refMuon struct {
	P, R, C       int
	params, grads [][]float64
	momentum      [][]float64 // [P][R*C]
	second        [][]float64 // [P][R] when R >= C, else [P][C]
	perRow        bool
	polarCoeffs   [][3]float64
}

func newRefMuon(P, R, C int) *refMuon {
	m := &refMuon{P: P, R: R, C: C, params: make([][]float64, P), grads: make([][]float64, P),
		momentum: make([][]float64, P), second: make([][]float64, P), perRow: R >= C}
	for i := range P {
		m.momentum[i] = make([]float64, R*C)
		if m.perRow {
			m.second[i] = make([]float64, R)
		} else {
			m.second[i] = make([]float64, C)
		}
	}
	// The original's coefficients, written out again rather than read from
	// train.go.
	m.polarCoeffs = [][3]float64{
		{8.156554524902461, -22.48329292557795, 15.878769915207462},
		{4.042929935166739, -2.808917465908714, 0.5000178451051316},
		{3.8916678022926607, -2.772484153217685, 0.5060648178503393},
		{3.285753657755655, -2.3681294933425376, 0.46449024233003106},
		{2.3465413258596377, -1.7097828382687081, 0.42323551169305323},
	}
	return m
}

// matmul returns a [n, k] · b [k, p], with either operand transposed when
// its flag is set (then a is stored [k, n], b [p, k]).
func matmul(a []float64, ta bool, b []float64, tb bool, n, k, p int) []float64 {
	out := make([]float64, n*p)
	for i := range n {
		for j := range p {
			s := 0.0
			for l := range k {
				av := a[i*k+l]
				if ta {
					av = a[l*n+i]
				}
				bv := b[l*p+j]
				if tb {
					bv = b[j*k+l]
				}
				s += av * bv
			}
			out[i*p+j] = s
		}
	}
	return out
}

func (m *refMuon) step(momentum, lr, wd, beta2 float64, nsSteps int) {
	R, C := m.R, m.C
	for i := range m.P {
		g, buf := m.grads[i], m.momentum[i]
		// Nesterov momentum: buf.lerp_(g, 1-μ); g.lerp_(buf, μ)
		for j := range g {
			buf[j] += (1 - momentum) * (g[j] - buf[j])
			g[j] += momentum * (buf[j] - g[j])
		}
		// Polar Express: X = g / (‖g‖·1.02 + 1e-6), then X ← aX + XB or aX + BX
		fro := 0.0
		for _, v := range g {
			fro += v * v
		}
		fro = math.Sqrt(fro)
		X := make([]float64, R*C)
		for j := range g {
			X[j] = g[j] / (fro*f32(1.02) + f32(1e-6))
		}
		for _, abc := range m.polarCoeffs[:nsSteps] {
			a, b, c := f32(abc[0]), f32(abc[1]), f32(abc[2])
			if R > C {
				A := matmul(X, true, X, false, C, R, C) // XᵀX [C, C]
				AA := matmul(A, false, A, false, C, C, C)
				Bm := make([]float64, C*C)
				for j := range Bm {
					Bm[j] = b*A[j] + c*AA[j]
				}
				XB := matmul(X, false, Bm, false, R, C, C)
				for j := range X {
					X[j] = a*X[j] + XB[j]
				}
			} else {
				A := matmul(X, false, X, true, R, C, R) // XXᵀ [R, R]
				AA := matmul(A, false, A, false, R, R, R)
				Bm := make([]float64, R*R)
				for j := range Bm {
					Bm[j] = b*A[j] + c*AA[j]
				}
				BX := matmul(Bm, false, X, false, R, R, C)
				for j := range X {
					X[j] = a*X[j] + BX[j]
				}
			}
		}
		// NorMuon: v_mean over the reduced dim (columns when R >= C)
		var vMean []float64
		redSize := float64(C)
		if m.perRow {
			vMean = make([]float64, R)
			for r := range R {
				for c := range C {
					vMean[r] += X[r*C+c] * X[r*C+c] / float64(C)
				}
			}
		} else {
			redSize = float64(R)
			vMean = make([]float64, C)
			for r := range R {
				for c := range C {
					vMean[c] += X[r*C+c] * X[r*C+c] / float64(R)
				}
			}
		}
		vNormSq := 0.0
		for _, v := range vMean {
			vNormSq += v * redSize
		}
		vNorm := math.Sqrt(vNormSq)
		second := m.second[i]
		stepSize := make([]float64, len(second))
		scaledSqSum := 0.0
		for j := range second {
			second[j] += (1 - beta2) * (vMean[j] - second[j])
			stepSize[j] = 1 / math.Sqrt(math.Max(second[j], 1e-10))
			scaledSqSum += vMean[j] * redSize * stepSize[j] * stepSize[j]
		}
		vNormNew := math.Sqrt(scaledSqSum)
		// Cautious weight decay + update
		p := m.params[i]
		for r := range R {
			for c := range C {
				s := stepSize[r*boolInt(m.perRow)+c*boolInt(!m.perRow)] * (vNorm / math.Max(vNormNew, 1e-10))
				u := X[r*C+c] * s
				j := r*C + c
				decay := 0.0
				if u*p[j] >= 0 {
					decay = lr * wd * p[j]
				}
				p[j] -= lr*u + decay
			}
		}
	}
}

func f32(x float64) float64 { return float64(float32(x)) }

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
