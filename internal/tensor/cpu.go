package tensor

// The CPU backend: pure Go, parallel over the cores, the reference every
// other backend is checked against. It is generic over its arithmetic type:
// "cpu" computes in float32 (the trainer), "cpu64" in float64 (the gradient
// checks, where finite differences need the precision). Both present F32
// tensors to the layer above; "cpu64" simply stores them wider. BF16 is
// refused with an error that says to use F32 on this device.

import (
	"fmt"
	"math"
	"math/bits"
	"runtime"
	"sync"
)

type float interface{ ~float32 | ~float64 }

func init() {
	RegisterBackend("cpu", func() (Backend, error) { return newCPU[float32]("cpu"), nil })
	RegisterBackend("cpu64", func() (Backend, error) { return newCPU[float64]("cpu64"), nil })
}

type cpuBuf[T float] struct {
	f  []T
	i  []int32
	dt DType
	n  int
}

func (b *cpuBuf[T]) Len() int     { return b.n }
func (b *cpuBuf[T]) DType() DType { return b.dt }

type cpuBackend[T float] struct {
	name        string
	pool        map[poolKey][]*cpuBuf[T]
	inUse, peak int64
}

type poolKey struct {
	dt   DType
	size int // the size class, the capacity of the buffers kept under it
}

func newCPU[T float](name string) *cpuBackend[T] {
	return &cpuBackend[T]{name: name, pool: map[poolKey][]*cpuBuf[T]{}}
}

func (c *cpuBackend[T]) Name() string { return c.name }

func (c *cpuBackend[T]) elemBytes(dt DType) int64 {
	if dt == I32 {
		return 4
	}
	var z T
	if any(z) == any(float32(0)) {
		return 4
	}
	return 8
}

func (c *cpuBackend[T]) Alloc(dt DType, n int) Buffer {
	if dt == BF16 {
		panic(fmt.Sprintf("tensor: %s backend: bf16 is not supported on the CPU; use F32 tensors", c.name))
	}
	if dt != F32 && dt != I32 {
		panic(fmt.Sprintf("tensor: %s backend: unknown dtype %v", c.name, dt))
	}
	c.inUse += int64(n) * c.elemBytes(dt)
	c.peak = max(c.peak, c.inUse)
	size := poolSize(n)
	k := poolKey{dt, size}
	// Without a free buffer of its class, take one of the next classes up
	// (at most twice the size): freed activations then serve the backward's
	// smaller temporaries instead of the pool growing a class for each.
	for try := 0; try < 4 && len(c.pool[k]) == 0; try++ {
		k.size = poolSize(k.size + 1)
	}
	if free := c.pool[k]; len(free) > 0 {
		b := free[len(free)-1]
		c.pool[k] = free[:len(free)-1]
		b.n = n
		if dt == I32 {
			b.i = b.i[:n]
		} else {
			b.f = b.f[:n]
		}
		return b
	}
	b := &cpuBuf[T]{dt: dt, n: n}
	if dt == I32 {
		b.i = make([]int32, size)[:n]
	} else {
		b.f = make([]T, size)[:n]
	}
	return b
}

func (c *cpuBackend[T]) Free(b Buffer) {
	cb := c.buf(b)
	c.inUse -= int64(cb.n) * c.elemBytes(cb.dt)
	size := cap(cb.f)
	if cb.dt == I32 {
		size = cap(cb.i)
	}
	k := poolKey{cb.dt, size}
	c.pool[k] = append(c.pool[k], cb)
}

// poolSize rounds a request up to a size class: a power of two times 1,
// 1.25, 1.5 or 1.75 (at most 25 % more than asked). Buffers of nearby sizes
// then share free lists, so the memory kept for reuse stays close to the
// step's live peak instead of holding the peak count of every exact size.
func poolSize(n int) int {
	if n <= 64 {
		return n
	}
	step := 1 << (bits.Len(uint(n)) - 3) // a quarter of the power of two below n
	return (n + step - 1) / step * step
}

// Trim drops the buffers kept for reuse, returning their memory to Go.
func (c *cpuBackend[T]) Trim() { clear(c.pool) }

