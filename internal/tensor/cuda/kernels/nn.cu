// nn.cu: the fused layers of the model, each forward above its backward: embedding, rms_norm,
// rotary, cross_entropy. Shapes use the legend N rows, C channels, V vocabulary, B batch,
// T time, H heads, D head dim.
#include "common.cuh"

// ---- embedding: dst [N, C] row i = table [V, C] row ids[i] ----

template <typename T>
__device__ void embedding_impl(T* dst, const T* table, const int* ids, i64 n, i64 c) {
    AR_FOR(i, n * c) {
        i64 row = i / c, col = i - row * c;
        dst[i] = table[(i64)ids[row] * c + col];
    }
}
extern "C" __global__ void embedding_f32(float* dst, const float* table, const int* ids, i64 n, i64 c) {
    embedding_impl(dst, table, ids, n, c);
}
AR_KERNEL(embedding_f32)
extern "C" __global__ void embedding_bf16(bf16* dst, const bf16* table, const int* ids, i64 n, i64 c) {
    embedding_impl(dst, table, ids, n, c);
}
AR_KERNEL(embedding_bf16)

// embedding_backward: dtable[ids[i], :] += dout[i, :], a scatter-add; ids repeat, so atomics.
template <typename T>
__device__ void embedding_backward_impl(T* dtable, const T* dout, const int* ids, i64 n, i64 c) {
    AR_FOR(i, n * c) {
        i64 row = i / c, col = i - row * c;
        atomic_add(&dtable[(i64)ids[row] * c + col], ld(dout, i));
    }
}
extern "C" __global__ void embedding_backward_f32(float* dtable, const float* dout, const int* ids, i64 n, i64 c) {
    embedding_backward_impl(dtable, dout, ids, n, c);
}
AR_KERNEL(embedding_backward_f32)
extern "C" __global__ void embedding_backward_bf16(bf16* dtable, const bf16* dout, const int* ids, i64 n, i64 c) {
    embedding_backward_impl(dtable, dout, ids, n, c);
}
AR_KERNEL(embedding_backward_bf16)

// ---- rms_norm: one warp per row of x [N, C] ----
// rstd[i] = 1/sqrt(mean_j x[i,j]^2 + eps), dst[i,j] = x[i,j]*rstd[i].

template <typename T>
__device__ void rms_norm_impl(T* dst, T* rstd, const T* x, i64 n, i64 c, float eps) {
    int lane = threadIdx.x % AR_WARP;
    i64 warps = blockDim.x / AR_WARP;
    for (i64 row = blockIdx.x * warps + threadIdx.x / AR_WARP; row < n; row += gridDim.x * warps) {
        const T* xr = x + row * c;
        float ss = 0.0f;
        for (i64 j = lane; j < c; j += AR_WARP) {
            float v = ld(xr, j);
            ss += v * v;
        }
        ss = warp_sum(ss);
        float r = 1.0f / sqrtf(ss / (float)c + eps);
        for (i64 j = lane; j < c; j += AR_WARP) st(dst, row * c + j, ld(xr, j) * r);
        if (lane == 0) st(rstd, row, r);
    }
}
extern "C" __global__ void rms_norm_f32(float* dst, float* rstd, const float* x, i64 n, i64 c, float eps) {
    rms_norm_impl(dst, rstd, x, n, c, eps);
}
AR_KERNEL(rms_norm_f32)
extern "C" __global__ void rms_norm_bf16(bf16* dst, bf16* rstd, const bf16* x, i64 n, i64 c, float eps) {
    rms_norm_impl(dst, rstd, x, n, c, eps);
}
AR_KERNEL(rms_norm_bf16)

// rms_norm_backward: dx[i,j] = rstd[i]*dy[i,j] - rstd[i]^3/C * x[i,j] * sum_k dy[i,k]*x[i,k].
// Each lane reads dy[j] before writing dx[j], so dx may be dy.
template <typename T>
__device__ void rms_norm_backward_impl(T* dx, const T* dy, const T* x, const T* rstd, i64 n, i64 c) {
    int lane = threadIdx.x % AR_WARP;
    i64 warps = blockDim.x / AR_WARP;
    for (i64 row = blockIdx.x * warps + threadIdx.x / AR_WARP; row < n; row += gridDim.x * warps) {
        i64 base = row * c;
        float dot = 0.0f;
        for (i64 j = lane; j < c; j += AR_WARP) dot += ld(dy, base + j) * ld(x, base + j);
        dot = warp_sum(dot);
        float r = ld(rstd, row);
        float k = r * r * r / (float)c * dot;
        for (i64 j = lane; j < c; j += AR_WARP) st(dx, base + j, r * ld(dy, base + j) - k * ld(x, base + j));
    }
}
extern "C" __global__ void rms_norm_backward_f32(float* dx, const float* dy, const float* x, const float* rstd, i64 n, i64 c) {
    rms_norm_backward_impl(dx, dy, x, rstd, n, c);
}
AR_KERNEL(rms_norm_backward_f32)
extern "C" __global__ void rms_norm_backward_bf16(bf16* dx, const bf16* dy, const bf16* x, const bf16* rstd, i64 n, i64 c) {
    rms_norm_backward_impl(dx, dy, x, rstd, n, c);
}
AR_KERNEL(rms_norm_backward_bf16)

