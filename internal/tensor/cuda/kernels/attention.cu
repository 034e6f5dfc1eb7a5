// attention.cu: causal scaled-dot-product attention with grouped-query heads and a sliding
// window, tiled so that the T x T scores never reach device memory. This is the plain,
// correct version: float arithmetic on the CUDA cores, 32 x 32 tiles in shared memory. A
// tensor-core flash-attention kernel can replace it; this one stays as its reference.
//
// Layouts (legend: B batch, T time, H query heads, KVH key/value heads, D head dim <= 256):
//   q, out, dout, dq  [B, T, H, D]        k, v, dk, dv  [B, T, KVH, D]
//   lse, delta        [B, H, T] float     query head h reads key/value head h / (H/KVH)
// Query t sees key s when s <= t and (window < 0 or s >= t - window).
//
// Thread layout of every kernel here: 256 threads = 32 tile rows x 8 lanes; the 8 lanes of a
// row are consecutive lanes of one warp. A thread owns 4 of the 32 tile columns (c = p + 8j)
// and the head-dim slice dd = p + 8k of its row's accumulators.
#include "common.cuh"

#define ATT_BR 32      // query rows per tile
#define ATT_BC 32      // keys per tile
#define ATT_MAXD 256   // largest head dim
#define ATT_ACC (ATT_MAXD / 8)

struct AttDims {
    i64 B, T, H, KVH, D, window;
};

__device__ __forceinline__ bool att_visible(i64 t, i64 s, i64 T, i64 window) {
    return t < T && s <= t && (window < 0 || s >= t - window);
}

// Loads rows [r0, r0+32) of a [B, T, heads, D] tensor's (b, head) slice into a [32][D+1]
// shared tile (zeros past T). All 256 threads take part.
template <typename S>
__device__ __forceinline__ void att_load_tile(float* tile, const S* src, i64 b, i64 r0, i64 head, i64 heads,
                                              i64 T, i64 D) {
    for (i64 idx = threadIdx.x; idx < 32 * D; idx += blockDim.x) {
        i64 rr = idx / D, dd = idx - rr * D;
        i64 t = r0 + rr;
        tile[rr * (D + 1) + dd] = t < T ? ld(src, ((b * T + t) * heads + head) * D + dd) : 0.0f;
    }
}

