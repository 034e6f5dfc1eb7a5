//go:build cuda || cudaemu

package cuda

// The bf16 policy of the tensor layer (tensor.Device.ActivationDType) on the one backend that
// stores bf16: which dtype each op gives, that weights convert once per update, that a graph
// keeps the weights it multiplied by, and the cast op's gradient. Then the kernels a training
// step issues, counted.

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"autoresearch/internal/tensor"
)

func bf16Device(t *testing.T) (*tensor.Counter, *tensor.Device) {
	t.Helper()
	t.Cleanup(func() { gpu.SetBF16(os.Getenv(EnvBF16) != "0") })
	gpu.SetBF16(true)
	c := tensor.NewCounter(gpu)
	d := tensor.NewDevice(c)
	if d.ActivationDType() != tensor.BF16 {
		t.Fatalf("activation dtype %v through the counter, want bf16", d.ActivationDType())
	}
	return c, d
}

func TestAutocastDTypes(t *testing.T) {
	_, d := bf16Device(t)
	s := d.Scope()
	defer s.Close()
	rng := tensor.NewRNG(1)
	table := d.Parameter("table", d.Normal(rng, 0, 1, 10, 16))
	w := d.Parameter("w", d.Normal(rng, 0, 0.3, 12, 16))
	head := d.Parameter("head", d.Normal(rng, 0, 0.3, 10, 12))
	lambda := d.Parameter("lambda", d.Full(0.7, 1))
	ids := d.FromInt32s([]int32{1, 4, 9, 0, 3, 3}, 2, 3)

	e := tensor.Embedding(table, ids)
	n := tensor.RMSNorm(e, 1e-6)
	y := tensor.Linear(n, w)
	z := y.Mul(lambda).ReluSquare()
	logits := tensor.Linear(z, head).Softcap(5)
	losses := tensor.CrossEntropy(logits, ids)
	loss := losses.Sum()
	for _, c := range []struct {
		name string
		t    *tensor.Tensor
		want tensor.DType
	}{
		{"embedding rows of an f32 table", e, tensor.BF16}, {"rms_norm", n, tensor.BF16}, {"linear", y, tensor.BF16},
		{"bf16 times an f32 parameter", z, tensor.BF16}, {"softcapped logits", logits, tensor.BF16},
		{"cross-entropy losses", losses, tensor.F32}, {"sum", loss, tensor.F32},
		{"a parameter", w, tensor.F32},
	} {
		if c.t.DType() != c.want {
			t.Errorf("%s: %v, want %v", c.name, c.t.DType(), c.want)
		}
	}
	loss.Backward()
	for _, p := range []*tensor.Tensor{table, w, head, lambda} {
		if p.Grad == nil || p.Grad.DType() != tensor.F32 || !p.Grad.IsFinite() {
			t.Errorf("%s: gradient %v, want finite f32", p.Name(), p.Grad)
		}
	}
}

// A weight converts to bf16 once per update, however many products use it; an in-place update
// makes the next product convert again; a graph recorded before the update keeps multiplying
// by the weights it saw.
func TestWeightConversionsCached(t *testing.T) {
	c, d := bf16Device(t)
	s := d.Scope()
	defer s.Close()
	rng := tensor.NewRNG(2)
	w := d.Parameter("w", d.Normal(rng, 0, 1, 8, 16))
	x := d.Normal(rng, 0, 1, 4, 16).To(tensor.BF16).SetRequiresGrad()
	c.Reset()
	y1 := tensor.Linear(x, w)
	y2 := tensor.Linear(x, w)
	if got := c.Calls("convert"); got != 1 {
		t.Fatalf("two products by one weight converted it %d times, want 1", got)
	}
	before := w.Float32s()
	d.NoGrad(func() { w.Fill(0) })
	c.Reset()
	tensor.Linear(x, w)
	if got := c.Calls("convert"); got != 1 {
		t.Fatalf("after an update the weight converted %d times, want 1", got)
	}
	// dx of sum(y1 + y2) is 2 Σ_rows w, with w as it was when y1 and y2 were recorded.
	y1.Add(y2).Sum().Backward()
	want := make([]float64, 16)
	for r := range 8 {
		for j := range 16 {
			want[j] += 2 * float64(fromBF16(toBF16(before[r*16+j])))
		}
	}
	got := x.Grad.Float32s()
	for i := range got {
		if math.Abs(float64(got[i])-want[i%16]) > 2e-2*(1+math.Abs(want[i%16])) {
			t.Fatalf("dx[%d] = %v, want %v: the backward did not use the weights the forward used", i, got[i], want[i%16])
		}
	}
}