func (c *cpuBackend[T]) buf(b Buffer) *cpuBuf[T] {
	cb, ok := b.(*cpuBuf[T])
	if !ok {
		panic(fmt.Sprintf("tensor: %s backend: buffer %T is not this backend's", c.name, b))
	}
	return cb
}

func (c *cpuBackend[T]) f(b Buffer) []T        { return c.buf(b).f }
func (c *cpuBackend[T]) ints(b Buffer) []int32 { return c.buf(b).i }

func (c *cpuBackend[T]) Write(dst Buffer, off int, src []float32) {
	d := c.f(dst)[off : off+len(src)]
	for i, v := range src {
		d[i] = T(v)
	}
}

func (c *cpuBackend[T]) WriteInt32(dst Buffer, off int, src []int32) {
	copy(c.ints(dst)[off:off+len(src)], src)
}

func (c *cpuBackend[T]) Read(src Buffer, off int, dst []float32) {
	if c.buf(src).dt == I32 { // indices (TopK's), exact below 2²⁴
		for i, v := range c.ints(src)[off : off+len(dst)] {
			dst[i] = float32(v)
		}
		return
	}
	s := c.f(src)[off : off+len(dst)]
	for i, v := range s {
		dst[i] = float32(v)
	}
}

func (c *cpuBackend[T]) Read64(src Buffer, off int, dst []float64) {
	s := c.f(src)[off : off+len(dst)]
	for i, v := range s {
		dst[i] = float64(v)
	}
}

func (c *cpuBackend[T]) Write64(dst Buffer, off int, src []float64) {
	d := c.f(dst)[off : off+len(src)]
	for i, v := range src {
		d[i] = T(v)
	}
}

func (c *cpuBackend[T]) Sync() error { return nil }

func (c *cpuBackend[T]) Memory() (int64, int64) { return c.inUse, c.peak }

// ---- parallelism ----

// parallel splits [0, n) into chunks and runs f on them across the cores.
// cost is the rough work per index (elements touched); small jobs run
// inline, since starting goroutines costs about a microsecond.
func parallel(n, cost int, f func(lo, hi int)) {
	p := runtime.GOMAXPROCS(0)
	if p == 1 || n < 2 || n*cost < 1<<15 {
		f(0, n)
		return
	}
	chunks := min(n, 4*p)
	var wg sync.WaitGroup
	for w := range chunks {
		lo, hi := w*n/chunks, (w+1)*n/chunks
		if lo == hi {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(lo, hi)
		}()
	}
	wg.Wait()
}

// ---- layout ----

func (c *cpuBackend[T]) Fill(dst Buffer, off, n int, v float32) {
	if c.buf(dst).dt == I32 {
		d, iv := c.ints(dst)[off:off+n], int32(v)
		for i := range d {
			d[i] = iv
		}
		return
	}
	d := c.f(dst)[off : off+n]
	tv := T(v)
	parallel(n, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			d[i] = tv
		}
	})
}

// coalesce drops size-1 axes and merges neighbours that every operand
// walks contiguously, so most strided loops become one or two plain ones.
func coalesce(shape []int, strides ...[]int) ([]int, [][]int) {
	var sh []int
	st := make([][]int, len(strides))
	for i, s := range shape {
		if s == 1 {
			continue
		}
		if len(sh) > 0 {
			last := len(sh) - 1
			merge := true
			for k := range strides {
				if st[k][last] != strides[k][i]*s {
					merge = false
					break
				}
			}
			if merge {
				sh[last] *= s
				for k := range strides {
					st[k][last] = strides[k][i]
				}
				continue
			}
		}
		sh = append(sh, s)
		for k := range strides {
			st[k] = append(st[k], strides[k][i])
		}
	}
	if len(sh) == 0 {
		sh = []int{1}
		for k := range st {
			st[k] = []int{0}
		}
	}
	return sh, st
}

// rows walks the rows (every axis but the last) of a coalesced shape in
// [lo, hi), calling f with each operand's offset of the row start.
func rows(shape []int, strides [][]int, lo, hi int, f func(offs []int)) {
	r := len(shape) - 1
	idx := make([]int, r)
	offs := make([]int, len(strides))
	rem := lo
	for a := r - 1; a >= 0; a-- {
		idx[a] = rem % shape[a]
		rem /= shape[a]
		for k := range strides {
			offs[k] += idx[a] * strides[k][a]
		}
	}
	for row := lo; row < hi; row++ {
		f(offs)
		for a := r - 1; a >= 0; a-- {
			idx[a]++
			for k := range strides {
				offs[k] += strides[k][a]
			}
			if idx[a] < shape[a] {
				break
			}
			for k := range strides {
				offs[k] -= idx[a] * strides[k][a]
			}
			idx[a] = 0
		}
	}
}

