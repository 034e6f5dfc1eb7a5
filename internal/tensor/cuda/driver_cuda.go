//go:build cuda

package cuda

// The driver on a real GPU. gorgonia.org/cu finds the device, retains its primary context
// (the one cuBLAS's runtime also uses), makes the stream and allocates device memory;
// driver_cuda.c launches kernels, loads modules, copies through pinned memory and calls
// cuBLAS, each in one cgo call that first makes the context current on its OS thread.

// #cgo LDFLAGS: -lcuda -lcublas
// #include <stdlib.h>
// #include "driver_cuda.h"
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"autoresearch/internal/tensor/cuda/ptx"

	"gorgonia.org/cu"
)

const (
	stages    = 4       // pinned upload buffers in flight
	stageSize = 4 << 20 // bytes each; larger uploads go in chunks
)

type stage struct {
	p    unsafe.Pointer // pinned host memory (C memory)
	ev   C.CUevent      // recorded after the last copy from p
	used bool
}

type driver struct {
	dev          cu.Device
	ctx          cu.CUContext
	cctx         C.CUcontext
	stream       cu.Stream
	cstream      C.CUstream
	blas         C.cublasHandle_t
	name         string
	major, minor int
	total        int64
	smem         int
	modules      []C.CUmodule
	funcs        []C.CUfunction
	stage        [stages]stage
	next         int
	readBuf      unsafe.Pointer // pinned, stageSize bytes
	log          [8192]C.char
}

func curesult(r C.CUresult) error {
	if r == C.CUDA_SUCCESS {
		return nil
	}
	var name, text *C.char
	C.cuGetErrorName(r, &name)
	C.cuGetErrorString(r, &text)
	if name == nil {
		return fmt.Errorf("CUDA error %d", int(r))
	}
	err := fmt.Errorf("%s: %s", C.GoString(name), C.GoString(text))
	if r == C.CUDA_ERROR_OUT_OF_MEMORY {
		return fmt.Errorf("%w (%v)", errOutOfMemory, err)
	}
	return err
}

var blasStatus = map[C.int]string{
	1: "CUBLAS_STATUS_NOT_INITIALIZED", 3: "CUBLAS_STATUS_ALLOC_FAILED", 7: "CUBLAS_STATUS_INVALID_VALUE",
	8: "CUBLAS_STATUS_ARCH_MISMATCH", 11: "CUBLAS_STATUS_MAPPING_ERROR", 13: "CUBLAS_STATUS_EXECUTION_FAILED",
	14: "CUBLAS_STATUS_INTERNAL_ERROR", 15: "CUBLAS_STATUS_NOT_SUPPORTED", 16: "CUBLAS_STATUS_LICENSE_ERROR",
}

func blasError(st C.int) error {
	if st == 0 {
		return nil
	}
	if name, ok := blasStatus[st]; ok {
		return errors.New("cuBLAS: " + name)
	}
	return fmt.Errorf("cuBLAS: status %d", int(st))
}

