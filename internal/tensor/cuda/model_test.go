//go:build cuda || cudaemu

package cuda

// A GPT of the original train.py's shape, written against package tensor, for two checks:
// one whole training step on both devices agreeing (TestParityTrainingStep), and the
// throughput of the depth-8 baseline on the GPU (TestBaselineThroughput, run by
// make gpu-check). Its blocks follow train.py: RMSNorm without weights, rotary embeddings
// then QK-norm, grouped-query attention with the "SSSL" window pattern, value embeddings with
// an input-dependent gate on alternating layers, per-layer residual and x0 lambdas, a ReLU²
// MLP, a softcapped lm_head and a cross-entropy loss. The optimizer is AdamW for every
// parameter (train.py uses Muon for the matrices; Muon's GEMMs are ~1 % of a step at depth 8).

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
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

func hasVE(i, layers int) bool { return i%2 == (layers-1)%2 }

type gptLayer struct {
	wq, wk, wv, wo, fc, proj *tensor.Tensor
	ve, veGate               *tensor.Tensor // nil on layers without a value embedding
	residLambda, x0Lambda    *tensor.Tensor
}

type gpt struct {
	cfg       gptConfig
	wte, head *tensor.Tensor
	layers    []gptLayer
	cos, sin  *tensor.Tensor
}