// The cast op's backward (the CPU's gradient checks cannot reach it: the CPU stores no bf16):
// y = Σ (x in bf16)², so dy/dx = 2x to bf16's precision, in x's dtype; casting a parameter
// in two graphs, and one tensor twice in one graph, is fine.
func TestCastGradient(t *testing.T) {
	_, d := bf16Device(t)
	s := d.Scope()
	defer s.Close()
	xv := []float32{0.5, -1.25, 3, 0.1, -2}
	x := d.Parameter("x", d.FromFloat32s(xv, 5))
	x.To(tensor.BF16).Square().Sum().Backward()
	u := x.MulScalar(1) // not persistent: its conversion is cached on it, shared by both casts
	u.To(tensor.BF16).Mul(u.To(tensor.BF16)).Sum().Backward()
	if x.Grad.DType() != tensor.F32 {
		t.Fatalf("gradient of an f32 parameter through a cast is %v", x.Grad.DType())
	}
	for i, g := range x.Grad.Float32s() {
		want := 2 * 2 * float64(fromBF16(toBF16(xv[i])))
		if math.Abs(float64(g)-want) > 1e-2*math.Abs(want) {
			t.Fatalf("d/dx[%d] after two backwards = %v, want %v", i, g, want)
		}
	}
}

// stepCounts runs one optimizer step of two micro-steps on d (counted by c) and returns the
// counter's report and kernel totals of each micro-step's forward and backward, and of the
// optimizer.
type stepCounts struct {
	micro     [2]int
	optimizer int
	converts  [2]int // conversions in each micro-step
	report    string
}

func countStep(t *testing.T, c *tensor.Counter, d *tensor.Device, cfg gptConfig) stepCounts {
	t.Helper()
	m := newGPT(d, 1, cfg)
	tr := newTrainer(d, m)
	r := rand.New(rand.NewPCG(5, 6))
	var sc stepCounts
	var rep bytes.Buffer
	d.ZeroGrad()
	for i := range 2 {
		idx, tg := randomBatch(d, r, cfg)
		c.Reset()
		s := d.Scope()
		m.loss(idx, tg).MulScalar(0.5).Backward()
		s.Close()
		sc.micro[i], _ = c.Total()
		sc.converts[i] = c.Calls("convert")
		fmt.Fprintf(&rep, "micro-step %d (forward and backward):\n", i+1)
		c.Report(&rep)
	}
	c.Reset()
	tr.optimize()
	sc.optimizer, _ = c.Total()
	fmt.Fprintf(&rep, "optimizer:\n")
	c.Report(&rep)
	sc.report = rep.String()
	return sc
}

// The kernels of one training step of a depth-8 model of the baseline's structure (small
// widths, so the emulator runs it) with bf16 activations, against the same step in f32 on the
// CPU backend: both counted per Backend call. Printed for the record; checked: weights convert
// in the first micro-step only, and a bf16 step needs at most the f32 step's kernels plus those
// conversions.
func TestKernelsPerStep(t *testing.T) {
	cfg := gptConfig{B: 1, T: 32, V: 64, L: 8, C: 32, H: 2, KVH: 2, VEGate: 8}
	c16, d16 := bf16Device(t)
	launches := gpu.Launches()
	bf := countStep(t, c16, d16, cfg)
	launches = gpu.Launches() - launches

	cpuDev, err := tensor.Open("cpu")
	if err != nil {
		t.Fatal(err)
	}
	c32 := tensor.NewCounter(cpuDev.Backend())
	f32 := countStep(t, c32, tensor.NewDevice(c32), cfg)

	t.Logf("bf16 device:\n%s", bf.report)
	t.Logf("f32 on the CPU:\n%s", f32.report)
	fmt.Printf("kernels per step, depth %d (2 micro-steps + optimizer): f32 %d + %d + %d; bf16 %d + %d + %d (%d launches on the device)\n",
		cfg.L, f32.micro[0], f32.micro[1], f32.optimizer, bf.micro[0], bf.micro[1], bf.optimizer, launches)
	if bf.converts[1] != 0 {
		t.Errorf("the second micro-step converted %d times: weight conversions should be cached for the whole step", bf.converts[1])
	}
	if bf.converts[0] == 0 {
		t.Errorf("the first micro-step converted nothing: its weights should go to bf16")
	}
	for i := range 2 {
		if extra := bf.micro[i] - f32.micro[i]; extra > bf.converts[i] {
			t.Errorf("micro-step %d: bf16 issues %d kernels, f32 %d: more extra kernels than its %d conversions",
				i+1, bf.micro[i], f32.micro[i], bf.converts[i])
		}
	}
	if strings.Contains(bf.report, "unary_backward softcap") {
		t.Error("the softcap's own backward ran: it should be folded into the cross-entropy's")
	}
}
