package tensor

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"
)

// mustPanic fails t unless f panics with a message containing want. The
// panic value may be a string, an error (a runtime error included) or
// anything else fmt can print.
func mustPanic(t *testing.T, want string, f func()) {
	t.Helper()
	if msg, ok := panicMessage(f); !ok {
		t.Fatalf("no panic; want one containing %q", want)
	} else if !strings.Contains(msg, want) {
		t.Fatalf("panic %q; want one containing %q", msg, want)
	}
}

// panicMessage runs f and returns the message of its panic, if it panics.
func panicMessage(f func()) (msg string, panicked bool) {
	defer func() {
		if r := recover(); r != nil {
			panicked = true
			switch v := r.(type) {
			case error:
				msg = v.Error()
			case string:
				msg = v
			default:
				msg = fmt.Sprint(v)
			}
		}
	}()
	f()
	return "", false
}

func TestPanicMessageReadsStringsAndErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		f    func()
		want string
	}{
		{func() { panic("tensor: shape mismatch") }, "tensor: shape mismatch"},
		{func() { panic(errors.New("tensor: out of memory")) }, "tensor: out of memory"},
		{func() { var xs []int; _ = xs[3] }, "index out of range [3] with length 0"},
		{func() { panic(42) }, "42"},
	} {
		if msg, ok := panicMessage(c.f); !ok || msg != c.want && !strings.Contains(msg, c.want) {
			t.Errorf("panicMessage = %q, %v; want %q", msg, ok, c.want)
		}
	}
	if _, ok := panicMessage(func() {}); ok {
		t.Error("a function that returns reads as a panic")
	}
}

// TestScopeFreesTemporaries: after a micro-step inside a scope only the
// parameters, their gradients and kept tensors remain allocated.
func TestScopeFreesTemporaries(t *testing.T) {
	d := openCPU(t)
	m := newTinyModel(d, 2)
	base, _ := d.Memory()
	s := d.Scope()
	idx, tg := tinyBatch(d, 2)
	loss := m.loss(idx, tg)
	loss.Backward()
	grads := int64(4 * CountParams(d.Parameters()))
	// Backward freed the activations on its way: what is left is the
	// gradients, the batch's ids and targets and the loss itself.
	if live, _ := d.Memory(); live != base+grads+int64(4*idx.Numel()+4*tg.Numel()+4) {
		t.Fatalf("after Backward %d bytes in use, want %d: activations outlived the backward", live, base+grads+int64(4*idx.Numel()+4*tg.Numel()+4))
	}
	s.Close()
	after, peak := d.Memory()
	if after != base+grads {
		t.Fatalf("after the scope %d bytes in use, want %d (parameters and constants) + %d (gradients)", after, base, grads)
	}
	if peak <= after {
		t.Fatalf("peak %d not above the steady %d: activations were never counted", peak, after)
	}
	mustPanic(t, "was freed", func() { loss.Item() })

	// A second micro-step leaves memory where it was: gradients accumulate in place.
	s = d.Scope()
	idx, tg = tinyBatch(d, 3)
	m.loss(idx, tg).Backward()
	s.Close()
	if again, _ := d.Memory(); again != after {
		t.Fatalf("second micro-step: %d bytes in use, want %d", again, after)
	}
	d.ZeroGrad()
	if z, _ := d.Memory(); z != base {
		t.Fatalf("after ZeroGrad %d bytes in use, want %d", z, base)
	}
}

func TestScopeCloseKeepsReturnedValues(t *testing.T) {
	d := openCPU(t)
	outer := d.Scope()
	var kept, dropped *Tensor
	inner := d.Scope()
	kept = d.Full(2, 3)
	dropped = d.Full(1, 3)
	inner.Close(kept)
	if got := kept.Float32s(); got[0] != 2 {
		t.Fatalf("kept tensor reads %v", got)
	}
	mustPanic(t, "was freed", func() { dropped.Float32s() })
	outer.Close()
	mustPanic(t, "was freed", func() { kept.Float32s() })
	if n, _ := d.Memory(); n != 0 {
		t.Fatalf("%d bytes still in use after every scope closed", n)
	}
	v := d.Do(func() *Tensor { return d.Ones(2).Add(d.Ones(2)) })
	if v.Float32s()[1] != 2 {
		t.Fatal("Do lost its result")
	}
}

// TestGradientsAccumulate: two backward passes without ZeroGrad give twice
// the gradient of one, like PyTorch.
func TestGradientsAccumulate(t *testing.T) {
	d := openCPU(t)
	w := d.Parameter("w", d.FromFloat32s([]float32{1, 2, 3}, 3))
	x := d.FromFloat32s([]float32{4, 5, 6}, 3)
	w.Mul(x).Sum().Backward()
	once := w.Grad.Float32s()
	w.Mul(x).Sum().Backward()
	twice := w.Grad.Float32s()
	for i := range once {
		if once[i] != []float32{4, 5, 6}[i] || twice[i] != 2*once[i] {
			t.Fatalf("gradients %v then %v, want x then 2x", once, twice)
		}
	}
}

