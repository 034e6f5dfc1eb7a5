//go:build cuda || cudaemu

// Package cuda is the GPU backend of package tensor: device memory, the kernels of
// tensor.Backend as CUDA C compiled by NVRTC at start-up, and GEMMs through cuBLAS. Importing
// it (a blank import under the cuda build tag) registers the backend as "cuda", so a training
// program opens it with tensor.Open("cuda") and runs unchanged.
//
// It builds with -tags cuda and the CUDA headers (make build-cuda), through gorgonia.org/cu
// for the driver API and the project's own small cgo files for kernel launches and cuBLAS.
// With -tags cudaemu instead it builds against a CPU emulator of the CUDA execution model
// (emulate.cc), which runs the same kernel sources with g++ so that the parity tests check
// every kernel on machines without a GPU.
//
// Terms:
//   - Driver: the layer below the backend (driver_cuda.go on a GPU, driver_emu.go on the
//     emulator): context and stream, raw memory, uploads and downloads, kernel launches,
//     cuBLAS.
//   - Stream: the one CUDA stream every operation is queued on, in issue order. Nothing
//     waits for the GPU except Read and Sync.
//   - Pool: the caching allocator. Freed buffers go to a free list of their size bucket and
//     are handed out again without a driver call; the stream's order makes that safe.
//   - Kernel arguments: 8-byte words (pointers, i64, float in the low half) and structs of
//     such words (Dims, AttDims), laid out exactly as the CUDA C structs in kernels/.
//   - Parity: agreement with the CPU backend on the same random inputs, within the
//     tolerance of the arithmetic (fp32 1e-5, TF32 1e-3, bf16 1e-2 relative).
//   - Activation dtype: bf16 by default (EnvBF16, SetBF16): the tensor layer then keeps
//     activations in bf16 with f32 master weights (tensor.Device.ActivationDType), so kernels
//     see mixed float dtypes where a comment of tensor.Backend allows them; their names end in
//     each operand's dtype ("binary_bf16_bf16_f32").
//   - Flash attention: kernels/flash.cu, bf16 on the tensor cores (mma.sync, ldmatrix,
//     cp.async; sm_80 and later, head dims 64 and 128); attention.cu's tiled kernels remain the
//     reference and the path for f32 and other head dims.
//   - Profile: GPU time of every launch from events around it, by phase (GEMMs, attention,
//     elementwise, optimizer) and by kernel, with the idle time between launches
//     (StartProfile, SetPhase, StopProfile); make gpu-bench prints it.
//
// The tensor-core code (flash.cu and the wrappers in common.cuh) has been checked only on the
// emulator, whose model of mma.sync, ldmatrix and cp.async follows the PTX ISA's documented
// fragment layouts, alignment rules and cp.async group semantics (emulate.h), and by NVRTC's
// assembler for sm_90 (make cuda-check: no register spills). TestParityTensorCoreFragments and the flash parity cases are what confirm
// it on a real GPU; make gpu-bench and gpu-check run them first.
package cuda
