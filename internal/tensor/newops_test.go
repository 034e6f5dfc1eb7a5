package tensor

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// Checks of Clone, LerpInto and FullInt32, and of the id counts that let
// padded targets be built on the device.

func TestCloneCopiesAndPassesTheGradient(t *testing.T) {
	d := open64(t)
	p := d.Parameter("w", d.FromFloat32s([]float32{1, 2, 3}, 3))
	c := p.Clone()
	if c.st == p.st {
		t.Fatal("Clone shares its storage with the original")
	}
	c.MulScalar(2).Sum().Backward()
	if got := p.Grad.Float64s(); !slices.Equal(got, []float64{2, 2, 2}) {
		t.Errorf("gradient through Clone %v, want [2 2 2]", got)
	}
	// A copy outside the graph (an EMA's start) is independent of later updates.
	var ema *Tensor
	d.NoGrad(func() { ema = p.Clone() })
	if ema.RequiresGrad() {
		t.Error("a clone made under NoGrad requires a gradient")
	}
	d.NoGrad(func() { p.Fill(7) })
	if got := ema.Float64s(); !slices.Equal(got, []float64{1, 2, 3}) {
		t.Errorf("clone after the original changed: %v", got)
	}
	ids := d.FromInt32s([]int32{4, -1, 2}, 3).Clone()
	if ids.ids == nil || ids.ids.valid != 2 || ids.ids.max != 4 || !slices.Equal(ids.Int32s(), []int32{4, -1, 2}) {
		t.Errorf("cloned ids %v, info %+v", ids.Int32s(), ids.ids)
	}
}

func TestLerpIntoMatchesLerp(t *testing.T) {
	d := open64(t)
	r := rand.New(rand.NewPCG(3, 4))
	a0, b0 := rnd(r, 24), rnd(r, 24)
	a, b := d.FromFloat32s(a0, 2, 3, 4), d.FromFloat32s(b0, 2, 3, 4)
	want := Lerp(a, b, 0.05).Float64s()
	buf := a.st.buf
	LerpInto(a, b, 0.05)
	if a.st.buf != buf {
		t.Error("LerpInto made a new buffer")
	}
	got := a.Float64s()
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-15 {
			t.Fatalf("element %d: LerpInto %.17g, Lerp %.17g", i, got[i], want[i])
		}
	}
	// An EMA of a parameter, the use it is for: ema = lerp(ema, p, 1-decay).
	p := d.Parameter("p", d.FromFloat32s(b0, 2, 3, 4))
	ema := d.FromFloat32s(a0, 2, 3, 4)
	d.NoGrad(func() { LerpInto(ema, p, 0.1) })
	for i, v := range ema.Float64s() {
		if w := float64(a0[i]) + 0.1*(float64(b0[i])-float64(a0[i])); math.Abs(v-w) > 1e-7 {
			t.Fatalf("ema element %d: %g, want %g", i, v, w)
		}
	}
	for name, f := range map[string]func(){
		"a parameter while recording": func() { LerpInto(p, ema, 0.1) },
		"shapes differ":               func() { LerpInto(ema, d.Zeros(24), 0.1) },
	} {
		if msg := panicOf(f); !strings.Contains(msg, "LerpInto") {
			t.Errorf("LerpInto with %s: panic %q, want one naming LerpInto", name, msg)
		}
	}
}

func TestFullInt32(t *testing.T) {
	d := openCPU(t)
	pad := d.FullInt32(-1, 2, 3)
	if got := pad.Int32s(); !slices.Equal(got, []int32{-1, -1, -1, -1, -1, -1}) || pad.DType() != I32 {
		t.Errorf("FullInt32(-1, 2, 3) = %v (%v)", got, pad.DType())
	}
	if got := d.FullInt32(7, 4).Int32s(); !slices.Equal(got, []int32{7, 7, 7, 7}) {
		t.Errorf("FullInt32(7, 4) = %v", got)
	}
	if msg := panicOf(func() { Embedding(d.Zeros(5, 2), pad) }); !strings.Contains(msg, "negative id") {
		t.Errorf("embedding of -1 ids: panic %q", msg)
	}
	if msg := panicOf(func() { Embedding(d.Zeros(5, 2), d.FullInt32(5, 3)) }); !strings.Contains(msg, "out of range") {
		t.Errorf("embedding of id 5 in 5 rows: panic %q", msg)
	}
}

// TestShiftedTargetsCountOnlyValidTokens builds the targets of a loss two
// tokens ahead, the next-token targets shifted by one and padded with -1, on
// the device, and checks that the mean runs over the real targets only,
// whichever layout op made them.
func TestShiftedTargetsCountOnlyValidTokens(t *testing.T) {
	d := open64(t)
	r := rand.New(rand.NewPCG(8, 9))
	const B, T, V = 2, 5, 7
	y := make([]int32, B*T)
	for i := range y {
		y[i] = int32(r.IntN(V))
	}
	logits := d.FromFloat32s(rnd(r, B*T*V), B, T, V)
	targets := d.FromInt32s(y, B, T)
	shifted := Concat(1, targets.Slice(1, 1, T), d.FullInt32(-1, B, 1))
	// The same targets from host data, the way it had to be done before.
	host := make([]int32, B*T)
	for b := range B {
		copy(host[b*T:], y[b*T+1:(b+1)*T])
		host[b*T+T-1] = -1
	}
	if !slices.Equal(shifted.Int32s(), host) {
		t.Fatalf("shifted targets %v, want %v", shifted.Int32s(), host)
	}
	if shifted.ids == nil || shifted.ids.valid != B*(T-1) {
		t.Errorf("the shifted targets' count %+v, want %d valid without reading them back", shifted.ids, B*(T-1))
	}
	want := CrossEntropyMean(logits, d.FromInt32s(host, B, T)).Item()
	if got := CrossEntropyMean(logits, shifted).Item(); math.Abs(got-want) > 1e-12 {
		t.Errorf("mean loss over device-built targets %.12f, over host-built %.12f", got, want)
	}
	// A slice of targets that holds ignored ones cannot keep count: the mean
	// reads them back rather than dividing by every position.
	part := d.FromInt32s(host, B, T).Slice(1, 2, T)
	if part.ids != nil {
		t.Fatalf("a slice of partly ignored targets claims to know its count: %+v", part.ids)
	}
	sum, n := 0.0, 0
	losses := CrossEntropy(logits.Slice(1, 2, T), part).Float64s()
	for i, id := range part.Int32s() {
		if id >= 0 {
			sum += losses[i]
			n++
		}
	}
	if got := CrossEntropyMean(logits.Slice(1, 2, T), part).Item(); math.Abs(got-sum/float64(n)) > 1e-12 {
		t.Errorf("mean over a slice of targets %.12f, want %.12f over %d valid", got, sum/float64(n), n)
	}
	if info := targets.Permute(1, 0).ids; info == nil || info.valid != B*T {
		t.Errorf("permuted ids lost their count: %+v", info)
	}
	if info := d.FullInt32(3, 2, 1).Expand(2, 4).ids; info == nil || info.valid != 8 || info.max != 3 {
		t.Errorf("expanded ids: %+v", info)
	}
}

func panicOf(f func()) string {
	msg, _ := panicMessage(f)
	return msg
}
