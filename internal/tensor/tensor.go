package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// storage is a buffer shared by a tensor and its reshaped views; the buffer
// goes back to the backend when the last of them is released.
type storage struct {
	buf     Buffer
	refs    int
	version int // counts in-place updates of the buffer (see Tensor.as)
}

// Tensor is a shape and a contiguous row-major buffer on a device.
type Tensor struct {
	dev          *Device
	st           *storage
	shape        []int
	dtype        DType
	name         string
	requiresGrad bool
	persistent   bool // a parameter, a gradient or Keep: no scope frees it
	freed        bool
	freedBy      string // who freed it, for the use-after-free message
	retain       bool   // Backward leaves it alone
	node         *node  // the op that made it, while a graph is recorded

	// Grad is the accumulated gradient of a leaf that requires one, after
	// Backward; nil before the first Backward and after ZeroGrad.
	Grad *Tensor

	// I32 tensors made from host data or by FullInt32 remember what their
	// ids allow, and the layout ops pass it on where it stays known, so the
	// ops that read them can check ranges and count targets without a device
	// round trip.
	ids *idInfo

	// origin is where a tensor made in the root scope was made ("train.go:123"),
	// for the messages of Inspect; "" for tensors of inner scopes.
	origin string

	// cast is t's copy in another dtype (a weight in the activation dtype),
	// valid while castVer equals its storage's version and it is not freed.
	// See as.
	cast    *Tensor
	castVer int
}

type idInfo struct {
	valid int   // ids >= 0 (cross-entropy counts these)
	max   int32 // largest id, or a bound above it
}

// scaled is the info of a tensor holding each of these ids k times (Expand).
func (i *idInfo) scaled(k int) *idInfo {
	if i == nil {
		return nil
	}
	return &idInfo{valid: i.valid * k, max: i.max}
}

// partIDs is the info of n of t's ids (a slice): known when all of t's are
// valid, with t's largest id as the bound.
func (t *Tensor) partIDs(n int) *idInfo {
	if t.ids == nil || t.ids.valid != t.Numel() {
		return nil
	}
	return &idInfo{valid: n, max: t.ids.max}
}

func (d *Device) newTensor(dt DType, shape []int) *Tensor {
	n := numel(shape)
	for _, s := range shape {
		if s < 0 {
			panic(fmt.Sprintf("tensor: negative dimension in shape %v", shape))
		}
	}
	if len(shape) > MaxRank {
		panic(fmt.Sprintf("tensor: shape %v has more than %d axes", shape, MaxRank))
	}
	t := &Tensor{dev: d, st: &storage{buf: d.be.Alloc(dt, max(n, 1)), refs: 1}, shape: slices.Clone(shape), dtype: dt}
	d.adopt(t)
	return t
}

// view makes a tensor sharing t's storage with another shape.
func (t *Tensor) view(shape []int) *Tensor {
	t.st.refs++
	v := &Tensor{dev: t.dev, st: t.st, shape: slices.Clone(shape), dtype: t.dtype, ids: t.ids}
	t.dev.adopt(v)
	return v
}

func (t *Tensor) release() {
	if t.freed {
		return
	}
	t.freed = true
	t.node = nil
	t.dropCast()
	t.st.refs--
	if t.st.refs == 0 {
		t.dev.be.Free(t.st.buf)
		t.st.buf = nil
	}
}

// Free releases t now, whatever scope it belongs to (a parameter or Keep'd
// tensor included). Using t afterwards panics.
func (t *Tensor) Free() {
	if t == nil {
		return
	}
	t.release()
	if t.Grad != nil {
		t.Grad.release()
		t.Grad = nil
	}
}

// Retain keeps an intermediate tensor readable after a Backward through it
// (Backward frees the graph's tensors as it goes, like PyTorch). It
// returns t.
func (t *Tensor) Retain() *Tensor {
	t.check("Retain")
	t.retain = true
	return t
}

// Keep exempts t from every scope: it lives until Free. Tensors made in the
// root scope (before any scope opens: a model's parameters, optimizer state,
// constant tables) live that long already; Keep is for one made inside a
// scope that must outlive it. It returns t.
func (t *Tensor) Keep() *Tensor {
	t.check("Keep")
	t.persistent = true
	return t
}

func (t *Tensor) check(op string) {
	if t == nil {
		panic(fmt.Sprintf("tensor: %s: nil tensor", op))
	}
	if t.freed {
		why := "its scope closed or Free was called"
		if t.freedBy != "" {
			why = t.freedBy
		}
		panic(fmt.Sprintf("tensor: %s: tensor %s was freed (%s)", op, t.desc(), why))
	}
}

func (t *Tensor) buf() Buffer { return t.st.buf }

func (t *Tensor) desc() string {
	s := fmt.Sprintf("%s%v", t.dtype, t.shape)
	if t.name != "" {
		s = t.name + " " + s
	}
	return s
}

