//go:build cuda || cudaemu

package cuda

import (
	"fmt"
	"os"
	"sync"
	"time"
	"unsafe"

	"autoresearch/internal/tensor"
)

// EnvTF32 names the variable that turns TF32 off for f32 GEMMs ("0"): then they run in full
// fp32, about 8 times slower on an H100. TF32 is the default, as in the original
// (torch.set_float32_matmul_precision("high")).
const EnvTF32 = "AUTORESEARCH_CUDA_TF32"

// EnvBF16 names the variable that turns bf16 activations off ("0"): then the device keeps
// every tensor in f32 (GEMMs in TF32), the CPU backend's arithmetic, at about half the speed.
// bf16 activations with f32 master weights are the default, the original's autocast recipe
// (see tensor.Device.ActivationDType).
const EnvBF16 = "AUTORESEARCH_CUDA_BF16"

func init() {
	tensor.RegisterBackend("cuda", func() (tensor.Backend, error) {
		b, err := Open()
		if err != nil {
			return nil, err
		}
		return b, nil
	})
}

// devptr is a device address.
type devptr uintptr

// kfunc is a loaded kernel, as the driver knows it.
type kfunc uintptr

// buffer is a device allocation: n elements of dt at ptr, in a pool block of size bytes.
type buffer struct {
	ptr   devptr
	n     int
	dt    tensor.DType
	size  int64
	freed bool
}

func (b *buffer) Len() int            { return b.n }
func (b *buffer) DType() tensor.DType { return b.dt }

// at is the address of element i.
func (b *buffer) at(i int) devptr { return b.ptr + devptr(i*b.dt.Size()) }

func (b *buffer) bytes() int64 { return int64(b.n) * int64(b.dt.Size()) }

// Backend is the CUDA implementation of tensor.Backend. Like every backend it is for one
// goroutine at a time; the driver keeps the device's context current on whichever OS thread
// that goroutine runs on.
type Backend struct {
	drv      deviceDriver
	pool     *pool
	fns      map[string]kfunc
	a        kargs
	tf32     bool
	bf16     bool
	flash    bool   // the tensor-core attention kernels (sm_80 and later)
	scratch  []byte // host bytes for dtype conversions
	startup  time.Duration
	launches int64 // kernels and cuBLAS calls issued
	prof     *profiler
}

var (
	openOnce sync.Once
	opened   *Backend
	openErr  error
)

// Open starts the backend on the first GPU: context and stream, cuBLAS, and every kernel
// compiled (or read from the PTX cache) and loaded. Later calls return the same backend.
func Open() (*Backend, error) {
	openOnce.Do(func() { opened, openErr = open() })
	return opened, openErr
}

func open() (*Backend, error) {
	start := time.Now()
	drv, err := openDriver()
	if err != nil {
		return nil, err
	}
	fns, err := drv.loadKernels()
	if err != nil {
		drv.close()
		return nil, err
	}
	b := &Backend{drv: drv, fns: fns, tf32: os.Getenv(EnvTF32) != "0", bf16: os.Getenv(EnvBF16) != "0"}
	b.flash = drv.computeCapability() >= 80
	b.pool = newPool(drv.malloc, drv.free)
	b.startup = time.Since(start)
	return b, nil
}

// Name is "cuda".
func (b *Backend) Name() string { return "cuda" }

// Describe names the device, e.g. "NVIDIA H100 80GB HBM3 (sm_90, 79.1 GiB)".
func (b *Backend) Describe() string { return b.drv.String() }

// StartupTime is how long Open took: driver, cuBLAS, kernels compiled or read and loaded.
func (b *Backend) StartupTime() time.Duration { return b.startup }

// SetTF32 chooses TF32 (true) or full fp32 (false) for f32 GEMMs.
func (b *Backend) SetTF32(on bool) { b.tf32 = on }

