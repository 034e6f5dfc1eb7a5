// Autoresearch pretraining program. Single device, single file: the Go
// counterpart of the original autoresearch's train.py (itself cherry-picked
// from nanochat). This is the file the research agent edits; everything else
// (the harness: data, tokenizer, the val_bpb metric, the summary) is fixed.
//
// Memory: tensors made in setup, before the training loop (the model, the
// optimizer state, constant tables), belong to the root scope and live for
// the whole program; those made inside dev.Step and dev.Eval are freed when
// it returns. Neither needs Keep or Free.
//
// What the loop reads from this program's output: the summary
// (harness.Summary.Report), the progress line (contract.ProgressLine), the
// fail line (contract.Fail) and the last "error: " line (check). Print them
// through those helpers, whatever else changes.
//
// Usage: autoresearch train [--profile P]   (or go build ./gpt and run it with
// the AUTORESEARCH_* variables set; see harness/profile.go)
package main

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"autoresearch/harness"
	"autoresearch/internal/contract"
	"autoresearch/internal/tensor"
)

// ---------------------------------------------------------------------------
// Hyperparameters (edit these directly, no CLI flags needed)
// ---------------------------------------------------------------------------

const (
	// Model architecture
	ASPECT_RATIO   = 64     // model_dim = depth * ASPECT_RATIO
	HEAD_DIM       = 128    // target head dimension for attention
	WINDOW_PATTERN = "SSSL" // sliding window pattern: L=full, S=half context

	// Optimization
	TOTAL_BATCH_SIZE = 1 << 19 // ~524K tokens per optimizer step
	EMBEDDING_LR     = 0.6     // learning rate for token embeddings (Adam)
	UNEMBEDDING_LR   = 0.004   // learning rate for lm_head (Adam)
	MATRIX_LR        = 0.04    // learning rate for matrix parameters (Muon)
	SCALAR_LR        = 0.5     // learning rate for per-layer scalars (Adam)
	WEIGHT_DECAY     = 0.2     // cautious weight decay for Muon
	ADAM_BETA1       = 0.8     // Adam beta1
	ADAM_BETA2       = 0.95    // Adam beta2
	WARMUP_RATIO     = 0.0     // fraction of time budget for LR warmup
	WARMDOWN_RATIO   = 0.5     // fraction of time budget for LR warmdown
	FINAL_LR_FRAC    = 0.0     // final LR as fraction of initial

	// Model size
	DEPTH             = 8   // number of transformer layers
	DEVICE_BATCH_SIZE = 128 // per-device batch size in rows (reduce if out of memory)
)

// ---------------------------------------------------------------------------
// Profile scaling: the one place the smaller profiles differ
// ---------------------------------------------------------------------------

// profileScale derives the sizes a profile trains at from the constants
// above, which are the original's values for one H100 (the gpu profile).
// The cpu (T 256, 5 minutes on a few cores) and smoke (T 64, 5 seconds)
// profiles have a thousand and a million times less compute, so they train
// a shallower model on smaller batches. They do it by offsets and shifts of
// the same constants, never by values of their own, so that an edit to a
// constant changes the model on every profile:
//
//   - depth: DEPTH minus 4 (cpu) or 6 (smoke), at least 1. An offset, not a
//     divisor: DEPTH/2 would give 8 and 9 the same 4 layers, DEPTH-4 keeps
//     every ±1 a change of one layer.
//   - width: the same rule as the gpu profile, depth × ASPECT_RATIO rounded
//     up to a multiple of HEAD_DIM, so it shrinks with the depth (256 wide on
//     cpu, 128 on smoke) and ASPECT_RATIO and HEAD_DIM act unchanged.
//   - batches: TOTAL_BATCH_SIZE (tokens) and DEVICE_BATCH_SIZE (rows) shifted
//     right by a power of two, so that halving or doubling either halves or
//     doubles it on every profile and divisibility carries over. The cpu
//     profile takes 8,192-token steps in 4 micro-batches of 8 rows of 256;
//     smoke takes 1,024-token steps in 2 micro-batches of 8 rows of 64: a few
//     hundred steps in the budget, where the original takes about a
//     thousand. Like the original's two, the micro-steps leave room to halve
//     TOTAL_BATCH_SIZE on every profile.
//   - learning rates, betas, weight decay and the schedule: unchanged (the
//     AdamW rates already scale with the width).
func profileScale(profile string) (depth, totalBatchSize, deviceBatchSize int) {
	switch profile {
	case "cpu":
		return max(1, DEPTH-4), TOTAL_BATCH_SIZE >> 6, max(1, DEVICE_BATCH_SIZE>>4)
	case "smoke":
		return max(1, DEPTH-6), TOTAL_BATCH_SIZE >> 9, max(1, DEVICE_BATCH_SIZE>>4)
	}
	return DEPTH, TOTAL_BATCH_SIZE, DEVICE_BATCH_SIZE
}