// ---- forward: out and lse, one block per (query tile, head, batch) ----
// Shared memory: Qs, Ks, Vs [32][D+1] and Ps [32][33] floats.
template <typename S>
__device__ void attention_forward_impl(S* out, float* lse, const S* q, const S* k, const S* v, AttDims a, float scale) {
    AR_DYNAMIC_SMEM(float, smem);
    const i64 D = a.D, T = a.T, ld1 = D + 1;
    float* Qs = smem;
    float* Ks = Qs + ATT_BR * ld1;
    float* Vs = Ks + ATT_BC * ld1;
    float* Ps = Vs + ATT_BC * ld1;
    const i64 q0 = (i64)blockIdx.x * ATT_BR, h = blockIdx.y, b = blockIdx.z;
    const i64 kh = h / (a.H / a.KVH);
    const int r = threadIdx.x / 8, p = threadIdx.x % 8;
    const i64 t = q0 + r;

    att_load_tile(Qs, q, b, q0, h, a.H, T, D);
    float m = -AR_INF, l = 0.0f;
    float acc[ATT_ACC];
#pragma unroll
    for (int kk = 0; kk < ATT_ACC; kk++) acc[kk] = 0.0f;

    i64 lo = a.window < 0 ? 0 : imax(0, q0 - a.window);
    i64 hi = imin(T - 1, q0 + ATT_BR - 1);
    for (i64 k0 = (lo / ATT_BC) * ATT_BC; k0 <= hi; k0 += ATT_BC) {
        __syncthreads();  // the previous tile is no longer read
        att_load_tile(Ks, k, b, k0, kh, a.KVH, T, D);
        att_load_tile(Vs, v, b, k0, kh, a.KVH, T, D);
        __syncthreads();
        float sc[4];
        float rowmax = -AR_INF;
#pragma unroll
        for (int j = 0; j < 4; j++) {
            int c = p + 8 * j;
            float dot = 0.0f;
            for (i64 d = 0; d < D; d++) dot += Qs[r * ld1 + d] * Ks[c * ld1 + d];
            sc[j] = att_visible(t, k0 + c, T, a.window) ? scale * dot : -AR_INF;
            rowmax = fmaxf(rowmax, sc[j]);
        }
        rowmax = group_max(rowmax, 8);
        float mnew = fmaxf(m, rowmax);
        float alpha = m == -AR_INF ? 0.0f : expf(m - mnew);
        float rowsum = 0.0f;
#pragma unroll
        for (int j = 0; j < 4; j++) {
            float pr = sc[j] == -AR_INF ? 0.0f : expf(sc[j] - mnew);
            Ps[r * 33 + p + 8 * j] = pr;
            rowsum += pr;
        }
        rowsum = group_sum(rowsum, 8);
        l = l * alpha + rowsum;
        m = mnew;
        __syncthreads();  // Ps complete
#pragma unroll
        for (int kk = 0; kk < ATT_ACC; kk++) {
            i64 dd = p + 8 * kk;
            if (dd < D) {
                float s = acc[kk] * alpha;
#pragma unroll 4
                for (int c = 0; c < ATT_BC; c++) s += Ps[r * 33 + c] * Vs[c * ld1 + dd];
                acc[kk] = s;
            }
        }
    }
    if (t < T) {
        float inv = 1.0f / l;
#pragma unroll
        for (int kk = 0; kk < ATT_ACC; kk++) {
            i64 dd = p + 8 * kk;
            if (dd < D) st(out, ((b * T + t) * a.H + h) * D + dd, acc[kk] * inv);
        }
        if (p == 0) lse[(b * a.H + h) * T + t] = m + logf(l);
    }
}
extern "C" __global__ void attention_forward_f32(float* out, float* lse, const float* q, const float* k,
                                                 const float* v, AttDims a, float scale) {
    attention_forward_impl(out, lse, q, k, v, a, scale);
}
AR_KERNEL(attention_forward_f32)
extern "C" __global__ void attention_forward_bf16(bf16* out, float* lse, const bf16* q, const bf16* k,
                                                  const bf16* v, AttDims a, float scale) {
    attention_forward_impl(out, lse, q, k, v, a, scale);
}
AR_KERNEL(attention_forward_bf16)

// ---- delta[b, h, t] = sum_d dout[b,t,h,d] * out[b,t,h,d]: one warp per (b, t, h) ----
template <typename S>
__device__ void attention_delta_impl(float* delta, const S* dout, const S* out, AttDims a) {
    int lane = threadIdx.x % AR_WARP;
    i64 warps = blockDim.x / AR_WARP, rows = a.B * a.T * a.H;
    for (i64 row = blockIdx.x * warps + threadIdx.x / AR_WARP; row < rows; row += gridDim.x * warps) {
        float s = 0.0f;
        for (i64 d = lane; d < a.D; d += AR_WARP) s += ld(dout, row * a.D + d) * ld(out, row * a.D + d);
        s = warp_sum(s);
        if (lane == 0) {
            i64 h = row % a.H, t = (row / a.H) % a.T, b = row / (a.H * a.T);
            delta[(b * a.H + h) * a.T + t] = s;
        }
    }
}
extern "C" __global__ void attention_delta_f32(float* delta, const float* dout, const float* out, AttDims a) {
    attention_delta_impl(delta, dout, out, a);
}
AR_KERNEL(attention_delta_f32)
extern "C" __global__ void attention_delta_bf16(float* delta, const bf16* dout, const bf16* out, AttDims a) {
    attention_delta_impl(delta, dout, out, a);
}
AR_KERNEL(attention_delta_bf16)

