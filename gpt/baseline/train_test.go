package main

import (
	"math"
	"slices"
	"strings"
	"testing"

	"autoresearch/harness"
	"autoresearch/internal/tensor"
)

// TestBaselineFitsEveryProfile checks that the constants give a model and
// batch split that work on every profile: the model builds, the step's
// tokens divide into micro-batches, and evaluation gets at least one batch.
func TestBaselineFitsEveryProfile(t *testing.T) {
	for _, p := range harness.Profiles() {
		depth, total, rows := profileScale(p.Name)
		cfg := buildModelConfig(depth, p.MaxSeqLen, p.VocabSize)
		if depth < 1 || total < 1 || rows < 1 {
			t.Errorf("%s: depth %d, batch %d tokens, micro-batch %d rows", p.Name, depth, total, rows)
			continue
		}
		// At least two micro-steps, as the original has, so that halving
		// TOTAL_BATCH_SIZE still divides into micro-batches.
		if total%(rows*p.MaxSeqLen) != 0 || total/(rows*p.MaxSeqLen) < 2 {
			t.Errorf("%s: %d tokens per step do not split into two or more micro-batches of %d×%d", p.Name, total, rows, p.MaxSeqLen)
		}
		if p.EvalTokens < rows*p.MaxSeqLen {
			t.Errorf("%s: an evaluation batch of %d×%d is more than EVAL_TOKENS %d", p.Name, rows, p.MaxSeqLen, p.EvalTokens)
		}
		if cfg.NEmbd%cfg.NHead != 0 || cfg.NEmbd/cfg.NHead != HEAD_DIM || cfg.NEmbd < depth*ASPECT_RATIO {
			t.Errorf("%s: config %+v does not follow depth × ASPECT_RATIO in heads of HEAD_DIM", p.Name, cfg)
		}
		if _, err := computeWindowSizes(cfg); err != nil {
			t.Errorf("%s: %v", p.Name, err)
		}
	}
}

// TestOriginalModelSize builds the original's depth-8 model (the gpu
// profile's shape) and checks its size and FLOPs against the original's
// reported baseline: 50.3 M parameters, and an MFU of 39.80 % of 989.5
// TFLOP/s for 953 steps of 2^19 tokens in 300.1 s of training (the first 10
// steps excluded), which pins the FLOPs per token.
func TestOriginalModelSize(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates the 50 M-parameter model")
	}
	dev, err := tensor.Open("cpu")
	if err != nil {
		t.Fatal(err)
	}
	cfg := GPTConfig{SequenceLen: 2048, VocabSize: 8192, NLayer: 8, NHead: 4, NKVHead: 4, NEmbd: 512, WindowPattern: "SSSL"}
	m, err := NewGPT(dev, cfg, tensor.NewRNG(42))
	if err != nil {
		t.Fatal(err)
	}
	counts := m.NumScalingParams()
	total := counts[len(counts)-1][1].(int)
	if got := math.Round(float64(total)/1e5) / 10; got != 50.3 {
		t.Errorf("num_params_M %.1f (%d), the original reports 50.3", got, total)
	}
	flops := m.EstimateFlops()
	mfu := 100 * flops * (1 << 19) * (953 - 10) / 300.1 / 989.5e12
	if math.Abs(mfu-39.80) > 0.01 {
		t.Errorf("FLOPs per token %.4e give an MFU of %.3f%% for the original's run, which reports 39.80%%", flops, mfu)
	}
}