// ---------------------------------------------------------------------------
// GPT Model
// ---------------------------------------------------------------------------

// GPTConfig is the model's shape.
type GPTConfig struct {
	SequenceLen, VocabSize        int
	NLayer, NHead, NKVHead, NEmbd int
	WindowPattern                 string
}

// norm is F.rms_norm(x, (x.size(-1),)) with no weight; its default eps is the
// machine epsilon of the dtype, float32 here.
func norm(x *tensor.Tensor) *tensor.Tensor { return tensor.RMSNorm(x, 0x1p-23) }

// hasVE reports whether layer i has a value embedding: alternating layers,
// the last always included.
func hasVE(i, nLayer int) bool { return i%2 == (nLayer-1)%2 }

// CausalSelfAttention is grouped-query attention with rotary embeddings,
// QK-norm and, on value-embedding layers, a gated value residual.
type CausalSelfAttention struct {
	nHead, nKVHead, nEmbd, headDim int
	cQ, cK, cV, cProj              *tensor.Tensor // [out, in], nn.Linear's layout
	veGate                         *tensor.Tensor // [nKVHead, veGateChannels], nil without a value embedding
}

// veGateChannels is how many leading channels of x feed the value-embedding gate.
var veGateChannels = 32

// forward maps x [B, T, C] to [B, T, C]; ve is [B, T, KVH*D] or nil, cos and
// sin the rotary tables, window the keys a query sees to its left.
func (a *CausalSelfAttention) forward(x, ve, cos, sin *tensor.Tensor, window int) *tensor.Tensor {
	B, T := x.Dim(0), x.Dim(1)
	q := tensor.Linear(x, a.cQ).Reshape(B, T, a.nHead, a.headDim)
	k := tensor.Linear(x, a.cK).Reshape(B, T, a.nKVHead, a.headDim)
	v := tensor.Linear(x, a.cV).Reshape(B, T, a.nKVHead, a.headDim)

	// Value residual (ResFormer): mix in the value embedding with an
	// input-dependent gate per head, 2·sigmoid (1 at init, the gate is zero).
	if ve != nil {
		ve = ve.Reshape(B, T, a.nKVHead, a.headDim)
		gate := tensor.Linear(x.Slice(2, 0, veGateChannels), a.veGate).Sigmoid().MulScalar(2)
		v = v.Add(gate.Reshape(B, T, a.nKVHead, 1).Mul(ve))
	}

	q, k = tensor.Rotary(q, cos, sin), tensor.Rotary(k, cos, sin)
	q, k = norm(q), norm(k)

	y := tensor.Attention(q, k, v, window).Reshape(B, T, a.nEmbd)
	return tensor.Linear(y, a.cProj)
}

// MLP is the feed-forward layer, ReLU² at 4× width.
type MLP struct {
	cFc, cProj *tensor.Tensor
}

func (m *MLP) forward(x *tensor.Tensor) *tensor.Tensor {
	return tensor.Linear(tensor.Linear(x, m.cFc).ReluSquare(), m.cProj)
}

// Block is one transformer layer, pre-norm.
type Block struct {
	attn CausalSelfAttention
	mlp  MLP
}

func (b *Block) forward(x, ve, cos, sin *tensor.Tensor, window int) *tensor.Tensor {
	x = x.Add(b.attn.forward(norm(x), ve, cos, sin, window))
	return x.Add(b.mlp.forward(norm(x)))
}

// GPT is the whole model. Its parameters are named as the original's.
type GPT struct {
	config       GPTConfig
	dev          *tensor.Device
	windowSizes  []int
	wte, lmHead  *tensor.Tensor // [V, C] each
	h            []Block
	residLambdas *tensor.Tensor   // [n_layer]
	x0Lambdas    *tensor.Tensor   // [n_layer]
	valueEmbeds  []*tensor.Tensor // [V, KVH*D] for the layers with one, else nil
	cos, sin     *tensor.Tensor   // [rotary_seq_len, head_dim/2]
}

