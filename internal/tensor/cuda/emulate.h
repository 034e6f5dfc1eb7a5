// emulate.h: the device side of the CPU emulator of CUDA (build tag cudaemu). common.cuh
// includes it instead of cuda_bf16.h when AR_EMULATE is defined, so g++ compiles the very
// kernel sources NVRTC compiles for the GPU.
//
// The model: a launch runs its blocks one after another; the threads of a block are fibers
// (ucontext) on one OS thread, switched only at __syncthreads and at warp shuffles, which
// are barriers of the block and of the warp. So shared memory is plain static storage,
// atomics are plain read-modify-writes, and a kernel that misuses a barrier (a
// __syncthreads some threads never reach, a shuffle with lanes that have exited) is
// reported as an error instead of hanging. The tensor-core instructions below check what the
// hardware requires of their addresses (16-byte alignment) and a cp.async lands only at the
// cp.async.wait_group that waits for its group, so a kernel that reads a tile early reads
// stale data here as it may on a GPU. Not modelled: memory-ordering races, the hardware limits
// of registers and shared memory, and the speed of anything.
#pragma once

#include <math.h>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

struct ar_dim3 {
    unsigned x, y, z;
};

extern ar_dim3 ar_emu_thread_idx, ar_emu_block_idx, ar_emu_block_dim, ar_emu_grid_dim;
#define threadIdx ar_emu_thread_idx
#define blockIdx ar_emu_block_idx
#define blockDim ar_emu_block_dim
#define gridDim ar_emu_grid_dim

#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static
#define __align__(n) alignas(n)

// Barriers and shuffles switch fibers: they are defined out of line (emulate.cc), so the
// compiler reloads the globals above after each.
void ar_emu_syncthreads();
uint64_t ar_emu_exchange(uint64_t v, int src_lane);
int ar_emu_lane();
void* ar_emu_dynamic_smem();
// ar_emu_warp_gather is a warp barrier through which every lane hands in `bytes` (at most 64)
// of its own and gets all 32 lanes' in `all` (lane order): the collective step of the
// warp-level matrix instructions below.
void ar_emu_warp_gather(const void* mine, int bytes, void* all);
// ar_emu_fail ends the running launch with an error naming the kernel, the thread and the
// formatted message (the launch returns it; nothing of the block runs on).
[[noreturn]] void ar_emu_fail(const char* format, ...) __attribute__((format(printf, 1, 2)));

#define __syncthreads() ar_emu_syncthreads()
#define AR_DYNAMIC_SMEM(type, name) type* name = reinterpret_cast<type*>(ar_emu_dynamic_smem())

template <typename T>
inline T ar_emu_shfl(T v, int src) {
    static_assert(sizeof(T) <= 8, "shuffle of a value wider than 8 bytes");
    uint64_t w = 0;
    std::memcpy(&w, &v, sizeof(T));
    w = ar_emu_exchange(w, src & 31);
    T r;
    std::memcpy(&r, &w, sizeof(T));
    return r;
}
template <typename T>
inline T __shfl_xor_sync(unsigned, T v, int lane_mask) { return ar_emu_shfl(v, ar_emu_lane() ^ lane_mask); }
template <typename T>
inline T __shfl_sync(unsigned, T v, int src_lane) { return ar_emu_shfl(v, src_lane); }

inline float __int_as_float(int i) {
    float f;
    std::memcpy(&f, &i, 4);
    return f;
}
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }

// bfloat16 storage, converted like cuda_bf16.h (round to nearest even).
struct bf16 {
    uint16_t x;
};
inline float __bfloat162float(bf16 b) {
    uint32_t u = (uint32_t)b.x << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}
inline bf16 __float2bfloat16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    bf16 b;
    if ((u & 0x7fffffffu) > 0x7f800000u) {
        b.x = (uint16_t)((u >> 16) | 0x40);
    } else {
        u += 0x7fffu + ((u >> 16) & 1u);
        b.x = (uint16_t)(u >> 16);
    }
    return b;
}

// Fibers switch only at barriers, so these are atomic.
inline float atomicAdd(float* p, float v) {
    float old = *p;
    *p = old + v;
    return old;
}
inline bf16 atomicAdd(bf16* p, bf16 v) {
    bf16 old = *p;
    *p = __float2bfloat16(__bfloat162float(old) + __bfloat162float(v));
    return old;
}

// ---- kernel registry: AR_KERNEL(name) after each kernel ----

typedef void (*ar_emu_invoker)(void* fn, void** params);

template <typename... A>
struct ar_emu_call {
    template <std::size_t... I>
    static void call(void (*f)(A...), void** p, std::index_sequence<I...>) {
        f(*static_cast<typename std::remove_reference<A>::type*>(p[I])...);
    }
    static void invoke(void* f, void** p) {
        call(reinterpret_cast<void (*)(A...)>(f), p, std::index_sequence_for<A...>{});
    }
};
template <typename... A>
ar_emu_invoker ar_emu_invoker_for(void (*)(A...)) { return &ar_emu_call<A...>::invoke; }

void ar_emu_register(const char* name, void* fn, ar_emu_invoker invoke);
struct ar_emu_registrar {
    ar_emu_registrar(const char* name, void* fn, ar_emu_invoker invoke) { ar_emu_register(name, fn, invoke); }
};
#define AR_KERNEL(name) \
    static ar_emu_registrar ar_emu_reg_##name(#name, reinterpret_cast<void*>(&name), ar_emu_invoker_for(&name));