func (c *cpuBackend[T]) Copy(shape []int, dst Buffer, dstOff int, dstStrides []int, src Buffer, srcOff int, srcStrides []int, accumulate bool) {
	sh, st := coalesce(shape, dstStrides, srcStrides)
	inner := sh[len(sh)-1]
	nrows := numel(sh) / inner
	ds, ss := st[0][len(sh)-1], st[1][len(sh)-1]
	if c.buf(dst).dt == I32 {
		d, s := c.ints(dst), c.ints(src)
		rows(sh, st, 0, nrows, func(o []int) {
			for j := range inner {
				d[dstOff+o[0]+j*ds] = s[srcOff+o[1]+j*ss]
			}
		})
		return
	}
	d, s := c.f(dst), c.f(src)
	parallel(nrows, inner, func(lo, hi int) {
		rows(sh, st, lo, hi, func(o []int) {
			dd := d[dstOff+o[0]:]
			sd := s[srcOff+o[1]:]
			switch {
			case ds == 1 && ss == 1 && !accumulate:
				copy(dd[:inner], sd[:inner])
			case ds == 1 && ss == 1:
				dd, sd = dd[:inner], sd[:inner]
				for j := range dd {
					dd[j] += sd[j]
				}
			case accumulate:
				for j := range inner {
					dd[j*ds] += sd[j*ss]
				}
			default:
				for j := range inner {
					dd[j*ds] = sd[j*ss]
				}
			}
		})
	})
}

// ---- elementwise ----

func (c *cpuBackend[T]) Unary(op UnaryOp, dst, x Buffer, n int, a, b float32) {
	d, s := c.f(dst)[:n], c.f(x)[:n]
	parallel(n, 8, func(lo, hi int) { unaryKernel(op, d[lo:hi], s[lo:hi], T(a), T(b)) })
}

func unaryKernel[T float](op UnaryOp, d, s []T, a, b T) {
	switch op {
	case Affine:
		for i, v := range s {
			d[i] = a*v + b
		}
	case Exp:
		expSlice(d, s)
	case Log:
		for i, v := range s {
			d[i] = T(math.Log(float64(v)))
		}
	case Sqrt:
		for i, v := range s {
			d[i] = T(math.Sqrt(float64(v)))
		}
	case Rsqrt:
		for i, v := range s {
			d[i] = T(1 / math.Sqrt(float64(v)))
		}
	case Recip:
		for i, v := range s {
			d[i] = 1 / v
		}
	case Square:
		for i, v := range s {
			d[i] = v * v
		}
	case Abs:
		for i, v := range s {
			d[i] = T(math.Abs(float64(v)))
		}
	case Relu:
		for i, v := range s {
			d[i] = max(v, 0)
		}
	case ReluSquare:
		for i, v := range s {
			v = max(v, 0)
			d[i] = v * v
		}
	case Sigmoid:
		sigmoidSlice(d, s)
	case Tanh:
		tanhSlice(d, s, 1)
	case Softcap:
		tanhSlice(d, s, a)
	case ClampMin:
		for i, v := range s {
			d[i] = max(v, a)
		}
	case ClampMax:
		for i, v := range s {
			d[i] = min(v, a)
		}
	case StepGE:
		for i, v := range s {
			d[i] = 0
			if v >= a {
				d[i] = 1
			}
		}
	case PowScalar:
		for i, v := range s {
			d[i] = T(math.Pow(float64(v), float64(a)))
		}
	case GELU, GELUTanh, SiLU, Softplus, Mish:
		activation(op, d, s)
	default:
		panic(fmt.Sprintf("tensor: cpu Unary: unknown op %v", op))
	}
}

