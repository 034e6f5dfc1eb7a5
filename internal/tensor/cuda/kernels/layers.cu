// layers.cu: the layers beyond the baseline's, each forward above its backward: layer_norm
// (also RMSNorm with a weight), dropout, cross-entropy with label smoothing and z-loss, and
// top-k routing's topk, gather and scatter_add. Shapes use the legend N rows, C channels,
// V vocabulary, K picks per row. Kernel names end in the dtype of the activations (x, dst,
// dy, dx, logits); statistics, weights and their gradients are f32 always.
#include "common.cuh"

// ---- layer_norm: one warp per row of x [N, C] ----
// mean[i] = center ? mean_j x : 0;  rstd[i] = 1/sqrt(mean_j (x-mean)^2 + eps);
// dst = (x-mean)*rstd*w + b, with w and b [C] optional (null: 1 and 0).

template <typename T>
__device__ void layer_norm_impl(T* dst, float* mean, float* rstd, const T* x, const float* w, const float* b,
                                i64 n, i64 c, float eps, i64 center) {
    int lane = threadIdx.x % AR_WARP;
    i64 warps = blockDim.x / AR_WARP;
    for (i64 row = blockIdx.x * warps + threadIdx.x / AR_WARP; row < n; row += gridDim.x * warps) {
        const T* xr = x + row * c;
        float m = 0.0f;
        if (center) {
            for (i64 j = lane; j < c; j += AR_WARP) m += ld(xr, j);
            m = warp_sum(m) / (float)c;
        }
        float ss = 0.0f;
        for (i64 j = lane; j < c; j += AR_WARP) {
            float d = ld(xr, j) - m;
            ss += d * d;
        }
        ss = warp_sum(ss);
        float r = 1.0f / sqrtf(ss / (float)c + eps);
        for (i64 j = lane; j < c; j += AR_WARP) {
            float y = (ld(xr, j) - m) * r;
            if (w) y *= w[j];
            if (b) y += b[j];
            st(dst, row * c + j, y);
        }
        if (lane == 0) {
            mean[row] = m;
            rstd[row] = r;
        }
    }
}
extern "C" __global__ void layer_norm_f32(float* dst, float* mean, float* rstd, const float* x, const float* w,
                                          const float* b, i64 n, i64 c, float eps, i64 center) {
    layer_norm_impl(dst, mean, rstd, x, w, b, n, c, eps, center);
}
AR_KERNEL(layer_norm_f32)
extern "C" __global__ void layer_norm_bf16(bf16* dst, float* mean, float* rstd, const bf16* x, const float* w,
                                           const float* b, i64 n, i64 c, float eps, i64 center) {
    layer_norm_impl(dst, mean, rstd, x, w, b, n, c, eps, center);
}
AR_KERNEL(layer_norm_bf16)

// layer_norm_backward: with xh = (x-mean)*rstd and gh = dy*w, per row
//   dx = rstd*(gh - mean_j gh - xh*mean_j(gh*xh))     (no mean_j gh term without center)
// One warp per row; each lane reads dy[j] before writing dx[j], so dx may be dy.
template <typename T>
__device__ void layer_norm_backward_impl(T* dx, const T* dy, const T* x, const float* mean, const float* rstd,
                                         const float* w, i64 n, i64 c, i64 center) {
    int lane = threadIdx.x % AR_WARP;
    i64 warps = blockDim.x / AR_WARP;
    for (i64 row = blockIdx.x * warps + threadIdx.x / AR_WARP; row < n; row += gridDim.x * warps) {
        i64 base = row * c;
        float m = mean[row], r = rstd[row];
        float sg = 0.0f, sgx = 0.0f;
        for (i64 j = lane; j < c; j += AR_WARP) {
            float g = ld(dy, base + j);
            if (w) g *= w[j];
            sg += g;
            sgx += g * (ld(x, base + j) - m) * r;
        }
        sg = center ? warp_sum(sg) / (float)c : 0.0f;
        sgx = warp_sum(sgx) / (float)c;
        for (i64 j = lane; j < c; j += AR_WARP) {
            float g = ld(dy, base + j);
            if (w) g *= w[j];
            st(dx, base + j, r * (g - sg - (ld(x, base + j) - m) * r * sgx));
        }
    }
}
extern "C" __global__ void layer_norm_backward_f32(float* dx, const float* dy, const float* x, const float* mean,
                                                   const float* rstd, const float* w, i64 n, i64 c, i64 center) {
    layer_norm_backward_impl(dx, dy, x, mean, rstd, w, n, c, center);
}
AR_KERNEL(layer_norm_backward_f32)
extern "C" __global__ void layer_norm_backward_bf16(bf16* dx, const bf16* dy, const bf16* x, const float* mean,
                                                    const float* rstd, const float* w, i64 n, i64 c, i64 center) {
    layer_norm_backward_impl(dx, dy, x, mean, rstd, w, n, c, center);
}
AR_KERNEL(layer_norm_backward_bf16)