// ---- dq: one block per (query tile, head, batch), recomputing P from lse ----
// dS(t,s) = P(t,s) * (dout_t . v_s - delta_t);  dq_t = scale * sum_s dS(t,s) k_s.
// Shared memory: Qs, dOs, Ks, Vs [32][D+1] and dSs [32][33] floats.
template <typename S>
__device__ void attention_backward_dq_impl(S* dq, const S* q, const S* k, const S* v, const S* dout,
                                           const float* lse, const float* delta, AttDims a, float scale) {
    AR_DYNAMIC_SMEM(float, smem);
    const i64 D = a.D, T = a.T, ld1 = D + 1;
    float* Qs = smem;
    float* dOs = Qs + ATT_BR * ld1;
    float* Ks = dOs + ATT_BR * ld1;
    float* Vs = Ks + ATT_BC * ld1;
    float* dSs = Vs + ATT_BC * ld1;
    const i64 q0 = (i64)blockIdx.x * ATT_BR, h = blockIdx.y, b = blockIdx.z;
    const i64 kh = h / (a.H / a.KVH);
    const int r = threadIdx.x / 8, p = threadIdx.x % 8;
    const i64 t = q0 + r;

    att_load_tile(Qs, q, b, q0, h, a.H, T, D);
    att_load_tile(dOs, dout, b, q0, h, a.H, T, D);
    const float lse_t = t < T ? lse[(b * a.H + h) * T + t] : 0.0f;
    const float delta_t = t < T ? delta[(b * a.H + h) * T + t] : 0.0f;
    float acc[ATT_ACC];
#pragma unroll
    for (int kk = 0; kk < ATT_ACC; kk++) acc[kk] = 0.0f;

    i64 lo = a.window < 0 ? 0 : imax(0, q0 - a.window);
    i64 hi = imin(T - 1, q0 + ATT_BR - 1);
    for (i64 k0 = (lo / ATT_BC) * ATT_BC; k0 <= hi; k0 += ATT_BC) {
        __syncthreads();
        att_load_tile(Ks, k, b, k0, kh, a.KVH, T, D);
        att_load_tile(Vs, v, b, k0, kh, a.KVH, T, D);
        __syncthreads();
#pragma unroll
        for (int j = 0; j < 4; j++) {
            int c = p + 8 * j;
            float ds = 0.0f;
            if (att_visible(t, k0 + c, T, a.window)) {
                float sdot = 0.0f, pdot = 0.0f;
                for (i64 d = 0; d < D; d++) {
                    sdot += Qs[r * ld1 + d] * Ks[c * ld1 + d];
                    pdot += dOs[r * ld1 + d] * Vs[c * ld1 + d];
                }
                float pr = expf(scale * sdot - lse_t);
                ds = pr * (pdot - delta_t);
            }
            dSs[r * 33 + c] = ds;
        }
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < ATT_ACC; kk++) {
            i64 dd = p + 8 * kk;
            if (dd < D) {
                float s = acc[kk];
#pragma unroll 4
                for (int c = 0; c < ATT_BC; c++) s += dSs[r * 33 + c] * Ks[c * ld1 + dd];
                acc[kk] = s;
            }
        }
    }
    if (t < T) {
#pragma unroll
        for (int kk = 0; kk < ATT_ACC; kk++) {
            i64 dd = p + 8 * kk;
            if (dd < D) st(dq, ((b * T + t) * a.H + h) * D + dd, scale * acc[kk]);
        }
    }
}
extern "C" __global__ void attention_backward_dq_f32(float* dq, const float* q, const float* k, const float* v,
                                                     const float* dout, const float* lse, const float* delta,
                                                     AttDims a, float scale) {
    attention_backward_dq_impl(dq, q, k, v, dout, lse, delta, a, scale);
}
AR_KERNEL(attention_backward_dq_f32)
extern "C" __global__ void attention_backward_dq_bf16(bf16* dq, const bf16* q, const bf16* k, const bf16* v,
                                                      const bf16* dout, const float* lse, const float* delta,
                                                      AttDims a, float scale) {
    attention_backward_dq_impl(dq, q, k, v, dout, lse, delta, a, scale);
}
AR_KERNEL(attention_backward_dq_bf16)