func (c *cpuBackend[T]) UnaryBackward(op UnaryOp, dx, dy, x, y Buffer, n int, a, b float32) {
	dxs, dys, xs, ys := c.f(dx)[:n], c.f(dy)[:n], c.f(x)[:n], c.f(y)[:n]
	ta := T(a)
	parallel(n, 8, func(lo, hi int) {
		d, g, xv, yv := dxs[lo:hi], dys[lo:hi], xs[lo:hi], ys[lo:hi]
		switch op {
		case Affine:
			for i := range d {
				d[i] = g[i] * ta
			}
		case Exp:
			for i := range d {
				d[i] = g[i] * yv[i]
			}
		case Log:
			for i := range d {
				d[i] = g[i] / xv[i]
			}
		case Sqrt:
			for i := range d {
				d[i] = g[i] / (2 * yv[i])
			}
		case Rsqrt:
			for i := range d {
				d[i] = -g[i] * yv[i] * yv[i] * yv[i] / 2
			}
		case Recip:
			for i := range d {
				d[i] = -g[i] * yv[i] * yv[i]
			}
		case Square:
			for i := range d {
				d[i] = 2 * g[i] * xv[i]
			}
		case Abs:
			for i := range d {
				switch {
				case xv[i] > 0:
					d[i] = g[i]
				case xv[i] < 0:
					d[i] = -g[i]
				default:
					d[i] = 0
				}
			}
		case Relu:
			for i := range d {
				if xv[i] > 0 {
					d[i] = g[i]
				} else {
					d[i] = 0
				}
			}
		case ReluSquare:
			for i := range d {
				d[i] = 2 * g[i] * max(xv[i], 0)
			}
		case Sigmoid:
			for i := range d {
				d[i] = g[i] * yv[i] * (1 - yv[i])
			}
		case Tanh:
			for i := range d {
				d[i] = g[i] * (1 - yv[i]*yv[i])
			}
		case Softcap:
			for i := range d {
				t := yv[i] / ta
				d[i] = g[i] * (1 - t*t)
			}
		case ClampMin:
			for i := range d {
				if xv[i] >= ta {
					d[i] = g[i]
				} else {
					d[i] = 0
				}
			}
		case ClampMax:
			for i := range d {
				if xv[i] <= ta {
					d[i] = g[i]
				} else {
					d[i] = 0
				}
			}
		case StepGE:
			for i := range d {
				d[i] = 0
			}
		case PowScalar:
			for i := range d {
				d[i] = g[i] * ta * T(math.Pow(float64(xv[i]), float64(a)-1))
			}
		case GELU, GELUTanh, SiLU, Softplus, Mish:
			activationGrad(op, d, g, xv)
		default:
			panic(fmt.Sprintf("tensor: cpu UnaryBackward: unknown op %v", op))
		}
	})
}

func binaryOp[T float](op BinaryOp, x, y T) T {
	switch op {
	case Add:
		return x + y
	case Sub:
		return x - y
	case Mul:
		return x * y
	case Div:
		return x / y
	case Max:
		return max(x, y)
	case Min:
		return min(x, y)
	case Eq:
		if x == y {
			return 1
		}
		return 0
	case GE:
		if x >= y {
			return 1
		}
		return 0
	}
	panic(fmt.Sprintf("tensor: cpu Binary: unknown op %v", op))
}

func (c *cpuBackend[T]) Binary(op BinaryOp, shape []int, dst, x Buffer, xStrides []int, y Buffer, yStrides []int) {
	sh, st := coalesce(shape, contiguousStrides(shape), xStrides, yStrides)
	inner := sh[len(sh)-1]
	nrows := numel(sh) / inner
	xs, ys := st[1][len(sh)-1], st[2][len(sh)-1]
	d, xd, yd := c.f(dst), c.f(x), c.f(y)
	parallel(nrows, inner, func(lo, hi int) {
		rows(sh, st, lo, hi, func(o []int) {
			dd := d[o[0] : o[0]+inner]
			switch {
			case xs == 1 && ys == 1:
				binaryContig(op, dd, xd[o[1]:o[1]+inner], yd[o[2]:o[2]+inner])
			case xs == 1 && ys == 0:
				binaryScalarY(op, dd, xd[o[1]:o[1]+inner], yd[o[2]])
			default:
				for j := range dd {
					dd[j] = binaryOp(op, xd[o[1]+j*xs], yd[o[2]+j*ys])
				}
			}
		})
	})
}