// String describes the tensor (name, dtype, shape), not its values.
func (t *Tensor) String() string { return "Tensor(" + t.desc() + ")" }

// Device returns the device t lives on.
func (t *Tensor) Device() *Device { return t.dev }

// Shape returns a copy of t's shape.
func (t *Tensor) Shape() []int { return slices.Clone(t.shape) }

// Rank is the number of axes.
func (t *Tensor) Rank() int { return len(t.shape) }

// Dim returns the size of axis i; negative i counts from the end.
func (t *Tensor) Dim(i int) int { return t.shape[t.axis("Dim", i)] }

// Numel is the number of elements.
func (t *Tensor) Numel() int { return numel(t.shape) }

// DType is the element type.
func (t *Tensor) DType() DType { return t.dtype }

// Name is the parameter name, "" for other tensors.
func (t *Tensor) Name() string { return t.name }

// RequiresGrad reports whether gradients flow to t.
func (t *Tensor) RequiresGrad() bool { return t.requiresGrad }

// SetRequiresGrad makes a leaf tensor collect a gradient without making it
// a named parameter. It returns t.
func (t *Tensor) SetRequiresGrad() *Tensor {
	t.check("SetRequiresGrad")
	if t.dtype == I32 {
		panic("tensor: SetRequiresGrad: an i32 tensor has no gradient")
	}
	t.requiresGrad = true
	return t
}

// Detach returns a view of t outside the graph (no gradient flows through).
func (t *Tensor) Detach() *Tensor {
	t.check("Detach")
	return t.view(t.shape)
}

func (t *Tensor) axis(op string, i int) int {
	r := len(t.shape)
	if i < -r || i >= r {
		panic(fmt.Sprintf("tensor: %s: axis %d out of range for shape %v", op, i, t.shape))
	}
	if i < 0 {
		i += r
	}
	return i
}

func numel(shape []int) int {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return n
}

func contiguousStrides(shape []int) []int {
	st := make([]int, len(shape))
	s := 1
	for i := len(shape) - 1; i >= 0; i-- {
		st[i] = s
		s *= shape[i]
	}
	return st
}

// ---- creation ----

// Empty returns an uninitialised F32 tensor.
func (d *Device) Empty(shape ...int) *Tensor { return d.newTensor(F32, shape) }

// Full returns an F32 tensor of shape filled with v.
func (d *Device) Full(v float32, shape ...int) *Tensor {
	t := d.newTensor(F32, shape)
	if n := t.Numel(); n > 0 {
		d.be.Fill(t.buf(), 0, n, v)
	}
	return t
}

// FullInt32 returns an I32 tensor of shape filled with v: ignored targets
// (-1) to pad a shifted sequence with, or a constant id. |v| is at most 2²⁴.
func (d *Device) FullInt32(v int32, shape ...int) *Tensor {
	if v > 1<<24 || v < -(1<<24) {
		panic(fmt.Sprintf("tensor: FullInt32: %d is beyond ±2²⁴", v))
	}
	t := d.newTensor(I32, shape)
	t.ids = &idInfo{max: v}
	if n := t.Numel(); n > 0 {
		d.be.Fill(t.buf(), 0, n, float32(v))
		if v >= 0 {
			t.ids.valid = n
		}
	}
	return t
}

// Zeros returns an F32 tensor of zeros.
func (d *Device) Zeros(shape ...int) *Tensor { return d.Full(0, shape...) }

// Ones returns an F32 tensor of ones.
func (d *Device) Ones(shape ...int) *Tensor { return d.Full(1, shape...) }

// Scalar returns a 0-d F32 tensor holding v.
func (d *Device) Scalar(v float32) *Tensor { return d.Full(v) }

// FromFloat32s copies host data into a new F32 tensor of shape (the data
// length must match).
func (d *Device) FromFloat32s(data []float32, shape ...int) *Tensor {
	if numel(shape) != len(data) {
		panic(fmt.Sprintf("tensor: FromFloat32s: %d values for shape %v", len(data), shape))
	}
	t := d.newTensor(F32, shape)
	if len(data) > 0 {
		d.be.Write(t.buf(), 0, data)
	}
	return t
}

// FromInt32s copies token ids or targets into a new I32 tensor of shape.
// Negative values mark ignored targets (cross-entropy skips them).
func (d *Device) FromInt32s(ids []int32, shape ...int) *Tensor {
	if numel(shape) != len(ids) {
		panic(fmt.Sprintf("tensor: FromInt32s: %d values for shape %v", len(ids), shape))
	}
	info := &idInfo{max: -1}
	for _, id := range ids {
		if id >= 0 {
			info.valid++
		}
		info.max = max(info.max, id)
	}
	t := d.newTensor(I32, shape)
	t.ids = info
	if len(ids) > 0 {
		d.be.WriteInt32(t.buf(), 0, ids)
	}
	return t
}