func openDriver() (*driver, error) {
	// Setup runs on one OS thread: gorgonia's calls use whatever context is current there.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	n, err := cu.NumDevices()
	if err != nil {
		return nil, fmt.Errorf("cuda: counting devices: %v", err)
	}
	if n == 0 {
		return nil, errors.New("cuda: no CUDA device (use --device cpu)")
	}
	d := &driver{}
	if d.dev, err = cu.GetDevice(0); err != nil {
		return nil, fmt.Errorf("cuda: device 0: %v", err)
	}
	d.name, _ = d.dev.Name()
	if d.major, d.minor, err = d.dev.ComputeCapability(); err != nil {
		return nil, fmt.Errorf("cuda: compute capability: %v", err)
	}
	d.total, _ = d.dev.TotalMem()
	d.smem, err = d.dev.Attribute(cu.DeviceAttribute(C.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN))
	if err != nil || d.smem <= 0 {
		d.smem = 48 << 10
	}
	if d.ctx, err = d.dev.RetainPrimaryCtx(); err != nil {
		return nil, fmt.Errorf("cuda: primary context: %v", err)
	}
	if err = cu.SetCurrentContext(d.ctx); err != nil {
		return nil, fmt.Errorf("cuda: making the context current: %v", err)
	}
	if err = curesult(C.ar_get_current(&d.cctx)); err != nil {
		return nil, fmt.Errorf("cuda: context: %v", err)
	}
	if d.stream, err = cu.MakeStream(cu.NonBlocking); err != nil {
		return nil, fmt.Errorf("cuda: stream: %v", err)
	}
	d.cstream = C.CUstream(unsafe.Pointer(d.stream.C()))
	if err = blasError(C.ar_blas_create(d.cctx, d.cstream, &d.blas)); err != nil {
		return nil, fmt.Errorf("cuda: cuBLAS handle: %v", err)
	}
	for i := range d.stage {
		if err = curesult(C.ar_host_alloc(d.cctx, &d.stage[i].p, stageSize)); err != nil {
			return nil, fmt.Errorf("cuda: pinned host memory: %v", err)
		}
		if err = curesult(C.ar_event_create(d.cctx, &d.stage[i].ev)); err != nil {
			return nil, fmt.Errorf("cuda: event: %v", err)
		}
	}
	if err = curesult(C.ar_host_alloc(d.cctx, &d.readBuf, stageSize)); err != nil {
		return nil, fmt.Errorf("cuda: pinned host memory: %v", err)
	}
	return d, nil
}

func (d *driver) String() string {
	v := cu.Version()
	return fmt.Sprintf("%s (sm_%d%d, %.1f GiB, CUDA driver %d.%d)", d.name, d.major, d.minor,
		float64(d.total)/(1<<30), v/1000, v%1000/10)
}

func (d *driver) deviceName() string { return d.name }

func (d *driver) close() {
	C.ar_sync(d.cctx, d.cstream)
	if d.blas != nil {
		C.ar_blas_destroy(d.cctx, d.blas)
	}
	for _, m := range d.modules {
		C.ar_module_unload(d.cctx, m)
	}
	for i := range d.stage {
		if d.stage[i].p != nil {
			C.ar_host_free(d.cctx, d.stage[i].p)
		}
	}
	if d.readBuf != nil {
		C.ar_host_free(d.cctx, d.readBuf)
	}
}

// withContext runs f on a locked OS thread with the context current, for gorgonia's calls.
func (d *driver) withContext(f func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := curesult(C.ar_current(d.cctx)); err != nil {
		return err
	}
	return f()
}

func (d *driver) malloc(n int64) (devptr, error) {
	var p cu.DevicePtr
	err := d.withContext(func() (err error) {
		p, err = cu.MemAlloc(n)
		if err == cu.OutOfMemory {
			err = fmt.Errorf("%d bytes: %w", n, errOutOfMemory)
		}
		return err
	})
	return devptr(p), err
}

func (d *driver) free(p devptr) {
	// The pool frees only when trimming: wait for the stream first, so no queued kernel still
	// uses the block (cuMemFree's own implicit synchronisation is not relied on).
	_ = d.withContext(func() error {
		if err := curesult(C.ar_sync(d.cctx, d.cstream)); err != nil {
			return err
		}
		return cu.MemFree(cu.DevicePtr(p))
	})
}

// upload copies src to dst through the pinned stages, in stream order; src may be reused as
// soon as upload returns.
func (d *driver) upload(dst devptr, src []byte) error {
	for off := 0; off < len(src); off += stageSize {
		n := min(stageSize, len(src)-off)
		st := &d.stage[d.next]
		d.next = (d.next + 1) % stages
		if st.used {
			if err := curesult(C.ar_event_wait(d.cctx, st.ev)); err != nil {
				return err
			}
		}
		copy(unsafe.Slice((*byte)(st.p), n), src[off:off+n])
		if err := curesult(C.ar_upload(d.cctx, d.cstream, C.uint64_t(dst)+C.uint64_t(off), st.p, C.size_t(n), st.ev)); err != nil {
			return err
		}
		st.used = true
	}
	return nil
}