func newGPT(d *tensor.Device, seed uint64, c gptConfig) *gpt {
	rng := tensor.NewRNG(seed)
	s := math.Sqrt(3) / math.Sqrt(float64(c.C))
	D := c.D()
	m := &gpt{
		cfg:  c,
		wte:  d.Parameter("wte", d.Normal(rng, 0, 1, c.V, c.C)),
		head: d.Parameter("lm_head", d.Normal(rng, 0, 0.05, c.V, c.C)),
	}
	for i := range c.L {
		p := func(name string, rows, cols int) *tensor.Tensor {
			return d.Parameter(fmt.Sprintf("h.%d.%s", i, name), d.Uniform(rng, -s, s, rows, cols))
		}
		l := gptLayer{
			wq: p("c_q", c.H*D, c.C), wk: p("c_k", c.KVH*D, c.C), wv: p("c_v", c.KVH*D, c.C),
			wo: p("c_proj", c.C, c.C), fc: p("c_fc", 4*c.C, c.C), proj: p("mlp_proj", c.C, 4*c.C),
			residLambda: d.Parameter(fmt.Sprintf("resid_lambda.%d", i), d.Full(1, 1)),
			x0Lambda:    d.Parameter(fmt.Sprintf("x0_lambda.%d", i), d.Full(0.1, 1)),
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
	m.cos, m.sin = d.FromFloat32s(cs, c.T, half), d.FromFloat32s(sn, c.T, half)
	return m
}

func norm(x *tensor.Tensor) *tensor.Tensor { return tensor.RMSNorm(x, 1e-6) }

func (m *gpt) loss(idx, targets *tensor.Tensor) *tensor.Tensor {
	c := m.cfg
	D := c.D()
	x := norm(tensor.Embedding(m.wte, idx))
	x0 := x
	for i, l := range m.layers {
		x = x.Mul(l.residLambda).Add(x0.Mul(l.x0Lambda))
		// attention
		h := norm(x)
		q := tensor.Linear(h, l.wq).Reshape(c.B, c.T, c.H, D)
		k := tensor.Linear(h, l.wk).Reshape(c.B, c.T, c.KVH, D)
		v := tensor.Linear(h, l.wv).Reshape(c.B, c.T, c.KVH, D)
		if l.ve != nil {
			ve := tensor.Embedding(l.ve, idx).Reshape(c.B, c.T, c.KVH, D)
			gate := tensor.Linear(h.Slice(2, 0, c.VEGate), l.veGate).Sigmoid().MulScalar(2).Reshape(c.B, c.T, c.KVH, 1)
			v = v.Add(gate.Mul(ve))
		}
		q, k = norm(tensor.Rotary(q, m.cos, m.sin)), norm(tensor.Rotary(k, m.cos, m.sin))
		y := tensor.Attention(q, k, v, c.windows()[i]).Reshape(c.B, c.T, c.C)
		x = x.Add(tensor.Linear(y, l.wo))
		// MLP
		x = x.Add(tensor.Linear(tensor.Linear(norm(x), l.fc).ReluSquare(), l.proj))
	}
	logits := tensor.Linear(norm(x), m.head).Softcap(15)
	return tensor.CrossEntropyMean(logits, targets)
}

// flopsPerToken is train.py's estimate_flops: 6 FLOPs per weight of the matrices and the
// lm_head, plus attention's 12·H·D·(effective sequence) per layer.
func (m *gpt) flopsPerToken(d *tensor.Device) float64 {
	n := 0
	for _, p := range d.Parameters() {
		n += p.Numel()
	}
	n -= m.wte.Numel()
	for _, l := range m.layers {
		n -= l.residLambda.Numel() + l.x0Lambda.Numel()
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

// trainer holds AdamW's moments for every parameter of a device.
type trainer struct {
	dev  *tensor.Device
	m, v map[*tensor.Tensor]*tensor.Tensor
	step int
	eps  float32
}

func newTrainer(d *tensor.Device) *trainer {
	tr := &trainer{dev: d, m: map[*tensor.Tensor]*tensor.Tensor{}, v: map[*tensor.Tensor]*tensor.Tensor{}, eps: 1e-10}
	for _, p := range d.Parameters() {
		tr.m[p] = d.Zeros(p.Shape()...)
		tr.v[p] = d.Zeros(p.Shape()...)
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
	tr.step++
	h := tensor.AdamWArgs{LR: 0.004, Beta1: 0.8, Beta2: 0.95, Eps: tr.eps, WeightDecay: 0, Step: tr.step}
	tr.dev.NoGrad(func() {
		for _, p := range tr.dev.Parameters() {
			tensor.AdamWStep(p, p.Grad, tr.m[p], tr.v[p], h)
		}
	})
	return total
}

// One whole training step of a small model of the baseline's kind, on both devices from the
// same initial weights and batch: the loss, every gradient and every updated weight agree.
func TestParityTrainingStep(t *testing.T) {
	defer gpu.SetTF32(os.Getenv(EnvTF32) != "0")
	gpu.SetTF32(false) // compare the arithmetic, not TF32's rounding
	cfg := gptConfig{B: 2, T: 48, V: 96, L: 4, C: 64, H: 4, KVH: 2, VEGate: 8}
	devs := []*tensor.Device{tensor.NewDevice(gpu), nil}
	cpuDev, err := tensor.Open("cpu")
	if err != nil {
		t.Fatal(err)
	}
	devs[1] = cpuDev
	var models [2]*gpt
	var losses [2]float64
	grads := [2]map[string][]float32{{}, {}}
	weights := [2]map[string][]float32{{}, {}}
	for i, d := range devs {
		models[i] = newGPT(d, 1, cfg)
		idx, tg := randomBatch(d, rand.New(rand.NewPCG(3, 4)), cfg)
		tr := newTrainer(d)
		// Adam's first step is lr*sign(g) where |g| >> eps: with train.py's eps of 1e-10 a
		// gradient that is rounding noise on both devices would still move a weight by lr in
		// either direction. An eps above the noise keeps the comparison meaningful.
		tr.eps = 1e-5
		losses[i] = tr.stepOn(models[i], [][2]*tensor.Tensor{{idx, tg}})
		for _, p := range d.Parameters() {
			grads[i][p.Name()] = p.Grad.Float32s()
			weights[i][p.Name()] = p.Float32s()
		}
	}
	t.Logf("loss: cuda %.6f, cpu %.6f", losses[0], losses[1])
	if e := math.Abs(losses[0]-losses[1]) / math.Abs(losses[1]); !(e <= 1e-5) {
		t.Errorf("loss differs: cuda %.7f, cpu %.7f (rel %.2e)", losses[0], losses[1], e)
	}
	const tolGrad = 1e-4 // a chain of fp32 ops, each summing in another order
	for _, p := range devs[1].Parameters() {
		name := p.Name()
		record(t, "grad "+name, relErr(grads[0][name], grads[1][name]), tolGrad)
		record(t, "weight "+name, relErr(weights[0][name], weights[1][name]), tolGrad)
	}
}

// record logs and checks an error computed outside check().
func record(t *testing.T, what string, e, tol float64) {
	t.Helper()
	resultsMu.Lock()
	results = append(results, result{name: "TrainingStep " + what, err: e, tol: tol})
	resultsMu.Unlock()
	if !(e <= tol) {
		t.Errorf("%s: relative error %.3e over %.0e", what, e, tol)
	}
}

// EnvBaseline sets the seconds TestBaselineThroughput trains for (make gpu-check: 60); the
// test is skipped without it. EnvBaselineBatch sets the device batch (default 32 sequences of
// 2048; train.py's 128 does not fit in 80 GB at fp32): micro-steps make up 2^19 tokens a step.
const (
	EnvBaseline      = "AUTORESEARCH_CUDA_BASELINE_SECONDS"
	EnvBaselineBatch = "AUTORESEARCH_CUDA_BASELINE_BATCH"
)

// The depth-8 baseline of the gpu profile (d_model 512, 4 heads of 128, vocab 8192, sequence
// 2048, 2^19 tokens a step) trained on random tokens for a fixed time: tokens/s, MFU against
// the card's bf16 peak (as the original reports it) and peak memory, printed last.
func TestBaselineThroughput(t *testing.T) {
	secs, err := strconv.ParseFloat(os.Getenv(EnvBaseline), 64)
	if err != nil || secs <= 0 {
		t.Skipf("set %s to the seconds of training (make gpu-check sets 60)", EnvBaseline)
	}
	batch := 32
	if v, err := strconv.Atoi(os.Getenv(EnvBaselineBatch)); err == nil && v > 0 {
		batch = v
	}
	const totalTokens = 1 << 19
	cfg := gptConfig{B: batch, T: 2048, V: 8192, L: 8, C: 512, H: 4, KVH: 4, VEGate: 32}
	accum := max(1, totalTokens/(cfg.B*cfg.T))
	d := tensor.NewDevice(gpu)
	m := newGPT(d, 1, cfg)
	tr := newTrainer(d)
	r := rand.New(rand.NewPCG(1, 2))
	batches := make([][2]*tensor.Tensor, accum)
	for i := range batches {
		x, y := randomBatch(d, r, cfg)
		batches[i] = [2]*tensor.Tensor{x, y}
	}
	tokensPerStep := accum * cfg.B * cfg.T
	fpt := m.flopsPerToken(d)
	fmt.Printf("baseline: depth %d, d_model %d, %d heads of %d, vocab %d, sequence %d; device batch %d x %d micro-steps = %d tokens a step; %.3e FLOPs a token; TF32 %v\n",
		cfg.L, cfg.C, cfg.H, cfg.D(), cfg.V, cfg.T, cfg.B, accum, tokensPerStep, fpt, gpu.tf32)

	begin := time.Now()
	loss := tr.stepOn(m, batches) // the first step compiles nothing but warms the pool and cuBLAS
	fmt.Printf("first step: %.2f s (loss %.4f); device start-up %.2f s\n", time.Since(begin).Seconds(), loss, gpu.StartupTime().Seconds())
	start, steps := time.Now(), 0
	for time.Since(start).Seconds() < secs {
		loss = tr.stepOn(m, batches)
		steps++
		if math.IsNaN(loss) {
			t.Fatalf("loss is NaN at step %d", steps)
		}
	}
	elapsed := time.Since(start).Seconds()
	tps := float64(steps*tokensPerStep) / elapsed
	_, peak := gpu.Memory()
	fmt.Printf("steps %d in %.1f s, last loss %.4f\n", steps, elapsed, loss)
	fmt.Printf("tokens_per_s:     %.0f\n", tps)
	if p := gpu.PeakFLOPS(); p > 0 {
		fmt.Printf("mfu_percent:      %.2f (of %.1f TFLOP/s bf16)\n", 100*tps*fpt/p, p/1e12)
	} else {
		fmt.Printf("mfu_percent:      unknown (no peak FLOP/s for %s)\n", gpu.Describe())
	}
	fmt.Printf("peak_vram_mb:     %.1f\n", float64(peak)/(1<<20))
}
