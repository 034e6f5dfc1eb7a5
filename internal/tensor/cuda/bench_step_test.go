//go:build cuda || cudaemu

package cuda

// BenchmarkDepth8Step (make gpu-bench) times whole training steps of the depth-8 baseline in the
// configurations this backend has been through, so each change's gain is measured on the same
// card in one run: f32 activations with TF32 GEMMs and the tiled attention (the first CUDA
// backend's path), bf16 activations with the tiled attention, and bf16 with flash attention.
// For each: tokens/s and MFU over a few steps, then one step profiled on the GPU (per-phase
// kernel time: GEMMs, attention, elementwise, optimizer; idle time between kernels; kernels and
// host time per step). The table comes last.

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"autoresearch/internal/tensor"
)

// EnvBenchSteps sets the timed steps per configuration of BenchmarkDepth8Step (default 3).
// EnvBenchTrainer passes the real trainer's figures to print in the table
// (scripts/gpu-bench.sh measures gpt/train.go first).
const (
	EnvBenchSteps   = "AUTORESEARCH_CUDA_BENCH_STEPS"
	EnvBenchTrainer = "AUTORESEARCH_CUDA_BENCH_TRAINER"
)

type benchConfig struct {
	name        string
	bf16, flash bool
	batch       int
}

type benchResult struct {
	cfg       benchConfig
	tps, mfu  float64
	stepMs    float64
	profile   Profile
	kernels   int64   // launches in the profiled step
	hostMs    float64 // host time in backend calls a step, timed steps (no profiler)
	peakMB    float64
	err       error
	microStep int
}

// benchStep builds the model of cfg on a fresh device, trains warm-up and timed steps of
// 2^19 tokens (fewer for small models: totalTokens) and profiles one more.
func benchStep(c benchConfig, model gptConfig, totalTokens, steps int, log io.Writer) (res benchResult) {
	res.cfg = c
	defer func() {
		if r := recover(); r != nil { // out of memory, mostly: the next configuration still runs
			res.err = fmt.Errorf("%v", r)
		}
		gpu.Trim()
	}()
	gpu.SetBF16(c.bf16)
	gpu.SetFlash(c.flash)
	gpu.SetTF32(true)
	counter := tensor.NewCounter(gpu)
	d := tensor.NewDevice(counter)
	scope := d.Scope()
	m := newGPT(d, 1, model)
	tr := newTrainer(d, m)
	defer func() {
		scope.Close()
		for _, p := range d.Parameters() {
			p.Free()
		}
	}()
	accum := max(1, totalTokens/(model.B*model.T))
	res.microStep = accum
	r := rand.New(rand.NewPCG(1, 2))
	batches := make([][2]*tensor.Tensor, accum)
	for i := range batches {
		x, y := randomBatch(d, r, model)
		batches[i] = [2]*tensor.Tensor{x, y}
	}
	tokens := float64(accum * model.B * model.T)
	fpt := m.flopsPerToken(d)
	_, peak0 := gpu.Memory()

	loss := tr.stepOn(m, batches) // warm-up: the pool, cuBLAS, the conversions
	counter.Reset()
	start := time.Now()
	for range steps {
		loss = tr.stepOn(m, batches)
	}
	if err := gpu.Sync(); err != nil {
		panic(err)
	}
	el := time.Since(start).Seconds()
	if math.IsNaN(loss) {
		panic(fmt.Sprintf("loss is NaN (%s)", c.name))
	}
	res.stepMs = 1e3 * el / float64(steps)
	_, host := counter.Total()
	res.hostMs = host.Seconds() * 1e3 / float64(steps)
	res.tps = tokens * float64(steps) / el
	if p := gpu.PeakFLOPS(); p > 0 {
		res.mfu = 100 * res.tps * fpt / p
	}

	launches := gpu.Launches()
	gpu.StartProfile()
	tr.onPhase = gpu.SetPhase
	tr.stepOn(m, batches)
	tr.onPhase = nil
	prof, err := gpu.StopProfile()
	if err != nil {
		panic(err)
	}
	res.profile = prof
	res.kernels = gpu.Launches() - launches
	_, peak := gpu.Memory()
	res.peakMB = float64(max(peak, peak0)) / (1 << 20)
	fmt.Fprintf(log, "\n== %s: device batch %d x %d micro-steps, loss %.4f, %.0f tokens/s, %.1f ms a step\n",
		c.name, model.B, accum, loss, res.tps, res.stepMs)
	prof.Write(log, 12)
	return res
}