func binaryContig[T float](op BinaryOp, d, x, y []T) {
	switch op {
	case Add:
		for i := range d {
			d[i] = x[i] + y[i]
		}
	case Sub:
		for i := range d {
			d[i] = x[i] - y[i]
		}
	case Mul:
		for i := range d {
			d[i] = x[i] * y[i]
		}
	case Div:
		for i := range d {
			d[i] = x[i] / y[i]
		}
	default:
		for i := range d {
			d[i] = binaryOp(op, x[i], y[i])
		}
	}
}

func binaryScalarY[T float](op BinaryOp, d, x []T, y T) {
	switch op {
	case Add:
		for i := range d {
			d[i] = x[i] + y
		}
	case Mul:
		for i := range d {
			d[i] = x[i] * y
		}
	default:
		for i := range d {
			d[i] = binaryOp(op, x[i], y)
		}
	}
}

func (c *cpuBackend[T]) Where(shape []int, dst, cond Buffer, condStrides []int, x Buffer, xStrides []int, y Buffer, yStrides []int) {
	sh, st := coalesce(shape, contiguousStrides(shape), condStrides, xStrides, yStrides)
	inner := sh[len(sh)-1]
	nrows := numel(sh) / inner
	cs, xs, ys := st[1][len(sh)-1], st[2][len(sh)-1], st[3][len(sh)-1]
	d, cd, xd, yd := c.f(dst), c.f(cond), c.f(x), c.f(y)
	parallel(nrows, inner, func(lo, hi int) {
		rows(sh, st, lo, hi, func(o []int) {
			for j := range inner {
				if cd[o[1]+j*cs] != 0 {
					d[o[0]+j] = xd[o[2]+j*xs]
				} else {
					d[o[0]+j] = yd[o[3]+j*ys]
				}
			}
		})
	})
}

// ---- reductions ----

func (c *cpuBackend[T]) Reduce(op ReduceOp, dst, src Buffer, outer, n, inner int, alpha float32) {
	d, s := c.f(dst), c.f(src)
	al := T(alpha)
	if inner == 1 {
		parallel(outer, n, func(lo, hi int) {
			for o := lo; o < hi; o++ {
				row := s[o*n : (o+1)*n]
				switch op {
				case Sum:
					var acc float64
					for _, v := range row {
						acc += float64(v)
					}
					d[o] = al * T(acc)
				case SumSquares:
					var acc float64
					for _, v := range row {
						acc += float64(v) * float64(v)
					}
					d[o] = al * T(acc)
				case MaxReduce:
					m := row[0]
					for _, v := range row[1:] {
						m = max(m, v)
					}
					d[o] = al * m
				default:
					panic(fmt.Sprintf("tensor: cpu Reduce: unknown op %v", op))
				}
			}
		})
		return
	}
	// Rows of inner elements: accumulate row by row, parallel over (o,
	// chunk of inner) so one long outer or one long inner both spread.
	chunk := max(256, inner/(4*runtime.GOMAXPROCS(0)))
	nch := (inner + chunk - 1) / chunk
	parallel(outer*nch, n*chunk, func(lo, hi int) {
		for w := lo; w < hi; w++ {
			o, ch := w/nch, w%nch
			j0, j1 := ch*chunk, min((ch+1)*chunk, inner)
			acc := d[o*inner+j0 : o*inner+j1]
			first := s[o*n*inner+j0 : o*n*inner+j1]
			switch op {
			case SumSquares:
				for j, v := range first {
					acc[j] = v * v
				}
			default:
				copy(acc, first)
			}
			for k := 1; k < n; k++ {
				row := s[(o*n+k)*inner+j0 : (o*n+k)*inner+j1]
				switch op {
				case Sum:
					for j, v := range row {
						acc[j] += v
					}
				case SumSquares:
					for j, v := range row {
						acc[j] += v * v
					}
				case MaxReduce:
					for j, v := range row {
						acc[j] = max(acc[j], v)
					}
				default:
					panic(fmt.Sprintf("tensor: cpu Reduce: unknown op %v", op))
				}
			}
			if al != 1 {
				for j := range acc {
					acc[j] *= al
				}
			}
		}
	})
}
