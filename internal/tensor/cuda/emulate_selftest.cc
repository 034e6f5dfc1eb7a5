//go:build cudaemu && !cuda

// Kernels that misuse barriers, for the emulator's own test (emulate_test.go): it must
// report them instead of hanging or passing.
#define AR_EMULATE 1
#include "kernels/common.cuh"

// Threads of the upper half leave before a __syncthreads the others wait at: allowed, as on
// the GPU since Volta (exited threads do not block a barrier).
extern "C" __global__ void emu_selftest_early_exit(float* out) {
    if (threadIdx.x >= blockDim.x / 2) return;
    __syncthreads();
    out[threadIdx.x] = 1.0f;
}
AR_KERNEL(emu_selftest_early_exit)

// A shuffle after half of the warp's lanes returned: undefined on a GPU.
extern "C" __global__ void emu_selftest_shuffle_exited(float* out) {
    if (threadIdx.x % 32 >= 16) return;
    out[threadIdx.x] = warp_sum(1.0f);
}
AR_KERNEL(emu_selftest_shuffle_exited)

// Half of a warp waits at a shuffle that its other half, waiting at __syncthreads, never
// joins: a deadlock.
extern "C" __global__ void emu_selftest_deadlock(float* out) {
    if (threadIdx.x % 32 < 16) {
        __syncthreads();
    } else {
        out[threadIdx.x] = warp_sum(1.0f);
    }
}
AR_KERNEL(emu_selftest_deadlock)

// Kernels that break the rules of the tensor-core instructions, for the emulator's checks of
// them (emulate_test.go): the GPU faults or reads garbage; the emulator must say so.

// cp.async into shared memory 4 bytes past a 16-byte boundary.
extern "C" __global__ void emu_selftest_cp_async_misaligned(float* out) {
    __align__(16) __shared__ float s[8];
    cp_async16(&s[1], out, true);
    cp_async_commit();
    cp_async_wait_all();
}
AR_KERNEL(emu_selftest_cp_async_misaligned)

// ldmatrix with row addresses 2 bytes past a 16-byte boundary.
extern "C" __global__ void emu_selftest_ldmatrix_misaligned(float* out) {
    __align__(16) __shared__ bf16 tile[32 * 8 + 8];
    u32 r[4];
    ldmatrix_x4(r, tile + (threadIdx.x % 32) * 8 + 1);
    out[threadIdx.x] = (float)r[0];
}
AR_KERNEL(emu_selftest_ldmatrix_misaligned)

// Each thread copies 16 bytes of in into shared memory that holds -1 and reads them back:
// before the wait (stale: -1), after a wait that leaves a later group pending (still -1 for
// that group), after the wait for everything committed, and for a copy never committed (-1
// even after wait_all). out holds 5 values a thread, [5][blockDim.x].
extern "C" __global__ void emu_selftest_cp_async_order(float* out, const float* in) {
    __align__(16) __shared__ float s[64 * 12];
    const int t = threadIdx.x, n = blockDim.x;
    for (int j = 0; j < 12; j++) s[12 * t + j] = -1.0f;
    cp_async16(&s[12 * t], in + 4 * t, true);
    cp_async_commit();
    out[t] = s[12 * t];  // read before waiting: stale
    cp_async16(&s[12 * t + 4], in + 4 * t, true);
    cp_async_commit();
    ar_emu_cp_async_wait(1);  // the first group has landed, the second may not have
    out[n + t] = s[12 * t];
    out[2 * n + t] = s[12 * t + 4];
    cp_async16(&s[12 * t + 8], in + 4 * t, true);  // never committed
    cp_async_wait_all();
    out[3 * n + t] = s[12 * t + 4];
    out[4 * n + t] = s[12 * t + 8];
}
AR_KERNEL(emu_selftest_cp_async_order)
