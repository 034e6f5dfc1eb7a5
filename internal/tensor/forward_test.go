package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// Forward checks of the float32 CPU kernels against plain float64 Go
// written from the formulas (not from the kernels).

func openCPU(t testing.TB) *Device {
	t.Helper()
	d, err := Open("")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func rnd(r *rand.Rand, n int) []float32 { return randSlice(r, n) }

func closeTo(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i]) - want[i]); d > tol*math.Max(1, math.Abs(want[i])) || math.IsNaN(float64(got[i])) {
			t.Fatalf("%s[%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

func TestAttentionMatchesExplicitSoftmax(t *testing.T) {
	d := openCPU(t)
	r := rand.New(rand.NewPCG(1, 1))
	const B, T, H, KVH, D = 2, 9, 4, 2, 8
	q, k, v := rnd(r, B*T*H*D), rnd(r, B*T*KVH*D), rnd(r, B*T*KVH*D)
	for _, window := range []int{-1, 0, 3, 8, 20} {
		out := Attention(d.FromFloat32s(q, B, T, H, D), d.FromFloat32s(k, B, T, KVH, D), d.FromFloat32s(v, B, T, KVH, D), window)
		want := make([]float64, B*T*H*D)
		for b := range B {
			for h := range H {
				kh := h / (H / KVH)
				for i := range T {
					// scores[j] = q_i·k_j/√D, masked to -inf outside the causal window
					scores := make([]float64, T)
					m := math.Inf(-1)
					for j := range T {
						scores[j] = math.Inf(-1)
						if j > i || (window >= 0 && j < i-window) {
							continue
						}
						var s float64
						for e := range D {
							s += float64(q[((b*T+i)*H+h)*D+e]) * float64(k[((b*T+j)*KVH+kh)*D+e])
						}
						scores[j] = s / math.Sqrt(D)
						m = math.Max(m, scores[j])
					}
					var z float64
					for j := range T {
						scores[j] = math.Exp(scores[j] - m)
						z += scores[j]
					}
					for j := range T {
						for e := range D {
							want[((b*T+i)*H+h)*D+e] += scores[j] / z * float64(v[((b*T+j)*KVH+kh)*D+e])
						}
					}
				}
			}
		}
		closeTo(t, "attention", out.Float32s(), want, 1e-5)
	}
}

func TestCrossEntropyMatchesLogSoftmax(t *testing.T) {
	d := openCPU(t)
	r := rand.New(rand.NewPCG(2, 2))
	const N, V = 7, 11
	logits := rnd(r, N*V)
	for i := range logits {
		logits[i] *= 10 // large logits test the max shift
	}
	targets := []int32{0, 10, 3, -1, 5, 5, 9}
	losses := CrossEntropy(d.FromFloat32s(logits, N, V), d.FromInt32s(targets, N))
	want := make([]float64, N)
	var sum float64
	for i := range N {
		if targets[i] < 0 {
			continue
		}
		m := math.Inf(-1)
		for j := range V {
			m = math.Max(m, float64(logits[i*V+j]))
		}
		var z float64
		for j := range V {
			z += math.Exp(float64(logits[i*V+j]) - m)
		}
		want[i] = -(float64(logits[i*V+int(targets[i])]) - m - math.Log(z)) // -log_softmax[target]
		sum += want[i]
	}
	closeTo(t, "losses", losses.Float32s(), want, 1e-5)
	mean := CrossEntropyMean(d.FromFloat32s(logits, N, V), d.FromInt32s(targets, N)).Item()
	if w := sum / 6; math.Abs(mean-w) > 1e-5*w {
		t.Fatalf("mean loss %v, want %v (ignored target excluded)", mean, w)
	}
}

func TestRotaryMatchesFormula(t *testing.T) {
	d := openCPU(t)
	r := rand.New(rand.NewPCG(3, 3))
	const B, T, H, D = 2, 5, 3, 8
	x := rnd(r, B*T*H*D)
	cos, sin := ropeTables(d, T+3, D)
	got := Rotary(d.FromFloat32s(x, B, T, H, D), cos, sin).Float32s()
	want := make([]float64, len(x))
	for b := range B {
		for p := range T {
			for h := range H {
				base := ((b*T+p)*H + h) * D
				for j := range D / 2 {
					ang := float64(p) / math.Pow(10000, float64(2*j)/D)
					x1, x2 := float64(x[base+j]), float64(x[base+j+D/2])
					want[base+j] = x1*math.Cos(ang) + x2*math.Sin(ang)
					want[base+j+D/2] = -x1*math.Sin(ang) + x2*math.Cos(ang)
				}
			}
		}
	}
	closeTo(t, "rotary", got, want, 1e-6)
}

func TestRMSNormAndEmbeddingForward(t *testing.T) {
	d := openCPU(t)
	r := rand.New(rand.NewPCG(4, 4))
	x := rnd(r, 3*16)
	got := RMSNorm(d.FromFloat32s(x, 3, 16), 1e-6).Float32s()
	want := make([]float64, len(x))
	for i := range 3 {
		var ms float64
		for j := range 16 {
			ms += float64(x[i*16+j]) * float64(x[i*16+j]) / 16
		}
		for j := range 16 {
			want[i*16+j] = float64(x[i*16+j]) / math.Sqrt(ms+1e-6)
		}
	}
	closeTo(t, "rms_norm", got, want, 1e-6)

	table := rnd(r, 5*3)
	emb := Embedding(d.FromFloat32s(table, 5, 3), d.FromInt32s([]int32{4, 0, 4}, 3)).Float32s()
	for i, id := range []int{4, 0, 4} {
		for j := range 3 {
			if emb[i*3+j] != table[id*3+j] {
				t.Fatalf("embedding row %d = %v, want table row %d", i, emb[i*3:i*3+3], id)
			}
		}
	}
}

func TestReductionsMatchLoops(t *testing.T) {
	d := openCPU(t)
	r := rand.New(rand.NewPCG(5, 5))
	x := rnd(r, 3*4*5)
	xt := d.FromFloat32s(x, 3, 4, 5)
	at := func(i, j, k int) float64 { return float64(x[(i*4+j)*5+k]) }
	// Sum over axes 0 and 2 (two passes), keeping them as size 1.
	s := xt.Sum(0, 2)
	if sh := s.Shape(); len(sh) != 3 || sh[0] != 1 || sh[1] != 4 || sh[2] != 1 {
		t.Fatalf("Sum(0, 2) shape %v, want [1 4 1]", sh)
	}
	want := make([]float64, 4)
	maxw := make([]float64, 4)
	for j := range 4 {
		maxw[j] = math.Inf(-1)
		for i := range 3 {
			for k := range 5 {
				want[j] += at(i, j, k)
				maxw[j] = math.Max(maxw[j], at(i, j, k))
			}
		}
	}
	closeTo(t, "sum", s.Float32s(), want, 1e-6)
	closeTo(t, "max", xt.Max(0, 2).Float32s(), maxw, 0)
	for j := range want {
		want[j] /= 15
	}
	closeTo(t, "mean", xt.Mean(0, 2).Float32s(), want, 1e-6)
	var ss float64
	for _, v := range x {
		ss += float64(v) * float64(v)
	}
	if n := xt.Norm().Item(); math.Abs(n-math.Sqrt(ss)) > 1e-5*math.Sqrt(ss) {
		t.Fatalf("norm %v, want %v", n, math.Sqrt(ss))
	}
}

func TestLayoutOps(t *testing.T) {
	d := openCPU(t)
	x := d.FromFloat32s([]float32{0, 1, 2, 3, 4, 5}, 2, 3)
	eq := func(what string, got []float32, want ...float32) {
		t.Helper()
		for i := range want {
			if i >= len(got) || got[i] != want[i] {
				t.Fatalf("%s = %v, want %v", what, got, want)
			}
		}
	}
	eq("transpose", x.Transpose(0, 1).Float32s(), 0, 3, 1, 4, 2, 5)
	eq("slice", x.Slice(1, 1, 3).Float32s(), 1, 2, 4, 5)
	eq("concat", Concat(0, x, x.Slice(0, 1, 2)).Float32s(), 0, 1, 2, 3, 4, 5, 3, 4, 5)
	eq("stack", Stack(1, x, x.MulScalar(10)).Float32s(), 0, 1, 2, 0, 10, 20, 3, 4, 5, 30, 40, 50)
	eq("expand", d.FromFloat32s([]float32{7, 8}, 2, 1).Expand(2, 2).Float32s(), 7, 7, 8, 8)
	eq("where", Where(d.FromFloat32s([]float32{1, 0, 1}, 3), d.Full(1, 2, 3), x).Float32s(), 1, 1, 1, 1, 4, 1)
	eq("lerp", Lerp(d.Zeros(2), d.Full(4, 2), 0.25).Float32s(), 1, 1)
	if got := x.Reshape(-1, 2).Shape(); got[0] != 3 || got[1] != 2 {
		t.Fatalf("reshape(-1, 2) shape %v", got)
	}
}

func TestOptimizerKernelsMatchFormulas(t *testing.T) {
	d := openCPU(t)
	r := rand.New(rand.NewPCG(6, 6))
	const n = 37
	p0, g := rnd(r, n), rnd(r, n)
	p, m, v := d.FromFloat32s(p0, n), d.Zeros(n), d.Zeros(n)
	gt := d.FromFloat32s(g, n)
	h := AdamWArgs{LR: 0.01, Beta1: 0.8, Beta2: 0.95, Eps: 1e-10, WeightDecay: 0.1}
	pw, mw, vw := to64(p0), make([]float64, n), make([]float64, n)
	for step := 1; step <= 3; step++ {
		h.Step = step
		d.NoGrad(func() { AdamWStep(p, gt, m, v, h) })
		for i := range n {
			gi := float64(g[i])
			pw[i] *= 1 - 0.01*0.1
			mw[i] += (1 - 0.8) * (gi - mw[i])
			vw[i] += (1 - 0.95) * (gi*gi - vw[i])
			denom := math.Sqrt(vw[i]/(1-math.Pow(0.95, float64(step)))) + 1e-10
			pw[i] -= 0.01 / (1 - math.Pow(0.8, float64(step))) * mw[i] / denom
		}
	}
	closeTo(t, "adamw p", p.Float32s(), pw, 1e-5)

	// Nesterov, then the Muon tail with per-row and per-column scales.
	buf0 := rnd(r, 2*3*4)
	g2 := rnd(r, 2*3*4)
	gt2, buf := d.FromFloat32s(g2, 2, 3, 4), d.FromFloat32s(buf0, 2, 3, 4)
	Nesterov(gt2, buf, 0.9)
	gw := make([]float64, len(g2))
	for i := range g2 {
		b := float64(buf0[i]) + 0.1*(float64(g2[i])-float64(buf0[i]))
		gw[i] = float64(g2[i]) + 0.9*(b-float64(g2[i]))
	}
	closeTo(t, "nesterov g", gt2.Float32s(), gw, 1e-6)
	for _, perRow := range []bool{true, false} {
		pv := rnd(r, 2*3*4)
		sshape := []int{2, 1, 4}
		if perRow {
			sshape = []int{2, 3, 1}
		}
		sv := rnd(r, numel(sshape))
		for i := range sv {
			sv[i] = float32(math.Abs(float64(sv[i])))
		}
		pt := d.FromFloat32s(pv, 2, 3, 4)
		MuonUpdate(pt, gt2, d.FromFloat32s(sv, sshape...), 0.02, 0.2)
		want := make([]float64, len(pv))
		for i := range pv {
			b, row, col := i/12, (i/4)%3, i%4
			var s float32
			if perRow {
				s = sv[b*3+row]
			} else {
				s = sv[b*4+col]
			}
			u := gw[i] * float64(s)
			pi := float64(pv[i])
			want[i] = pi - 0.02*u
			if u*pi >= 0 {
				want[i] -= 0.02 * 0.2 * pi
			}
		}
		closeTo(t, "muon update", pt.Float32s(), want, 1e-5)
	}
}

// TestFloat32MatchesFloat64 runs a small transformer-shaped graph (every
// fused op, matmuls through the fast GEMM) on cpu and cpu64 and compares
// the loss and every parameter's gradient.
func TestFloat32MatchesFloat64(t *testing.T) {
	loss32, grads32 := tinyModelGrads(t, openCPU(t))
	loss64, grads64 := tinyModelGrads(t, open64(t))
	if math.Abs(loss32-loss64) > 1e-5*math.Abs(loss64) {
		t.Fatalf("loss float32 %v, float64 %v", loss32, loss64)
	}
	for name, g64 := range grads64 {
		g32 := grads32[name]
		var num, den float64
		for i := range g64 {
			num += (g32[i] - g64[i]) * (g32[i] - g64[i])
			den += g64[i] * g64[i]
		}
		if rel := math.Sqrt(num / den); rel > 1e-4 || math.IsNaN(rel) {
			t.Errorf("%s: float32 gradient off by %.2e relative", name, rel)
		} else {
			t.Logf("%s: relative error %.2e", name, rel)
		}
	}
}

// tinyModel is a stack of the original's blocks: attention with RoPE,
// QK-norm, grouped-query heads and a window, a ReLU² MLP, a residual
// lambda, a softcapped lm_head.
type tinyModel struct {
	cfg       modelCfg
	wte, head *Tensor
	lambda    *Tensor
	layers    []tinyLayer
	cos, sin  *Tensor
}

type tinyLayer struct{ wq, wk, wv, wo, fc, proj *Tensor }

type modelCfg struct{ B, T, C, H, KVH, V, L int }

func (c modelCfg) D() int { return c.C / c.H }

var tinyCfg = modelCfg{B: 2, T: 16, C: 32, H: 4, KVH: 2, V: 40, L: 1}

func newTinyModel(d *Device, seed uint64) *tinyModel { return newModel(d, seed, tinyCfg) }

func newModel(d *Device, seed uint64, c modelCfg) *tinyModel {
	rng := NewRNG(seed)
	s := math.Sqrt(3) / math.Sqrt(float64(c.C))
	D := c.D()
	m := &tinyModel{
		cfg:    c,
		wte:    d.Parameter("wte", d.Normal(rng, 0, 1, c.V, c.C)),
		head:   d.Parameter("head", d.Normal(rng, 0, 0.1, c.V, c.C)),
		lambda: d.Parameter("lambda", d.Full(0.9, 1)),
	}
	for i := range c.L {
		p := func(name string, rows, cols int) *Tensor {
			return d.Parameter(fmt.Sprintf("h.%d.%s", i, name), d.Uniform(rng, -s, s, rows, cols))
		}
		m.layers = append(m.layers, tinyLayer{
			wq: p("wq", c.H*D, c.C), wk: p("wk", c.KVH*D, c.C), wv: p("wv", c.KVH*D, c.C),
			wo: p("wo", c.C, c.C), fc: p("fc", 4*c.C, c.C), proj: p("proj", c.C, 4*c.C),
		})
	}
	m.cos, m.sin = ropeTables(d, c.T, D)
	m.cos.Keep()
	m.sin.Keep()
	return m
}

func (m *tinyModel) loss(idx, targets *Tensor) *Tensor {
	c := m.cfg
	D := c.D()
	x := RMSNorm(Embedding(m.wte, idx), 1e-6)
	for _, l := range m.layers {
		h := RMSNorm(x, 1e-6)
		q := Rotary(Linear(h, l.wq).Reshape(c.B, c.T, c.H, D), m.cos, m.sin)
		k := Rotary(Linear(h, l.wk).Reshape(c.B, c.T, c.KVH, D), m.cos, m.sin)
		v := Linear(h, l.wv).Reshape(c.B, c.T, c.KVH, D)
		y := Attention(RMSNorm(q, 1e-6), RMSNorm(k, 1e-6), v, c.T/2).Reshape(c.B, c.T, c.C)
		x = x.Mul(m.lambda).Add(Linear(y, l.wo))
		x = x.Add(Linear(Linear(RMSNorm(x, 1e-6), l.fc).ReluSquare(), l.proj))
	}
	logits := Linear(RMSNorm(x, 1e-6), m.head).Softcap(15)
	return CrossEntropyMean(logits, targets)
}

func tinyBatch(d *Device, seed uint64) (idx, targets *Tensor) { return batchFor(d, seed, tinyCfg) }

func batchFor(d *Device, seed uint64, c modelCfg) (idx, targets *Tensor) {
	r := rand.New(rand.NewPCG(seed, 9))
	x, y := make([]int32, c.B*c.T), make([]int32, c.B*c.T)
	for b := range c.B {
		prev := int32(r.IntN(c.V))
		for t := range c.T {
			next := int32(r.IntN(c.V))
			x[b*c.T+t], y[b*c.T+t] = prev, next
			prev = next
		}
	}
	return d.FromInt32s(x, c.B, c.T), d.FromInt32s(y, c.B, c.T)
}

func tinyModelGrads(t *testing.T, d *Device) (float64, map[string][]float64) {
	m := newTinyModel(d, 1)
	s := d.Scope()
	idx, tg := tinyBatch(d, 1)
	loss := m.loss(idx, tg)
	loss.Backward()
	l := loss.Item()
	s.Close()
	grads := map[string][]float64{}
	for _, p := range d.Parameters() {
		if p.Grad == nil {
			t.Fatalf("parameter %s got no gradient", p.Name())
		}
		grads[p.Name()] = p.Grad.Float64s()
	}
	return l, grads
}

func TestOpenErrors(t *testing.T) {
	_, err := Open("tpu")
	if err == nil || !strings.Contains(err.Error(), "cpu") || !strings.Contains(err.Error(), "tpu") {
		t.Fatalf("Open(tpu) error %v, want one naming the device and the available ones", err)
	}
	_, err = Open("cuda")
	if err == nil || !strings.Contains(err.Error(), "-tags cuda") {
		t.Fatalf("Open(cuda) without the cuda backend: error %v, want a hint about -tags cuda", err)
	}
}

// TestAttentionBlockedMatchesNaive: the float32 blocked-GEMM attention
// against the float64 naive reference, forward and backward, over several
// query blocks, grouped heads and windows.
func TestAttentionBlockedMatchesNaive(t *testing.T) {
	const B, T, H, KVH, D = 2, 150, 4, 2, 16
	r := rand.New(rand.NewPCG(8, 8))
	q, k, v, g := rnd(r, B*T*H*D), rnd(r, B*T*KVH*D), rnd(r, B*T*KVH*D), rnd(r, B*T*H*D)
	run := func(d *Device, window int) (out []float64, grads [3][]float64) {
		qt := d.FromFloat32s(q, B, T, H, D).SetRequiresGrad()
		kt := d.FromFloat32s(k, B, T, KVH, D).SetRequiresGrad()
		vt := d.FromFloat32s(v, B, T, KVH, D).SetRequiresGrad()
		o := Attention(qt, kt, vt, window).Retain()
		o.Mul(d.FromFloat32s(g, B, T, H, D)).Sum().Backward()
		return o.Float64s(), [3][]float64{qt.Grad.Float64s(), kt.Grad.Float64s(), vt.Grad.Float64s()}
	}
	for _, w := range []int{-1, 0, 70, 149} {
		o32, g32 := run(openCPU(t), w)
		o64, g64 := run(open64(t), w)
		for i := range o64 {
			if math.Abs(o32[i]-o64[i]) > 1e-5 {
				t.Fatalf("window %d: out[%d] %v, reference %v", w, i, o32[i], o64[i])
			}
		}
		for n, name := range []string{"dq", "dk", "dv"} {
			for i := range g64[n] {
				if math.Abs(g32[n][i]-g64[n][i]) > 1e-4*math.Max(1, math.Abs(g64[n][i])) {
					t.Fatalf("window %d: %s[%d] %v, reference %v", w, name, i, g32[n][i], g64[n][i])
				}
			}
		}
	}
}

// TestAddMatMul: the in-place product equals alpha*op(a)·op(b) + beta*c
// computed from the graph ops, batched and transposed (the Newton–Schulz
// shapes of Muon).
func TestAddMatMul(t *testing.T) {
	d := openCPU(t)
	r := rand.New(rand.NewPCG(9, 9))
	a := d.FromFloat32s(rnd(r, 3*20*30), 3, 20, 30)
	for _, tc := range []struct {
		ta, tb      bool
		b           *Tensor
		alpha, beta float32
		rows, cols  int
	}{
		{true, false, a, 1, 0, 30, 30},                                             // Xᵀ X
		{false, true, a, 1, 0, 20, 20},                                             // X Xᵀ
		{false, false, d.FromFloat32s(rnd(r, 3*30*30), 3, 30, 30), 1, 3.1, 20, 30}, // a*X + X B
		{false, false, d.FromFloat32s(rnd(r, 30*7), 30, 7), -0.5, 1, 20, 7},        // shared B
	} {
		c0 := rnd(r, 3*tc.rows*tc.cols)
		c := d.FromFloat32s(c0, 3, tc.rows, tc.cols)
		var want []float32
		d.NoGrad(func() {
			addMatMul(c, a, tc.b, tc.ta, tc.tb, tc.alpha, tc.beta)
			want = matMul(a, tc.b, tc.ta, tc.tb).MulScalar(tc.alpha).Add(d.FromFloat32s(c0, 3, tc.rows, tc.cols).MulScalar(tc.beta)).Float32s()
		})
		closeTo(t, "AddMatMul", c.Float32s(), to64(want), 1e-5)
	}
	sq := d.Ones(2, 5, 5)
	mustPanic(t, "shares memory", func() { d.NoGrad(func() { AddMatMul(sq, sq, sq, 1, 0) }) })
}

// TestNamedMatMuls: each named product equals a·b with the operands it
// names transposed by an explicit copy (Transpose), batched.
func TestNamedMatMuls(t *testing.T) {
	d := openCPU(t)
	r := rand.New(rand.NewPCG(4, 4))
	a := d.FromFloat32s(rnd(r, 2*3*4), 2, 3, 4)
	b := d.FromFloat32s(rnd(r, 2*4*5), 2, 4, 5)
	aT, bT := a.Transpose(1, 2), b.Transpose(1, 2) // [2,4,3], [2,5,4]
	want := MatMul(a, b).Float64s()
	closeTo(t, "MatMulNT", MatMulNT(a, bT).Float32s(), want, 1e-6)
	closeTo(t, "MatMulTN", MatMulTN(aT, b).Float32s(), want, 1e-6)
	closeTo(t, "MatMulTT", MatMulTT(aT, bT).Float32s(), want, 1e-6)
	c := d.Zeros(2, 3, 5)
	for _, f := range []func(){
		func() { AddMatMul(c, a, b, 1, 1) },
		func() { AddMatMulNT(c, a, bT, 1, 1) },
		func() { AddMatMulTN(c, aT, b, 1, 1) },
		func() { AddMatMulTT(c, aT, bT, 1, 1) },
	} {
		d.NoGrad(f)
	}
	w4 := make([]float64, len(want))
	for i, v := range want {
		w4[i] = 4 * v
	}
	closeTo(t, "AddMatMul variants", c.Float32s(), w4, 1e-5)
}