func TestNoGradRecordsNothing(t *testing.T) {
	d := openCPU(t)
	w := d.Parameter("w", d.Ones(3))
	var y *Tensor
	d.NoGrad(func() { y = w.MulScalar(2).Sum() })
	if y.RequiresGrad() {
		t.Fatal("an op under NoGrad requires grad")
	}
	mustPanic(t, "does not require a gradient", func() { y.Backward() })
	mustPanic(t, "run it under NoGrad", func() { w.Fill(0) })
}

func TestBackwardFreesIntermediatesUnlessRetained(t *testing.T) {
	d := openCPU(t)
	w := d.Parameter("w", d.Ones(3))
	h := w.MulScalar(3)
	kept := w.Square().Retain()
	loss := h.Add(kept).Sum()
	loss.Backward()
	mustPanic(t, "call Retain before Backward", func() { h.Float32s() })
	if got := kept.Float32s(); got[0] != 1 {
		t.Fatalf("retained tensor reads %v", got)
	}
	if loss.Item() != 12 {
		t.Fatalf("loss %v after Backward, want 12", loss.Item())
	}
}

func TestBackwardTwicePanics(t *testing.T) {
	d := openCPU(t)
	w := d.Parameter("w", d.Ones(3))
	loss := w.Square().Sum()
	loss.Backward()
	mustPanic(t, "already used", func() { loss.Backward() })
}

func TestErrorsNameTheOp(t *testing.T) {
	d := openCPU(t)
	a, b := d.Ones(2, 3), d.Ones(4, 5)
	mustPanic(t, "matmul: inner dimensions differ", func() { MatMul(a, b) })
	mustPanic(t, "add: shapes [2 3] and [4 5] do not broadcast", func() { a.Add(b) })
	mustPanic(t, "embedding: id 9 out of range", func() { Embedding(a, d.FromInt32s([]int32{9}, 1)) })
	mustPanic(t, "attention: want q", func() { Attention(a, a, a, -1) })
	mustPanic(t, "bf16 is not supported on the CPU", func() { d.newTensor(BF16, []int{2}) })
	mustPanic(t, "Backward: root", func() { a.Backward() })
}

// TestSoftcapFastPathAccuracy: the float32 exp/tanh stay close to package math.
func TestFastTranscendentals(t *testing.T) {
	for x := float32(-80); x < 80; x += 0.37 {
		want := math.Exp(float64(x))
		if got := float64(exp32(x)); math.Abs(got-want) > 3e-7*want {
			t.Fatalf("exp32(%v) = %v, want %v", x, got, want)
		}
		th := make([]float32, 1)
		tanhSlice(th, []float32{x / 20}, 1)
		if w := math.Tanh(float64(x / 20)); math.Abs(float64(th[0])-w) > 2e-7 {
			t.Fatalf("tanh(%v) = %v, want %v", x/20, th[0], w)
		}
	}
}

// TestExpSlice covers the vector exp (AVX-512 where present): accuracy
// over the range, tails shorter than a vector, and NaN, ±Inf passing through
// as e^x does, so a NaN loss is never hidden.
func TestExpSlice(t *testing.T) {
	var src []float32
	for x := float32(-100); x < 100; x += 0.173 {
		src = append(src, x)
	}
	src = append(src, float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0)
	for _, n := range []int{len(src), 15, 17, 3} {
		s := src[len(src)-n:]
		d := make([]float32, n)
		expSlice(d, s)
		for i, x := range s {
			want := math.Exp(float64(x))
			got := float64(d[i])
			switch {
			case math.IsNaN(want):
				if !math.IsNaN(got) {
					t.Fatalf("exp(NaN) = %v", got)
				}
			case want > math.MaxFloat32:
				if !math.IsInf(got, 1) {
					t.Fatalf("exp(%v) = %v, want +Inf", x, got)
				}
			case want < 1e-37:
				if got > 1e-37 {
					t.Fatalf("exp(%v) = %v, want about 0", x, got)
				}
			case math.Abs(got-want) > 3e-7*want:
				t.Fatalf("exp(%v) = %v, want %v", x, got, want)
			}
		}
	}
}

func TestTanhSlice(t *testing.T) {
	var src []float32
	for x := float32(-60); x < 60; x += 0.0731 {
		src = append(src, x)
	}
	src = append(src, float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0, 1e-6, -1e-6)
	for _, c := range []float32{1, 15} {
		for _, n := range []int{len(src), 17, 6} {
			s := src[len(src)-n:]
			d := make([]float32, n)
			tanhSlice(d, s, c)
			for i, x := range s {
				want := float64(c) * math.Tanh(float64(x)/float64(c))
				if math.IsNaN(want) != math.IsNaN(float64(d[i])) || math.Abs(float64(d[i])-want) > 3e-7*float64(c) {
					t.Fatalf("%v*tanh(%v/%v) = %v, want %v", c, x, c, d[i], want)
				}
			}
		}
	}
}

func TestPeakFLOPSIsMeasured(t *testing.T) {
	p := openCPU(t).PeakFLOPS()
	// Any CPU this runs on does more than 100 MFLOP/s and less than
	// 100 TFLOP/s per core.
	if p < 1e8 || p > 1e14*float64(runtime.GOMAXPROCS(0)) {
		t.Fatalf("PeakFLOPS = %g", p)
	}
}