// writeBenchTable prints the results, one line per configuration, then the references.
func writeBenchTable(w io.Writer, results []benchResult, trainer string) {
	fmt.Fprintf(w, "\n%-36s %10s %6s %8s %8s %8s %8s %8s %7s %8s %8s %9s\n", "depth-8 step ("+gpu.Describe()+")",
		"tokens/s", "MFU%", "step ms", "gemm", "attn", "elemwise", "optim", "idle", "kernels", "host ms", "peak MiB")
	for _, r := range results {
		if r.err != nil {
			fmt.Fprintf(w, "%-36s failed: %v\n", r.cfg.name, r.err)
			continue
		}
		p := r.profile.Phases
		fmt.Fprintf(w, "%-36s %10.0f %6.1f %8.1f %8.1f %8.1f %8.1f %8.1f %7.1f %8d %8.1f %9.0f\n", r.cfg.name, r.tps, r.mfu, r.stepMs,
			p[PhaseGEMM], p[PhaseAttention], p[PhaseElementwise], p[PhaseOptimizer], r.profile.Idle, r.kernels, r.hostMs, r.peakMB)
	}
	if trainer != "" {
		fmt.Fprintf(w, "%-36s %s\n", "gpt/train.go (the real trainer)", trainer)
	}
	fmt.Fprintf(w, "%-36s %10s %6s   (FACTS.md: 1,670,000 at 39.8 %% on an H100)\n", "reference train.py, H200", "1640000", "46.0")
	fmt.Fprintln(w, "phase columns: GPU milliseconds of one profiled step (events around every kernel; idle = between kernels);")
	fmt.Fprintln(w, "host ms: time the host spends in backend calls a step (launches; the GPU runs behind it)")
}

// BenchmarkDepth8Step measures each configuration once, whatever -benchtime says: each
// configuration times its own steps and profiles one, and reports tokens/s and MFU.
func BenchmarkDepth8Step(b *testing.B) {
	steps := 3
	if v, err := strconv.Atoi(os.Getenv(EnvBenchSteps)); err == nil && v > 0 {
		steps = v
	}
	batch := baselineBatch()
	configs := []benchConfig{
		{name: "bf16 activations, flash attention", bf16: true, flash: true, batch: batch},
		{name: "bf16 activations, tiled attention", bf16: true, flash: false, batch: batch},
		{name: "f32+TF32, tiled attention (before)", bf16: false, flash: false, batch: max(1, batch/2)},
	}
	defer gpu.SetBF16(os.Getenv(EnvBF16) != "0")
	defer gpu.SetFlash(true)
	var results []benchResult
	for _, c := range configs {
		r := benchStep(c, depth8(c.batch), 1<<19, steps, os.Stdout)
		results = append(results, r)
		b.Run(strings.NewReplacer(" ", "_", ",", "").Replace(c.name), func(b *testing.B) {
			for b.Loop() {
			}
			b.ReportMetric(r.tps, "tokens/s")
			b.ReportMetric(r.mfu, "mfu_%")
			b.ReportMetric(r.stepMs, "ms/step")
		})
	}
	writeBenchTable(os.Stdout, results, os.Getenv(EnvBenchTrainer))
	for _, r := range results {
		if r.err != nil {
			b.Errorf("%s: %v", r.cfg.name, r.err)
		}
	}
}

// The bench's machinery on a small model (the emulator runs it): every configuration trains,
// the profile attributes kernel time to each phase, and the table names them all.
func TestBenchMachinery(t *testing.T) {
	model := gptConfig{B: 1, T: 64, V: 32, L: 1, C: 64, H: 1, KVH: 1, VEGate: 8} // head dim 64: flash
	defer gpu.SetBF16(os.Getenv(EnvBF16) != "0")
	defer gpu.SetFlash(true)
	var log strings.Builder
	var results []benchResult
	for _, c := range []benchConfig{{name: "bf16 flash", bf16: true, flash: true}} {
		r := benchStep(c, model, 128, 1, &log)
		if r.err != nil {
			t.Fatalf("%s: %v", c.name, r.err)
		}
		for _, ph := range []string{PhaseGEMM, PhaseAttention, PhaseElementwise, PhaseOptimizer} {
			if !(r.profile.Phases[ph] > 0) {
				t.Errorf("%s: no time in phase %s: %v", c.name, ph, r.profile.Phases)
			}
		}
		if r.kernels != int64(r.profile.Launch) || r.kernels < 100 || !(r.tps > 0) || r.microStep != 2 {
			t.Errorf("%s: %d kernels, %d profiled, %.0f tokens/s, %d micro-steps", c.name, r.kernels, r.profile.Launch, r.tps, r.microStep)
		}
		results = append(results, r)
	}
	var kinds strings.Builder
	for _, k := range results[0].profile.Kernels {
		kinds.WriteString(k.Kernel + " ")
	}
	if !strings.Contains(kinds.String(), "flash_forward_d64") || !strings.Contains(kinds.String(), "flash_backward_dkdv_d64") {
		t.Errorf("the bf16 step ran no flash kernels: %s", kinds.String())
	}
	var table strings.Builder
	writeBenchTable(&table, results, "")
	for _, want := range []string{"bf16 flash", "tokens/s", "reference train.py"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("the table lacks %q:\n%s", want, table.String())
		}
	}
	t.Logf("%s%s", log.String(), table.String())
}