// download waits for all issued work, then copies src to dst.
func (d *driver) download(dst []byte, src devptr) error {
	for off := 0; off < len(dst); off += stageSize {
		n := min(stageSize, len(dst)-off)
		if err := curesult(C.ar_download(d.cctx, d.cstream, d.readBuf, C.uint64_t(src)+C.uint64_t(off), C.size_t(n))); err != nil {
			return err
		}
		copy(dst[off:off+n], unsafe.Slice((*byte)(d.readBuf), n))
	}
	return nil
}

func (d *driver) sync() error { return curesult(C.ar_sync(d.cctx, d.cstream)) }

func (d *driver) maxDynamicSmem() int { return d.smem }

// loadKernels compiles every kernel source for this GPU's architecture (or reads the PTX
// cache) and loads the modules.
func (d *driver) loadKernels() (map[string]kfunc, error) {
	inc, err := ptx.FindInclude()
	if err != nil {
		return nil, fmt.Errorf("cuda: %v", err)
	}
	arch := fmt.Sprintf("compute_%d%d", d.major, d.minor)
	mods, err := ptx.CompileAll(ptx.Options{Arch: arch, IncludeDir: inc, CacheDir: ptx.DefaultCacheDir()})
	if err != nil {
		return nil, fmt.Errorf("cuda: %v", err)
	}
	fns := map[string]kfunc{}
	for _, m := range mods {
		text := C.CString(m.PTX)
		var mod C.CUmodule
		r := C.ar_module_load(d.cctx, &mod, text, &d.log[0], C.size_t(len(d.log)))
		C.free(unsafe.Pointer(text))
		if err := curesult(r); err != nil {
			return nil, fmt.Errorf("cuda: loading %s for %s: %v\n%s", m.Name, arch, err, C.GoString(&d.log[0]))
		}
		d.modules = append(d.modules, mod)
		for _, name := range m.Entries {
			cname := C.CString(name)
			var f C.CUfunction
			r := C.ar_module_function(d.cctx, mod, cname, C.int(d.smem), &f)
			C.free(unsafe.Pointer(cname))
			if err := curesult(r); err != nil {
				return nil, fmt.Errorf("cuda: kernel %s of %s: %v", name, m.Name, err)
			}
			fns[name] = kfunc(len(d.funcs))
			d.funcs = append(d.funcs, f)
		}
	}
	return fns, nil
}

func (d *driver) launch(k kfunc, grid [3]int, block, smem int, a *kargs) error {
	return curesult(C.ar_launch(d.cctx, d.funcs[k], C.uint(grid[0]), C.uint(grid[1]), C.uint(grid[2]), C.uint(block),
		C.uint(smem), d.cstream, (*C.uint64_t)(unsafe.Pointer(&a.words[0])), (*C.int32_t)(unsafe.Pointer(&a.offs[0])),
		C.int(a.na)))
}

func (d *driver) gemm(c *gemmCall) error {
	return blasError(C.ar_gemm(d.cctx, d.blas, cbool(c.transA), cbool(c.transB), C.int(c.m), C.int(c.n), C.int(c.k),
		C.float(c.alpha), C.uint64_t(c.a), C.int(c.typeA), C.int(c.lda), C.longlong(c.strideA),
		C.uint64_t(c.b), C.int(c.typeB), C.int(c.ldb), C.longlong(c.strideB), C.float(c.beta),
		C.uint64_t(c.c), C.int(c.typeC), C.int(c.ldc), C.longlong(c.strideC), C.int(c.batch), cbool(c.tf32)))
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}