// NewGPT makes the model on dev and initialises it as the original's
// init_weights does, drawing from rng.
func NewGPT(dev *tensor.Device, config GPTConfig, rng *tensor.RNG) (*GPT, error) {
	c := config
	headDim := c.NEmbd / c.NHead
	switch {
	case c.NEmbd%c.NHead != 0:
		return nil, fmt.Errorf("model width %d is not a multiple of %d heads", c.NEmbd, c.NHead)
	case c.NKVHead > c.NHead || c.NHead%c.NKVHead != 0:
		return nil, fmt.Errorf("%d query heads cannot share %d key/value heads", c.NHead, c.NKVHead)
	case headDim%2 != 0:
		return nil, fmt.Errorf("head dimension %d is odd: rotary embeddings need it even", headDim)
	case c.NEmbd < veGateChannels:
		return nil, fmt.Errorf("model width %d is less than the %d channels of the value-embedding gate", c.NEmbd, veGateChannels)
	}
	windows, err := computeWindowSizes(c)
	if err != nil {
		return nil, err
	}
	m := &GPT{config: c, dev: dev, windowSizes: windows, valueEmbeds: make([]*tensor.Tensor, c.NLayer)}
	param := func(name string, t *tensor.Tensor) *tensor.Tensor { return dev.Parameter(name, t) }
	kvDim := c.NKVHead * headDim
	s := math.Sqrt(3) / math.Sqrt(float64(c.NEmbd))
	uniform := func(rows, cols int) *tensor.Tensor { return dev.Uniform(rng, -s, s, rows, cols) }

	// Embedding and unembedding.
	m.wte = param("transformer.wte.weight", dev.Normal(rng, 0, 1, c.VocabSize, c.NEmbd))
	m.lmHead = param("lm_head.weight", dev.Normal(rng, 0, 0.001, c.VocabSize, c.NEmbd))
	// Transformer blocks: uniform ±√3/√d, zeros for both projections back
	// into the residual stream and for the value-embedding gates
	// (sigmoid(0)·2 = 1, neutral).
	m.h = make([]Block, c.NLayer)
	for i := range m.h {
		pre := fmt.Sprintf("transformer.h.%d.", i)
		b := &m.h[i]
		b.attn = CausalSelfAttention{nHead: c.NHead, nKVHead: c.NKVHead, nEmbd: c.NEmbd, headDim: headDim}
		b.attn.cQ = param(pre+"attn.c_q.weight", uniform(c.NHead*headDim, c.NEmbd))
		b.attn.cK = param(pre+"attn.c_k.weight", uniform(kvDim, c.NEmbd))
		b.attn.cV = param(pre+"attn.c_v.weight", uniform(kvDim, c.NEmbd))
		b.attn.cProj = param(pre+"attn.c_proj.weight", dev.Zeros(c.NEmbd, c.NEmbd))
		b.mlp.cFc = param(pre+"mlp.c_fc.weight", uniform(4*c.NEmbd, c.NEmbd))
		b.mlp.cProj = param(pre+"mlp.c_proj.weight", dev.Zeros(c.NEmbd, 4*c.NEmbd))
		if hasVE(i, c.NLayer) {
			b.attn.veGate = param(pre+"attn.ve_gate.weight", dev.Zeros(c.NKVHead, veGateChannels))
		}
	}
	// Per-layer scalars.
	m.residLambdas = param("resid_lambdas", dev.Full(1, c.NLayer))
	m.x0Lambdas = param("x0_lambdas", dev.Full(0.1, c.NLayer))
	// Value embeddings.
	for i := range c.NLayer {
		if hasVE(i, c.NLayer) {
			m.valueEmbeds[i] = param(fmt.Sprintf("value_embeds.%d.weight", i), uniform(c.VocabSize, kvDim))
		}
	}
	// Rotary embeddings, for 10× the context like the original.
	m.cos, m.sin = precomputeRotaryEmbeddings(dev, c.SequenceLen*10, headDim, 10000)
	return m, nil
}

// precomputeRotaryEmbeddings returns cos and sin [seqLen, headDim/2] of the
// angles t / base^(2j/headDim). (The original rounds them to bf16; these stay
// float32.)
func precomputeRotaryEmbeddings(dev *tensor.Device, seqLen, headDim int, base float64) (cos, sin *tensor.Tensor) {
	half := headDim / 2
	c, s := make([]float32, seqLen*half), make([]float32, seqLen*half)
	for t := range seqLen {
		for j := range half {
			invFreq := 1 / math.Pow(base, float64(2*j)/float64(headDim))
			c[t*half+j] = float32(math.Cos(float64(t) * invFreq))
			s[t*half+j] = float32(math.Sin(float64(t) * invFreq))
		}
	}
	return dev.FromFloat32s(c, seqLen, half), dev.FromFloat32s(s, seqLen, half)
}

// computeWindowSizes gives each layer's attention window from the pattern:
// L sees the whole context, S half of it; the last layer is always L.
func computeWindowSizes(c GPTConfig) ([]int, error) {
	pattern := strings.ToUpper(c.WindowPattern)
	if pattern == "" || strings.Trim(pattern, "SL") != "" {
		return nil, fmt.Errorf("window pattern %q: use only S (half context) and L (full context)", c.WindowPattern)
	}
	w := make([]int, c.NLayer)
	for i := range w {
		w[i] = c.SequenceLen / 2
		if pattern[i%len(pattern)] == 'L' || i == c.NLayer-1 {
			w[i] = c.SequenceLen
		}
	}
	return w, nil
}

