// nn.cu: the fused layers of the model, each forward above its backward: embedding, rms_norm,
// rotary, cross_entropy. Shapes use the legend N rows, C channels, V vocabulary, B batch,
// T time, H heads, D head dim. Where a kernel mixes float dtypes (an f32 table feeding bf16
// activations, an f32 rstd of bf16 rows) its name ends in each operand's dtype in order.
#include "common.cuh"

// ---- embedding: dst [N, C] row i = table [V, C] row ids[i]; one block a row ----

template <typename TD, typename TT>
__device__ void embedding_impl(TD* dst, const TT* table, const int* ids, i64 n, i64 c) {
    AR_FOR_ROWS(row, n) {
        const TT* src = table + (i64)ids[row] * c;
        for (i64 col = threadIdx.x; col < c; col += blockDim.x) st(dst, row * c + col, ld(src, col));
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
// bf16 rows of an f32 table (the master weights stay f32).
extern "C" __global__ void embedding_bf16_f32(bf16* dst, const float* table, const int* ids, i64 n, i64 c) {
    embedding_impl(dst, table, ids, n, c);
}
AR_KERNEL(embedding_bf16_f32)

// embedding_backward: dtable[ids[i], :] += dout[i, :], a scatter-add; ids repeat, so atomics.
template <typename TT, typename TD>
__device__ void embedding_backward_impl(TT* dtable, const TD* dout, const int* ids, i64 n, i64 c) {
    AR_FOR_ROWS(row, n) {
        TT* dst = dtable + (i64)ids[row] * c;
        for (i64 col = threadIdx.x; col < c; col += blockDim.x) atomic_add(&dst[col], ld(dout, row * c + col));
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
// bf16 row gradients summed into the f32 table gradient: f32 atomics, no bf16 rounding per add.
extern "C" __global__ void embedding_backward_f32_bf16(float* dtable, const bf16* dout, const int* ids, i64 n, i64 c) {
    embedding_backward_impl(dtable, dout, ids, n, c);
}
AR_KERNEL(embedding_backward_f32_bf16)

// ---- rms_norm: one warp per row of x [N, C] ----
// rstd[i] = 1/sqrt(mean_j x[i,j]^2 + eps), dst[i,j] = x[i,j]*rstd[i]; rstd is f32 always.

template <typename T>
__device__ void rms_norm_impl(T* dst, float* rstd, const T* x, i64 n, i64 c, float eps) {
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
        if (lane == 0) rstd[row] = r;
    }
}
extern "C" __global__ void rms_norm_f32(float* dst, float* rstd, const float* x, i64 n, i64 c, float eps) {
    rms_norm_impl(dst, rstd, x, n, c, eps);
}
AR_KERNEL(rms_norm_f32)
extern "C" __global__ void rms_norm_bf16(bf16* dst, float* rstd, const bf16* x, i64 n, i64 c, float eps) {
    rms_norm_impl(dst, rstd, x, n, c, eps);
}
AR_KERNEL(rms_norm_bf16)

// rms_norm_backward: dx[i,j] = rstd[i]*dy[i,j] - rstd[i]^3/C * x[i,j] * sum_k dy[i,k]*x[i,k].
// Each lane reads dy[j] before writing dx[j], so dx may be dy.
template <typename T>
__device__ void rms_norm_backward_impl(T* dx, const T* dy, const T* x, const float* rstd, i64 n, i64 c) {
    int lane = threadIdx.x % AR_WARP;
    i64 warps = blockDim.x / AR_WARP;
    for (i64 row = blockIdx.x * warps + threadIdx.x / AR_WARP; row < n; row += gridDim.x * warps) {
        i64 base = row * c;
        float dot = 0.0f;
        for (i64 j = lane; j < c; j += AR_WARP) dot += ld(dy, base + j) * ld(x, base + j);
        dot = warp_sum(dot);
        float r = rstd[row];
        float k = r * r * r / (float)c * dot;
        for (i64 j = lane; j < c; j += AR_WARP) st(dx, base + j, r * ld(dy, base + j) - k * ld(x, base + j));
    }
}
extern "C" __global__ void rms_norm_backward_f32(float* dx, const float* dy, const float* x, const float* rstd, i64 n, i64 c) {
    rms_norm_backward_impl(dx, dy, x, rstd, n, c);
}
AR_KERNEL(rms_norm_backward_f32)
extern "C" __global__ void rms_norm_backward_bf16(bf16* dx, const bf16* dy, const bf16* x, const float* rstd, i64 n, i64 c) {
    rms_norm_backward_impl(dx, dy, x, rstd, n, c);
}
AR_KERNEL(rms_norm_backward_bf16)

// ---- rotary: x [B, T, H, D], cos/sin [>=T, D/2]; one block a position (b, t) ----
//   dst[j]   =  x[j]*cos[t,j] + x[j+h]*sin[t,j]
//   dst[j+h] = -x[j]*sin[t,j] + x[j+h]*cos[t,j]      (h = D/2; sin negated when inverse)
// The block's threads walk the position's H*D/2 pairs; a thread reads both halves before
// writing them, so dst may be x.

template <typename T>
__device__ void rotary_impl(T* dst, const T* x, const T* cs, const T* sn, i64 b, i64 t, i64 h, i64 d, i64 inverse) {
    int half = (int)(d / 2), pairs = (int)h * half;
    AR_FOR_ROWS(pos, b * t) {
        i64 tt = pos % t, base = pos * h * d;
        for (int p = threadIdx.x; p < pairs; p += blockDim.x) {
            int head = p / half, j = p - head * half;
            i64 o = base + (i64)head * d + j;
            float x1 = ld(x, o), x2 = ld(x, o + half);
            float c = ld(cs, tt * half + j), s = ld(sn, tt * half + j);
            if (inverse) s = -s;
            st(dst, o, x1 * c + x2 * s);
            st(dst, o + half, -x1 * s + x2 * c);
        }
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

// ---- rotary_rms_norm_backward: the backward of rms_norm(rotary(x)), QK-norm, one warp a row ----
// x, dy, dx [B, T, H, D], cos/sin [>=T, D/2], rstd [B*T*H] f32. With y = rotary(x) recomputed,
// g = rstd*dy - rstd^3/D * y * sum(dy*y), and dx = rotary^-1(g). A lane owns the pairs (j, j+D/2)
// for j = lane, lane+32, ...: the rotation never leaves it.
template <typename T>
__device__ void rotary_rms_norm_backward_impl(T* dx, const T* dy, const T* x, const float* rstd, const T* cs,
                                              const T* sn, i64 b, i64 t, i64 h, i64 d) {
    int lane = threadIdx.x % AR_WARP, half = (int)(d / 2);
    i64 warps = blockDim.x / AR_WARP, rows = b * t * h;
    for (i64 row = blockIdx.x * warps + threadIdx.x / AR_WARP; row < rows; row += gridDim.x * warps) {
        i64 base = row * d, tt = (row / h) % t;
        const T* cr = cs + tt * half;
        const T* sr = sn + tt * half;
        float dot = 0.0f;
        for (int j = lane; j < half; j += AR_WARP) {
            float x1 = ld(x, base + j), x2 = ld(x, base + j + half), c = ld(cr, j), s = ld(sr, j);
            dot += (x1 * c + x2 * s) * ld(dy, base + j) + (-x1 * s + x2 * c) * ld(dy, base + j + half);
        }
        dot = warp_sum(dot);
        float r = rstd[row];
        float k = r * r * r / (float)d * dot;
        for (int j = lane; j < half; j += AR_WARP) {
            float x1 = ld(x, base + j), x2 = ld(x, base + j + half), c = ld(cr, j), s = ld(sr, j);
            float g1 = r * ld(dy, base + j) - k * (x1 * c + x2 * s);
            float g2 = r * ld(dy, base + j + half) - k * (-x1 * s + x2 * c);
            st(dx, base + j, g1 * c - g2 * s);
            st(dx, base + j + half, g1 * s + g2 * c);
        }
    }
}
extern "C" __global__ void rotary_rms_norm_backward_f32(float* dx, const float* dy, const float* x, const float* rstd,
                                                        const float* cs, const float* sn, i64 b, i64 t, i64 h, i64 d) {
    rotary_rms_norm_backward_impl(dx, dy, x, rstd, cs, sn, b, t, h, d);
}
AR_KERNEL(rotary_rms_norm_backward_f32)
extern "C" __global__ void rotary_rms_norm_backward_bf16(bf16* dx, const bf16* dy, const bf16* x, const float* rstd,
                                                         const bf16* cs, const bf16* sn, i64 b, i64 t, i64 h, i64 d) {
    rotary_rms_norm_backward_impl(dx, dy, x, rstd, cs, sn, b, t, h, d);
}
AR_KERNEL(rotary_rms_norm_backward_bf16)

// ---- cross_entropy: logits [N, V] (f32 or bf16), targets i32 [N]; one block per row ----
// lse[i] = log sum_v exp(logits[i,v]); losses[i] = lse[i] - logits[i, targets[i]], or 0 for a
// negative (ignored) target. losses and lse are f32.
template <typename T>
__device__ void cross_entropy_impl(float* losses, float* lse, const T* logits, const int* targets, i64 n, i64 v) {
    __shared__ float scratch[32];
    for (i64 row = blockIdx.x; row < n; row += gridDim.x) {
        const T* lr = logits + row * v;
        float m = -AR_INF;
        for (i64 j = threadIdx.x; j < v; j += blockDim.x) m = fmaxf(m, ld(lr, j));
        m = block_reduce(m, scratch, true);
        float s = 0.0f;
        for (i64 j = threadIdx.x; j < v; j += blockDim.x) s += expf(ld(lr, j) - m);
        s = block_reduce(s, scratch, false);
        if (threadIdx.x == 0) {
            float l = m + logf(s);
            int tg = targets[row];
            lse[row] = l;
            losses[row] = tg < 0 ? 0.0f : l - ld(lr, tg);
        }
    }
}
extern "C" __global__ void cross_entropy_f32(float* losses, float* lse, const float* logits, const int* targets,
                                             i64 n, i64 v) {
    cross_entropy_impl(losses, lse, logits, targets, n, v);
}
AR_KERNEL(cross_entropy_f32)
extern "C" __global__ void cross_entropy_bf16(float* losses, float* lse, const bf16* logits, const int* targets,
                                              i64 n, i64 v) {
    cross_entropy_impl(losses, lse, logits, targets, n, v);
}
AR_KERNEL(cross_entropy_bf16)

// cross_entropy_backward: with y the logits,
//   dlogits[i,v] = dlosses[i] * (exp(y[i,v] - lse[i]) - [v == t_i]),  0 on ignored rows;
// with softcap c > 0 the logits are the raw x of y = c*tanh(x/c): y is recomputed and the
// result is multiplied by dy/dx = 1 - (y/c)^2, the softcap's backward folded into this pass.
// Elementwise, so dlogits may be logits. dlosses and lse are f32.
// One block a row.
template <typename T>
__device__ void cross_entropy_backward_impl(T* dlogits, const float* dlosses, const T* logits, const float* lse,
                                            const int* targets, i64 n, i64 v, float softcap) {
    AR_FOR_ROWS(row, n) {
        const int tg = targets[row];
        const float gl = tg < 0 ? 0.0f : dlosses[row], l = lse[row];
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
                g = gl * (expf(y - l) - (col == tg ? 1.0f : 0.0f)) * dydx;
            }
            st(dlogits, base + col, g);
        }
    }
}
extern "C" __global__ void cross_entropy_backward_f32(float* dlogits, const float* dlosses, const float* logits,
                                                      const float* lse, const int* targets, i64 n, i64 v,
                                                      float softcap) {
    cross_entropy_backward_impl(dlogits, dlosses, logits, lse, targets, n, v, softcap);
}
AR_KERNEL(cross_entropy_backward_f32)
extern "C" __global__ void cross_entropy_backward_bf16(bf16* dlogits, const float* dlosses, const bf16* logits,
                                                       const float* lse, const int* targets, i64 n, i64 v,
                                                       float softcap) {
    cross_entropy_backward_impl(dlogits, dlosses, logits, lse, targets, n, v, softcap);
}
AR_KERNEL(cross_entropy_backward_bf16)
