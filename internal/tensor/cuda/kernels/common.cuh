// common.cuh: what every kernel source shares. NVRTC compiles each .cu file with this header
// given in memory; the CPU emulator (emulate.h, build tag cudaemu) compiles the same sources
// with g++, so kernels use only what both provide: the helpers below, __syncthreads, the
// warp shuffles wrapped here, atomicAdd, and the float math functions.
//
// Conventions:
//   - Every kernel is extern "C" (unmangled names the backend looks up) and is followed by
//     AR_KERNEL(name), which registers it with the emulator and expands to nothing on a GPU.
//   - Scalar parameters are i64 (long long) or float, one 8-byte slot each on the Go side.
//   - Storage types: float (f32), bf16, int (i32). Arithmetic is always float.
//   - Block sizes are multiples of 32, and every lane of a warp reaches each shuffle.
#pragma once

#ifdef AR_EMULATE
#include "emulate.h"
#else
#include <cuda_bf16.h>
typedef __nv_bfloat16 bf16;
#define AR_KERNEL(name)
#define AR_DYNAMIC_SMEM(type, name) \
    extern __shared__ __align__(16) unsigned char ar_dynamic_smem[]; \
    type* name = reinterpret_cast<type*>(ar_dynamic_smem)
#endif

typedef long long i64;

#define AR_MAX_RANK 8
#define AR_WARP 32
#define AR_INF __int_as_float(0x7f800000)

// Dims describes a strided N-d walk over shape for up to three operands; st[k][j] is operand
// k's stride along axis j, in elements. The Go side fills it (dims.go) with the axes already
// merged where every operand allows, so most walks are rank 1 or 2.
struct Dims {
    i64 rank;
    i64 n;  // product of shape
    i64 shape[AR_MAX_RANK];
    i64 st[3][AR_MAX_RANK];
};

// offsets turns the linear index i (row-major over shape) into each operand's element offset.
// A walk of rank 1 (a contiguous or uniformly strided one, the common case once dims.go has
// merged axes) needs no division; otherwise each axis costs one, in 32 bits where the walk
// allows (a 64-bit division is tens of instructions, which a memory-bound kernel cannot hide).
__device__ __forceinline__ void dims_offsets(const Dims& d, i64 i, i64* o0, i64* o1, i64* o2) {
    if (d.rank == 1) {
        *o0 = i * d.st[0][0];
        *o1 = i * d.st[1][0];
        *o2 = i * d.st[2][0];
        return;
    }
    i64 a = 0, b = 0, c = 0;
    if (d.n <= 0x7fffffff) {
        unsigned int u = (unsigned int)i;
        for (int j = (int)d.rank - 1; j >= 0; j--) {
            unsigned int s = (unsigned int)d.shape[j];
            unsigned int q = u / s;
            i64 r = (i64)(u - q * s);
            a += r * d.st[0][j];
            b += r * d.st[1][j];
            c += r * d.st[2][j];
            u = q;
        }
    } else {
        for (int j = (int)d.rank - 1; j >= 0; j--) {
            i64 s = d.shape[j];
            i64 q = i / s;
            i64 r = i - q * s;
            a += r * d.st[0][j];
            b += r * d.st[1][j];
            c += r * d.st[2][j];
            i = q;
        }
    }
    *o0 = a;
    *o1 = b;
    *o2 = c;
}

// Grid-stride loop over rows [0, n), one block a row.
#define AR_FOR_ROWS(row, n) for (i64 row = blockIdx.x; row < (n); row += gridDim.x)

// ---- loads and stores: storage type in, float arithmetic ----

__device__ __forceinline__ float ld(const float* p, i64 i) { return p[i]; }
__device__ __forceinline__ float ld(const bf16* p, i64 i) { return __bfloat162float(p[i]); }
__device__ __forceinline__ void st(float* p, i64 i, float v) { p[i] = v; }
__device__ __forceinline__ void st(bf16* p, i64 i, float v) { p[i] = __float2bfloat16(v); }

