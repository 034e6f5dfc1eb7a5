//go:build cuda || cudaemu

package cuda

// Parity tests: every kernel, forward and backward, on the GPU (or the emulator) against the
// CPU backend, on the same random inputs (never zeros). Each check records its relative error
// ‖gpu − cpu‖∞ / ‖cpu‖∞; TestMain prints them all at the end. Tolerances: fp32 1e-5 (a little
// more where long sums meet a different summation order), TF32 1e-3, bf16 1e-2.

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"autoresearch/internal/tensor"
)

var (
	gpu *Backend
	cpu tensor.Backend
)

const (
	tolF32  = 1e-5
	tolSum  = 3e-5 // fp32 results of long sums in another order
	tolTF32 = 1e-3
	tolBF16 = 1e-2
)

type result struct {
	name string
	err  float64
	tol  float64
}

var (
	resultsMu sync.Mutex
	results   []result
)

func TestMain(m *testing.M) {
	b, err := Open()
	if err != nil {
		fmt.Fprintln(os.Stderr, "cuda backend:", err)
		os.Exit(1)
	}
	gpu = b
	dev, err := tensor.Open("cpu")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cpu = dev.Backend()
	fmt.Printf("device: %s; start-up %.2f s\n", gpu.Describe(), gpu.StartupTime().Seconds())
	code := m.Run()
	if len(results) > 0 {
		sort.Slice(results, func(i, j int) bool { return results[i].name < results[j].name })
		fmt.Printf("\n%-58s %10s %8s\n", "parity check (relative error vs the CPU backend)", "error", "limit")
		for _, r := range results {
			mark := ""
			if !(r.err <= r.tol) {
				mark = "  FAIL"
			}
			fmt.Printf("%-58s %10.2e %8.0e%s\n", r.name, r.err, r.tol, mark)
		}
	}
	os.Exit(code)
}

// ---- helpers ----

func rng(t *testing.T) *rand.Rand {
	h := uint64(14695981039346656037)
	for _, c := range t.Name() {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return rand.New(rand.NewPCG(h, 7))
}

func randn(r *rand.Rand, n int, scale float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(r.NormFloat64() * scale)
	}
	return out
}

func uniform(r *rand.Rand, n int, lo, hi float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(lo + (hi-lo)*r.Float64())
	}
	return out
}

// pair is one tensor on both devices: g on the GPU in dtype dt, c on the CPU in F32.
type pair struct {
	g, c tensor.Buffer
	n    int
	dt   tensor.DType
}

// roundBF16 rounds values to what a bf16 buffer holds.
func roundBF16(v []float32) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = fromBF16(toBF16(x))
	}
	return out
}

func put(t *testing.T, dt tensor.DType, data []float32) pair {
	t.Helper()
	p := pair{g: gpu.Alloc(dt, len(data)), c: cpu.Alloc(tensor.F32, len(data)), n: len(data), dt: dt}
	gpu.Write(p.g, 0, data)
	if dt == tensor.BF16 {
		data = roundBF16(data)
	}
	cpu.Write(p.c, 0, data)
	t.Cleanup(func() { gpu.Free(p.g); cpu.Free(p.c) })
	return p
}

func put32(t *testing.T, data []float32) pair { t.Helper(); return put(t, tensor.F32, data) }

func putInts(t *testing.T, ids []int32) pair {
	t.Helper()
	p := pair{g: gpu.Alloc(tensor.I32, len(ids)), c: cpu.Alloc(tensor.I32, len(ids)), n: len(ids), dt: tensor.I32}
	gpu.WriteInt32(p.g, 0, ids)
	cpu.WriteInt32(p.c, 0, ids)
	t.Cleanup(func() { gpu.Free(p.g); cpu.Free(p.c) })
	return p
}

// nan fills both sides with NaN: an output a kernel must overwrite entirely.
func nan(t *testing.T, dt tensor.DType, n int) pair {
	t.Helper()
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(math.NaN())
	}
	return put(t, dt, v)
}

func (p pair) read() (g, c []float32) {
	g, c = make([]float32, p.n), make([]float32, p.n)
	gpu.Read(p.g, 0, g)
	cpu.Read(p.c, 0, c)
	return g, c
}

func relErr(g, c []float32) float64 {
	var diff, ref float64
	for i := range c {
		if math.IsNaN(float64(g[i])) != math.IsNaN(float64(c[i])) {
			return math.Inf(1)
		}
		if math.IsNaN(float64(c[i])) {
			continue
		}
		diff = max(diff, math.Abs(float64(g[i])-float64(c[i])))
		ref = max(ref, math.Abs(float64(c[i])))
	}
	if ref == 0 {
		return diff
	}
	return diff / ref
}

// check compares the two sides of p and records the error under the test's name + what.
func check(t *testing.T, what string, p pair, tol float64) {
	t.Helper()
	g, c := p.read()
	e := relErr(g, c)
	name := strings.TrimPrefix(t.Name(), "TestParity") + " " + what
	resultsMu.Lock()
	results = append(results, result{name: name, err: e, tol: tol})
	resultsMu.Unlock()
	t.Logf("%-50s rel err %.2e (limit %.0e)", what, e, tol)
	if !(e <= tol) {
		i := worst(g, c)
		t.Errorf("%s: relative error %.3e over %.0e (worst at %d: gpu %g, cpu %g)", what, e, tol, i, g[i], c[i])
	}
}