// SetupOptimizer groups the parameters by role, as the original does: AdamW
// for the unembedding, the embeddings, the value embeddings and the two kinds
// of per-layer scalars; Muon for the 2-D matrices of the blocks, one group per
// shape. A parameter takes the first role whose name occurs in its own. One
// that fits no role, or that Muon cannot take, fails the setup with its name
// and what to do.
func (m *GPT) SetupOptimizer(unembeddingLR, embeddingLR, matrixLR, weightDecay float64, adamBetas [2]float64, scalarLR float64) (*MuonAdamW, error) {
	modelDim := m.config.NEmbd
	// Scale the AdamW LRs ∝ 1/√dmodel (tuned at 768 wide).
	dmodelLRScale := math.Pow(float64(modelDim)/768, -0.5)
	adamw := func(role string, lr float64, betas [2]float64) ParamGroup {
		return ParamGroup{Role: role, Kind: "adamw", LR: lr, Betas: betas, Eps: 1e-10}
	}
	roles := []ParamGroup{
		adamw("lm_head", unembeddingLR*dmodelLRScale, adamBetas),
		adamw("transformer.wte", embeddingLR*dmodelLRScale, adamBetas),
		adamw("value_embeds.", embeddingLR*dmodelLRScale, adamBetas),
		adamw("resid_lambdas", scalarLR*0.01, adamBetas),
		adamw("x0_lambdas", scalarLR, [2]float64{0.96, 0.95}),
		{Role: "transformer.h.", Kind: "muon", LR: matrixLR, Momentum: 0.95, NSSteps: 5, Beta2: 0.95, WeightDecay: weightDecay},
	}
	byShape := map[[2]int][]*tensor.Tensor{} // Muon's matrices
	for _, p := range m.dev.Parameters() {
		i := slices.IndexFunc(roles, func(g ParamGroup) bool { return strings.Contains(p.Name(), g.Role) })
		switch {
		case i < 0:
			return nil, fmt.Errorf("parameter %s %v fits no optimizer group: add a role for it to SetupOptimizer's roles, e.g. adamw(%q, rate, adamBetas) "+
				"with the rate of its kind (unembeddingLR*dmodelLRScale for a head, embeddingLR*dmodelLRScale for a table, scalarLR for gains and scalars); "+
				"Muon takes the 2-D matrices whose names contain \"transformer.h.\"", p.Name(), p.Shape(), roleOf(p.Name()))
		case roles[i].Kind == "muon" && p.Rank() != 2:
			return nil, fmt.Errorf("parameter %s has shape %v: Muon takes 2-D matrices; put it in an AdamW group such as the scalars': add adamw(%q, scalarLR, adamBetas) to SetupOptimizer's roles, ahead of %q",
				p.Name(), p.Shape(), roleOf(p.Name()), roles[i].Role)
		case roles[i].Kind == "muon":
			s := [2]int{p.Dim(0), p.Dim(1)}
			byShape[s] = append(byShape[s], p)
		default:
			roles[i].Params = append(roles[i].Params, p)
		}
	}
	var groups []*ParamGroup
	for _, g := range roles {
		if g.Kind == "adamw" && len(g.Params) > 0 {
			groups = append(groups, &g)
		}
	}
	for _, s := range slices.SortedFunc(maps.Keys(byShape), func(a, b [2]int) int { return cmp.Or(a[0]-b[0], a[1]-b[1]) }) {
		g := roles[len(roles)-1]
		g.Params = byShape[s]
		groups = append(groups, &g)
	}
	return NewMuonAdamW(m.dev, groups)
}

// roleOf is the part of a parameter's name that says what it is, for a role
// that takes it in every layer: "attn_norm" of "transformer.h.0.attn_norm.weight".
func roleOf(name string) string {
	parts := strings.Split(name, ".")
	for i := len(parts) - 1; i >= 0; i-- {
		if p := parts[i]; p != "weight" && p != "bias" && strings.Trim(p, "0123456789") != "" {
			return p
		}
	}
	return name
}