// ---- rotary: x [B, T, H, D], cos/sin [>=T, D/2]; one thread per rotated pair ----
//   dst[j]   =  x[j]*cos[t,j] + x[j+h]*sin[t,j]
//   dst[j+h] = -x[j]*sin[t,j] + x[j+h]*cos[t,j]      (h = D/2; sin negated when inverse)
// A thread reads both halves before writing them, so dst may be x.

template <typename T>
__device__ void rotary_impl(T* dst, const T* x, const T* cs, const T* sn, i64 b, i64 t, i64 h, i64 d, i64 inverse) {
    i64 half = d / 2;
    AR_FOR(i, b * t * h * half) {
        i64 j = i % half, row = i / half;  // row indexes (b, t, h)
        i64 tt = (row / h) % t;
        i64 base = row * d;
        float x1 = ld(x, base + j), x2 = ld(x, base + j + half);
        float c = ld(cs, tt * half + j), s = ld(sn, tt * half + j);
        if (inverse) s = -s;
        st(dst, base + j, x1 * c + x2 * s);
        st(dst, base + j + half, -x1 * s + x2 * c);
    }
}
extern "C" __global__ void rotary_f32(float* dst, const float* x, const float* cs, const float* sn,
                                      i64 b, i64 t, i64 h, i64 d, i64 inverse) {
    rotary_impl(dst, x, cs, sn, b, t, h, d, inverse);
}
AR_KERNEL(rotary_f32)
extern "C" __global__ void rotary_bf16(bf16* dst, const bf16* x, const bf16* cs, const bf16* sn,
                                       i64 b, i64 t, i64 h, i64 d, i64 inverse) {
    rotary_impl(dst, x, cs, sn, b, t, h, d, inverse);
}
AR_KERNEL(rotary_bf16)

// ---- cross_entropy: logits [N, V] f32, targets i32 [N]; one block per row ----
// lse[i] = log sum_v exp(logits[i,v]); losses[i] = lse[i] - logits[i, targets[i]], or 0 for a
// negative (ignored) target.
extern "C" __global__ void cross_entropy_f32(float* losses, float* lse, const float* logits, const int* targets,
                                             i64 n, i64 v) {
    __shared__ float scratch[32];
    for (i64 row = blockIdx.x; row < n; row += gridDim.x) {
        const float* lr = logits + row * v;
        float m = -AR_INF;
        for (i64 j = threadIdx.x; j < v; j += blockDim.x) m = fmaxf(m, lr[j]);
        m = block_reduce(m, scratch, true);
        float s = 0.0f;
        for (i64 j = threadIdx.x; j < v; j += blockDim.x) s += expf(lr[j] - m);
        s = block_reduce(s, scratch, false);
        if (threadIdx.x == 0) {
            float l = m + logf(s);
            int tg = targets[row];
            lse[row] = l;
            losses[row] = tg < 0 ? 0.0f : l - lr[tg];
        }
    }
}
AR_KERNEL(cross_entropy_f32)

// cross_entropy_backward: dlogits[i,v] = dlosses[i] * (exp(logits[i,v] - lse[i]) - [v == t_i]),
// 0 on ignored rows. Elementwise, so dlogits may be logits.
extern "C" __global__ void cross_entropy_backward_f32(float* dlogits, const float* dlosses, const float* logits,
                                                      const float* lse, const int* targets, i64 n, i64 v) {
    AR_FOR(i, n * v) {
        i64 row = i / v, col = i - row * v;
        int tg = targets[row];
        float g = 0.0f;
        if (tg >= 0) g = dlosses[row] * (expf(logits[i] - lse[row]) - (col == tg ? 1.0f : 0.0f));
        dlogits[i] = g;
    }
}
AR_KERNEL(cross_entropy_backward_f32)