func worst(g, c []float32) int {
	w, wi := -1.0, 0
	for i := range c {
		d := math.Abs(float64(g[i]) - float64(c[i]))
		if math.IsNaN(d) {
			return i
		}
		if d > w {
			w, wi = d, i
		}
	}
	return wi
}

func contiguous(shape []int) []int {
	st := make([]int, len(shape))
	s := 1
	for i := len(shape) - 1; i >= 0; i-- {
		st[i] = s
		s *= shape[i]
	}
	return st
}

func prod(shape []int) int {
	n := 1
	for _, e := range shape {
		n *= e
	}
	return n
}

// both runs f on each backend with that side's buffers.
func both(f func(be tensor.Backend, side func(pair) tensor.Buffer)) {
	f(gpu, func(p pair) tensor.Buffer { return p.g })
	f(cpu, func(p pair) tensor.Buffer { return p.c })
}

var dtypes = []struct {
	dt  tensor.DType
	tol float64
}{{tensor.F32, tolF32}, {tensor.BF16, tolBF16}}

// ---- layout ----

func TestParityFill(t *testing.T) {
	r := rng(t)
	for _, d := range dtypes {
		x := put(t, d.dt, randn(r, 1000, 1))
		both(func(be tensor.Backend, s func(pair) tensor.Buffer) { be.Fill(s(x), 17, 600, 1.25) })
		check(t, "fill "+d.dt.String(), x, 0)
	}
	// I32: the padding of targets (FullInt32), negative values included.
	ids := make([]int32, 1000)
	for i := range ids {
		ids[i] = int32(r.IntN(500))
	}
	x := putInts(t, ids)
	for _, v := range []float32{-1, 16777216} {
		both(func(be tensor.Backend, s func(pair) tensor.Buffer) { be.Fill(s(x), 17, 600, v) })
		check(t, fmt.Sprintf("fill i32 %g", v), x, 0)
	}
	if g, _ := x.read(); g[16] != float32(ids[16]) || g[17] != 16777216 || g[617] != float32(ids[617]) {
		t.Errorf("fill i32 at 17..616: got %g %g %g around it", g[16], g[17], g[617])
	}
}

func TestParityCopy(t *testing.T) {
	r := rng(t)
	cases := []struct {
		name           string
		shape          []int
		dstOff, srcOff int
		dstN, srcN     int
		dstStr, srcStr []int
		accumulate     bool
	}{
		// permute (0,1,2) of [4,5,6] into a [6,4,5] layout
		{"permute", []int{4, 5, 6}, 0, 0, 120, 120, []int{5, 1, 20}, []int{30, 6, 1}, false},
		// broadcast a [4,5] source along a new leading axis
		{"broadcast", []int{3, 4, 5}, 0, 0, 60, 20, []int{20, 5, 1}, []int{0, 5, 1}, false},
		// accumulate a [2,3,4] block into a larger tensor, both at offsets
		{"accumulate", []int{2, 3, 4}, 7, 3, 60, 30, []int{20, 5, 1}, []int{12, 4, 1}, true},
		// a column of a matrix into a contiguous vector
		{"column", []int{9, 1}, 0, 2, 9, 45, []int{1, 1}, []int{5, 1}, false},
	}
	for _, d := range dtypes {
		for _, c := range cases {
			dst, src := put(t, d.dt, randn(r, c.dstN, 1)), put(t, d.dt, randn(r, c.srcN, 1))
			both(func(be tensor.Backend, s func(pair) tensor.Buffer) {
				be.Copy(c.shape, s(dst), c.dstOff, c.dstStr, s(src), c.srcOff, c.srcStr, c.accumulate)
			})
			tol := 0.0
			if c.accumulate && d.dt == tensor.BF16 {
				tol = tolBF16
			} else if c.accumulate {
				tol = tolF32
			}
			check(t, c.name+" "+d.dt.String(), dst, tol)
		}
	}
	// Converting copies, both ways, plain and accumulating.
	for _, conv := range [][2]tensor.DType{{tensor.F32, tensor.BF16}, {tensor.BF16, tensor.F32}} {
		for _, acc := range []bool{false, true} {
			dst, src := put(t, conv[0], randn(r, 60, 1)), put(t, conv[1], randn(r, 30, 1))
			// The CPU holds both sides in f32 (bf16 inputs already rounded): a bf16 destination
			// differs by its rounding, an f32 one not at all.
			both(func(be tensor.Backend, s func(pair) tensor.Buffer) {
				be.Copy([]int{2, 3, 4}, s(dst), 7, []int{20, 5, 1}, s(src), 3, []int{12, 4, 1}, acc)
			})
			tol := 0.0
			if conv[0] == tensor.BF16 {
				tol = tolBF16
			} else if acc {
				tol = tolF32
			}
			check(t, fmt.Sprintf("convert %v<-%v accumulate=%v", conv[0], conv[1], acc), dst, tol)
		}
	}
	// I32 (token ids, which the CPU backend cannot read back): the permute case against the
	// host's own permutation.
	ids := make([]int32, 120)
	for i := range ids {
		ids[i] = int32(r.IntN(1 << 24))
	}
	src, dst := gpu.Alloc(tensor.I32, 120), gpu.Alloc(tensor.I32, 120)
	defer gpu.Free(src)
	defer gpu.Free(dst)
	gpu.WriteInt32(src, 0, ids)
	gpu.Copy([]int{4, 5, 6}, dst, 0, []int{5, 1, 20}, src, 0, []int{30, 6, 1}, false)
	got := make([]float32, 120)
	gpu.Read(dst, 0, got)
	for i := range 4 {
		for j := range 5 {
			for k := range 6 {
				if want := ids[i*30+j*6+k]; got[i*5+j+k*20] != float32(want) {
					t.Fatalf("i32 permute: element (%d,%d,%d) = %g, want %d", i, j, k, got[i*5+j+k*20], want)
				}
			}
		}
	}
}