// SetBF16 chooses bf16 (true) or f32 (false) activations for the devices made from now on
// (a tensor.Device asks once, when it is made).
func (b *Backend) SetBF16(on bool) { b.bf16 = on }

// ActivationDType is BF16 unless turned off (EnvBF16, SetBF16): the tensor layer then keeps
// activations in bf16 and multiplies in bf16 on the tensor cores, weights staying f32.
func (b *Backend) ActivationDType() tensor.DType {
	if b.bf16 {
		return tensor.BF16
	}
	return tensor.F32
}

// SetFlash chooses the tensor-core attention kernels (true, where the device has them: sm_80
// and later) or the tiled CUDA-core kernels (false) for bf16 attention.
func (b *Backend) SetFlash(on bool) { b.flash = on && b.drv.computeCapability() >= 80 }

// Launches counts the kernels and cuBLAS calls issued since the backend opened.
func (b *Backend) Launches() int64 { return b.launches }

// Reserved is the device memory the pool holds: live buffers plus cached free blocks.
func (b *Backend) Reserved() int64 { return b.pool.reserve }

// Trim returns the pool's cached free blocks to the driver.
func (b *Backend) Trim() { b.pool.trim() }

func (b *Backend) buf(x tensor.Buffer, op string) *buffer {
	bb, ok := x.(*buffer)
	if !ok {
		panic(fmt.Errorf("cuda: %s: buffer %T is not a cuda buffer", op, x))
	}
	if bb.freed {
		panic(fmt.Errorf("cuda: %s: buffer used after Free", op))
	}
	return bb
}

// ---- memory ----

// Alloc returns n elements of dt from the pool.
func (b *Backend) Alloc(dt tensor.DType, n int) tensor.Buffer {
	if dt != tensor.F32 && dt != tensor.BF16 && dt != tensor.I32 {
		panic(fmt.Errorf("cuda: Alloc: unknown dtype %v", dt))
	}
	if n < 1 {
		panic(fmt.Errorf("cuda: Alloc: %d elements (at least 1)", n))
	}
	want := int64(n) * int64(dt.Size())
	ptr, size, err := b.pool.get(want)
	if err != nil {
		panic(fmt.Errorf("cuda: Alloc %d × %v (%.1f MiB; %.1f MiB in use, %.1f MiB reserved): %w",
			n, dt, float64(want)/(1<<20), float64(b.pool.inUse)/(1<<20), float64(b.pool.reserve)/(1<<20), err))
	}
	return &buffer{ptr: ptr, n: n, dt: dt, size: size}
}

// Free returns x's block to the pool.
func (b *Backend) Free(x tensor.Buffer) {
	bb := b.buf(x, "Free")
	bb.freed = true
	b.pool.put(bb.ptr, bb.size, bb.bytes())
}

// Memory reports the bytes of live buffers and their peak.
func (b *Backend) Memory() (inUse, peak int64) { return b.pool.inUse, b.pool.peak }

func checkRange(op string, buf *buffer, off, n int) {
	if off < 0 || n < 0 || off+n > buf.n {
		panic(fmt.Errorf("cuda: %s: elements [%d, %d) outside a buffer of %d", op, off, off+n, buf.n))
	}
}

func (b *Backend) scratchBytes(n int) []byte {
	if cap(b.scratch) < n {
		b.scratch = make([]byte, n)
	}
	return b.scratch[:n]
}

func f32Bytes(s []float32) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), 4*len(s))
}

// Write copies src into dst[off:], converting to dst's dtype. src may be reused at once.
func (b *Backend) Write(dst tensor.Buffer, off int, src []float32) {
	d := b.buf(dst, "Write")
	checkRange("Write", d, off, len(src))
	if len(src) == 0 {
		return
	}
	var data []byte
	switch d.dt {
	case tensor.F32:
		data = f32Bytes(src)
	case tensor.BF16:
		data = b.scratchBytes(2 * len(src))
		h := unsafe.Slice((*uint16)(unsafe.Pointer(unsafe.SliceData(data))), len(src))
		for i, v := range src {
			h[i] = toBF16(v)
		}
	default:
		panic(fmt.Errorf("cuda: Write: float values into an %v buffer (use WriteInt32)", d.dt))
	}
	if err := b.drv.upload(d.at(off), data); err != nil {
		panic(fmt.Errorf("cuda: Write: %w", err))
	}
}