// Forward runs the model on idx [B, T] (i32). With reduction "mean" it
// returns the mean cross-entropy against targets [B, T] (a scalar), with
// "none" the per-token losses [B, T].
func (m *GPT) Forward(idx, targets *tensor.Tensor, reduction string) *tensor.Tensor {
	T := idx.Dim(1)
	if T > m.cos.Dim(0) {
		panic(fmt.Sprintf("sequence of %d tokens is longer than the rotary tables (%d)", T, m.cos.Dim(0)))
	}

	x := tensor.Embedding(m.wte, idx)
	x = norm(x)
	x0 := x
	for i := range m.h {
		x = x.Mul(m.residLambdas.Slice(0, i, i+1)).Add(x0.Mul(m.x0Lambdas.Slice(0, i, i+1)))
		var ve *tensor.Tensor
		if table := m.valueEmbeds[i]; table != nil {
			ve = tensor.Embedding(table, idx)
		}
		x = m.h[i].forward(x, ve, m.cos, m.sin, m.windowSizes[i])
	}
	x = norm(x)

	softcap := float32(15)
	logits := tensor.Linear(x, m.lmHead)
	logits = logits.Softcap(softcap) // softcap * tanh(logits / softcap)

	if reduction == "none" {
		return tensor.CrossEntropy(logits, targets)
	}
	return tensor.CrossEntropyMean(logits, targets)
}

// TokenLosses implements harness.Scorer: per-token losses (nats) of a
// batch, without recording a graph.
func (m *GPT) TokenLosses(inputs, targets []int32, B, T int) (losses []float32, err error) {
	m.dev.Eval(func() {
		losses = m.Forward(m.dev.FromInt32s(inputs, B, T), m.dev.FromInt32s(targets, B, T), "none").Float32s()
	})
	return losses, nil
}

// ---------------------------------------------------------------------------
// Optimizer (MuonAdamW, single device)
// ---------------------------------------------------------------------------

// polarExpressCoeffs are the (a, b, c) of the Polar Express iterations
// X ← aX + (bA + cA²)X, A = XXᵀ, one triple per step.
var polarExpressCoeffs = [][3]float32{
	{8.156554524902461, -22.48329292557795, 15.878769915207462},
	{4.042929935166739, -2.808917465908714, 0.5000178451051316},
	{3.8916678022926607, -2.772484153217685, 0.5060648178503393},
	{3.285753657755655, -2.3681294933425376, 0.46449024233003106},
	{2.3465413258596377, -1.7097828382687081, 0.42323551169305323},
}

// ParamGroup is one group of parameters with its hyperparameters; the
// training loop sets LR, Momentum and WeightDecay before every step.
type ParamGroup struct {
	Role            string // what its parameters' names contain, e.g. "lm_head"
	Kind            string // "adamw" or "muon"
	Params          []*tensor.Tensor
	LR, InitialLR   float64
	Betas           [2]float64 // AdamW
	Eps             float64    // AdamW
	Momentum, Beta2 float64    // Muon
	NSSteps         int        // Muon
	WeightDecay     float64    // both (AdamW's is 0 in every group)

	adam                                 []adamState    // AdamW state, one per parameter
	momentumBuffer, secondMomentumBuffer *tensor.Tensor // Muon state, [P, R, C] and [P, R, 1] or [P, 1, C]
}

type adamState struct {
	step             int
	expAvg, expAvgSq *tensor.Tensor
}

// MuonAdamW is the combined optimizer: Muon for the 2-D block matrices,
// AdamW for everything else.
type MuonAdamW struct {
	dev    *tensor.Device
	Groups []*ParamGroup
}

// NewMuonAdamW makes the optimizer and its state, zeros, for groups that hold
// every parameter of dev exactly once; Muon groups hold matrices of one shape.
func NewMuonAdamW(dev *tensor.Device, groups []*ParamGroup) (*MuonAdamW, error) {
	var params [][]*tensor.Tensor
	for _, g := range groups {
		params = append(params, g.Params)
	}
	if err := dev.CheckGroups(params...); err != nil {
		return nil, err
	}
	for _, g := range groups {
		g.InitialLR = g.LR
		switch {
		case g.Kind == "adamw":
			for _, p := range g.Params {
				g.adam = append(g.adam, adamState{expAvg: dev.Zeros(p.Shape()...), expAvgSq: dev.Zeros(p.Shape()...)})
			}
		case g.Kind == "muon" && len(g.Params) > 0:
			n, rows, cols := len(g.Params), g.Params[0].Dim(0), g.Params[0].Dim(1)
			second := []int{n, rows, 1} // NorMuon's statistics per row of a tall matrix, per column of a wide one
			if rows < cols {
				second = []int{n, 1, cols}
			}
			g.momentumBuffer, g.secondMomentumBuffer = dev.Zeros(n, rows, cols), dev.Zeros(second...)
		default:
			return nil, fmt.Errorf("parameter group of kind %q with %d parameters: want adamw, or muon with one or more", g.Kind, len(g.Params))
		}
	}
	return &MuonAdamW{dev: dev, Groups: groups}, nil
}