// ---- elementwise ----

type unaryCase struct {
	op   tensor.UnaryOp
	a, b float32
	in   func(r *rand.Rand, n int) []float32
}

func unaryCases() []unaryCase {
	normal := func(r *rand.Rand, n int) []float32 { return randn(r, n, 1.5) }
	positive := func(r *rand.Rand, n int) []float32 { return uniform(r, n, 0.3, 3) }
	away := func(r *rand.Rand, n int) []float32 {
		v := uniform(r, n, 0.3, 3)
		for i := range v {
			if r.IntN(2) == 0 {
				v[i] = -v[i]
			}
		}
		return v
	}
	wide := func(r *rand.Rand, n int) []float32 { return randn(r, n, 20) }
	return []unaryCase{
		{tensor.Affine, 1.7, -0.3, normal}, {tensor.Exp, 0, 0, normal}, {tensor.Log, 0, 0, positive},
		{tensor.Sqrt, 0, 0, positive}, {tensor.Rsqrt, 0, 0, positive}, {tensor.Recip, 0, 0, away},
		{tensor.Square, 0, 0, normal}, {tensor.Abs, 0, 0, away}, {tensor.Relu, 0, 0, away},
		{tensor.ReluSquare, 0, 0, away}, {tensor.Sigmoid, 0, 0, normal}, {tensor.Tanh, 0, 0, normal},
		{tensor.Softcap, 15, 0, wide}, {tensor.ClampMin, 0.1, 0, normal}, {tensor.ClampMax, -0.2, 0, normal},
		{tensor.StepGE, 0.3, 0, normal}, {tensor.PowScalar, 1.5, 0, positive},
	}
}

func TestParityUnary(t *testing.T) {
	r := rng(t)
	const n = 3001
	for _, d := range dtypes {
		for _, c := range unaryCases() {
			x := put(t, d.dt, c.in(r, n))
			y, dy, dx := nan(t, d.dt, n), put(t, d.dt, randn(r, n, 1)), nan(t, d.dt, n)
			both(func(be tensor.Backend, s func(pair) tensor.Buffer) {
				be.Unary(c.op, s(y), s(x), n, c.a, c.b)
				be.UnaryBackward(c.op, s(dx), s(dy), s(x), s(y), n, c.a, c.b)
			})
			// The backward reads each side's own y: on bf16 they differ by a rounding.
			check(t, fmt.Sprintf("%s %v forward", c.op, d.dt), y, d.tol)
			check(t, fmt.Sprintf("%s %v backward", c.op, d.dt), dx, d.tol)
		}
	}
	// In place: dst is x.
	x := put32(t, randn(r, n, 1))
	both(func(be tensor.Backend, s func(pair) tensor.Buffer) { be.Unary(tensor.Tanh, s(x), s(x), n, 0, 0) })
	check(t, "tanh in place", x, tolF32)
}

func TestParityBinary(t *testing.T) {
	r := rng(t)
	shape := []int{3, 4, 37}
	n := prod(shape)
	ops := []tensor.BinaryOp{tensor.Add, tensor.Sub, tensor.Mul, tensor.Div, tensor.Max, tensor.Min, tensor.Eq, tensor.GE}
	for _, d := range dtypes {
		for _, op := range ops {
			xv := randn(r, n, 1)
			yv := randn(r, 4, 1) // [1, 4, 1], broadcast
			if op == tensor.Div {
				yv = uniform(r, 4, 0.5, 2)
			}
			if op == tensor.Eq || op == tensor.GE {
				for i := range xv {
					xv[i] = float32(r.IntN(3))
				}
				for i := range yv {
					yv[i] = float32(r.IntN(3))
				}
			}
			x, y, dst := put(t, d.dt, xv), put(t, d.dt, yv), nan(t, d.dt, n)
			both(func(be tensor.Backend, s func(pair) tensor.Buffer) {
				be.Binary(op, shape, s(dst), s(x), contiguous(shape), s(y), []int{0, 1, 0})
			})
			check(t, fmt.Sprintf("%s %v broadcast", op, d.dt), dst, d.tol)
		}
	}
	// Both operands strided: x transposed, y a row vector; and dst aliasing x.
	x, y := put32(t, randn(r, 12*7, 1)), put32(t, randn(r, 7, 1))
	dst := nan(t, tensor.F32, 12*7)
	both(func(be tensor.Backend, s func(pair) tensor.Buffer) {
		be.Binary(tensor.Mul, []int{7, 12}, s(dst), s(x), []int{1, 7}, s(y), []int{1, 0})
		be.Binary(tensor.Add, []int{12, 7}, s(x), s(x), []int{7, 1}, s(y), []int{0, 1})
	})
	check(t, "mul transposed", dst, tolF32)
	check(t, "add in place", x, tolF32)
	// Mixed dtypes: bf16 activations times an f32 scalar parameter (broadcast), either side,
	// into bf16; and f32 with bf16 into f32.
	for _, m := range [][3]tensor.DType{
		{tensor.BF16, tensor.BF16, tensor.F32}, {tensor.BF16, tensor.F32, tensor.BF16},
		{tensor.F32, tensor.F32, tensor.BF16}, {tensor.F32, tensor.BF16, tensor.F32},
	} {
		x, y, dst := put(t, m[1], randn(r, n, 1)), put(t, m[2], randn(r, 4, 1)), nan(t, m[0], n)
		both(func(be tensor.Backend, s func(pair) tensor.Buffer) {
			be.Binary(tensor.Mul, shape, s(dst), s(x), contiguous(shape), s(y), []int{0, 1, 0})
		})
		tol := tolF32
		if m[0] == tensor.BF16 {
			tol = tolBF16
		}
		check(t, fmt.Sprintf("mul %v <- %v, %v", m[0], m[1], m[2]), dst, tol)
	}
}