// TestOptimizerGroups checks the parameter groups against the original's
// setup_optimizer: every parameter in exactly one group, the AdamW rates,
// betas and eps, and one Muon group per matrix shape.
func TestOptimizerGroups(t *testing.T) {
	dev := open64(t)
	m, err := NewGPT(dev, tinyConfig, tensor.NewRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	opt, err := m.SetupOptimizer(0.004, 0.6, 0.04, 0.2, [2]float64{0.8, 0.95}, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	scale := 1 / math.Sqrt(float64(tinyConfig.NEmbd)/768)
	seen := map[*tensor.Tensor]int{}
	type want struct {
		lr    float64
		betas [2]float64
	}
	adamw := map[*tensor.Tensor]want{
		m.lmHead:       {0.004 * scale, [2]float64{0.8, 0.95}},
		m.wte:          {0.6 * scale, [2]float64{0.8, 0.95}},
		m.residLambdas: {0.5 * 0.01, [2]float64{0.8, 0.95}},
		m.x0Lambdas:    {0.5, [2]float64{0.96, 0.95}},
	}
	for _, ve := range m.valueEmbedList() {
		adamw[ve] = want{0.6 * scale, [2]float64{0.8, 0.95}}
	}
	var shapes [][2]int
	for _, g := range opt.Groups {
		if g.InitialLR != g.LR {
			t.Errorf("group %s: initial LR %g, LR %g", g.Kind, g.InitialLR, g.LR)
		}
		for _, p := range g.Params {
			seen[p]++
		}
		switch g.Kind {
		case "adamw":
			for _, p := range g.Params {
				w, ok := adamw[p]
				if !ok {
					t.Errorf("%s is in an AdamW group", p.Name())
					continue
				}
				if math.Abs(g.LR-w.lr) > 1e-12 || g.Betas != w.betas || g.Eps != 1e-10 || g.WeightDecay != 0 {
					t.Errorf("%s: lr %g betas %v eps %g wd %g; want lr %g betas %v eps 1e-10 wd 0", p.Name(), g.LR, g.Betas, g.Eps, g.WeightDecay, w.lr, w.betas)
				}
			}
		case "muon":
			s := [2]int{g.Params[0].Dim(0), g.Params[0].Dim(1)}
			for _, p := range g.Params {
				if p.Rank() != 2 || p.Dim(0) != s[0] || p.Dim(1) != s[1] {
					t.Errorf("Muon group %v holds %s %v", s, p.Name(), p.Shape())
				}
				if _, ok := adamw[p]; ok {
					t.Errorf("%s is in a Muon group", p.Name())
				}
			}
			shapes = append(shapes, s)
			if g.LR != 0.04 || g.Momentum != 0.95 || g.NSSteps != 5 || g.Beta2 != 0.95 || g.WeightDecay != 0.2 {
				t.Errorf("Muon group %v: %+v", s, *g)
			}
		default:
			t.Errorf("group of kind %q", g.Kind)
		}
	}
	for _, p := range m.parameters() {
		if seen[p] != 1 {
			t.Errorf("%s is in %d groups", p.Name(), seen[p])
		}
	}
	if len(seen) != len(dev.Parameters()) {
		t.Errorf("the groups hold %d tensors, the model has %d parameters", len(seen), len(dev.Parameters()))
	}
	for i := 1; i < len(shapes); i++ {
		if a, b := shapes[i-1], shapes[i]; a[0] > b[0] || (a[0] == b[0] && a[1] >= b[1]) {
			t.Errorf("Muon groups not one per shape in sorted order: %v", shapes)
		}
	}
}

// TestSetupOptimizerRefusesAStrayParameter checks the edit that trains
// silently wrong without the check: a parameter added to the model outside
// the names SetupOptimizer groups (here a new gain beside the blocks) fails
// the setup with its name; one under transformer.h. joins a Muon group.
func TestSetupOptimizerRefusesAStrayParameter(t *testing.T) {
	dev := open64(t)
	m, err := NewGPT(dev, tinyConfig, tensor.NewRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	dev.Parameter("final_gain", dev.Ones(tinyConfig.NEmbd))
	_, err = m.SetupOptimizer(0.004, 0.6, 0.04, 0.2, [2]float64{0.8, 0.95}, 0.5)
	if err == nil || !strings.Contains(err.Error(), "parameter final_gain is in no optimizer group") {
		t.Errorf("SetupOptimizer with a stray parameter: %v", err)
	}

	dev = open64(t)
	m, _ = NewGPT(dev, tinyConfig, tensor.NewRNG(1))
	gate := dev.Parameter("transformer.h.0.mlp.c_gate.weight", dev.Zeros(4*tinyConfig.NEmbd, tinyConfig.NEmbd))
	opt, err := m.SetupOptimizer(0.004, 0.6, 0.04, 0.2, [2]float64{0.8, 0.95}, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	if g := groupOf(opt, gate); g == nil || g.Kind != "muon" {
		t.Errorf("a new block matrix is in group %+v, want a Muon group", g)
	}
	if _, err := NewMuonAdamW(dev, append(opt.Groups, &ParamGroup{Kind: "adamw", Params: []*tensor.Tensor{m.wte}})); err == nil ||
		!strings.Contains(err.Error(), "parameter transformer.wte.weight is in 2 optimizer groups") {
		t.Errorf("a parameter in two groups: %v", err)
	}
}

func groupOf(opt *MuonAdamW, p *tensor.Tensor) *ParamGroup {
	for _, g := range opt.Groups {
		if slices.Contains(g.Params, p) {
			return g
		}
	}
	return nil
}

// TestSchedules checks the shapes of the schedules: the LR multiplier is 1
// between warm-up and warm-down and falls linearly to FINAL_LR_FRAC at the
// budget; Muon's momentum ramps from 0.85 to 0.95 over 300 steps; the
// weight decay falls linearly to 0.
func TestSchedules(t *testing.T) {
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-12 }
	if WARMUP_RATIO < 1-WARMDOWN_RATIO {
		mid := (WARMUP_RATIO + 1 - WARMDOWN_RATIO) / 2
		if got := getLRMultiplier(mid); got != 1 {
			t.Errorf("lr multiplier at %.2f: %g, want 1", mid, got)
		}
	}
	if got := getLRMultiplier(1); !near(got, FINAL_LR_FRAC) {
		t.Errorf("lr multiplier at the end: %g, want FINAL_LR_FRAC %g", got, FINAL_LR_FRAC)
	}
	if WARMDOWN_RATIO > 0 {
		p := 1 - WARMDOWN_RATIO/2
		if got := getLRMultiplier(p); !near(got, (1+FINAL_LR_FRAC)/2) {
			t.Errorf("lr multiplier half-way through the warm-down: %g, want %g", got, (1+FINAL_LR_FRAC)/2)
		}
	}
	for step, want := range map[int]float64{0: 0.85, 150: 0.90, 300: 0.95, 1000: 0.95} {
		if got := getMuonMomentum(step); !near(got, want) {
			t.Errorf("Muon momentum at step %d: %g, want %g", step, got, want)
		}
	}
	if !near(getWeightDecay(0), WEIGHT_DECAY) || !near(getWeightDecay(0.5), WEIGHT_DECAY/2) || getWeightDecay(1) != 0 {
		t.Errorf("weight decay at 0, 0.5, 1: %g %g %g", getWeightDecay(0), getWeightDecay(0.5), getWeightDecay(1))
	}
}
