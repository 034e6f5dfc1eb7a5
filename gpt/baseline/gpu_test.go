//go:build cuda || cudaemu

package main

import (
	"math"
	"math/rand/v2"
	"testing"

	"autoresearch/internal/tensor"
	"autoresearch/internal/tensor/cuda"
)

// gpuConfig is a small model of train.go's kind whose head dimension (16)
// the CUDA attention kernels take: grouped-query heads (4 on 2), four
// layers with the SSSL windows and value embeddings on alternating layers.
var gpuConfig = GPTConfig{SequenceLen: 48, VocabSize: 96, NLayer: 4, NHead: 4, NKVHead: 2, NEmbd: 64, WindowPattern: "SSSL"}

// TestTrainingStepOnTheGPU runs one training step of the baseline's own GPT
// and MuonAdamW on the CUDA device (the CPU emulator under -tags cudaemu) and
// on the CPU, from the same weights and batch, in f32 (TF32 and bf16
// activations off, so that the arithmetic is compared and not their
// rounding): the loss, every gradient and every updated weight agree.
func TestTrainingStepOnTheGPU(t *testing.T) {
	t.Setenv(cuda.EnvTF32, "0")
	t.Setenv(cuda.EnvBF16, "0")
	devs := map[string]*tensor.Device{}
	for _, name := range []string{"cuda", "cpu"} {
		d, err := tensor.Open(name)
		if err != nil {
			t.Fatalf("opening %s: %v", name, err)
		}
		devs[name] = d
	}
	// Every parameter random, on a CPU device of its own (a device lists
	// every parameter made on it), then copied: the projections the
	// original zeroes would otherwise leave parts of the step untested.
	cpu := devs["cpu"]
	refDev, err := tensor.Open("cpu")
	if err != nil {
		t.Fatal(err)
	}
	ref, err := NewGPT(refDev, gpuConfig, tensor.NewRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	rng := tensor.NewRNG(2)
	var weights [][]float32
	refDev.NoGrad(func() {
		for _, p := range refDev.Parameters() {
			mean, std := 0.0, 0.1
			switch p {
			case ref.residLambdas:
				mean = 1
			case ref.x0Lambdas:
				mean = 0.1
			}
			weights = append(weights, refDev.Normal(rng, mean, std, p.Shape()...).Float32s())
		}
	})
	const B = 2
	T := gpuConfig.SequenceLen
	r := rand.New(rand.NewPCG(3, 4))
	idx, tgt := randomTokens(r, B*T, gpuConfig.VocabSize), randomTokens(r, B*T, gpuConfig.VocabSize)

	type outcome struct {
		loss           float64
		grads, updated map[string][]float32
	}
	step := func(dev *tensor.Device) outcome {
		m, err := NewGPT(dev, gpuConfig, tensor.NewRNG(1))
		if err != nil {
			t.Fatal(err)
		}
		dev.NoGrad(func() {
			for i, p := range dev.Parameters() {
				p.CopyFrom(dev.FromFloat32s(weights[i], p.Shape()...))
			}
		})
		opt, err := m.SetupOptimizer(UNEMBEDDING_LR, EMBEDDING_LR, MATRIX_LR, WEIGHT_DECAY, [2]float64{ADAM_BETA1, ADAM_BETA2}, SCALAR_LR)
		if err != nil {
			t.Fatal(err)
		}
		o := outcome{grads: map[string][]float32{}, updated: map[string][]float32{}}
		s := dev.Scope()
		loss := m.Forward(dev.FromInt32s(idx, B, T), dev.FromInt32s(tgt, B, T), "mean")
		o.loss = loss.Item()
		loss.Backward()
		s.Close()
		for _, p := range dev.Parameters() {
			o.grads[p.Name()] = p.Grad.Float32s()
		}
		opt.Step()
		for _, p := range dev.Parameters() {
			o.updated[p.Name()] = p.Float32s()
		}
		return o
	}
	g, c := step(devs["cuda"]), step(cpu)
	t.Logf("loss: cuda %.6f, cpu %.6f", g.loss, c.loss)
	if e := math.Abs(g.loss-c.loss) / math.Abs(c.loss); !(e <= 1e-5) {
		t.Errorf("loss: cuda %.7f, cpu %.7f (relative %.1e)", g.loss, c.loss, e)
	}
	if len(c.grads) != len(refDev.Parameters()) || len(g.grads) != len(c.grads) {
		t.Fatalf("%d gradients on cuda, %d on cpu, %d parameters", len(g.grads), len(c.grads), len(refDev.Parameters()))
	}
	// A chain of f32 operations, each summing in another order.
	const tol = 1e-4
	for name := range c.grads {
		if e := relativeL2(g.grads[name], c.grads[name]); !(e <= tol) {
			t.Errorf("gradient of %s: relative difference %.2e", name, e)
		}
		if e := relativeL2(g.updated[name], c.updated[name]); !(e <= tol) {
			t.Errorf("%s after the step: relative difference %.2e", name, e)
		}
	}
}

// relativeL2 is ‖a − b‖₂ / ‖b‖₂ (‖a − b‖₂ when b is 0).
func relativeL2(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var num, den float64
	for i := range b {
		d := float64(a[i]) - float64(b[i])
		num += d * d
		den += float64(b[i]) * float64(b[i])
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}
