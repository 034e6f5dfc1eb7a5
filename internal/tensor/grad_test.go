package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sort"
	"testing"
)

// Gradient checks: every op's backward rule against central finite
// differences, in float64 on the cpu64 backend, on random inputs.

func open64(t testing.TB) *Device {
	t.Helper()
	d, err := Open("cpu64")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// input describes one float input of a case: its shape and how to draw it.
type input struct {
	shape []int
	draw  func(r *rand.Rand) float64
}

func normal(shape ...int) input {
	return input{shape, func(r *rand.Rand) float64 { return r.NormFloat64() }}
}

// positive draws from [0.5, 2): the domain of log, sqrt, recip, pow.
func positive(shape ...int) input {
	return input{shape, func(r *rand.Rand) float64 { return 0.5 + 1.5*r.Float64() }}
}

// awayFromZero draws normals with |x| >= 0.1 so no kink (relu, abs, clamp
// at 0) lies within a finite-difference step.
func awayFromZero(shape ...int) input {
	return input{shape, func(r *rand.Rand) float64 {
		x := r.NormFloat64()
		if math.Abs(x) < 0.1 {
			x = math.Copysign(0.1+math.Abs(x), x)
		}
		return x
	}}
}

type gradCase struct {
	name   string
	op     string // the vjps entry this case covers
	inputs []input
	// f builds the op from the inputs; d gives access to constants.
	f func(d *Device, x []*Tensor) *Tensor
}

var (
	ids   = []int32{3, 1, 4, 1, 5, 0}
	tgts  = []int32{2, -1, 4, 0, 4, 1}
	ropeT = 5
)

func gradCases() []gradCase {
	var cs []gradCase
	u := func(op string, in input, f func(x *Tensor) *Tensor) {
		cs = append(cs, gradCase{name: op, op: op, inputs: []input{in}, f: func(d *Device, x []*Tensor) *Tensor { return f(x[0]) }})
	}
	u("affine", normal(3, 4), func(x *Tensor) *Tensor { return x.Affine(-1.5, 0.3) })
	u("exp", normal(3, 4), (*Tensor).Exp)
	u("log", positive(3, 4), (*Tensor).Log)
	u("sqrt", positive(3, 4), (*Tensor).Sqrt)
	u("rsqrt", positive(3, 4), (*Tensor).Rsqrt)
	u("recip", positive(3, 4), (*Tensor).Recip)
	u("square", normal(3, 4), (*Tensor).Square)
	u("abs", awayFromZero(3, 4), (*Tensor).Abs)
	u("relu", awayFromZero(3, 4), (*Tensor).Relu)
	u("relu_square", awayFromZero(3, 4), (*Tensor).ReluSquare)
	u("sigmoid", normal(3, 4), (*Tensor).Sigmoid)
	u("tanh", normal(3, 4), (*Tensor).Tanh)
	u("softcap", input{[]int{3, 4}, func(r *rand.Rand) float64 { return 10 * r.NormFloat64() }}, func(x *Tensor) *Tensor { return x.Softcap(15) })
	u("clamp_min", awayFromZero(3, 4), func(x *Tensor) *Tensor { return x.ClampMin(0) })
	u("clamp_max", awayFromZero(3, 4), func(x *Tensor) *Tensor { return x.ClampMax(0) })
	u("pow_scalar", positive(3, 4), func(x *Tensor) *Tensor { return x.Pow(1.7) })

	b := func(op string, name string, x, y input, f func(x, y *Tensor) *Tensor) {
		cs = append(cs, gradCase{name: op + "/" + name, op: op, inputs: []input{x, y}, f: func(d *Device, t []*Tensor) *Tensor { return f(t[0], t[1]) }})
	}
	for _, sh := range [][2][]int{{{2, 3, 4}, {2, 3, 4}}, {{2, 3, 4}, {3, 1}}, {{1, 4}, {2, 3, 1}}} {
		name := fmt.Sprintf("%v,%v", sh[0], sh[1])
		b("add", name, normal(sh[0]...), normal(sh[1]...), (*Tensor).Add)
		b("sub", name, normal(sh[0]...), normal(sh[1]...), (*Tensor).Sub)
		b("mul", name, normal(sh[0]...), normal(sh[1]...), (*Tensor).Mul)
		b("div", name, normal(sh[0]...), positive(sh[1]...), (*Tensor).Div)
	}
	b("add", "same tensor twice", normal(3, 4), normal(1), func(x, y *Tensor) *Tensor { return x.Add(x).Mul(y) })

	one := func(op, name string, in input, f func(x *Tensor) *Tensor) {
		cs = append(cs, gradCase{name: op + "/" + name, op: op, inputs: []input{in}, f: func(d *Device, x []*Tensor) *Tensor { return f(x[0]) }})
	}
	one("reshape", "", normal(2, 3, 4), func(x *Tensor) *Tensor { return x.Reshape(4, -1).Square() })
	one("clone", "", normal(2, 3), func(x *Tensor) *Tensor { return x.Clone().Mul(x) })
	one("permute", "", normal(2, 3, 4), func(x *Tensor) *Tensor { return x.Permute(2, 0, 1) })
	one("permute", "transpose", normal(3, 5), func(x *Tensor) *Tensor { return x.Transpose(0, 1) })
	one("expand", "", normal(3, 1), func(x *Tensor) *Tensor { return x.Expand(2, 3, 4) })
	one("slice", "", normal(3, 6), func(x *Tensor) *Tensor { return x.Slice(1, 2, 5) })
	one("sum", "axes 0,2", normal(2, 3, 4), func(x *Tensor) *Tensor { return x.Sum(0, 2) })
	one("sum", "all", normal(2, 3, 4), func(x *Tensor) *Tensor { return x.Sum() })
	one("sum", "last", normal(2, 3, 4), func(x *Tensor) *Tensor { return x.Sum(-1) })
	one("mean", "axes 1,2", normal(2, 3, 4), func(x *Tensor) *Tensor { return x.Mean(1, 2) })
	one("mean", "axes 0,2", normal(2, 3, 4), func(x *Tensor) *Tensor { return x.Mean(0, 2) })
	one("sum_squares", "", normal(2, 3, 4), func(x *Tensor) *Tensor { return x.SumSquares(-2, -1) })
	one("sum_squares", "axes 0,2", normal(2, 3, 4), func(x *Tensor) *Tensor { return x.SumSquares(0, 2) })
	one("sum_squares", "norm", normal(2, 3, 4), func(x *Tensor) *Tensor { return x.Norm(1) })
	one("max", "", normal(2, 3, 4), func(x *Tensor) *Tensor { return x.Max(1) })
	one("max", "all", normal(2, 3, 4), func(x *Tensor) *Tensor { return x.Max() })
	one("rms_norm", "", normal(2, 3, 8), func(x *Tensor) *Tensor { return RMSNorm(x, 1e-6) })

	two := func(op, name string, x, y input, f func(d *Device, x, y *Tensor) *Tensor) {
		cs = append(cs, gradCase{name: op + "/" + name, op: op, inputs: []input{x, y}, f: func(d *Device, t []*Tensor) *Tensor { return f(d, t[0], t[1]) }})
	}
	two("concat", "", normal(2, 3), normal(2, 2), func(d *Device, x, y *Tensor) *Tensor { return Concat(1, x, y, x) })
	two("concat", "stack", normal(2, 3), normal(2, 3), func(d *Device, x, y *Tensor) *Tensor { return Stack(0, x, y) })
	mm := func(name string, a, b []int, ta, tb bool) {
		two("matmul", name, normal(a...), normal(b...), func(d *Device, x, y *Tensor) *Tensor { return matMul(x, y, ta, tb) })
	}
	mm("2d", []int{3, 4}, []int{4, 5}, false, false)
	mm("2d ta", []int{4, 3}, []int{4, 5}, true, false)
	mm("2d tb", []int{3, 4}, []int{5, 4}, false, true)
	mm("2d ta tb", []int{4, 3}, []int{5, 4}, true, true)
	mm("batched", []int{2, 3, 4}, []int{2, 4, 5}, false, false)
	mm("batched ta tb", []int{2, 4, 3}, []int{2, 5, 4}, true, true)
	mm("linear folded", []int{2, 3, 4}, []int{5, 4}, false, true)
	mm("shared b, ta", []int{2, 4, 3}, []int{4, 5}, true, false)
	mm("shared a", []int{3, 4}, []int{2, 4, 5}, false, false)
	cs = append(cs, gradCase{name: "where", op: "where", inputs: []input{normal(3, 4), normal(4)},
		f: func(d *Device, t []*Tensor) *Tensor {
			cond := d.FromFloat32s([]float32{1, 0, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1}, 3, 4)
			return Where(cond, t[0], t[1])
		}})
	cs = append(cs, gradCase{name: "embedding", op: "embedding", inputs: []input{normal(6, 3)},
		f: func(d *Device, t []*Tensor) *Tensor { return Embedding(t[0], d.FromInt32s(ids, 2, 3)) }})
	cs = append(cs, gradCase{name: "rotary", op: "rotary", inputs: []input{normal(2, ropeT, 2, 6)},
		f: func(d *Device, t []*Tensor) *Tensor {
			cos, sin := ropeTables(d, ropeT+2, 6)
			return Rotary(t[0], cos, sin)
		}})
	cs = append(cs, gradCase{name: "rotary_rms_norm", op: "rotary_rms_norm", inputs: []input{normal(2, ropeT, 2, 6)},
		f: func(d *Device, t []*Tensor) *Tensor {
			cos, sin := ropeTables(d, ropeT+2, 6)
			return RMSNorm(Rotary(t[0], cos, sin), 1e-6)
		}})
	cs = append(cs, gradCase{name: "rotary_rms_norm/rotated used twice", op: "rotary_rms_norm", inputs: []input{normal(2, ropeT, 2, 6)},
		f: func(d *Device, t []*Tensor) *Tensor {
			cos, sin := ropeTables(d, ropeT+2, 6)
			y := Rotary(t[0], cos, sin)
			return RMSNorm(y, 1e-6).Mul(y)
		}})
	for _, w := range []int{-1, 2, 0} {
		cs = append(cs, gradCase{name: fmt.Sprintf("attention/window %d", w), op: "attention",
			inputs: []input{normal(2, 5, 4, 3), normal(2, 5, 2, 3), normal(2, 5, 2, 3)},
			f:      func(d *Device, t []*Tensor) *Tensor { return Attention(t[0], t[1], t[2], w) }})
	}
	cs = append(cs, gradCase{name: "cross_entropy", op: "cross_entropy", inputs: []input{normal(2, 3, 5)},
		f: func(d *Device, t []*Tensor) *Tensor { return CrossEntropy(t[0], d.FromInt32s(tgts, 2, 3)) }})
	cs = append(cs, gradCase{name: "cross_entropy/mean", op: "cross_entropy", inputs: []input{normal(6, 5)},
		f: func(d *Device, t []*Tensor) *Tensor { return CrossEntropyMean(t[0], d.FromInt32s(tgts, 6)) }})
	// The fused softcap: the node reaches back to the raw logits.
	cs = append(cs, gradCase{name: "cross_entropy/softcapped", op: "cross_entropy",
		inputs: []input{{[]int{6, 5}, func(r *rand.Rand) float64 { return 4 * r.NormFloat64() }}},
		f:      func(d *Device, t []*Tensor) *Tensor { return CrossEntropy(t[0].Softcap(3), d.FromInt32s(tgts, 6)) }})
	// ... and the softcapped logits used a second time still get their share.
	cs = append(cs, gradCase{name: "cross_entropy/softcapped twice", op: "cross_entropy",
		inputs: []input{{[]int{6, 5}, func(r *rand.Rand) float64 { return 4 * r.NormFloat64() }}},
		f: func(d *Device, t []*Tensor) *Tensor {
			y := t[0].Softcap(3)
			return CrossEntropy(y, d.FromInt32s(tgts, 6)).Reshape(6, 1).Mul(y)
		}})
	// Products adding into an input's gradient so far (node.accum): one
	// activation feeding three products, one weight used twice, a batched
	// product whose shared operand needs a sum (no adding in place).
	two("matmul", "accumulated", normal(2, 3, 4), normal(5, 4), func(d *Device, x, w *Tensor) *Tensor {
		h := x.Tanh()
		return Concat(2, Linear(h, w), Linear(h, w.Square()), Linear(h.Mul(h), w))
	})
	two("matmul", "accumulated shared", normal(2, 4, 3), normal(4, 5), func(d *Device, x, w *Tensor) *Tensor {
		return MatMulTN(x, w).Add(MatMulTN(x, w).Square())
	})
	return append(cs, layerGradCases()...)
}

// needBF16 lists the ops whose backward rules only a backend that stores
// BF16 exercises (the CPU refuses it): the CUDA parity tests check them on
// the emulator.
var needBF16 = map[string]bool{"cast": true}

// ropeTables builds the original's rotary tables: angle t/10000^(2j/D).
func ropeTables(d *Device, t, dim int) (cos, sin *Tensor) {
	half := dim / 2
	c, s := make([]float32, t*half), make([]float32, t*half)
	for p := range t {
		for j := range half {
			ang := float64(p) / math.Pow(10000, float64(2*j)/float64(dim))
			c[p*half+j], s[p*half+j] = float32(math.Cos(ang)), float32(math.Sin(ang))
		}
	}
	return d.FromFloat32s(c, t, half), d.FromFloat32s(s, t, half)
}

func from64(d *Device, data []float64, shape ...int) *Tensor {
	t := d.Empty(shape...)
	d.be.(float64IO).Write64(t.buf(), 0, data)
	return t
}

// TestGradients checks every case, and that every op with a backward rule
// has a case: a new op without a check fails here.
func TestGradients(t *testing.T) {
	covered := map[string]bool{}
	for _, c := range gradCases() {
		covered[c.op] = true
		t.Run(c.name, func(t *testing.T) { checkGradient(t, c) })
	}
	var missing []string
	for op := range vjps {
		if !covered[op] && !needBF16[op] {
			missing = append(missing, op)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("ops with a backward rule but no gradient check: %v", missing)
	}
}

// reporter is the part of testing.T the checker uses, so a test can run
// the checker against a recorder.
type reporter interface {
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
}

type recorder struct{ failed bool }

func (r *recorder) Errorf(string, ...any) { r.failed = true }
func (r *recorder) Fatalf(string, ...any) { r.failed = true; runtime.Goexit() }
func (r *recorder) Logf(string, ...any)   {}

func checkGradient(t reporter, c gradCase) {
	d, err := Open("cpu64")
	if err != nil {
		t.Fatalf("%v", err)
	}
	r := rand.New(rand.NewPCG(7, uint64(len(c.name))))
	vals := make([][]float64, len(c.inputs))
	xs := make([]*Tensor, len(c.inputs))
	for i, in := range c.inputs {
		vals[i] = make([]float64, numel(in.shape))
		for j := range vals[i] {
			vals[i][j] = in.draw(r)
		}
		xs[i] = from64(d, vals[i], in.shape...).SetRequiresGrad()
	}
	// loss = Σ out * w with fixed random weights w, so every output element
	// carries a distinct adjoint.
	out := c.f(d, xs)
	w := make([]float64, out.Numel())
	for j := range w {
		w[j] = r.NormFloat64()
	}
	wt := from64(d, w, out.shape...)
	loss := out.Mul(wt).Sum()
	loss.Backward()
	lossAt := func() float64 {
		s := d.Scope()
		defer s.Close()
		var v float64
		d.NoGrad(func() { v = c.f(d, xs).Mul(wt).Sum().Item() })
		return v
	}
	const h = 1e-6
	for i, x := range xs {
		if x.Grad == nil {
			t.Fatalf("input %d got no gradient", i)
		}
		got := x.Grad.Float64s()
		io := d.be.(float64IO)
		worst := 0.0
		for j := range vals[i] {
			orig := vals[i][j]
			io.Write64(x.buf(), j, []float64{orig + h})
			fp := lossAt()
			io.Write64(x.buf(), j, []float64{orig - h})
			fm := lossAt()
			io.Write64(x.buf(), j, []float64{orig})
			num := (fp - fm) / (2 * h)
			err := math.Abs(got[j]-num) / math.Max(1, math.Abs(num))
			worst = math.Max(worst, err)
			if err > 1e-6 {
				t.Errorf("input %d %v element %d: backward %.9g, finite difference %.9g", i, x.shape, j, got[j], num)
			}
		}
		t.Logf("input %d %v: worst relative error %.2e", i, x.shape, worst)
	}
}

// TestGradientCheckCatchesWrongRule makes sure the checker itself fails
// when a rule is wrong: a deliberately broken square rule must be caught.
func TestGradientCheckCatchesWrongRule(t *testing.T) {
	orig := vjps["square"]
	defer func() { vjps["square"] = orig }()
	vjps["square"] = func(n *node, out, g *Tensor) []*Tensor { return []*Tensor{g.Mul(n.inputs[0])} } // missing the 2
	ft := &recorder{}
	c := gradCases()
	i := slices.IndexFunc(c, func(c gradCase) bool { return c.op == "square" })
	done := make(chan bool)
	go func() {
		defer close(done)
		checkGradient(ft, c[i])
	}()
	<-done
	if !ft.failed {
		t.Fatal("a wrong square gradient passed the check")
	}
}