func TestParityWhere(t *testing.T) {
	r := rng(t)
	shape := []int{5, 6, 7}
	n := prod(shape)
	for _, d := range dtypes {
		cv := make([]float32, 6*7)
		for i := range cv {
			cv[i] = float32(r.IntN(2))
		}
		cond, x, y := put(t, d.dt, cv), put(t, d.dt, randn(r, n, 1)), put(t, d.dt, randn(r, 5, 1))
		dst := nan(t, d.dt, n)
		both(func(be tensor.Backend, s func(pair) tensor.Buffer) {
			be.Where(shape, s(dst), s(cond), []int{0, 7, 1}, s(x), contiguous(shape), s(y), []int{1, 0, 0})
		})
		check(t, "where "+d.dt.String(), dst, d.tol)
	}
}

// ---- reductions ----

func TestParityReduce(t *testing.T) {
	r := rng(t)
	// The last two are long enough to be split into chunks (a scalar's gradient).
	shapes := [][3]int{{7, 300, 1}, {3, 50, 70}, {1, 5000, 33}, {5, 1, 8}, {2, 2049, 1}, {1, 3 * 4096, 1}, {2, 8192, 3}}
	ops := []tensor.ReduceOp{tensor.Sum, tensor.MaxReduce, tensor.SumSquares}
	for _, d := range dtypes {
		for _, sh := range shapes {
			for _, op := range ops {
				outer, n, inner := sh[0], sh[1], sh[2]
				src, dst := put(t, d.dt, randn(r, outer*n*inner, 1)), nan(t, tensor.F32, outer*inner)
				both(func(be tensor.Backend, s func(pair) tensor.Buffer) {
					be.Reduce(op, s(dst), s(src), outer, n, inner, 0.5)
				})
				// bf16 sources are rounded on both sides alike; the f32 sums differ in order only.
				check(t, fmt.Sprintf("%s [%d,%d,%d] %v", op, outer, n, inner, d.dt), dst, tolSum)
			}
		}
	}
	// Into bf16 (a broadcast bf16 input's gradient), from either dtype, split or not.
	for _, src := range []tensor.DType{tensor.F32, tensor.BF16} {
		for _, sh := range [][3]int{{3, 50, 70}, {7, 300, 1}, {1, 3 * 4096, 1}} {
			outer, n, inner := sh[0], sh[1], sh[2]
			x, dst := put(t, src, randn(r, outer*n*inner, 1)), nan(t, tensor.BF16, outer*inner)
			both(func(be tensor.Backend, s func(pair) tensor.Buffer) {
				be.Reduce(tensor.Sum, s(dst), s(x), outer, n, inner, 0.5)
			})
			check(t, fmt.Sprintf("sum [%d,%d,%d] bf16<-%v", outer, n, inner, src), dst, tolBF16)
		}
	}
}

// ---- matrix products ----

func TestParityGemm(t *testing.T) {
	r := rng(t)
	const m, n, k, batch = 37, 29, 45, 3
	defer gpu.SetTF32(os.Getenv(EnvTF32) != "0")
	modes := []struct {
		name string
		dtAB tensor.DType
		dtC  tensor.DType
		tf32 bool
		tol  float64
	}{
		{"fp32", tensor.F32, tensor.F32, false, tolSum},
		{"tf32", tensor.F32, tensor.F32, true, tolTF32},
		{"bf16", tensor.BF16, tensor.BF16, false, tolBF16},
		{"bf16->f32", tensor.BF16, tensor.F32, false, tolBF16},
	}
	for _, mode := range modes {
		gpu.SetTF32(mode.tf32)
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				for _, shared := range []bool{false, true} {
					for _, beta := range []float32{0, 1} {
						g := tensor.GemmArgs{TransA: ta, TransB: tb, M: m, N: n, K: k, Batch: batch, Alpha: 0.7, Beta: beta}
						g.LdA, g.LdB, g.LdC = k+3, n+2, n+1
						if ta {
							g.LdA = m + 3
						}
						if tb {
							g.LdB = k + 2
						}
						rowsA, rowsB := m, k
						if ta {
							rowsA = k
						}
						if tb {
							rowsB = n
						}
						g.OffA, g.OffB, g.OffC = 5, 3, 2
						g.StrideA, g.StrideB, g.StrideC = rowsA*g.LdA, rowsB*g.LdB, m*g.LdC
						if shared {
							g.StrideB = 0
						}
						a := put(t, mode.dtAB, randn(r, g.OffA+batch*g.StrideA, 1))
						b := put(t, mode.dtAB, randn(r, g.OffB+max(1, batch*g.StrideB)+rowsB*g.LdB, 1))
						var c pair
						if beta == 0 {
							c = nan(t, mode.dtC, g.OffC+batch*g.StrideC)
						} else {
							c = put(t, mode.dtC, randn(r, g.OffC+batch*g.StrideC, 1))
						}
						both(func(be tensor.Backend, s func(pair) tensor.Buffer) {
							args := g
							args.A, args.B, args.C = s(a), s(b), s(c)
							be.Gemm(&args)
						})
						check(t, fmt.Sprintf("%s transA=%v transB=%v sharedB=%v beta=%g", mode.name, ta, tb, shared, beta), c, mode.tol)
					}
				}
			}
		}
	}
	// K = 0: C = Beta*C.
	gpu.SetTF32(false)
	c := put32(t, randn(r, 12, 1))
	a, b := put32(t, randn(r, 4, 1)), put32(t, randn(r, 4, 1))
	both(func(be tensor.Backend, s func(pair) tensor.Buffer) {
		be.Gemm(&tensor.GemmArgs{M: 3, N: 4, K: 0, Batch: 1, Alpha: 1, Beta: 0.5, A: s(a), LdA: 1, B: s(b), LdB: 4, C: s(c), LdC: 4})
	})
	check(t, "K=0 beta=0.5", c, tolF32)
}