func (o *MuonAdamW) stepAdamW(g *ParamGroup) {
	for i, p := range g.Params {
		if p.Grad == nil {
			continue
		}
		st := &g.adam[i]
		st.step++
		tensor.AdamWStep(p, p.Grad, st.expAvg, st.expAvgSq, tensor.AdamWArgs{
			LR: float32(g.LR), Beta1: float32(g.Betas[0]), Beta2: float32(g.Betas[1]),
			Eps: float32(g.Eps), WeightDecay: float32(g.WeightDecay), Step: st.step,
		})
	}
}

func (o *MuonAdamW) stepMuon(g *ParamGroup) {
	rows, cols := g.Params[0].Dim(0), g.Params[0].Dim(1)
	grads := make([]*tensor.Tensor, len(g.Params))
	for i, p := range g.Params {
		if grads[i] = p.Grad; p.Grad == nil { // a matrix no gradient reached (Inspect warns of it)
			grads[i] = o.dev.Zeros(rows, cols)
		}
	}
	stackedGrads := tensor.Stack(0, grads...)
	stackedParams := tensor.Stack(0, g.Params...)
	redDim := -1
	if rows < cols {
		redDim = -2
	}
	lr := g.LR * math.Sqrt(max(1, float64(rows)/float64(cols)))
	muonStep(stackedGrads, stackedParams, g.momentumBuffer, g.secondMomentumBuffer,
		float32(g.Momentum), float32(lr), float32(g.WeightDecay), float32(g.Beta2), g.NSSteps, redDim)
	for i, p := range g.Params {
		p.CopyFrom(stackedParams.Slice(0, i, i+1))
	}
}

// muonStep updates the stacked parameters [P, R, C] in place from their
// stacked gradients (overwritten): Nesterov momentum, Polar Express
// orthogonalisation, NorMuon variance reduction, cautious weight decay.
// Run it under NoGrad. Its products run in the device's activation dtype:
// bf16 operands on a GPU, like the original's Polar Express; float32 on the
// CPU.
func muonStep(stackedGrads, stackedParams, momentumBuffer, secondMomentumBuffer *tensor.Tensor,
	momentum, lr, wd, beta2 float32, nsSteps, redDim int) {
	// Nesterov momentum
	tensor.Nesterov(stackedGrads, momentumBuffer, momentum)
	g := stackedGrads
	// Polar express orthogonalization
	X := g.Div(g.Norm(-2, -1).MulScalar(1.02).AddScalar(1e-6))
	tall := g.Dim(-2) > g.Dim(-1)
	for _, abc := range polarExpressCoeffs[:nsSteps] {
		a, b, c := abc[0], abc[1], abc[2]
		var A *tensor.Tensor
		if tall {
			A = tensor.MatMulTN(X, X) // Xᵀ X
		} else {
			A = tensor.MatMulNT(X, X) // X Xᵀ
		}
		B := A.MulScalar(b)
		tensor.AddMatMul(B, A, A, c, 1) // B = bA + cA²
		Xn := X.MulScalar(a)
		if tall {
			tensor.AddMatMul(Xn, X, B, 1, 1) // aX + XB
		} else {
			tensor.AddMatMul(Xn, B, X, 1, 1) // aX + BX
		}
		X = Xn
	}
	g = X
	// NorMuon variance reduction
	vMean := g.Square().Mean(redDim)
	redDimSize := float32(g.Dim(redDim))
	vNorm := vMean.Sum(-2, -1).MulScalar(redDimSize).Sqrt()
	tensor.LerpInto(secondMomentumBuffer, vMean, 1-beta2)
	stepSize := secondMomentumBuffer.ClampMin(1e-10).Rsqrt()
	scaledSqSum := vMean.MulScalar(redDimSize).Mul(stepSize.Square())
	vNormNew := scaledSqSum.Sum(-2, -1).Sqrt()
	finalScale := stepSize.Mul(vNorm.Div(vNormNew.ClampMin(1e-10)))
	// Cautious weight decay + parameter update
	tensor.MuonUpdate(stackedParams, g, finalScale, lr, wd)
}

// Step updates every parameter from its gradient. Its temporaries belong to
// the caller's scope (Device.Step).
func (o *MuonAdamW) Step() {
	o.dev.NoGrad(func() {
		for _, g := range o.Groups {
			switch g.Kind {
			case "adamw":
				o.stepAdamW(g)
			case "muon":
				o.stepMuon(g)
			}
		}
	})
}

// ---------------------------------------------------------------------------
// Setup: tokenizer, model, optimizer, dataloader
// ---------------------------------------------------------------------------