// ---- tensor-core instructions (sm_80), modelled after the PTX ISA's fragment layouts ----
// These are what common.cuh's mma_bf16_16816, ldmatrix_x4 and cp_async16 call under the
// emulator. Each lane holds its fragment in registers exactly as the PTX ISA documents for
// mma.m16n8k16 with .bf16 inputs and .f32 accumulators (groupID = lane >> 2, threadID_in_group
// = lane % 4), and the instruction is collective over the warp: the lanes trade fragments
// through ar_emu_warp_gather, then each computes its own outputs. This reproduces the documented
// layout, which a kernel must get right to run correctly on a GPU; the hardware's own rounding
// inside the product (it may sum in another order) is not modelled. Never checked against a
// GPU here: the parity tests on the GPU machine are what confirm the layout.

inline float ar_emu_bf16_lo(uint32_t r) { return __bfloat162float(bf16{(uint16_t)(r & 0xffffu)}); }
inline float ar_emu_bf16_hi(uint32_t r) { return __bfloat162float(bf16{(uint16_t)(r >> 16)}); }

// D = A·B + C, A 16x16 row-major (4 regs: a0..a7), B 16x8 column-major (2 regs: b0..b3),
// C and D 16x8 (c0..c3). d may be c.
inline void ar_emu_mma_bf16_16816(float* d, const uint32_t* a, const uint32_t* b, const float* c) {
    struct Frag {
        uint32_t a[4], b[2];
    } mine, all[32];
    for (int i = 0; i < 4; i++) mine.a[i] = a[i];
    mine.b[0] = b[0];
    mine.b[1] = b[1];
    ar_emu_warp_gather(&mine, sizeof mine, all);
    float A[16][16], B[16][8];
    for (int l = 0; l < 32; l++) {
        int g = l >> 2, t = l & 3;
        // A: register r holds a_{2r} (low half) and a_{2r+1}; rows g (r = 0, 2) or g + 8
        // (r = 1, 3), columns 2t, 2t+1 (r < 2) or 2t+8, 2t+9 (r >= 2).
        for (int r = 0; r < 4; r++) {
            int row = g + (r & 1) * 8, col = t * 2 + (r >> 1) * 8;
            A[row][col] = ar_emu_bf16_lo(all[l].a[r]);
            A[row][col + 1] = ar_emu_bf16_hi(all[l].a[r]);
        }
        // B: register r holds b_{2r}, b_{2r+1}: rows (k) 2t, 2t+1 (+8 for r = 1), column (n) g.
        for (int r = 0; r < 2; r++) {
            int k = t * 2 + r * 8;
            B[k][g] = ar_emu_bf16_lo(all[l].b[r]);
            B[k + 1][g] = ar_emu_bf16_hi(all[l].b[r]);
        }
    }
    int lane = ar_emu_lane(), g = lane >> 2, t = lane & 3;
    float out[4];
    for (int i = 0; i < 4; i++) {  // c_i: row g (i < 2) or g + 8, column 2t + (i & 1)
        int row = g + (i >> 1) * 8, col = t * 2 + (i & 1);
        float acc = 0.0f;
        for (int k = 0; k < 16; k++) acc += A[row][k] * B[k][col];
        out[i] = c[i] + acc;
    }
    for (int i = 0; i < 4; i++) d[i] = out[i];
}

// ldmatrix.sync.aligned.m8n8.x4(.trans).shared.b16: lanes 8j..8j+7 give the addresses of rows
// 0..7 of matrix j; register j of lane l gets that matrix's row l/4, columns 2(l%4) and
// 2(l%4)+1 (low half first), or with trans its column l/4, rows 2(l%4) and 2(l%4)+1. Every
// row address must be 16-byte aligned.
inline void ar_emu_ldmatrix_x4(uint32_t* r, const void* row, bool trans) {
    if (reinterpret_cast<uintptr_t>(row) % 16 != 0)
        ar_emu_fail("ldmatrix: row address %p is not 16-byte aligned", row);
    const void* all[32];
    ar_emu_warp_gather(&row, sizeof row, all);
    int lane = ar_emu_lane(), g = lane >> 2, t = lane & 3;
    for (int j = 0; j < 4; j++) {
        uint16_t lo, hi;
        if (!trans) {
            const uint16_t* p = static_cast<const uint16_t*>(all[8 * j + g]);
            lo = p[2 * t];
            hi = p[2 * t + 1];
        } else {
            lo = static_cast<const uint16_t*>(all[8 * j + 2 * t])[g];
            hi = static_cast<const uint16_t*>(all[8 * j + 2 * t + 1])[g];
        }
        r[j] = (uint32_t)lo | ((uint32_t)hi << 16);
    }
}

// cp.async.cg of 16 bytes (zeros when !valid), both addresses 16-byte aligned. The copy is
// queued in the issuing thread's current group (cp.async.commit_group closes it) and lands at
// the cp.async.wait_group n that leaves at most n newer groups pending; a copy never committed
// is not waited for, as in PTX.
void ar_emu_cp_async16(void* dst, const void* src, bool valid);
void ar_emu_cp_async_commit();
void ar_emu_cp_async_wait(int n);