// ---- fused layers ----

func TestParityEmbedding(t *testing.T) {
	r := rng(t)
	const v, c, n = 50, 40, 200
	ids := make([]int32, n)
	for i := range ids {
		ids[i] = int32(r.IntN(v)) // many repeats: the backward's atomics matter
	}
	for _, d := range dtypes {
		table, id := put(t, d.dt, randn(r, v*c, 1)), putInts(t, ids)
		out, dtable, dout := nan(t, d.dt, n*c), put(t, d.dt, randn(r, v*c, 1)), put(t, d.dt, randn(r, n*c, 1))
		both(func(be tensor.Backend, s func(pair) tensor.Buffer) {
			be.Embedding(s(out), s(table), s(id), n, c)
			be.EmbeddingBackward(s(dtable), s(dout), s(id), n, c)
		})
		check(t, "forward "+d.dt.String(), out, 0)
		tol := tolSum
		if d.dt == tensor.BF16 {
			tol = 2 * tolBF16 // bf16 sums of up to ~12 terms, each rounded in another order
		}
		check(t, "backward "+d.dt.String(), dtable, tol)
	}
	// bf16 rows from an f32 table, and their gradients summed into the f32 table gradient.
	table, id := put32(t, randn(r, v*c, 1)), putInts(t, ids)
	out, dtable, dout := nan(t, tensor.BF16, n*c), put32(t, randn(r, v*c, 1)), put(t, tensor.BF16, randn(r, n*c, 1))
	both(func(be tensor.Backend, s func(pair) tensor.Buffer) {
		be.Embedding(s(out), s(table), s(id), n, c)
		be.EmbeddingBackward(s(dtable), s(dout), s(id), n, c)
	})
	check(t, "forward bf16<-f32", out, tolBF16)
	check(t, "backward f32<-bf16", dtable, tolSum)
}

func TestParityRMSNorm(t *testing.T) {
	r := rng(t)
	for _, d := range dtypes {
		for _, c := range []int{96, 512, 7} {
			n := 37
			x, dy := put(t, d.dt, randn(r, n*c, 2)), put(t, d.dt, randn(r, n*c, 1))
			out, rstd, dx := nan(t, d.dt, n*c), nan(t, tensor.F32, n), nan(t, d.dt, n*c)
			both(func(be tensor.Backend, s func(pair) tensor.Buffer) {
				be.RMSNorm(s(out), s(rstd), s(x), n, c, 1e-6)
				be.RMSNormBackward(s(dx), s(dy), s(x), s(rstd), n, c)
			})
			check(t, fmt.Sprintf("forward C=%d %v", c, d.dt), out, d.tol)
			check(t, fmt.Sprintf("rstd C=%d %v", c, d.dt), rstd, tolSum)
			check(t, fmt.Sprintf("backward C=%d %v", c, d.dt), dx, max(d.tol, tolSum))
		}
	}
}

func TestParityRotary(t *testing.T) {
	r := rng(t)
	const b, tt, h, d, rows = 2, 9, 3, 16, 12
	n := b * tt * h * d
	for _, dd := range dtypes {
		ang := uniform(r, rows*d/2, 0, 6.3)
		cs, sn := make([]float32, len(ang)), make([]float32, len(ang))
		for i, a := range ang {
			cs[i], sn[i] = float32(math.Cos(float64(a))), float32(math.Sin(float64(a)))
		}
		x, c, s := put(t, dd.dt, randn(r, n, 1)), put(t, dd.dt, cs), put(t, dd.dt, sn)
		fwd, inv := nan(t, dd.dt, n), nan(t, dd.dt, n)
		both(func(be tensor.Backend, side func(pair) tensor.Buffer) {
			be.Rotary(side(fwd), side(x), side(c), side(s), b, tt, h, d, false)
			be.Rotary(side(inv), side(x), side(c), side(s), b, tt, h, d, true)
			be.Rotary(side(x), side(x), side(c), side(s), b, tt, h, d, false) // in place
		})
		check(t, "forward "+dd.dt.String(), fwd, dd.tol)
		check(t, "inverse "+dd.dt.String(), inv, dd.tol)
		check(t, "in place "+dd.dt.String(), x, dd.tol)
	}
}