// layer_norm_params_backward: dw[j] += sum_i dy[i,j]*xh[i,j], db[j] += sum_i dy[i,j] (either
// may be null), for dw and db zeroed beforehand. Work item t of (C/blockDim) column tiles x
// (N/rows) row chunks: one thread a column sums its chunk's rows in a register, then one
// atomic add per column and chunk.
template <typename T>
__device__ void layer_norm_params_backward_impl(float* dw, float* db, const T* dy, const T* x, const float* mean,
                                                const float* rstd, i64 n, i64 c, i64 rows) {
    i64 tiles = (c + blockDim.x - 1) / blockDim.x, chunks = (n + rows - 1) / rows;
    for (i64 t = blockIdx.x; t < tiles * chunks; t += gridDim.x) {
        i64 j = (t % tiles) * blockDim.x + threadIdx.x, r0 = (t / tiles) * rows;
        if (j >= c) continue;
        float sw = 0.0f, sb = 0.0f;
        for (i64 i = r0; i < imin(r0 + rows, n); i++) {
            float g = ld(dy, i * c + j);
            sw += g * (ld(x, i * c + j) - mean[i]) * rstd[i];
            sb += g;
        }
        if (dw) atomic_add(&dw[j], sw);
        if (db) atomic_add(&db[j], sb);
    }
}
extern "C" __global__ void layer_norm_params_backward_f32(float* dw, float* db, const float* dy, const float* x,
                                                          const float* mean, const float* rstd, i64 n, i64 c, i64 rows) {
    layer_norm_params_backward_impl(dw, db, dy, x, mean, rstd, n, c, rows);
}
AR_KERNEL(layer_norm_params_backward_f32)
extern "C" __global__ void layer_norm_params_backward_bf16(float* dw, float* db, const bf16* dy, const bf16* x,
                                                           const float* mean, const float* rstd, i64 n, i64 c,
                                                           i64 rows) {
    layer_norm_params_backward_impl(dw, db, dy, x, mean, rstd, n, c, rows);
}
AR_KERNEL(layer_norm_params_backward_bf16)

// ---- dropout: dst[i] = keep(seed, i) ? x[i]/(1-p) : 0 ----
// keep is tensor.DropoutKeep: a SplitMix64 hash of seed + (i+1)*0x9e3779b97f4a7c15, its top 24
// bits as u in [0, 1), kept when u >= p. The same call on dy is the backward; dst may be x.

__device__ __forceinline__ bool dropout_keep(unsigned long long seed, i64 i, float p) {
    unsigned long long z = seed + (unsigned long long)(i + 1) * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (float)(z >> 40) * (1.0f / 16777216.0f) >= p;
}

template <typename T>
__device__ void dropout_impl(T* dst, const T* x, i64 n, float p, i64 seed) {
    float scale = 1.0f / (1.0f - p);
    AR_FOR(i, n) st(dst, i, dropout_keep((unsigned long long)seed, i, p) ? ld(x, i) * scale : 0.0f);
}
extern "C" __global__ void dropout_f32(float* dst, const float* x, i64 n, float p, i64 seed) {
    dropout_impl(dst, x, n, p, seed);
}
AR_KERNEL(dropout_f32)
extern "C" __global__ void dropout_bf16(bf16* dst, const bf16* x, i64 n, float p, i64 seed) {
    dropout_impl(dst, x, n, p, seed);
}
AR_KERNEL(dropout_bf16)