// WriteInt32 copies src into the I32 buffer dst[off:].
func (b *Backend) WriteInt32(dst tensor.Buffer, off int, src []int32) {
	d := b.buf(dst, "WriteInt32")
	if d.dt != tensor.I32 {
		panic(fmt.Errorf("cuda: WriteInt32: into an %v buffer", d.dt))
	}
	checkRange("WriteInt32", d, off, len(src))
	if len(src) == 0 {
		return
	}
	data := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(src))), 4*len(src))
	if err := b.drv.upload(d.at(off), data); err != nil {
		panic(fmt.Errorf("cuda: WriteInt32: %w", err))
	}
}

// Read waits for all issued work, then copies src[off:off+len(dst)] into dst as float32.
func (b *Backend) Read(src tensor.Buffer, off int, dst []float32) {
	s := b.buf(src, "Read")
	checkRange("Read", s, off, len(dst))
	if len(dst) == 0 {
		if err := b.drv.sync(); err != nil {
			panic(fmt.Errorf("cuda: Read: %w", err))
		}
		return
	}
	var err error
	switch s.dt {
	case tensor.F32:
		err = b.drv.download(f32Bytes(dst), s.at(off))
	case tensor.BF16:
		data := b.scratchBytes(2 * len(dst))
		if err = b.drv.download(data, s.at(off)); err == nil {
			h := unsafe.Slice((*uint16)(unsafe.Pointer(unsafe.SliceData(data))), len(dst))
			for i, v := range h {
				dst[i] = fromBF16(v)
			}
		}
	case tensor.I32:
		data := b.scratchBytes(4 * len(dst))
		if err = b.drv.download(data, s.at(off)); err == nil {
			v := unsafe.Slice((*int32)(unsafe.Pointer(unsafe.SliceData(data))), len(dst))
			for i, x := range v {
				dst[i] = float32(x)
			}
		}
	}
	if err != nil {
		panic(fmt.Errorf("cuda: Read: %w", err))
	}
}

// Sync waits for all issued work and reports a failure of any of it.
func (b *Backend) Sync() error {
	if err := b.drv.sync(); err != nil {
		return fmt.Errorf("cuda: %w", err)
	}
	return nil
}

// ---- launching ----

const (
	threads = 256     // block size of the elementwise and row kernels
	maxGrid = 1 << 16 // grid cap for grid-stride kernels
)

func blocksFor(n, per int) int { return max(1, min((n+per-1)/per, maxGrid)) }

func suffix(dt tensor.DType) string {
	switch dt {
	case tensor.F32:
		return "_f32"
	case tensor.BF16:
		return "_bf16"
	case tensor.I32:
		return "_i32"
	}
	return "_" + dt.String()
}

// args starts the argument list of a launch.
func (b *Backend) args() *kargs {
	b.a.reset()
	return &b.a
}

// launch queues kernel name on the stream with the arguments collected since args().
func (b *Backend) launch(name string, grid [3]int, block, smem int) {
	k, ok := b.fns[name]
	if !ok {
		panic(fmt.Errorf("cuda: no kernel %q", name))
	}
	b.before()
	if err := b.drv.launch(k, grid, block, smem, &b.a); err != nil {
		panic(fmt.Errorf("cuda: %s: %w (an earlier kernel may have failed: CUDA_LAUNCH_BLOCKING=1 names it)", name, err))
	}
	b.launched(name)
}

func (b *Backend) launch1(name string, blocks, block, smem int) {
	b.launch(name, [3]int{blocks, 1, 1}, block, smem)
}
