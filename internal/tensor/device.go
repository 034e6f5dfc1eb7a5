package tensor

import (
	"fmt"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
)

// Device is a Backend plus what the Tensor layer keeps per device: the stack
// of open scopes, the registered parameters and the grad mode. A Device and
// its tensors are for use by one goroutine at a time.
type Device struct {
	be     Backend
	act    DType    // activation dtype (see ActivationDType)
	scopes []*Scope // scopes[0] is the root scope, never closed
	params []*Tensor
	noGrad int
}

// Open returns the device named name: "cpu" (also for ""), or a backend
// registered with RegisterBackend such as "cuda". A training program passes
// the value of AUTORESEARCH_DEVICE.
func Open(name string) (*Device, error) {
	if name == "" {
		name = "cpu"
	}
	be, err := openBackend(name)
	if err != nil {
		return nil, err
	}
	return NewDevice(be), nil
}

// NewDevice wraps a backend that was made directly.
func NewDevice(be Backend) *Device {
	d := &Device{be: be, act: F32}
	if p, ok := be.(interface{ ActivationDType() DType }); ok {
		d.act = p.ActivationDType()
	}
	if d.act != F32 && d.act != BF16 {
		panic(fmt.Sprintf("tensor: backend %s prefers activation dtype %v (want f32 or bf16)", be.Name(), d.act))
	}
	d.scopes = []*Scope{{dev: d}}
	return d
}

// ActivationDType is the dtype of the device's activations, the mixed-precision
// policy of autocast decided once per device: F32 on the CPU; BF16 where the
// backend has a method ActivationDType() DType that says so (the CUDA backend,
// unless turned off). On a BF16 device:
//
//   - Parameters, their gradients, optimizer state and everything made by the
//     creation functions stay F32 (the master weights).
//   - MatMul (and its NT/TN/TT variants), Linear and AddMatMul multiply BF16 operands (F32 ones
//     are converted; a parameter once per update) with F32 accumulation;
//     the product is BF16, a weight's gradient F32.
//   - Embedding returns rows in BF16 from an F32 table and adds its gradient
//     into the F32 table gradient.
//   - Elementwise ops, RMSNorm, Rotary and Attention keep their input's dtype;
//     an op mixing F32 and BF16 inputs computes in F32 and stores BF16.
//   - Reductions and the cross-entropy losses are F32.
//   - A tensor's gradient always has the tensor's dtype.
//
// So gpt/train.go runs unchanged on either device: the CPU computes as before,
// the GPU moves half the bytes and multiplies on its bf16 tensor cores.
func (d *Device) ActivationDType() DType { return d.act }

// mixed is the dtype of an op over float tensors of dtypes a and b: theirs
// when they agree, else the activation dtype.
func (d *Device) mixed(a, b DType) DType {
	if a == b {
		return a
	}
	return d.act
}

// gemmDType is the dtype a product of a and b multiplies in.
func (d *Device) gemmDType(a, b DType) DType {
	if d.act == BF16 || (a == BF16 && b == BF16) {
		return BF16
	}
	return F32
}

// zeros returns a tensor of zeros of dtype dt.
func (d *Device) zeros(dt DType, shape ...int) *Tensor {
	t := d.newTensor(dt, shape)
	if n := t.Numel(); n > 0 {
		d.be.Fill(t.buf(), 0, n, 0)
	}
	return t
}

// Backend returns the device's backend.
func (d *Device) Backend() Backend { return d.be }

// Name is the backend's name.
func (d *Device) Name() string { return d.be.Name() }

// Sync waits for all issued work and reports a device failure.
func (d *Device) Sync() error { return d.be.Sync() }

// PeakFLOPS is the device's peak float throughput for the precision its
// GEMMs use (FLOP/s), the denominator of MFU; 0 when the backend does not
// say. A backend reports it by having a method PeakFLOPS() float64 (the CPU
// measures its micro-kernel once; a GPU backend may quote its card).
func (d *Device) PeakFLOPS() float64 {
	if p, ok := d.be.(interface{ PeakFLOPS() float64 }); ok {
		return p.PeakFLOPS()
	}
	return 0
}

// Memory reports the device memory in use now and at its peak, in bytes.
func (d *Device) Memory() (inUse, peak int64) { return d.be.Memory() }

// ---- scopes ----

// Scope owns the tensors made while it is the innermost open scope.
type Scope struct {
	dev     *Device
	tensors []*Tensor
	closed  bool
}