func TestParityRotaryRMSNormBackward(t *testing.T) {
	r := rng(t)
	const b, tt, h, d, rows = 2, 9, 3, 128, 12
	n := b * tt * h * d
	for _, dd := range dtypes {
		ang := uniform(r, rows*d/2, 0, 6.3)
		cs, sn := make([]float32, len(ang)), make([]float32, len(ang))
		for i, a := range ang {
			cs[i], sn[i] = float32(math.Cos(float64(a))), float32(math.Sin(float64(a)))
		}
		x, c, s, dy := put(t, dd.dt, randn(r, n, 1)), put(t, dd.dt, cs), put(t, dd.dt, sn), put(t, dd.dt, randn(r, n, 1))
		y, yn, rstd, dx := nan(t, dd.dt, n), nan(t, dd.dt, n), nan(t, tensor.F32, b*tt*h), nan(t, dd.dt, n)
		both(func(be tensor.Backend, side func(pair) tensor.Buffer) {
			be.Rotary(side(y), side(x), side(c), side(s), b, tt, h, d, false)
			be.RMSNorm(side(yn), side(rstd), side(y), b*tt*h, d, 1e-6)
			be.RotaryRMSNormBackward(side(dx), side(dy), side(x), side(rstd), side(c), side(s), b, tt, h, d)
		})
		check(t, "dx "+dd.dt.String(), dx, max(dd.tol, tolSum))
	}
}

func TestParityAttention(t *testing.T) {
	r := rng(t)
	cases := []struct {
		b, t, h, kvh, d, window int
		dt                      tensor.DType
	}{
		{2, 70, 4, 2, 32, -1, tensor.F32},
		{1, 100, 2, 1, 24, 16, tensor.F32},
		{1, 40, 2, 2, 128, -1, tensor.F32},
		{1, 33, 1, 1, 256, 3, tensor.F32},
		{1, 64, 4, 1, 64, 40, tensor.F32},
		{2, 70, 4, 2, 32, -1, tensor.BF16},
		// The tensor-core kernels (flash.cu): head dims 64 and 128, T off the 64-row tiles,
		// grouped heads, windows narrower and wider than a tile.
		{1, 130, 2, 1, 128, -1, tensor.BF16},
		{2, 100, 4, 2, 64, 20, tensor.BF16},
		{1, 200, 2, 2, 128, 70, tensor.BF16},
		{1, 64, 4, 1, 64, 1, tensor.BF16},
	}
	for _, c := range cases {
		qn, kn := c.b*c.t*c.h*c.d, c.b*c.t*c.kvh*c.d
		q, k, v := put(t, c.dt, randn(r, qn, 1)), put(t, c.dt, randn(r, kn, 1)), put(t, c.dt, randn(r, kn, 1))
		out, lse := nan(t, c.dt, qn), nan(t, tensor.F32, c.b*c.h*c.t)
		dout := put(t, c.dt, randn(r, qn, 1))
		dq, dk, dv := nan(t, c.dt, qn), nan(t, c.dt, kn), nan(t, c.dt, kn)
		both(func(be tensor.Backend, s func(pair) tensor.Buffer) {
			a := tensor.AttentionArgs{B: c.b, T: c.t, H: c.h, KVH: c.kvh, D: c.d, Window: c.window,
				Scale: float32(1 / math.Sqrt(float64(c.d))),
				Q:     s(q), K: s(k), V: s(v), Out: s(out), LSE: s(lse), DOut: s(dout), DQ: s(dq), DK: s(dk), DV: s(dv)}
			be.Attention(&a)
			be.AttentionBackward(&a)
		})
		name := fmt.Sprintf("B%d T%d H%d KVH%d D%d W%d %v", c.b, c.t, c.h, c.kvh, c.d, c.window, c.dt)
		if gpu.useFlash(c.dt, c.d) {
			name += " flash"
		}
		tol := tolSum
		if c.dt == tensor.BF16 {
			tol = tolBF16
		}
		check(t, name+" out", out, tol)
		check(t, name+" lse", lse, tol)
		check(t, name+" dq", dq, tol)
		check(t, name+" dk", dk, tol)
		check(t, name+" dv", dv, tol)
	}
}

// The tensor-core building blocks of flash.cu (ldmatrix, ldmatrix.trans, mma.sync and the
// fragment layouts the kernels assume) on one 16x16 product, against the CPU. On the emulator
// this checks the emulator's model; on a GPU, the hardware.
func TestParityTensorCoreFragments(t *testing.T) {
	if !gpu.flash {
		t.Skip("no tensor-core kernels on this device (sm_80 and later)")
	}
	r := rng(t)
	av, bv := roundBF16(randn(r, 256, 1)), roundBF16(randn(r, 256, 1))
	btv := make([]float32, 256)
	for i := range 16 {
		for j := range 16 {
			btv[j*16+i] = bv[i*16+j]
		}
	}
	a, b, bt := put(t, tensor.BF16, av), put(t, tensor.BF16, bv), put(t, tensor.BF16, btv)
	c1, c2 := nan(t, tensor.F32, 256), nan(t, tensor.F32, 256)
	gpu.args().ptr(c1.g.(*buffer).ptr).ptr(c2.g.(*buffer).ptr).ptr(a.g.(*buffer).ptr).ptr(b.g.(*buffer).ptr).ptr(bt.g.(*buffer).ptr)
	gpu.launch1("flash_selftest", 1, 32, 0)
	cpu.Gemm(&tensor.GemmArgs{M: 16, N: 16, K: 16, Batch: 1, Alpha: 1, A: a.c, LdA: 16, B: b.c, LdB: 16, C: c1.c, LdC: 16})
	cpu.Gemm(&tensor.GemmArgs{M: 16, N: 16, K: 16, Batch: 1, Alpha: 1, A: a.c, LdA: 16, B: b.c, LdB: 16, C: c2.c, LdC: 16})
	check(t, "A·B with B transposed in shared memory (ldmatrix)", c1, tolF32)
	check(t, "A·B with B as stored (ldmatrix.trans)", c2, tolF32)
}

