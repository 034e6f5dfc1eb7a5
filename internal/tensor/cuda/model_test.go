//go:build cuda || cudaemu

package cuda

// A GPT of gpt/train.go's shape, written against package tensor the same way, for the checks
// and measurements of the whole model: one training step with bf16 activations against the
// CPU's f32 (TestBF16TrainingStep; gpt/gpu_test.go checks train.go's own model in f32), the kernels a
// step issues (TestKernelsPerStep), and the depth-8 baseline's speed on a GPU
// (BenchmarkBaselineThroughput, BenchmarkDepth8Step). Its blocks follow train.go: RMSNorm without weights,
// per-layer residual and x0 lambdas sliced from two vectors, rotary embeddings then QK-norm,
// grouped-query attention with the "SSSL" window pattern, value embeddings with an
// input-dependent gate on alternating layers, a ReLU² MLP, a softcapped lm_head and a
// cross-entropy loss; the optimizer is train.go's MuonAdamW (AdamW for the embeddings, the head
// and the scalars; Muon — Nesterov momentum, Polar Express orthogonalisation by batched GEMMs
// over each group of same-shaped matrices, NorMuon scaling, cautious weight decay — for the
// block matrices). Unlike train.go every projection starts random (train.go zeroes c_proj and
// mlp c_proj), so that a single step moves every weight.

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"autoresearch/internal/tensor"
)

type gptConfig struct {
	B, T, V, L, C, H, KVH int
	VEGate                int // channels of x feeding the value-embedding gate
}

func (c gptConfig) D() int { return c.C / c.H }

// windows is train.py's "SSSL" pattern, the last layer always long.
func (c gptConfig) windows() []int {
	w := make([]int, c.L)
	for i := range w {
		if "SSSL"[i%4] == 'S' {
			w[i] = c.T / 2
		} else {
			w[i] = c.T
		}
	}
	w[c.L-1] = c.T
	return w
}

// depth8 is the gpu profile's baseline: d_model 512, 4 heads of 128, vocab 8192, sequence 2048.
func depth8(batch int) gptConfig {
	return gptConfig{B: batch, T: 2048, V: 8192, L: 8, C: 512, H: 4, KVH: 4, VEGate: 32}
}

func hasVE(i, layers int) bool { return i%2 == (layers-1)%2 }

type gptLayer struct {
	wq, wk, wv, wo, fc, proj *tensor.Tensor
	ve, veGate               *tensor.Tensor // nil on layers without a value embedding
}

type gpt struct {
	cfg                     gptConfig
	wte, head               *tensor.Tensor
	residLambdas, x0Lambdas *tensor.Tensor // [L]
	layers                  []gptLayer
	cos, sin                *tensor.Tensor
}

func newGPT(d *tensor.Device, seed uint64, c gptConfig) *gpt {
	rng := tensor.NewRNG(seed)
	s := math.Sqrt(3) / math.Sqrt(float64(c.C))
	D := c.D()
	m := &gpt{
		cfg:          c,
		wte:          d.Parameter("wte", d.Normal(rng, 0, 1, c.V, c.C)),
		head:         d.Parameter("lm_head", d.Normal(rng, 0, 0.05, c.V, c.C)),
		residLambdas: d.Parameter("resid_lambdas", d.Full(1, c.L)),
		x0Lambdas:    d.Parameter("x0_lambdas", d.Full(0.1, c.L)),
	}
	for i := range c.L {
		p := func(name string, rows, cols int) *tensor.Tensor {
			return d.Parameter(fmt.Sprintf("h.%d.%s", i, name), d.Uniform(rng, -s, s, rows, cols))
		}
		l := gptLayer{
			wq: p("c_q", c.H*D, c.C), wk: p("c_k", c.KVH*D, c.C), wv: p("c_v", c.KVH*D, c.C),
			wo: p("c_proj", c.C, c.C), fc: p("c_fc", 4*c.C, c.C), proj: p("mlp_proj", c.C, 4*c.C),
		}
		if hasVE(i, c.L) {
			l.ve = d.Parameter(fmt.Sprintf("value_embed.%d", i), d.Uniform(rng, -s, s, c.V, c.KVH*D))
			l.veGate = p("ve_gate", c.KVH, c.VEGate)
		}
		m.layers = append(m.layers, l)
	}
	half := D / 2
	cs, sn := make([]float32, c.T*half), make([]float32, c.T*half)
	for t := range c.T {
		for j := range half {
			ang := float64(t) / math.Pow(10000, float64(2*j)/float64(D))
			cs[t*half+j], sn[t*half+j] = float32(math.Cos(ang)), float32(math.Sin(ang))
		}
	}
	m.cos, m.sin = d.FromFloat32s(cs, c.T, half).Keep(), d.FromFloat32s(sn, c.T, half).Keep()
	return m
}