// RNG is a deterministic random source for initialisation: the same seed
// gives the same values on every device and machine.
type RNG struct{ r *rand.Rand }

// NewRNG returns a generator seeded with seed.
func NewRNG(seed uint64) *RNG {
	return &RNG{r: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))}
}

// Normal returns an F32 tensor of samples from N(mean, std²).
func (d *Device) Normal(rng *RNG, mean, std float64, shape ...int) *Tensor {
	data := make([]float32, numel(shape))
	for i := range data {
		data[i] = float32(mean + std*rng.r.NormFloat64())
	}
	return d.FromFloat32s(data, shape...)
}

// Uniform returns an F32 tensor of samples from U[lo, hi).
func (d *Device) Uniform(rng *RNG, lo, hi float64, shape ...int) *Tensor {
	data := make([]float32, numel(shape))
	for i := range data {
		data[i] = float32(lo + (hi-lo)*rng.r.Float64())
	}
	return d.FromFloat32s(data, shape...)
}

// ---- reading back ----

// float64IO is implemented by backends that hold more than float32
// precision (the float64 CPU backend used by the gradient checks).
type float64IO interface {
	Read64(src Buffer, off int, dst []float64)
	Write64(dst Buffer, off int, src []float64)
}

// Float32s copies t's values to the host (waiting for pending work).
func (t *Tensor) Float32s() []float32 {
	t.check("Float32s")
	if t.dtype == I32 {
		panic("tensor: Float32s: i32 tensor; its ids were given by the host")
	}
	out := make([]float32, t.Numel())
	if len(out) > 0 {
		t.dev.be.Read(t.buf(), 0, out)
	}
	return out
}

// Float64s copies t's values to the host at the backend's full precision.
func (t *Tensor) Float64s() []float64 {
	t.check("Float64s")
	out := make([]float64, t.Numel())
	if len(out) == 0 {
		return out
	}
	if io, ok := t.dev.be.(float64IO); ok {
		io.Read64(t.buf(), 0, out)
		return out
	}
	for i, v := range t.Float32s() {
		out[i] = float64(v)
	}
	return out
}

// Item returns the value of a one-element tensor (the loss, a norm).
func (t *Tensor) Item() float64 {
	t.check("Item")
	if t.Numel() != 1 {
		panic(fmt.Sprintf("tensor: Item: tensor %s has %d elements, not 1", t.desc(), t.Numel()))
	}
	return t.Float64s()[0]
}

// IsFinite reports whether every value is finite (no NaN or Inf).
func (t *Tensor) IsFinite() bool {
	for _, v := range t.Float64s() {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

// ---- dtypes ----

// convert returns a new tensor holding t's values in dtype dt (no graph).
func (t *Tensor) convert(dt DType) *Tensor {
	out := t.dev.newTensor(dt, t.shape)
	if n := t.Numel(); n > 0 {
		t.dev.be.Copy([]int{n}, out.buf(), 0, []int{1}, t.buf(), 0, []int{1}, false)
	}
	return out
}

// as returns t in dtype dt for an op's arithmetic, outside the graph: t itself
// when it has that dtype, else a converted copy, which t keeps until its next
// in-place update. So a weight converts once per optimizer step rather than
// once per use, and a tensor multiplied by itself converts once. A persistent
// tensor's copy (a parameter's, a Keep'd constant's such as the rotary
// tables) is persistent too; another's belongs to the scope it was made in
// (and is made again if that scope closed first). The copy is shared: a
// caller that keeps it past the current op takes a view of it (keepRef).
func (t *Tensor) as(dt DType) *Tensor {
	if t.dtype == dt {
		return t
	}
	if c := t.cast; c != nil && !c.freed && t.castVer == t.st.version && c.dtype == dt {
		return c
	}
	t.dropCast()
	c := t.convert(dt)
	c.persistent = t.persistent
	t.cast, t.castVer = c, t.st.version
	return c
}

// touch records an in-place update of t's buffer: cached conversions of t
// are stale from now on (a graph that saved one holds its own reference to
// the old values).
func (t *Tensor) touch() {
	t.st.version++
	t.dropCast()
}

func (t *Tensor) dropCast() {
	if t.cast != nil {
		t.cast.release()
		t.cast = nil
	}
}

// To returns t converted to dtype dt (F32 or BF16), recorded for autograd:
// the gradient flows back converted to t's dtype. t itself when it already
// has that dtype. A device whose activation dtype is BF16 converts by itself
// wherever an op needs it; To is for code that wants a dtype explicitly.
func (t *Tensor) To(dt DType) *Tensor {
	t.float("to")
	if dt != F32 && dt != BF16 {
		panic(fmt.Sprintf("tensor: to: %v is not a float dtype", dt))
	}
	if t.dtype == dt {
		return t
	}
	c := t.as(dt).view(t.shape) // the copy is t's to share: the caller gets a tensor of its own
	return record(c, "cast", []*Tensor{t}, nil, nil)
}