func TestParityCrossEntropy(t *testing.T) {
	r := rng(t)
	const n, v = 20, 300
	targets := make([]int32, n)
	for i := range targets {
		targets[i] = int32(r.IntN(v))
	}
	targets[3], targets[11] = -1, -1 // ignored
	for _, d := range dtypes {
		logits, tg := put(t, d.dt, randn(r, n*v, 3)), putInts(t, targets)
		losses, lse := nan(t, tensor.F32, n), nan(t, tensor.F32, n)
		dlosses, dlogits := put32(t, uniform(r, n, 0.5, 1.5)), nan(t, d.dt, n*v)
		both(func(be tensor.Backend, s func(pair) tensor.Buffer) {
			be.CrossEntropy(s(losses), s(lse), s(logits), s(tg), n, v)
			be.CrossEntropyBackward(s(dlogits), s(dlosses), s(logits), s(lse), s(tg), n, v, 0)
		})
		// bf16 logits are rounded alike on both sides: the losses are f32 sums either way.
		check(t, "losses "+d.dt.String(), losses, tolSum)
		check(t, "lse "+d.dt.String(), lse, tolSum)
		check(t, "backward "+d.dt.String(), dlogits, d.tol)
		// The softcap folded in: the raw logits' gradient of the loss of 15*tanh(x/15), with
		// the lse of the softcapped logits.
		raw := put(t, d.dt, randn(r, n*v, 20))
		capped, dcapped := nan(t, tensor.F32, n*v), nan(t, d.dt, n*v)
		both(func(be tensor.Backend, s func(pair) tensor.Buffer) {
			if be == tensor.Backend(gpu) && d.dt == tensor.BF16 { // the CPU cannot hold bf16
				c32 := gpu.Alloc(tensor.F32, n*v)
				gpu.Copy([]int{n * v}, c32, 0, []int{1}, s(raw), 0, []int{1}, false)
				gpu.Unary(tensor.Softcap, s(capped), c32, n*v, 15, 0)
				gpu.Free(c32)
			} else {
				be.Unary(tensor.Softcap, s(capped), s(raw), n*v, 15, 0)
			}
			be.CrossEntropy(s(losses), s(lse), s(capped), s(tg), n, v)
			be.CrossEntropyBackward(s(dcapped), s(dlosses), s(raw), s(lse), s(tg), n, v, 15)
		})
		check(t, "softcapped losses "+d.dt.String(), losses, tolSum)
		check(t, "softcapped backward "+d.dt.String(), dcapped, d.tol)
		// In place: dlogits is logits.
		both(func(be tensor.Backend, s func(pair) tensor.Buffer) {
			be.CrossEntropyBackward(s(logits), s(dlosses), s(logits), s(lse), s(tg), n, v, 0)
		})
		check(t, "backward in place "+d.dt.String(), logits, d.tol)
	}
}

// ---- optimizer updates ----

func TestParityAdamW(t *testing.T) {
	r := rng(t)
	const n = 5000
	p, g := put32(t, randn(r, n, 1)), put32(t, randn(r, n, 0.1))
	m, v := put32(t, randn(r, n, 0.01)), put32(t, uniform(r, n, 1e-4, 1e-2))
	h := tensor.AdamWArgs{LR: 0.01, Beta1: 0.8, Beta2: 0.95, Eps: 1e-10, WeightDecay: 0.1, Step: 3}
	both(func(be tensor.Backend, s func(pair) tensor.Buffer) { be.AdamW(s(p), s(g), s(m), s(v), n, h) })
	check(t, "p", p, tolF32)
	check(t, "m", m, tolF32)
	check(t, "v", v, tolF32)
}

func TestParityNesterov(t *testing.T) {
	r := rng(t)
	const n = 5000
	g, buf := put32(t, randn(r, n, 1)), put32(t, randn(r, n, 1))
	both(func(be tensor.Backend, s func(pair) tensor.Buffer) { be.Nesterov(s(g), s(buf), n, 0.95) })
	check(t, "g", g, tolF32)
	check(t, "buf", buf, tolF32)
}

func TestParityLerp(t *testing.T) {
	r := rng(t)
	const n = 5000
	a, b := put32(t, randn(r, n, 1)), put32(t, randn(r, n, 1))
	both(func(be tensor.Backend, s func(pair) tensor.Buffer) { be.Lerp(s(a), s(b), n, 0.05) })
	check(t, "a", a, tolF32)
	check(t, "b unchanged", b, 0)
}

func TestParityMuonUpdate(t *testing.T) {
	r := rng(t)
	const np, rows, cols = 2, 5, 7
	for _, perRow := range []bool{true, false} {
		p, g := put32(t, randn(r, np*rows*cols, 1)), put32(t, randn(r, np*rows*cols, 1))
		sn := np * cols
		if perRow {
			sn = np * rows
		}
		sc := put32(t, uniform(r, sn, 0.5, 2))
		both(func(be tensor.Backend, s func(pair) tensor.Buffer) {
			be.MuonUpdate(s(p), s(g), s(sc), np, rows, cols, perRow, 0.02, 0.2)
		})
		check(t, fmt.Sprintf("perRow=%v", perRow), p, tolF32)
	}
}