// Scope opens a scope; every tensor made until it closes belongs to it.
// Typical use, once per micro-step:
//
//	s := dev.Scope()
//	loss := model.Forward(x, y)
//	loss.Backward()
//	lossValue := loss.Item()
//	s.Close()
func (d *Device) Scope() *Scope {
	s := &Scope{dev: d}
	d.scopes = append(d.scopes, s)
	return s
}

// Close frees every tensor of the scope except keep, which move to the
// enclosing scope (values a function returns to its caller). Scopes close
// innermost first; closing one twice does nothing.
func (s *Scope) Close(keep ...*Tensor) {
	if s.closed {
		return
	}
	d := s.dev
	if d.scopes[len(d.scopes)-1] != s {
		panic("tensor: Scope.Close: an inner scope is still open (close scopes innermost first)")
	}
	d.scopes = d.scopes[:len(d.scopes)-1]
	s.closed = true
	kept := map[*Tensor]bool{}
	parent := d.scopes[len(d.scopes)-1]
	for _, t := range keep {
		if t != nil && !kept[t] {
			kept[t] = true
			parent.tensors = append(parent.tensors, t)
		}
	}
	for _, t := range s.tensors {
		if !kept[t] && !t.persistent && !t.freed {
			t.freedBy = scopeClosed
			t.release()
		}
	}
	s.tensors = nil
}

// scopeClosed says why a tensor of a closed scope is gone, and what to do.
const scopeClosed = "the scope it was made in closed: what dev.Step or dev.Eval makes is freed when it returns; " +
	"make a tensor that must last (state kept across steps) in setup, before the training loop"

// Do runs f inside a new scope and returns f's result, kept for the caller.
func (d *Device) Do(f func() *Tensor) *Tensor {
	s := d.Scope()
	var out *Tensor
	defer func() { s.Close(out) }()
	out = f()
	return out
}

func (d *Device) adopt(t *Tensor) {
	s := d.scopes[len(d.scopes)-1]
	s.tensors = append(s.tensors, t)
	if len(d.scopes) == 1 {
		t.origin = caller()
	}
}

// thisPackage is the import path of this package, whose frames caller skips.
var thisPackage = reflect.TypeFor[Tensor]().PkgPath() + "."

// caller is the file and line outside this package that made the tensor
// being adopted: "train.go:215". When that line is in a helper closure
// (uniform := func(...) { return dev.Uniform(...) }), it is the line that
// called the helper.
func caller() string {
	var pcs [16]uintptr
	frames := runtime.CallersFrames(pcs[:runtime.Callers(3, pcs[:])])
	for {
		f, more := frames.Next()
		inside := strings.HasPrefix(f.Function, thisPackage) && !strings.HasSuffix(f.File, "_test.go")
		if !inside && f.Function != "" {
			if next, _ := frames.Next(); next.File == f.File && strings.HasPrefix(f.Function, next.Function+".func") {
				f = next // a helper closure: the line that called it
			}
			return fmt.Sprintf("%s:%d", filepath.Base(f.File), f.Line)
		}
		if !more {
			return "setup"
		}
	}
}

// ---- grad mode ----

// NoGrad runs f with gradient recording off: evaluation and optimizer math.
func (d *Device) NoGrad(f func()) {
	d.noGrad++
	defer func() { d.noGrad-- }()
	f()
}

// GradEnabled reports whether ops record the graph now.
func (d *Device) GradEnabled() bool { return d.noGrad == 0 }

// ---- parameters ----

// Parameter turns t into a named parameter of the device: it requires a
// gradient, outlives every scope, and is listed by Parameters in the order
// made. t must be a leaf (made by a creation function, not by an op that
// recorded a graph).
func (d *Device) Parameter(name string, t *Tensor) *Tensor {
	t.check("Parameter")
	if t.node != nil {
		panic(fmt.Sprintf("tensor: Parameter %q: not a leaf tensor (made by %s)", name, t.node.op))
	}
	t.name = name
	t.requiresGrad = true
	t.persistent = true
	d.params = append(d.params, t)
	return t
}

// Parameters lists the device's parameters in the order they were made.
func (d *Device) Parameters() []*Tensor { return append([]*Tensor(nil), d.params...) }

// ZeroGrad frees every parameter's gradient (PyTorch's set_to_none), so the
// next Backward starts them afresh.
func (d *Device) ZeroGrad() {
	for _, p := range d.params {
		if p.Grad != nil {
			p.Grad.Free()
			p.Grad = nil
		}
	}
}

// CountParams is the number of elements of ts.
func CountParams(ts []*Tensor) int {
	n := 0
	for _, t := range ts {
		n += t.Numel()
	}
	return n
}