func norm(x *tensor.Tensor) *tensor.Tensor { return tensor.RMSNorm(x, 0x1p-23) }

func (m *gpt) loss(idx, targets *tensor.Tensor) *tensor.Tensor {
	c := m.cfg
	D := c.D()
	x := norm(tensor.Embedding(m.wte, idx))
	x0 := x
	for i, l := range m.layers {
		x = x.Mul(m.residLambdas.Slice(0, i, i+1)).Add(x0.Mul(m.x0Lambdas.Slice(0, i, i+1)))
		// attention
		h := norm(x)
		q := tensor.Linear(h, l.wq).Reshape(c.B, c.T, c.H, D)
		k := tensor.Linear(h, l.wk).Reshape(c.B, c.T, c.KVH, D)
		v := tensor.Linear(h, l.wv).Reshape(c.B, c.T, c.KVH, D)
		if l.ve != nil {
			ve := tensor.Embedding(l.ve, idx).Reshape(c.B, c.T, c.KVH, D)
			gate := tensor.Linear(h.Slice(2, 0, c.VEGate), l.veGate).Sigmoid().MulScalar(2)
			v = v.Add(gate.Reshape(c.B, c.T, c.KVH, 1).Mul(ve))
		}
		q, k = tensor.Rotary(q, m.cos, m.sin), tensor.Rotary(k, m.cos, m.sin)
		q, k = norm(q), norm(k)
		y := tensor.Attention(q, k, v, c.windows()[i]).Reshape(c.B, c.T, c.C)
		x = x.Add(tensor.Linear(y, l.wo))
		// MLP
		x = x.Add(tensor.Linear(tensor.Linear(norm(x), l.fc).ReluSquare(), l.proj))
	}
	logits := tensor.Linear(norm(x), m.head).Softcap(15)
	return tensor.CrossEntropyMean(logits, targets)
}

// matrices are the block weights Muon updates.
func (m *gpt) matrices() []*tensor.Tensor {
	var ps []*tensor.Tensor
	for _, l := range m.layers {
		ps = append(ps, l.wq, l.wk, l.wv, l.wo)
		if l.veGate != nil {
			ps = append(ps, l.veGate)
		}
		ps = append(ps, l.fc, l.proj)
	}
	return ps
}

// flopsPerToken is train.py's estimate_flops: 6 FLOPs per weight of the matrices and the
// lm_head, plus attention's 12·H·D·(effective sequence) per layer.
func (m *gpt) flopsPerToken(d *tensor.Device) float64 {
	n := tensor.CountParams(d.Parameters()) - m.wte.Numel() - m.residLambdas.Numel() - m.x0Lambdas.Numel()
	for _, l := range m.layers {
		if l.ve != nil {
			n -= l.ve.Numel()
		}
	}
	attn := 0.0
	for _, w := range m.cfg.windows() {
		attn += 12 * float64(m.cfg.H*m.cfg.D()) * float64(min(w, m.cfg.T))
	}
	return 6*float64(n) + attn
}

