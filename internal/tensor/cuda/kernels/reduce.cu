// reduce.cu: reductions over the middle axis of a contiguous [outer, n, inner] view,
// dst[o, j] = alpha * op_k src[o, k, j] with op sum, max or sum of squares.
#include "common.cuh"

// The op numbers are tensor.ReduceOp's, in its order.
enum { R_SUM, R_MAX, R_SUM_SQUARES };

__device__ __forceinline__ float reduce_init(i64 op) { return op == R_MAX ? -AR_INF : 0.0f; }

__device__ __forceinline__ float reduce_step(i64 op, float acc, float v) {
    if (op == R_MAX) return fmaxf(acc, v);
    if (op == R_SUM_SQUARES) return acc + v * v;
    return acc + v;
}

__device__ __forceinline__ float reduce_join(i64 op, float a, float b) {
    return op == R_MAX ? fmaxf(a, b) : a + b;
}

// reduce_rows: inner == 1. One block per row (grid-stride over rows), any multiple of 32
// threads; the threads stride along the row, then combine through block_reduce.
template <typename T>
__device__ void reduce_rows_impl(T* dst, const T* src, i64 outer, i64 n, i64 op, float alpha) {
    __shared__ float scratch[32];
    for (i64 o = blockIdx.x; o < outer; o += gridDim.x) {
        float acc = reduce_init(op);
        for (i64 k = threadIdx.x; k < n; k += blockDim.x) acc = reduce_step(op, acc, ld(src, o * n + k));
        float r = block_reduce(acc, scratch, op == R_MAX);
        if (threadIdx.x == 0) st(dst, o, alpha * r);
    }
}
extern "C" __global__ void reduce_rows_f32(float* dst, const float* src, i64 outer, i64 n, i64 op, float alpha) {
    reduce_rows_impl(dst, src, outer, n, op, alpha);
}
AR_KERNEL(reduce_rows_f32)
extern "C" __global__ void reduce_rows_bf16(bf16* dst, const bf16* src, i64 outer, i64 n, i64 op, float alpha) {
    reduce_rows_impl(dst, src, outer, n, op, alpha);
}
AR_KERNEL(reduce_rows_bf16)

// reduce_cols: inner > 1. Blocks of exactly 256 threads = 32 columns x 8 lanes along n; each
// block owns 32 consecutive j of one o (reads stay coalesced along j), the 8 partial results
// of a column meet in shared memory.
template <typename T>
__device__ void reduce_cols_impl(T* dst, const T* src, i64 outer, i64 n, i64 inner, i64 op, float alpha) {
    __shared__ float part[8][33];
    int tx = threadIdx.x % 32, ty = threadIdx.x / 32;
    i64 tiles = (inner + 31) / 32;
    for (i64 blk = blockIdx.x; blk < outer * tiles; blk += gridDim.x) {
        i64 o = blk / tiles, j = (blk % tiles) * 32 + tx;
        float acc = reduce_init(op);
        if (j < inner) {
            for (i64 k = ty; k < n; k += 8) acc = reduce_step(op, acc, ld(src, (o * n + k) * inner + j));
        }
        __syncthreads();  // the previous tile's partial results have been read
        part[ty][tx] = acc;
        __syncthreads();
        if (ty == 0 && j < inner) {
            float r = part[0][tx];
            for (int y = 1; y < 8; y++) r = reduce_join(op, r, part[y][tx]);
            st(dst, o * inner + j, alpha * r);
        }
    }
}
extern "C" __global__ void reduce_cols_f32(float* dst, const float* src, i64 outer, i64 n, i64 inner, i64 op, float alpha) {
    reduce_cols_impl(dst, src, outer, n, inner, op, alpha);
}
AR_KERNEL(reduce_cols_f32)
extern "C" __global__ void reduce_cols_bf16(bf16* dst, const bf16* src, i64 outer, i64 n, i64 inner, i64 op, float alpha) {
    reduce_cols_impl(dst, src, outer, n, inner, op, alpha);
}
AR_KERNEL(reduce_cols_bf16)