// ---- memory and errors ----

func TestMemoryAccounting(t *testing.T) {
	in0, _ := gpu.Memory()
	a := gpu.Alloc(tensor.F32, 1000) // 4000 bytes, accounted as 4096
	in1, peak1 := gpu.Memory()
	if in1-in0 != 4096 || peak1 < in1 {
		t.Fatalf("after a 4000-byte Alloc: in use %d -> %d (want +4096), peak %d", in0, in1, peak1)
	}
	ptr := a.(*buffer).ptr
	gpu.Free(a)
	if in2, _ := gpu.Memory(); in2 != in0 {
		t.Fatalf("after Free: in use %d, want %d", in2, in0)
	}
	b := gpu.Alloc(tensor.BF16, 1900) // 3800 bytes: the same bucket, served from the pool
	defer gpu.Free(b)
	if b.(*buffer).ptr != ptr {
		t.Fatal("a freed block of the same bucket was not reused")
	}
	if _, peak := gpu.Memory(); peak < peak1 {
		t.Fatalf("peak fell from %d to %d", peak1, peak)
	}
}

func TestBadArgumentsPanicWithTheKernelName(t *testing.T) {
	expect := func(what string, f func()) {
		t.Helper()
		defer func() {
			r := recover()
			if r == nil {
				t.Fatalf("%s: no panic", what)
			}
			if msg := fmt.Sprint(r); !strings.Contains(msg, what) {
				t.Fatalf("panic %q does not name %s", msg, what)
			}
		}()
		f()
	}
	x, y, ids := gpu.Alloc(tensor.F32, 10), gpu.Alloc(tensor.BF16, 10), gpu.Alloc(tensor.I32, 10)
	defer gpu.Free(x)
	defer gpu.Free(y)
	defer gpu.Free(ids)
	expect("Copy", func() { gpu.Copy([]int{10}, x, 0, []int{1}, ids, 0, []int{1}, false) })
	expect("Reduce", func() { gpu.Reduce(tensor.Sum, ids, x, 1, 10, 1, 1) })
	expect("RMSNorm", func() { gpu.RMSNorm(y, y, y, 1, 10, 1e-6) })
	expect("Unary", func() { gpu.Unary(tensor.Exp, x, x, 11, 0, 0) })
	expect("Write", func() { gpu.Write(x, 5, make([]float32, 6)) })
	expect("Attention", func() {
		gpu.Attention(&tensor.AttentionArgs{B: 1, T: 1, H: 1, KVH: 1, D: 512, Q: x, K: x, V: x, Out: x, LSE: x})
	})
	z := gpu.Alloc(tensor.F32, 3)
	gpu.Free(z)
	expect("after Free", func() { gpu.Fill(z, 0, 1, 0) })
}

func TestDims(t *testing.T) {
	// A contiguous walk of any rank is one axis.
	d, err := makeDims([]int{2, 3, 4}, []int{12, 4, 1}, []int{12, 4, 1})
	if err != nil || d.rank != 1 || d.shape[0] != 24 || d.st[0][0] != 1 || d.st[1][0] != 1 {
		t.Fatalf("contiguous: %+v, %v", d, err)
	}
	// A broadcast axis splits the walk; extent-1 axes vanish.
	d, _ = makeDims([]int{2, 1, 3, 4}, []int{12, 12, 4, 1}, []int{0, 0, 4, 1})
	if d.rank != 2 || d.shape[0] != 2 || d.shape[1] != 12 || d.st[1][0] != 0 || d.st[1][1] != 1 {
		t.Fatalf("broadcast: %+v", d)
	}
	d, _ = makeDims([]int{5, 0, 3}, []int{0, 0, 0})
	if d.n != 0 {
		t.Fatalf("empty walk n = %d", d.n)
	}
	if _, err := makeDims(make([]int, 9), make([]int, 9)); err == nil {
		t.Fatal("rank 9 accepted")
	}
}

func TestBucketSize(t *testing.T) {
	for _, n := range []int64{1, 512, 513, 4000, 4096, 4097, 1 << 20, 3<<20 + 1, 1 << 30} {
		b := bucketSize(n)
		if b < n || b%minBlock != 0 || (n > minBlock && float64(b) > 1.125*float64(n)+minBlock) {
			t.Errorf("bucketSize(%d) = %d", n, b)
		}
		if bucketSize(b) != b {
			t.Errorf("bucketSize(%d) = %d is not its own bucket", n, b)
		}
	}
}

func TestPeakFor(t *testing.T) {
	for name, want := range map[string]float64{"NVIDIA H100 80GB HBM3": 989.5e12, "NVIDIA H100 PCIe": 756e12,
		"NVIDIA H200": 989.5e12, "NVIDIA A100-SXM4-80GB": 312e12, "CPU emulator": 0} {
		if got := peakFor(name); got != want {
			t.Errorf("peakFor(%q) = %g, want %g", name, got, want)
		}
	}
}

func TestBF16Rounding(t *testing.T) {
	cases := map[float32]uint16{1: 0x3f80, -2: 0xc000, 1.00390625: 0x3f80 /* tie to even */, 1.01171875: 0x3f82}
	for f, want := range cases {
		if got := toBF16(f); got != want {
			t.Errorf("toBF16(%g) = %#x, want %#x", f, got, want)
		}
	}
	if !math.IsNaN(float64(fromBF16(toBF16(float32(math.NaN()))))) {
		t.Error("NaN lost")
	}
}