// randomBatch is B×T random tokens and their shifted targets.
func randomBatch(d *tensor.Device, r *rand.Rand, c gptConfig) (idx, targets *tensor.Tensor) {
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

// ---- the optimizer: train.go's MuonAdamW ----

// polarExpress are the (a, b, c) of the Polar Express iterations X ← aX + (bA + cA²)X, A = XXᵀ.
var polarExpress = [][3]float32{
	{8.156554524902461, -22.48329292557795, 15.878769915207462},
	{4.042929935166739, -2.808917465908714, 0.5000178451051316},
	{3.8916678022926607, -2.772484153217685, 0.5060648178503393},
	{3.285753657755655, -2.3681294933425376, 0.46449024233003106},
	{2.3465413258596377, -1.7097828382687081, 0.42323551169305323},
}

type muonGroup struct {
	params             []*tensor.Tensor
	momentum, variance *tensor.Tensor // [P, R, C] and [P, R, 1] or [P, 1, C]
}

// trainer is MuonAdamW over a gpt's parameters, with fixed hyperparameters (no schedules).
type trainer struct {
	dev      *tensor.Device
	model    *gpt
	m, v     map[*tensor.Tensor]*tensor.Tensor
	muon     []*muonGroup
	step     int
	eps      float32
	onPhase  func(string) // told when the optimizer starts ("optimizer") and ends ("")
	adamOnly bool         // AdamW for the matrices too
}

func newTrainer(d *tensor.Device, m *gpt) *trainer {
	tr := &trainer{dev: d, model: m, m: map[*tensor.Tensor]*tensor.Tensor{}, v: map[*tensor.Tensor]*tensor.Tensor{}, eps: 1e-10}
	mats := m.matrices()
	for _, p := range d.Parameters() {
		if !slices.Contains(mats, p) {
			tr.m[p] = d.Zeros(p.Shape()...)
			tr.v[p] = d.Zeros(p.Shape()...)
		}
	}
	var shapes [][2]int
	for _, p := range mats {
		if s := [2]int{p.Dim(0), p.Dim(1)}; !slices.Contains(shapes, s) {
			shapes = append(shapes, s)
		}
	}
	for _, s := range shapes {
		g := &muonGroup{}
		for _, p := range mats {
			if p.Dim(0) == s[0] && p.Dim(1) == s[1] {
				g.params = append(g.params, p)
			}
		}
		g.momentum = d.Zeros(len(g.params), s[0], s[1])
		if s[0] >= s[1] {
			g.variance = d.Zeros(len(g.params), s[0], 1)
		} else {
			g.variance = d.Zeros(len(g.params), 1, s[1])
		}
		tr.muon = append(tr.muon, g)
	}
	return tr
}

// stepOn runs one optimizer step over micro batches and returns the mean loss.
func (tr *trainer) stepOn(m *gpt, batches [][2]*tensor.Tensor) float64 {
	tr.dev.ZeroGrad()
	var loss *tensor.Tensor
	total := 0.0
	for i, b := range batches {
		s := tr.dev.Scope()
		loss = m.loss(b[0], b[1]).MulScalar(1 / float32(len(batches)))
		loss.Backward()
		if i == len(batches)-1 {
			total = loss.Item() * float64(len(batches)) // reading the loss waits for the step
		}
		s.Close()
	}
	tr.optimize()
	return total
}

// optimize is MuonAdamW's step over every parameter's gradient.
func (tr *trainer) optimize() {
	if tr.onPhase != nil {
		tr.onPhase(PhaseOptimizer)
		defer tr.onPhase("")
	}
	tr.step++
	s := tr.dev.Scope()
	defer s.Close()
	tr.dev.NoGrad(func() {
		h := tensor.AdamWArgs{LR: 0.004, Beta1: 0.8, Beta2: 0.95, Eps: tr.eps, WeightDecay: 0, Step: tr.step}
		for _, p := range tr.dev.Parameters() {
			if st := tr.m[p]; st != nil {
				tensor.AdamWStep(p, p.Grad, st, tr.v[p], h)
			}
		}
		for _, g := range tr.muon {
			if tr.adamOnly {
				for _, p := range g.params {
					if tr.m[p] == nil {
						tr.m[p], tr.v[p] = tr.dev.Zeros(p.Shape()...).Keep(), tr.dev.Zeros(p.Shape()...).Keep()
					}
					tensor.AdamWStep(p, p.Grad, tr.m[p], tr.v[p], h)
				}
				continue
			}
			tr.muonStep(g, 0.02, 0.95, 0.2, 0.95)
		}
	})
}

// muonStep is train.go's stepMuon and muonStep for one group of same-shaped matrices.
func (tr *trainer) muonStep(g *muonGroup, lr, momentum, wd, beta2 float32) {
	rows, cols := g.params[0].Dim(0), g.params[0].Dim(1)
	grads := make([]*tensor.Tensor, len(g.params))
	for i, p := range g.params {
		grads[i] = p.Grad
	}
	stackedGrads, stackedParams := tensor.Stack(0, grads...), tensor.Stack(0, g.params...)
	lr *= float32(math.Sqrt(max(1, float64(rows)/float64(cols))))
	redDim := -1
	if rows < cols {
		redDim = -2
	}
	tensor.Nesterov(stackedGrads, g.momentum, momentum)
	X := stackedGrads.Div(stackedGrads.Norm(-2, -1).MulScalar(1.02).AddScalar(1e-6))
	tall := rows > cols
	for _, abc := range polarExpress {
		var A *tensor.Tensor
		if tall {
			A = tensor.MatMulTN(X, X)
		} else {
			A = tensor.MatMulNT(X, X)
		}
		B := A.MulScalar(abc[1])
		tensor.AddMatMul(B, A, A, abc[2], 1)
		Xn := X.MulScalar(abc[0])
		if tall {
			tensor.AddMatMul(Xn, X, B, 1, 1)
		} else {
			tensor.AddMatMul(Xn, B, X, 1, 1)
		}
		X = Xn
	}
	vMean := X.Square().Mean(redDim)
	redDimSize := float32(X.Dim(redDim))
	vNorm := vMean.Sum(-2, -1).MulScalar(redDimSize).Sqrt()
	g.variance.CopyFrom(tensor.Lerp(g.variance, vMean, 1-beta2))
	stepSize := g.variance.ClampMin(1e-10).Rsqrt()
	vNormNew := vMean.MulScalar(redDimSize).Mul(stepSize.Square()).Sum(-2, -1).Sqrt()
	finalScale := stepSize.Mul(vNorm.Div(vNormNew.ClampMin(1e-10)))
	tensor.MuonUpdate(stackedParams, X, finalScale, lr, wd)
	for i, p := range g.params {
		p.CopyFrom(stackedParams.Slice(0, i, i+1))
	}
}

// ---- parity of a whole step ----

// stepBoth runs one training step of the same model, initial weights and batch on the GPU
// (or emulator) and on the CPU, and returns each side's loss, gradients, weights after the step
// and updates (those weights less the ones before).
func stepBoth(t *testing.T, cfg gptConfig, adamOnly bool) (losses [2]float64, grads, weights, updates [2]map[string][]float32) {
	t.Helper()
	cpuDev, err := tensor.Open("cpu")
	if err != nil {
		t.Fatal(err)
	}
	devs := []*tensor.Device{tensor.NewDevice(gpu), cpuDev}
	for i, d := range devs {
		grads[i], weights[i], updates[i] = map[string][]float32{}, map[string][]float32{}, map[string][]float32{}
		m := newGPT(d, 1, cfg)
		before := map[string][]float32{}
		for _, p := range d.Parameters() {
			before[p.Name()] = p.Float32s()
		}
		idx, tg := randomBatch(d, rand.New(rand.NewPCG(3, 4)), cfg)
		tr := newTrainer(d, m)
		tr.adamOnly = adamOnly
		// Adam's first step is lr*sign(g) where |g| >> eps: with train.py's eps of 1e-10 a
		// gradient that is rounding noise on both devices would still move a weight by lr in
		// either direction. An eps above the noise keeps the comparison meaningful.
		tr.eps = 1e-5
		losses[i] = tr.stepOn(m, [][2]*tensor.Tensor{{idx, tg}})
		for _, p := range d.Parameters() {
			grads[i][p.Name()] = p.Grad.Float32s()
			w := p.Float32s()
			weights[i][p.Name()] = slices.Clone(w)
			for j := range w {
				w[j] -= before[p.Name()][j]
			}
			updates[i][p.Name()] = w
		}
	}
	return losses, grads, weights, updates
}

var smallModel = gptConfig{B: 2, T: 48, V: 96, L: 4, C: 64, H: 4, KVH: 2, VEGate: 8}

// One training step of smallModel with the device's default bf16 activations against the CPU's
// f32, from the same weights and batch: the loss
// within bf16's resolution, every gradient close in norm (relative L2: one bf16 rounding per
// activation and product input leaves about 2e-2). The updates agree less: Adam's first step
// is about lr·sign(g), so every element whose gradient is within bf16 noise of zero may move
// the other way, and Muon orthogonalises in bf16 as the original does; 0.2 still fails any
// update of the wrong form or scale (those differ by 0.5 or more).
func TestBF16TrainingStep(t *testing.T) {
	defer gpu.SetBF16(os.Getenv(EnvBF16) != "0")
	gpu.SetBF16(true)
	losses, grads, _, updates := stepBoth(t, smallModel, false)
	t.Logf("loss: cuda bf16 %.6f, cpu f32 %.6f", losses[0], losses[1])
	record(t, "BF16TrainingStep loss", math.Abs(losses[0]-losses[1])/math.Abs(losses[1]), 5e-3)
	for name := range grads[1] {
		record(t, "BF16TrainingStep grad "+name, relL2(grads[0][name], grads[1][name]), 5e-2)
		record(t, "BF16TrainingStep update "+name, relL2(updates[0][name], updates[1][name]), 0.2)
	}
}

// relL2 is ‖g − c‖₂ / ‖c‖₂.
func relL2(g, c []float32) float64 {
	var num, den float64
	for i := range c {
		d := float64(g[i]) - float64(c[i])
		num += d * d
		den += float64(c[i]) * float64(c[i])
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}

// record logs and checks an error computed outside check().
func record(t *testing.T, what string, e, tol float64) {
	t.Helper()
	resultsMu.Lock()
	results = append(results, result{name: what, err: e, tol: tol})
	resultsMu.Unlock()
	if !(e <= tol) {
		t.Errorf("%s: relative error %.3e over %.0e", what, e, tol)
	}
}

// ---- throughput ----

// EnvBaselineBatch sets the device batch of BenchmarkBaselineThroughput (default 64 sequences
// of 2048): micro-steps make up 2^19 tokens a step.
const EnvBaselineBatch = "AUTORESEARCH_CUDA_BASELINE_BATCH"

func baselineBatch() int {
	if v, err := strconv.Atoi(os.Getenv(EnvBaselineBatch)); err == nil && v > 0 {
		return v
	}
	return 64
}

// The depth-8 baseline of the gpu profile (d_model 512, 4 heads of 128, vocab 8192, sequence
// 2048, 2^19 tokens a step) trained on random tokens for -benchtime (make gpu-check: 60s):
// tokens/s, MFU against the card's bf16 peak (as the original reports it) and peak memory,
// printed last and reported as the benchmark's metrics.
func BenchmarkBaselineThroughput(b *testing.B) {
	cfg := depth8(baselineBatch())
	const totalTokens = 1 << 19
	accum := max(1, totalTokens/(cfg.B*cfg.T))
	d := tensor.NewDevice(gpu)
	m := newGPT(d, 1, cfg)
	tr := newTrainer(d, m)
	r := rand.New(rand.NewPCG(1, 2))
	batches := make([][2]*tensor.Tensor, accum)
	for i := range batches {
		x, y := randomBatch(d, r, cfg)
		batches[i] = [2]*tensor.Tensor{x, y}
	}
	tokensPerStep := accum * cfg.B * cfg.T
	fpt := m.flopsPerToken(d)
	fmt.Printf("baseline: depth %d, d_model %d, %d heads of %d, vocab %d, sequence %d; device batch %d x %d micro-steps = %d tokens a step; %.3e FLOPs a token; activations %v, TF32 %v\n",
		cfg.L, cfg.C, cfg.H, cfg.D(), cfg.V, cfg.T, cfg.B, accum, tokensPerStep, fpt, d.ActivationDType(), gpu.tf32)

	begin := time.Now()
	loss := tr.stepOn(m, batches) // the first step compiles nothing but warms the pool and cuBLAS
	fmt.Printf("first step: %.2f s (loss %.4f); device start-up %.2f s\n", time.Since(begin).Seconds(), loss, gpu.StartupTime().Seconds())
	steps := 0
	for b.Loop() {
		loss = tr.stepOn(m, batches)
		steps++
		if math.IsNaN(loss) {
			b.Fatalf("loss is NaN at step %d", steps)
		}
	}
	elapsed := b.Elapsed().Seconds()
	tps := float64(steps*tokensPerStep) / elapsed
	_, peak := gpu.Memory()
	fmt.Printf("steps %d in %.1f s, last loss %.4f\n", steps, elapsed, loss)
	fmt.Printf("tokens_per_s:     %.0f\n", tps)
	b.ReportMetric(tps, "tokens/s")
	if p := gpu.PeakFLOPS(); p > 0 {
		fmt.Printf("mfu_percent:      %.2f (of %.1f TFLOP/s bf16)\n", 100*tps*fpt/p, p/1e12)
		b.ReportMetric(100*tps*fpt/p, "mfu_%")
	} else {
		fmt.Printf("mfu_percent:      unknown (no peak FLOP/s for %s)\n", gpu.Describe())
	}
	fmt.Printf("peak_vram_mb:     %.1f\n", float64(peak)/(1<<20))
	b.ReportMetric(float64(peak)/(1<<20), "peak_MB")
}