// buildModelConfig sizes the model: depth × ASPECT_RATIO channels, rounded up
// to whole heads of HEAD_DIM.
func buildModelConfig(depth, sequenceLen, vocabSize int) GPTConfig {
	baseDim := depth * ASPECT_RATIO
	modelDim := ((baseDim + HEAD_DIM - 1) / HEAD_DIM) * HEAD_DIM
	numHeads := modelDim / HEAD_DIM
	return GPTConfig{SequenceLen: sequenceLen, VocabSize: vocabSize, NLayer: depth,
		NHead: numHeads, NKVHead: numHeads, NEmbd: modelDim, WindowPattern: WINDOW_PATTERN}
}

// Schedules (all based on progress = training_time / TIME_BUDGET)

// getLRMultiplier scales every group's initial learning rate: a linear
// warm-up over WARMUP_RATIO, then 1, then a linear warm-down over the last
// WARMDOWN_RATIO to FINAL_LR_FRAC.
func getLRMultiplier(progress float64) float64 {
	if progress < WARMUP_RATIO {
		return progress / WARMUP_RATIO
	} else if progress < 1-WARMDOWN_RATIO {
		return 1
	}
	cooldown := (1 - progress) / WARMDOWN_RATIO
	return cooldown*1 + (1-cooldown)*FINAL_LR_FRAC
}

// getMuonMomentum ramps Muon's momentum from 0.85 to 0.95 over 300 steps.
func getMuonMomentum(step int) float64 {
	frac := min(float64(step)/300, 1)
	return (1-frac)*0.85 + frac*0.95
}

// getWeightDecay decays Muon's weight decay linearly to 0 at the budget.
func getWeightDecay(progress float64) float64 {
	return WEIGHT_DECAY * (1 - progress)
}