// ---- cross_entropy_opts: logits [N, V], targets i32 [N]; one block per row ----
// losses[i] = lse - (1-eps)*y[t] - eps*mean_v y[v] + z*lse^2 (0 for an ignored row); f32 out.
template <typename T>
__device__ void cross_entropy_opts_impl(float* losses, float* lse, const T* logits, const int* targets, i64 n, i64 v,
                                        float smoothing, float zloss) {
    __shared__ float scratch[32];
    for (i64 row = blockIdx.x; row < n; row += gridDim.x) {
        const T* lr = logits + row * v;
        float m = -AR_INF;
        for (i64 j = threadIdx.x; j < v; j += blockDim.x) m = fmaxf(m, ld(lr, j));
        m = block_reduce(m, scratch, true);
        float s = 0.0f, sy = 0.0f;
        for (i64 j = threadIdx.x; j < v; j += blockDim.x) {
            float y = ld(lr, j);
            s += expf(y - m);
            sy += y;
        }
        s = block_reduce(s, scratch, false);
        sy = block_reduce(sy, scratch, false);
        if (threadIdx.x == 0) {
            float l = m + logf(s);
            int tg = targets[row];
            lse[row] = l;
            losses[row] = tg < 0 ? 0.0f
                                 : l - (1.0f - smoothing) * ld(lr, tg) - smoothing * (sy / (float)v) + zloss * l * l;
        }
    }
}
extern "C" __global__ void cross_entropy_opts_f32(float* losses, float* lse, const float* logits, const int* targets,
                                                  i64 n, i64 v, float smoothing, float zloss) {
    cross_entropy_opts_impl(losses, lse, logits, targets, n, v, smoothing, zloss);
}
AR_KERNEL(cross_entropy_opts_f32)
extern "C" __global__ void cross_entropy_opts_bf16(float* losses, float* lse, const bf16* logits, const int* targets,
                                                   i64 n, i64 v, float smoothing, float zloss) {
    cross_entropy_opts_impl(losses, lse, logits, targets, n, v, smoothing, zloss);
}
AR_KERNEL(cross_entropy_opts_bf16)

// cross_entropy_opts_backward: dlogits = dl*((1+2z*lse)*exp(y-lse) - (1-eps)[v == t] - eps/V),
// 0 on ignored rows; with softcap c > 0 the logits are raw x of y = c*tanh(x/c), y recomputed
// and the result times 1-(y/c)^2 (as cross_entropy_backward). Elementwise: dlogits may be
// logits. One block a row.
template <typename T>
__device__ void cross_entropy_opts_backward_impl(T* dlogits, const float* dlosses, const T* logits, const float* lse,
                                                 const int* targets, i64 n, i64 v, float softcap, float smoothing,
                                                 float zloss) {
    AR_FOR_ROWS(row, n) {
        const int tg = targets[row];
        const float gl = tg < 0 ? 0.0f : dlosses[row], l = lse[row];
        const float scale = gl * (1.0f + 2.0f * zloss * l), off = gl * smoothing / (float)v;
        const i64 base = row * v;
        for (i64 col = threadIdx.x; col < v; col += blockDim.x) {
            float g = 0.0f;
            if (tg >= 0) {
                float y = ld(logits, base + col), dydx = 1.0f;
                if (softcap > 0.0f) {
                    y = softcap * tanhf(y / softcap);
                    float r = y / softcap;
                    dydx = 1.0f - r * r;
                }
                g = expf(y - l) * scale - off;
                if (col == tg) g -= gl * (1.0f - smoothing);
                g *= dydx;
            }
            st(dlogits, base + col, g);
        }
    }
}
extern "C" __global__ void cross_entropy_opts_backward_f32(float* dlogits, const float* dlosses, const float* logits,
                                                           const float* lse, const int* targets, i64 n, i64 v,
                                                           float softcap, float smoothing, float zloss) {
    cross_entropy_opts_backward_impl(dlogits, dlosses, logits, lse, targets, n, v, softcap, smoothing, zloss);
}
AR_KERNEL(cross_entropy_opts_backward_f32)
extern "C" __global__ void cross_entropy_opts_backward_bf16(bf16* dlogits, const float* dlosses, const bf16* logits,
                                                            const float* lse, const int* targets, i64 n, i64 v,
                                                            float softcap, float smoothing, float zloss) {
    cross_entropy_opts_backward_impl(dlogits, dlosses, logits, lse, targets, n, v, softcap, smoothing, zloss);
}
AR_KERNEL(cross_entropy_opts_backward_bf16)

