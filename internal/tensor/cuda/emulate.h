// emulate.h: the device side of the CPU emulator of CUDA (build tag cudaemu). common.cuh
// includes it instead of cuda_bf16.h when AR_EMULATE is defined, so g++ compiles the very
// kernel sources NVRTC compiles for the GPU.
//
// The model: a launch runs its blocks one after another; the threads of a block are fibers
// (ucontext) on one OS thread, switched only at __syncthreads and at warp shuffles, which
// are barriers of the block and of the warp. So shared memory is plain static storage,
// atomics are plain read-modify-writes, and a kernel that misuses a barrier (a
// __syncthreads some threads never reach, a shuffle with lanes that have exited) is
// reported as an error instead of hanging. Not modelled: memory-ordering races, the
// hardware limits of registers and shared memory, and the speed of anything.
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
