//go:build cudaemu && !cuda

package cuda

// The driver on the CPU emulator (emulate.cc): device memory is C heap memory, launches run
// the kernels' g++ builds block by block, and the GEMM is a plain column-major loop with
// cuBLAS's semantics. Everything is synchronous, so sync has nothing to wait for.

// #cgo CXXFLAGS: -std=c++17 -O1 -I${SRCDIR}
// #include "emulate_api.h"
import "C"

import (
	"embed"
	"errors"
	"fmt"
	"time"
	"unsafe"
)

type driver struct {
	live  map[devptr]int64
	err   [512]C.char
	marks []time.Time // the events: launches run synchronously, so an event is a host clock
}

// event is an index into the driver's marks.
type event int

// emuSharedMemory is the dynamic shared memory a block may use, as on an H100.
const emuSharedMemory = 227 * 1024

func openDriver() (*driver, error) { return &driver{live: map[devptr]int64{}}, nil }

func (d *driver) String() string { return "CPU emulator of CUDA" }

func (d *driver) deviceName() string { return "CPU emulator" }

func (d *driver) close() {
	for p := range d.live {
		d.free(p)
	}
}

func (d *driver) malloc(n int64) (devptr, error) {
	ptr := devptr(C.ar_emu_malloc(C.size_t(n)))
	if ptr == 0 {
		return 0, fmt.Errorf("%d bytes: %w", n, errOutOfMemory)
	}
	d.live[ptr] = n
	return ptr, nil
}

func (d *driver) free(p devptr) {
	delete(d.live, p)
	C.ar_emu_free(C.uintptr_t(p))
}

// check verifies that [p, p+n) lies inside one live allocation, which the real device would
// fault on (or worse, not).
func (d *driver) check(p devptr, n int) error {
	for base, size := range d.live {
		if p >= base && uintptr(p)+uintptr(n) <= uintptr(base)+uintptr(size) {
			return nil
		}
	}
	return fmt.Errorf("%d bytes at %#x: not inside an allocation", n, uintptr(p))
}

func (d *driver) upload(dst devptr, src []byte) error {
	if err := d.check(dst, len(src)); err != nil {
		return err
	}
	C.ar_emu_upload(C.uintptr_t(dst), unsafe.Pointer(unsafe.SliceData(src)), C.size_t(len(src)))
	return nil
}

func (d *driver) download(dst []byte, src devptr) error {
	if err := d.check(src, len(dst)); err != nil {
		return err
	}
	C.ar_emu_download(unsafe.Pointer(unsafe.SliceData(dst)), C.uintptr_t(src), C.size_t(len(dst)))
	return nil
}

func (d *driver) loadKernels() (map[string]kfunc, error) {
	n := int(C.ar_emu_kernel_count())
	if n == 0 {
		return nil, errors.New("emulator: no kernels registered")
	}
	fns := make(map[string]kfunc, n)
	for i := range n {
		fns[C.GoString(C.ar_emu_kernel_name(C.int(i)))] = kfunc(i)
	}
	return fns, nil
}

func (d *driver) maxDynamicSmem() int { return emuSharedMemory }

func (d *driver) launch(k kfunc, grid [3]int, block, smem int, a *kargs) error {
	if smem > emuSharedMemory {
		return fmt.Errorf("%d bytes of shared memory over %d", smem, emuSharedMemory)
	}
	for _, g := range grid {
		if g < 1 {
			return fmt.Errorf("grid %v", grid)
		}
	}
	rc := C.ar_emu_launch(C.int(k), C.uint(grid[0]), C.uint(grid[1]), C.uint(grid[2]), C.uint(block), C.uint(smem),
		(*C.uint64_t)(unsafe.Pointer(&a.words[0])), (*C.int32_t)(unsafe.Pointer(&a.offs[0])), C.int(a.na),
		&d.err[0], C.int(len(d.err)))
	if rc != 0 {
		return errors.New("emulator: " + C.GoString(&d.err[0]))
	}
	return nil
}

func (d *driver) gemm(c *gemmCall) error {
	C.ar_emu_gemm(cbool(c.transA), cbool(c.transB), C.int(c.m), C.int(c.n), C.int(c.k), C.float(c.alpha),
		C.uintptr_t(c.a), C.int(c.typeA), C.int(c.lda), C.longlong(c.strideA),
		C.uintptr_t(c.b), C.int(c.typeB), C.int(c.ldb), C.longlong(c.strideB),
		C.float(c.beta), C.uintptr_t(c.c), C.int(c.typeC), C.int(c.ldc), C.longlong(c.strideC),
		C.int(c.batch), cbool(c.tf32))
	return nil
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

func (d *driver) sync() error { return nil }

// computeCapability is an H100's: the emulator runs the sm_80 tensor-core kernels (mma.sync,
// ldmatrix, cp.async) through its own model of them (emulate.h).
func (d *driver) computeCapability() int { return 90 }

func (d *driver) newEvent() (event, error) {
	d.marks = append(d.marks, time.Time{})
	return event(len(d.marks) - 1), nil
}

func (d *driver) record(e event) error {
	d.marks[e] = time.Now()
	return nil
}

// elapsed is the milliseconds from event a to event b.
func (d *driver) elapsed(a, b event) (float64, error) {
	return float64(d.marks[b].Sub(d.marks[a]).Nanoseconds()) / 1e6, nil
}

// The emulator's C++ build includes kernels/*.cu (emulate_kernels.cc). Go's build cache
// does not follow #include, but it does hash embedded files: embedding the sources here makes
// a kernel edit rebuild the emulator.
//
//go:embed kernels/*.cu kernels/*.cuh emulate.h emulate_api.h
var emulatedSources embed.FS