// ---- topk: idx i32 [N, K] = the columns of the K largest of each row of x [N, C] ----
// Order (tensor.TopK's): larger first, NaN last, ties to the lower column. One warp a row,
// K rounds: each picks the first element (in that order) after the previous pick, by a warp
// arg-max over the lanes' own best; no scratch, so C and K are limited by time only (routing:
// tens of experts).

__device__ __forceinline__ bool topk_before(float a, int i, float b, int j) {
    bool an = a != a, bn = b != b;
    if (an || bn) {
        if (an != bn) return bn;
    } else if (a != b) {
        return a > b;
    }
    return i < j;
}

template <typename T>
__device__ void topk_impl(int* idx, const T* x, i64 n, i64 c, i64 k) {
    int lane = threadIdx.x % AR_WARP;
    i64 warps = blockDim.x / AR_WARP;
    for (i64 row = blockIdx.x * warps + threadIdx.x / AR_WARP; row < n; row += gridDim.x * warps) {
        const T* xr = x + row * c;
        float pv = 0.0f;
        int pi = -1;
        for (i64 r = 0; r < k; r++) {
            float bv = 0.0f;
            int bi = -1;
            for (i64 j = lane; j < c; j += AR_WARP) {
                float v = ld(xr, j);
                if (pi >= 0 && !topk_before(pv, pi, v, (int)j)) continue;
                if (bi < 0 || topk_before(v, (int)j, bv, bi)) {
                    bv = v;
                    bi = (int)j;
                }
            }
            for (int o = AR_WARP / 2; o > 0; o >>= 1) {
                float ov = __shfl_xor_sync(0xffffffffu, bv, o);
                int oi = __shfl_xor_sync(0xffffffffu, bi, o);
                if (oi >= 0 && (bi < 0 || topk_before(ov, oi, bv, bi))) {
                    bv = ov;
                    bi = oi;
                }
            }
            if (lane == 0) idx[row * k + r] = bi;
            pv = bv;
            pi = bi;
        }
    }
}
extern "C" __global__ void topk_f32(int* idx, const float* x, i64 n, i64 c, i64 k) { topk_impl(idx, x, n, c, k); }
AR_KERNEL(topk_f32)
extern "C" __global__ void topk_bf16(int* idx, const bf16* x, i64 n, i64 c, i64 k) { topk_impl(idx, x, n, c, k); }
AR_KERNEL(topk_bf16)

// ---- gather: dst [N, K] = x[i, idx[i, j]], x [N, C]; one thread an element ----

template <typename T>
__device__ void gather_impl(T* dst, const T* x, const int* idx, i64 n, i64 c, i64 k) {
    AR_FOR(e, n * k) dst[e] = x[(e / k) * c + idx[e]];
}
extern "C" __global__ void gather_f32(float* dst, const float* x, const int* idx, i64 n, i64 c, i64 k) {
    gather_impl(dst, x, idx, n, c, k);
}
AR_KERNEL(gather_f32)
extern "C" __global__ void gather_bf16(bf16* dst, const bf16* x, const int* idx, i64 n, i64 c, i64 k) {
    gather_impl(dst, x, idx, n, c, k);
}
AR_KERNEL(gather_bf16)

// ---- scatter_add: dst[i, idx[i, j]] += src[i, j]; indices repeat, so atomics ----

template <typename T>
__device__ void scatter_add_impl(T* dst, const T* src, const int* idx, i64 n, i64 c, i64 k) {
    AR_FOR(e, n * k) atomic_add(&dst[(e / k) * c + idx[e]], ld(src, e));
}
extern "C" __global__ void scatter_add_f32(float* dst, const float* src, const int* idx, i64 n, i64 c, i64 k) {
    scatter_add_impl(dst, src, idx, n, c, k);
}
AR_KERNEL(scatter_add_f32)
extern "C" __global__ void scatter_add_bf16(bf16* dst, const bf16* src, const int* idx, i64 n, i64 c, i64 k) {
    scatter_add_impl(dst, src, idx, n, c, k);
}
AR_KERNEL(scatter_add_bf16)
