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