// ---- dk, dv: one block per (key tile, key/value head, batch) ----
// The block walks every query head of its group and every query tile that sees its keys, so
// the group's gradients sum without atomics:
//   dv_s = sum_t P(t,s) dout_t;   dk_s = scale * sum_t dS(t,s) q_t.
// Here the tile rows are keys and the 4 columns a thread owns are queries.
// Shared memory: Ks, Vs, Qs, dOs [32][D+1], Ps, dSs [32][33], lse and delta [32] floats.
template <typename S>
__device__ void attention_backward_dkdv_impl(S* dk, S* dv, const S* q, const S* k, const S* v, const S* dout,
                                             const float* lse, const float* delta, AttDims a, float scale) {
    AR_DYNAMIC_SMEM(float, smem);
    const i64 D = a.D, T = a.T, ld1 = D + 1;
    float* Ks = smem;
    float* Vs = Ks + ATT_BC * ld1;
    float* Qs = Vs + ATT_BC * ld1;
    float* dOs = Qs + ATT_BR * ld1;
    float* Ps = dOs + ATT_BR * ld1;
    float* dSs = Ps + ATT_BC * 33;
    float* lses = dSs + ATT_BC * 33;
    float* deltas = lses + ATT_BR;
    const i64 k0 = (i64)blockIdx.x * ATT_BC, kh = blockIdx.y, b = blockIdx.z;
    const i64 group = a.H / a.KVH;
    const int r = threadIdx.x / 8, p = threadIdx.x % 8;
    const i64 s = k0 + r;  // this thread's key

    att_load_tile(Ks, k, b, k0, kh, a.KVH, T, D);
    att_load_tile(Vs, v, b, k0, kh, a.KVH, T, D);
    float dka[ATT_ACC], dva[ATT_ACC];
#pragma unroll
    for (int kk = 0; kk < ATT_ACC; kk++) {
        dka[kk] = 0.0f;
        dva[kk] = 0.0f;
    }
    const i64 tmax = a.window < 0 ? T - 1 : imin(T - 1, k0 + ATT_BC - 1 + a.window);
    for (i64 g = 0; g < group; g++) {
        const i64 h = kh * group + g;
        for (i64 t0 = (k0 / ATT_BR) * ATT_BR; t0 <= tmax; t0 += ATT_BR) {
            __syncthreads();  // the previous query tile is no longer read
            att_load_tile(Qs, q, b, t0, h, a.H, T, D);
            att_load_tile(dOs, dout, b, t0, h, a.H, T, D);
            if (threadIdx.x < ATT_BR) {
                i64 t = t0 + threadIdx.x;
                lses[threadIdx.x] = t < T ? lse[(b * a.H + h) * T + t] : 0.0f;
                deltas[threadIdx.x] = t < T ? delta[(b * a.H + h) * T + t] : 0.0f;
            }
            __syncthreads();
#pragma unroll
            for (int j = 0; j < 4; j++) {
                int c = p + 8 * j;  // query row within the tile
                float pr = 0.0f, ds = 0.0f;
                if (s < T && att_visible(t0 + c, s, T, a.window)) {
                    float sdot = 0.0f, pdot = 0.0f;
                    for (i64 d = 0; d < D; d++) {
                        sdot += Ks[r * ld1 + d] * Qs[c * ld1 + d];
                        pdot += Vs[r * ld1 + d] * dOs[c * ld1 + d];
                    }
                    pr = expf(scale * sdot - lses[c]);
                    ds = pr * (pdot - deltas[c]);
                }
                Ps[r * 33 + c] = pr;
                dSs[r * 33 + c] = ds;
            }
            __syncthreads();
#pragma unroll
            for (int kk = 0; kk < ATT_ACC; kk++) {
                i64 dd = p + 8 * kk;
                if (dd < D) {
                    float sv = dva[kk], sk = dka[kk];
#pragma unroll 4
                    for (int c = 0; c < ATT_BR; c++) {
                        sv += Ps[r * 33 + c] * dOs[c * ld1 + dd];
                        sk += dSs[r * 33 + c] * Qs[c * ld1 + dd];
                    }
                    dva[kk] = sv;
                    dka[kk] = sk;
                }
            }
        }
    }
    if (s < T) {
#pragma unroll
        for (int kk = 0; kk < ATT_ACC; kk++) {
            i64 dd = p + 8 * kk;
            if (dd < D) {
                i64 o = ((b * T + s) * a.KVH + kh) * D + dd;
                st(dk, o, scale * dka[kk]);
                st(dv, o, dva[kk]);
            }
        }
    }
}
extern "C" __global__ void attention_backward_dkdv_f32(float* dk, float* dv, const float* q, const float* k,
                                                       const float* v, const float* dout, const float* lse,
                                                       const float* delta, AttDims a, float scale) {
    attention_backward_dkdv_impl(dk, dv, q, k, v, dout, lse, delta, a, scale);
}
AR_KERNEL(attention_backward_dkdv_f32)
extern "C" __global__ void attention_backward_dkdv_bf16(bf16* dk, bf16* dv, const bf16* q, const bf16* k,
                                                        const bf16* v, const bf16* dout, const float* lse,
                                                        const float* delta, AttDims a, float scale) {
    attention_backward_dkdv_impl(dk, dv, q, k, v, dout, lse, delta, a, scale);
}
AR_KERNEL(attention_backward_dkdv_bf16)