// ---- warp and block reductions ----

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = AR_WARP / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
    for (int o = AR_WARP / 2; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Sums over groups of `width` consecutive lanes (width a power of two <= 32).
__device__ __forceinline__ float group_sum(float v, int width) {
    for (int o = width / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float group_max(float v, int width) {
    for (int o = width / 2; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// block_reduce combines one value per thread of the block (blockDim.x a multiple of 32, at
// most 1024) and returns the result to every thread. scratch holds 32 floats in shared memory.
// is_max selects max instead of sum.
__device__ __forceinline__ float block_reduce(float v, float* scratch, bool is_max) {
    int lane = threadIdx.x % AR_WARP, warp = threadIdx.x / AR_WARP;
    int warps = blockDim.x / AR_WARP;
    v = is_max ? warp_max(v) : warp_sum(v);
    __syncthreads();  // scratch may still be read by a previous call
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    float r = lane < warps ? scratch[lane] : (is_max ? -AR_INF : 0.0f);
    r = is_max ? warp_max(r) : warp_sum(r);
    return r;
}

// atomic_add: dst += v, atomically. bf16 has a native atomic from sm_80; before that a
// compare-and-swap loop on the aligned 32-bit word that holds the value.
__device__ __forceinline__ void atomic_add(float* p, float v) { atomicAdd(p, v); }
__device__ __forceinline__ void atomic_add(bf16* p, float v) {
#if defined(AR_EMULATE) || !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
    atomicAdd(p, __float2bfloat16(v));
#else
    unsigned int* word = reinterpret_cast<unsigned int*>(reinterpret_cast<size_t>(p) & ~(size_t)3);
    const unsigned int shift = (reinterpret_cast<size_t>(p) & 2) ? 16 : 0;
    unsigned int old = *word, assumed;
    do {
        assumed = old;
        float sum = __uint_as_float(((assumed >> shift) & 0xffffu) << 16) + v;
        unsigned int u = __float_as_uint(sum);
        unsigned int nb = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;  // round to nearest even
        old = atomicCAS(word, assumed, (assumed & ~(0xffffu << shift)) | (nb << shift));
    } while (assumed != old);
#endif
}

__device__ __forceinline__ i64 imin(i64 a, i64 b) { return a < b ? a : b; }
__device__ __forceinline__ i64 imax(i64 a, i64 b) { return a > b ? a : b; }

// ---- tensor cores (sm_80 and later): warp-level bf16 products, matrix loads, async copies ----
// The kernels that use these (flash.cu) run only where the backend knows the device has them;
// compiled for an older architecture they trap. Under the emulator they are emulate.h's model
// of the same instructions, with the PTX ISA's fragment layouts.

typedef unsigned int u32;

// pack_bf16 rounds two floats to bf16 and packs them into one register, lo in the low half:
// the element order of an mma fragment register.
__device__ __forceinline__ u32 pack_bf16(float lo, float hi) {
    bf16 l = __float2bfloat16(lo), h = __float2bfloat16(hi);
    unsigned short ls, hs;
    memcpy(&ls, &l, 2);
    memcpy(&hs, &h, 2);
    return (u32)ls | ((u32)hs << 16);
}

#ifdef AR_EMULATE
__device__ __forceinline__ void mma_bf16_16816(float* d, const u32* a, const u32* b, const float* c) {
    ar_emu_mma_bf16_16816(d, a, b, c);
}
__device__ __forceinline__ void ldmatrix_x4(u32* r, const void* row) { ar_emu_ldmatrix_x4(r, row, false); }
__device__ __forceinline__ void ldmatrix_x4_trans(u32* r, const void* row) { ar_emu_ldmatrix_x4(r, row, true); }
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, bool valid) {
    ar_emu_cp_async16(smem, gmem, valid);
}
__device__ __forceinline__ void cp_async_commit() { ar_emu_cp_async_commit(); }
__device__ __forceinline__ void cp_async_wait_all() { ar_emu_cp_async_wait(0); }
#else
__device__ __forceinline__ u32 smem_u32(const void* p) { return (u32)__cvta_generic_to_shared(p); }

// d = a·b + c over one m16n8k16 tile: a 16x16 bf16 row-major (4 registers), b 16x8 bf16
// column-major (2 registers), c and d 16x8 f32 (4 each), in the PTX ISA's fragment layouts.
__device__ __forceinline__ void mma_bf16_16816(float* d, const u32* a, const u32* b, const float* c) {
#if __CUDA_ARCH__ >= 800
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%10,%11,%12,%13};\n"
        : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]),
          "f"(c[3]));
#else
    __trap();
#endif
}

// Four 8x8 b16 matrices from shared memory: lanes 8j..8j+7 give the rows of matrix j.
__device__ __forceinline__ void ldmatrix_x4(u32* r, const void* row) {
#if __CUDA_ARCH__ >= 800
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_u32(row)));
#else
    __trap();
#endif
}

// The same, each matrix transposed on the way.
__device__ __forceinline__ void ldmatrix_x4_trans(u32* r, const void* row) {
#if __CUDA_ARCH__ >= 800
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_u32(row)));
#else
    __trap();
#endif
}

// 16 bytes from global to shared memory without passing through registers; zeros when !valid.
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, bool valid) {
#if __CUDA_ARCH__ >= 800
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_u32(smem)), "l"(gmem),
                 "r"(valid ? 16 : 0));
#else
    __trap();
#endif
}

__device__ __forceinline__ void cp_async_commit() {
#if __CUDA_ARCH__ >= 800
    asm volatile("cp.async.commit_group;\n" ::);
#endif
}

// Waits for every cp.async group this thread committed (a copy issued after the last commit is
// not waited for: commit first); a __syncthreads after it makes all threads'
// copies visible to the block.
__device__ __forceinline__ void cp_async_wait_all() {
#if __CUDA_ARCH__ >= 800
    asm volatile("cp.async.wait_group 0;\n" ::);
#endif
}
#endif

// Grid-stride loop over [0, n): every kernel that walks elements uses it, so the Go side may
// cap the grid.
#define AR_FOR(i, n) \
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (i64)gridDim.x * blockDim.x)