func main() {
	tStart := time.Now()
	// GC management: the device pools its tensor buffers, so after the first
	// steps the collector sees little garbage; collecting at 25 % heap growth
	// rather than Go's default 100 % keeps peak memory near the live set (on
	// the cpu profile 0.7 GB instead of 1.1 GB) at no measurable speed cost.
	debug.SetGCPercent(25)
	env, err := harness.Open()
	check(err)
	dev, err := tensor.Open(env.Device)
	check(err)
	rng := tensor.NewRNG(42)
	profile := env.Profile
	maxSeqLen, timeBudget := profile.MaxSeqLen, profile.TimeBudget
	depth, totalBatchSize, deviceBatchSize := profileScale(profile.Name)
	peakFlops := dev.PeakFLOPS()
	fmt.Printf("Profile: %s (device %s, peak %.1f TFLOP/s)\n", profile.Name, dev.Name(), peakFlops/1e12)

	vocabSize := env.Tokenizer.VocabSize()
	fmt.Printf("Vocab size: %s\n", harness.Thousands(vocabSize))

	config := buildModelConfig(depth, maxSeqLen, vocabSize)
	fmt.Printf("Model config: %+v\n", config)

	model, err := NewGPT(dev, config, rng)
	check(err)

	tokensPerFwdBwd := deviceBatchSize * maxSeqLen
	if totalBatchSize%tokensPerFwdBwd != 0 {
		check(fmt.Errorf("TOTAL_BATCH_SIZE gives %d tokens per step on profile %s, not a multiple of DEVICE_BATCH_SIZE's %d rows × %d tokens: change one of them",
			totalBatchSize, profile.Name, deviceBatchSize, maxSeqLen))
	}
	gradAccumSteps := totalBatchSize / tokensPerFwdBwd

	fmt.Printf("Scaling AdamW LRs by 1/sqrt(%d/768) = %.6f\n", config.NEmbd, math.Pow(float64(config.NEmbd)/768, -0.5))
	optimizer, err := model.SetupOptimizer(UNEMBEDDING_LR, EMBEDDING_LR, MATRIX_LR, WEIGHT_DECAY,
		[2]float64{ADAM_BETA1, ADAM_BETA2}, SCALAR_LR)
	check(err)
	numParams := printParameters(dev, optimizer)

	trainLoader, err := env.TrainLoader(deviceBatchSize, maxSeqLen)
	check(err)
	batch := trainLoader.Next() // prefetch first batch

	// One micro-step on the first batch, before training, read from its
	// graph: the FLOPs per token (for MFU) and what will not train.
	graph := dev.Inspect(func() *tensor.Tensor {
		return model.Forward(dev.FromInt32s(batch.Inputs, batch.B, batch.T), dev.FromInt32s(batch.Targets, batch.B, batch.T), "mean")
	})
	numFlopsPerToken := graph.FLOPs / float64(tokensPerFwdBwd)
	fmt.Printf("Estimated FLOPs per token: %e\n", numFlopsPerToken)
	for _, w := range graph.Warnings {
		fmt.Println("warning:", w)
	}
	fmt.Println()
	mfu := func(tokensPerSec float64) float64 { // percent of the device's peak, 0 when unknown
		if peakFlops == 0 {
			return 0
		}
		return 100 * numFlopsPerToken * tokensPerSec / peakFlops
	}

	// The budget's clock: wall-clock time on a GPU, the CPU time the program
	// got on the CPU; warm-up steps stay out of it, up to a share of it.
	budget := env.Budget(dev.Sync, totalBatchSize)
	fmt.Printf("Time budget: %gs (%s)\n", timeBudget, budget.Rule())
	fmt.Printf("Gradient accumulation steps: %d\n", gradAccumSteps)

	// -----------------------------------------------------------------------
	// Training loop
	// -----------------------------------------------------------------------

	tStartTraining := time.Now()
	fmt.Printf("Setup: %.2fs\n", tStartTraining.Sub(tStart).Seconds())
	step := 0
	epoch := batch.Epoch

	for {
		budget.StartStep()
		var progress, lrm float64
		trainLossF := dev.Step(func() (trainLoss *tensor.Tensor) {
			for range gradAccumSteps {
				x, y := dev.FromInt32s(batch.Inputs, batch.B, batch.T), dev.FromInt32s(batch.Targets, batch.B, batch.T)
				loss := model.Forward(x, y, "mean")
				trainLoss = loss.Detach()
				loss.MulScalar(1 / float32(gradAccumSteps)).Backward()
				batch = trainLoader.Next()
				epoch = batch.Epoch
			}

			// Progress and schedules
			progress = budget.Progress()
			lrm = getLRMultiplier(progress)
			muonMomentum := getMuonMomentum(step)
			muonWeightDecay := getWeightDecay(progress)
			for _, g := range optimizer.Groups {
				g.LR = g.InitialLR * lrm
				if g.Kind == "muon" {
					g.Momentum = muonMomentum
					g.WeightDecay = muonWeightDecay
				}
			}
			optimizer.Step()
			dev.ZeroGrad()
			return trainLoss
		})

		// Fast fail: abort if loss is exploding or NaN
		if math.IsNaN(trainLossF) || trainLossF > 100 {
			contract.Fail(os.Stdout, fmt.Sprintf("the training loss is %g at step %d: the run diverged", trainLossF, step))
			os.Exit(1)
		}

		// Count the step; a program whose steps cannot fit the budget ends here.
		dt, err := budget.EndStep(trainLossF)
		check(err)

		// Logging
		tokPerSec := float64(totalBatchSize) / dt
		fmt.Printf("\r%s | loss: %.6f | lrm: %.2f | dt: %.0fms | tok/sec: %s | mfu: %.1f%% | epoch: %d | remaining: %.0fs    ",
			contract.ProgressLine(step, progress), budget.SmoothLoss(), lrm, dt*1000, harness.Thousands(int(tokPerSec)), mfu(tokPerSec), epoch, budget.Remaining())

		step++

		// Time's up, once the warm-up steps are over
		if budget.Done() {
			break
		}
	}

	fmt.Println() // newline after \r training log

	// Final eval
	valBPB, err := env.EvaluateBPB(model, deviceBatchSize)
	check(err)

	// Final summary
	summary := harness.Summary{
		ValBPB:          valBPB,
		TrainingSeconds: budget.Seconds(),
		TotalSeconds:    time.Since(tStart).Seconds(),
		MFUPercent:      mfu(budget.TokensPerSec()),
		TotalTokensM:    float64(step*totalBatchSize) / 1e6,
		NumSteps:        step,
		NumParamsM:      float64(numParams) / 1e6,
		Depth:           depth,
		TokensPerSec:    budget.TokensPerSec(),
		Curve:           budget.Curve(),
	}
	if env.Device == harness.DeviceCPU {
		summary.PeakRSSMB = harness.PeakRSSMB()
	} else {
		_, peak := dev.Memory()
		summary.PeakVRAMMB = float64(peak) / 1024 / 1024
	}
	check(summary.Report(os.Stdout))
}

// printParameters writes the parameter table (harness.PrintParameters):
// every parameter in the order made, with its optimizer group. It returns
// their total, the summary's num_params.
func printParameters(dev *tensor.Device, opt *MuonAdamW) int {
	group := map[*tensor.Tensor]*ParamGroup{}
	for _, g := range opt.Groups {
		for _, p := range g.Params {
			group[p] = g
		}
	}
	var rows []harness.Param
	for _, p := range dev.Parameters() {
		g := group[p]
		rows = append(rows, harness.Param{Name: p.Name(), Shape: p.Shape(), Group: g.Kind + " " + g.Role, LR: g.LR, WeightDecay: g.WeightDecay})
	}
	total, err := harness.PrintParameters(os.Stdout, rows)
	check(err)
	return total
}

// check ends the program on an error, with the error as its last line.
func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, contract.ErrorPrefix+err.Error())
		os.Exit(1)
	}
}
