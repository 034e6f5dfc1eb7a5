package main

import (
	"cmp"
	"maps"
	"math"
	"math/rand/v2"
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
// profile's shape) and checks the counts the program reports: num_params from
// the parameter registry equals the original's num_scaling_params (50.3 M),
// and the FLOPs per token counted on the graph of one micro-step stay within
// 1 % of the original's estimate_flops formula, written out here. Their MFU
// for the original's run (39.80 % of 989.5 TFLOP/s for 953 steps of 2^19
// tokens in 300.1 s of training, the first 10 steps excluded) pins both.
func TestOriginalModelSize(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a micro-step of the 50 M-parameter model")
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
	total := tensor.CountParams(dev.Parameters())
	if want := originalScalingParams(dev); total != want {
		t.Errorf("num_params %d from the registry, the original's num_scaling_params %d", total, want)
	}
	if got := math.Round(float64(total)/1e5) / 10; got != 50.3 {
		t.Errorf("num_params_M %.1f (%d), the original reports 50.3", got, total)
	}
	flops := graphFLOPsPerToken(t, dev, m, 1)
	want := originalEstimateFlops(dev, m)
	t.Logf("FLOPs per token: graph %.6e, estimate_flops %.6e (%+.2e relative)", flops, want, flops/want-1)
	if math.Abs(flops/want-1) > 0.01 {
		t.Errorf("FLOPs per token from the graph %.4e, the original's estimate_flops %.4e: more than 1 %% apart", flops, want)
	}
	mfu := 100 * flops * (1 << 19) * (953 - 10) / 300.1 / 989.5e12
	if math.Abs(mfu-39.80) > 0.01 {
		t.Errorf("FLOPs per token %.4e give an MFU of %.3f%% for the original's run, which reports 39.80%%", flops, mfu)
	}
}

// TestFLOPsOfEveryProfile compares the graph's count with the formula on the
// models the profiles train and on the tiny one (grouped-query heads, value
// embeddings on two layers).
func TestFLOPsOfEveryProfile(t *testing.T) {
	for _, p := range harness.Profiles() {
		if p.Name == "gpu" {
			continue // TestOriginalModelSize
		}
		depth, _, _ := profileScale(p.Name)
		dev, err := tensor.Open("cpu")
		if err != nil {
			t.Fatal(err)
		}
		m, err := NewGPT(dev, buildModelConfig(depth, p.MaxSeqLen, p.VocabSize), tensor.NewRNG(1))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := graphFLOPsPerToken(t, dev, m, 1), originalEstimateFlops(dev, m); math.Abs(got/want-1) > 0.01 {
			t.Errorf("%s: FLOPs per token from the graph %.6e, estimate_flops %.6e", p.Name, got, want)
		}
	}
	dev := open64(t)
	m := randomized(t, dev, 5)
	if got, want := graphFLOPsPerToken(t, dev, m, 2), originalEstimateFlops(dev, m); math.Abs(got/want-1) > 0.01 {
		t.Errorf("tiny model: FLOPs per token from the graph %.6e, estimate_flops %.6e", got, want)
	}
}

// graphFLOPsPerToken is what the program reports: the FLOPs of one
// micro-step of B rows on random tokens, counted on its graph, per token.
func graphFLOPsPerToken(t *testing.T, dev *tensor.Device, m *GPT, B int) float64 {
	t.Helper()
	T := m.config.SequenceLen
	r := rand.New(rand.NewPCG(1, 2))
	idx, tgt := randomTokens(r, B*T, m.config.VocabSize), randomTokens(r, B*T, m.config.VocabSize)
	g := dev.Inspect(func() *tensor.Tensor {
		return m.Forward(dev.FromInt32s(idx, B, T), dev.FromInt32s(tgt, B, T), "mean")
	})
	if len(g.Warnings) > 0 {
		t.Errorf("the baseline has tensors that do not train:\n%s", strings.Join(g.Warnings, "\n"))
	}
	return g.FLOPs / float64(B*T)
}

// originalEstimateFlops is the original's estimate_flops: 6 per parameter
// except the embeddings and the per-layer scalars, plus 12·h·q·window per
// layer for attention.
func originalEstimateFlops(dev *tensor.Device, m *GPT) float64 {
	c := m.config
	exclude := tensor.CountParams(dev.ParametersUnder("transformer.wte.")) + tensor.CountParams(dev.ParametersUnder("value_embeds.")) +
		tensor.CountParams(dev.ParametersUnder("resid_lambdas")) + tensor.CountParams(dev.ParametersUnder("x0_lambdas"))
	h, q, seq := c.NHead, c.NEmbd/c.NHead, c.SequenceLen
	attn := 0
	for _, w := range m.windowSizes {
		attn += 12 * h * q * min(w, seq)
	}
	return 6*float64(tensor.CountParams(dev.Parameters())-exclude) + float64(attn)
}

// originalScalingParams is the original's num_scaling_params total: the
// embedding, the value embeddings, lm_head, every parameter of the blocks and
// the two kinds of scalars, each listed by name.
func originalScalingParams(dev *tensor.Device) int {
	n := 0
	for _, prefix := range []string{"transformer.wte.", "value_embeds.", "lm_head.", "transformer.h.", "resid_lambdas", "x0_lambdas"} {
		n += tensor.CountParams(dev.ParametersUnder(prefix))
	}
	return n
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
	for _, ve := range dev.ParametersUnder("value_embeds.") {
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
	for _, p := range dev.Parameters() {
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

// TestOptimizerGroupsAsBefore checks that grouping by role gives the
// baseline the groups the explicit lists gave before it: the same groups in
// the same order, each with the same parameters in the same order (Muon
// stacks them) and the same hyperparameters.
func TestOptimizerGroupsAsBefore(t *testing.T) {
	for _, cfg := range []GPTConfig{tinyConfig, buildModelConfig(4, 64, 512)} {
		dev := open64(t)
		m, err := NewGPT(dev, cfg, tensor.NewRNG(1))
		if err != nil {
			t.Fatal(err)
		}
		opt, err := m.SetupOptimizer(0.004, 0.6, 0.04, 0.2, [2]float64{0.8, 0.95}, 0.5)
		if err != nil {
			t.Fatal(err)
		}
		// The former SetupOptimizer: five AdamW groups, then Muon per shape.
		scale := math.Pow(float64(cfg.NEmbd)/768, -0.5)
		adamw := func(ps []*tensor.Tensor, lr float64, betas [2]float64) ParamGroup {
			return ParamGroup{Kind: "adamw", Params: ps, LR: lr, Betas: betas, Eps: 1e-10}
		}
		want := []ParamGroup{
			adamw([]*tensor.Tensor{m.lmHead}, 0.004*scale, [2]float64{0.8, 0.95}),
			adamw([]*tensor.Tensor{m.wte}, 0.6*scale, [2]float64{0.8, 0.95}),
			adamw(dev.ParametersUnder("value_embeds."), 0.6*scale, [2]float64{0.8, 0.95}),
			adamw([]*tensor.Tensor{m.residLambdas}, 0.5*0.01, [2]float64{0.8, 0.95}),
			adamw([]*tensor.Tensor{m.x0Lambdas}, 0.5, [2]float64{0.96, 0.95}),
		}
		byShape := map[[2]int][]*tensor.Tensor{}
		for _, p := range dev.ParametersUnder("transformer.h.") {
			s := [2]int{p.Dim(0), p.Dim(1)}
			byShape[s] = append(byShape[s], p)
		}
		shapes := slices.SortedFunc(maps.Keys(byShape), func(a, b [2]int) int { return cmp.Or(a[0]-b[0], a[1]-b[1]) })
		for _, s := range shapes {
			want = append(want, ParamGroup{Kind: "muon", Params: byShape[s], LR: 0.04, Momentum: 0.95, NSSteps: 5, Beta2: 0.95, WeightDecay: 0.2})
		}
		if len(opt.Groups) != len(want) {
			t.Fatalf("%d layers: %d groups, before %d", cfg.NLayer, len(opt.Groups), len(want))
		}
		for i, g := range opt.Groups {
			w := want[i]
			if g.Kind != w.Kind || !slices.Equal(g.Params, w.Params) || g.LR != w.LR || g.InitialLR != w.LR || g.Betas != w.Betas ||
				g.Eps != w.Eps || g.Momentum != w.Momentum || g.NSSteps != w.NSSteps || g.Beta2 != w.Beta2 || g.WeightDecay != w.WeightDecay {
				t.Errorf("%d layers, group %d (%s %s): %s %v lr %g betas %v eps %g momentum %g ns %d beta2 %g wd %g; before: %s %v lr %g betas %v eps %g momentum %g ns %d beta2 %g wd %g",
					cfg.NLayer, i, g.Kind, g.Role, g.Kind, names(g.Params), g.LR, g.Betas, g.Eps, g.Momentum, g.NSSteps, g.Beta2, g.WeightDecay,
					w.Kind, names(w.Params), w.LR, w.Betas, w.Eps, w.Momentum, w.NSSteps, w.Beta2, w.WeightDecay)
			}
		}
	}
}

func names(ps []*tensor.Tensor) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Name()
	}
	return out
}

// TestSetupOptimizerRefusesAStrayParameter checks the edits that went wrong
// silently or with a message about something else: a parameter that fits no
// role fails the setup with its name and what to add; a learnable gain given
// a name under the blocks (1-D, which Muon cannot take) fails with the shape
// and where it belongs; a new block matrix joins a Muon group by itself.
func TestSetupOptimizerRefusesAStrayParameter(t *testing.T) {
	setup := func(extra func(dev *tensor.Device)) (*GPT, *MuonAdamW, error) {
		dev := open64(t)
		m, err := NewGPT(dev, tinyConfig, tensor.NewRNG(1))
		if err != nil {
			t.Fatal(err)
		}
		extra(dev)
		opt, err := m.SetupOptimizer(0.004, 0.6, 0.04, 0.2, [2]float64{0.8, 0.95}, 0.5)
		return m, opt, err
	}
	_, _, err := setup(func(dev *tensor.Device) { dev.Parameter("final_gain", dev.Ones(tinyConfig.NEmbd)) })
	if err == nil || !strings.HasPrefix(err.Error(), `parameter final_gain [32] fits no optimizer group: add a role for it to SetupOptimizer's roles, e.g. adamw("final_gain", rate, adamBetas)`) {
		t.Errorf("SetupOptimizer with a stray parameter: %v", err)
	}
	_, _, err = setup(func(dev *tensor.Device) {
		dev.Parameter("transformer.h.0.attn_norm.weight", dev.Ones(tinyConfig.NEmbd))
	})
	if want := `parameter transformer.h.0.attn_norm.weight has shape [32]: Muon takes 2-D matrices; put it in an AdamW group such as the scalars': ` +
		`add adamw("attn_norm", scalarLR, adamBetas) to SetupOptimizer's roles, ahead of "transformer.h."`; err == nil || err.Error() != want {
		t.Errorf("SetupOptimizer with a norm gain under the blocks:\n%v\nwant\n%s", err, want)
	}

	var gate *tensor.Tensor
	m, opt, err := setup(func(dev *tensor.Device) {
		gate = dev.Parameter("transformer.h.0.mlp.c_gate.weight", dev.Zeros(4*tinyConfig.NEmbd, tinyConfig.NEmbd))
	})
	if err != nil {
		t.Fatal(err)
	}
	if g := groupOf(opt, gate); g == nil || g.Kind != "muon" {
		t.Errorf("a new block matrix is in group %+v, want a Muon group", g)
	}
	if _, err := NewMuonAdamW(m.dev, append(opt.Groups, &ParamGroup{Kind: "adamw", Params: []*tensor.Tensor{m.wte}})); err == nil ||
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
