// flash.cu: causal flash attention on the tensor cores, forward and backward, for bf16 q, k, v
// with head dims 64 and 128 (sm_80 and later). The same contract as attention.cu's tiled
// kernels, which stay as the reference and the fallback (f32, other head dims, older GPUs):
//
//   q, out, dout, dq  [B, T, H, D] bf16      k, v, dk, dv  [B, T, KVH, D] bf16
//   lse, delta        [B, H, T] f32          query head h reads key/value head h / (H/KVH)
//   query t sees key s when s <= t and (window < 0 or s >= t - window)
//
// The T x T scores live only in registers: S = Q Kᵀ, P and the gradients dP, dS are mma
// accumulators, never written to memory. Products are mma.sync m16n8k16 (bf16 in, f32
// accumulators); tiles go global -> shared by cp.async and shared -> registers by ldmatrix, with
// rows padded by 16 bytes so the eight rows an ldmatrix reads fall in distinct banks. The
// softmax runs in base 2 (exp2 of scores pre-multiplied by scale·log2 e); lse is stored in
// natural log like the reference's.
//
// Fragment layouts, per the PTX ISA for mma.m16n8k16 (g = lane/4, t = lane%4): an accumulator
// tile 16x8 gives each lane rows g and g+8, columns 2t and 2t+1 (c0 c1 on row g, c2 c3 on row
// g+8). Two accumulator tiles side by side (16x16) are, converted to bf16 pairwise, exactly an A
// operand 16x16: the softmax probabilities go from one product into the next without leaving
// the registers.
//
// Work split: 4 warps a block. Forward: a block owns 64 queries (16 a warp) of one (batch,
// head) and walks the visible key tiles of 64 with an online softmax. Backward, two kernels so
// that nothing needs atomics: dq (a block owns 64 queries, walks key tiles; recomputes P) and
// dk/dv (a block owns 64 keys, 16 a warp, of one key/value head, walks every query head of its
// group and the query tiles of 32 that see its keys). The recomputation costs 7 products where
// FlashAttention-2 spends 5; the delta = rowsum(dout∘out) comes from attention.cu.
//
// Never run on a GPU in this repository's history before the gpu-bench target: the emulator
// checks the arithmetic and the fragment bookkeeping against the CPU backend, not the speed or
// the hardware's reading of the inline PTX.
#include "common.cuh"

#define FA_WARPS 4
#define FA_THREADS (FA_WARPS * 32)
#define FA_BQ 64  // queries per block (forward, dq)
#define FA_BK 64  // keys per tile (forward, dq) and per block (dk/dv)
#define FA_BQ2 32 // queries per tile in dk/dv
#define FA_PAD 8  // bf16 elements of padding per shared row (16 bytes)
#define FA_LOG2E 1.4426950408889634f
#define FA_LN2 0.6931471805599453f

struct FlashDims {
    i64 B, T, H, KVH, D, window;
};

__device__ __forceinline__ bool fa_visible(i64 t, i64 s, i64 T, i64 window) {
    return t < T && s <= t && (window < 0 || s >= t - window);
}

// fa_load_rows queues cp.async copies of rows [r0, r0+rows) of one head of a [B, T, heads, D]
// tensor into a [rows][D+PAD] shared tile; rows past T are zeros.
template <int D>
__device__ __forceinline__ void fa_load_rows(bf16* tile, const bf16* base, i64 r0, int rows, i64 T, i64 pitch) {
    constexpr int CH = D / 8;  // 16-byte chunks a row
    for (int c = threadIdx.x; c < rows * CH; c += FA_THREADS) {
        int r = c / CH, cc = c - r * CH;
        i64 t = r0 + r;
        bool ok = t < T;
        cp_async16(tile + r * (D + FA_PAD) + cc * 8, base + (ok ? t : 0) * pitch + cc * 8, ok);
    }
}

// fa_frag_a loads the A fragment of a 16x16 bf16 block at rows r0.., columns c0.. of a tile.
template <int D>
__device__ __forceinline__ void fa_frag_a(u32* f, const bf16* tile, int r0, int c0) {
    int lane = threadIdx.x % 32;
    ldmatrix_x4(f, tile + (r0 + (lane & 15)) * (D + FA_PAD) + c0 + (lane >> 4) * 8);
}

// fa_frag_b loads B fragments for two n-tiles (rows n0..n0+15 of the tile are the n index)
// over k = c0..c0+15 (the tile's columns): f[0], f[1] for n0..n0+7, f[2], f[3] for n0+8..15.
// For products by the tile transposed: S = Q Kᵀ reads K this way.
template <int D>
__device__ __forceinline__ void fa_frag_bt(u32* f, const bf16* tile, int n0, int c0) {
    int lane = threadIdx.x % 32;
    ldmatrix_x4(f, tile + (n0 + (lane & 7) + ((lane >> 4) << 3)) * (D + FA_PAD) + c0 + ((lane >> 3) & 1) * 8);
}

// fa_frag_bn loads B fragments where the tile's rows are the k index (k0..k0+15) and its
// columns the n index: two n-tiles at columns n0..n0+7 and n0+8..15. For products by the tile
// itself: O = P V reads V this way (ldmatrix transposes).
template <int D>
__device__ __forceinline__ void fa_frag_bn(u32* f, const bf16* tile, int k0, int n0) {
    int lane = threadIdx.x % 32;
    ldmatrix_x4_trans(f, tile + (k0 + (lane & 7) + ((lane >> 3) & 1) * 8) * (D + FA_PAD) + n0 + (lane >> 4) * 8);
}

// fa_pack_a turns accumulator tiles s[2j], s[2j+1] (16 x 16 together) into an A fragment.
__device__ __forceinline__ void fa_pack_a(u32* a, const float* s0, const float* s1) {
    a[0] = pack_bf16(s0[0], s0[1]);
    a[1] = pack_bf16(s0[2], s0[3]);
    a[2] = pack_bf16(s1[0], s1[1]);
    a[3] = pack_bf16(s1[2], s1[3]);
}

__device__ __forceinline__ float fa_quad_max(float v) {
    v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 1));
    return fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 2));
}
__device__ __forceinline__ float fa_quad_sum(float v) {
    v += __shfl_xor_sync(0xffffffffu, v, 1);
    return v + __shfl_xor_sync(0xffffffffu, v, 2);
}

// ---- forward: out and lse; grid (ceil(T/64), H, B), 128 threads ----
// Shared memory: Q, K, V tiles [64][D+8] bf16.
template <int D>
__device__ void flash_forward_impl(bf16* out, float* lse, const bf16* q, const bf16* k, const bf16* v, FlashDims a,
                                   float scale) {
    constexpr int LD = D + FA_PAD, KS = D / 16, NT = D / 8;
    AR_DYNAMIC_SMEM(bf16, smem);
    bf16* Qs = smem;
    bf16* Ks = Qs + FA_BQ * LD;
    bf16* Vs = Ks + FA_BK * LD;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane >> 2, tq = lane & 3;
    const i64 T = a.T, q0 = (i64)blockIdx.x * FA_BQ, h = blockIdx.y, b = blockIdx.z;
    const i64 kh = h / (a.H / a.KVH);
    const bf16* qb = q + (b * T * a.H + h) * D;
    const bf16* kb = k + (b * T * a.KVH + kh) * D;
    const bf16* vb = v + (b * T * a.KVH + kh) * D;
    const i64 qp = a.H * D, kp = a.KVH * D;  // row pitches
    const float sl2 = scale * FA_LOG2E;

    const i64 lo = a.window < 0 ? 0 : imax(0, q0 - a.window);
    const i64 hi = imin(T - 1, q0 + FA_BQ - 1);
    const i64 kt0 = (lo / FA_BK) * FA_BK;
    fa_load_rows<D>(Qs, qb, q0, FA_BQ, T, qp);
    fa_load_rows<D>(Ks, kb, kt0, FA_BK, T, kp);
    cp_async_commit();
    cp_async_wait_all();
    __syncthreads();
    u32 qf[KS][4];
#pragma unroll
    for (int kk = 0; kk < KS; kk++) fa_frag_a<D>(qf[kk], Qs, warp * 16, kk * 16);

    float o[NT][4];
#pragma unroll
    for (int n = 0; n < NT; n++) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;
    float m[2] = {-AR_INF, -AR_INF}, l[2] = {0.0f, 0.0f};
    const i64 row0 = q0 + warp * 16 + g;  // this lane's rows: row0 and row0 + 8

    for (i64 k0 = kt0; k0 <= hi; k0 += FA_BK) {
        cp_async_wait_all();  // K(k0)
        __syncthreads();      // ... visible to all; every warp is done with V(k0 - 64)
        fa_load_rows<D>(Vs, vb, k0, FA_BK, T, kp);
        cp_async_commit();

        float s[8][4];
#pragma unroll
        for (int n = 0; n < 8; n++) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
#pragma unroll
        for (int kk = 0; kk < KS; kk++) {
#pragma unroll
            for (int np = 0; np < 4; np++) {
                u32 kf[4];
                fa_frag_bt<D>(kf, Ks, np * 16, kk * 16);
                mma_bf16_16816(s[2 * np], qf[kk], kf, s[2 * np]);
                mma_bf16_16816(s[2 * np + 1], qf[kk], kf + 2, s[2 * np + 1]);
            }
        }
        // Scale to base 2 and mask; a tile that every row of the block sees whole skips the test.
        const bool whole = k0 + FA_BK - 1 <= q0 && (a.window < 0 || k0 >= q0 + FA_BQ - 1 - a.window) &&
                           q0 + FA_BQ <= T;
#pragma unroll
        for (int n = 0; n < 8; n++) {
#pragma unroll
            for (int i = 0; i < 4; i++) {
                i64 t = row0 + (i >> 1) * 8, sk = k0 + n * 8 + tq * 2 + (i & 1);
                s[n][i] = (whole || fa_visible(t, sk, T, a.window)) ? s[n][i] * sl2 : -AR_INF;
            }
        }
        // Online softmax per row: new max, rescale the running sum and output, p = exp2(s - m).
#pragma unroll
        for (int r = 0; r < 2; r++) {
            float mx = -AR_INF;
#pragma unroll
            for (int n = 0; n < 8; n++) mx = fmaxf(mx, fmaxf(s[n][2 * r], s[n][2 * r + 1]));
            mx = fa_quad_max(mx);
            float mnew = fmaxf(m[r], mx);
            float muse = mnew == -AR_INF ? 0.0f : mnew;  // a row with nothing visible yet
            float alpha = exp2f(m[r] - muse);
            float sum = 0.0f;
#pragma unroll
            for (int n = 0; n < 8; n++) {
                s[n][2 * r] = exp2f(s[n][2 * r] - muse);
                s[n][2 * r + 1] = exp2f(s[n][2 * r + 1] - muse);
                sum += s[n][2 * r] + s[n][2 * r + 1];
            }
            l[r] = l[r] * alpha + sum;  // this lane's part; the quad sums at the end
            m[r] = mnew;
#pragma unroll
            for (int n = 0; n < NT; n++) {
                o[n][2 * r] *= alpha;
                o[n][2 * r + 1] *= alpha;
            }
        }
        u32 pa[4][4];
#pragma unroll
        for (int j = 0; j < 4; j++) fa_pack_a(pa[j], s[2 * j], s[2 * j + 1]);

        cp_async_wait_all();  // V(k0)
        __syncthreads();      // ... visible; every warp is done with K(k0)
        if (k0 + FA_BK <= hi) {
            fa_load_rows<D>(Ks, kb, k0 + FA_BK, FA_BK, T, kp);
            cp_async_commit();
        }
#pragma unroll
        for (int j = 0; j < 4; j++) {
#pragma unroll
            for (int dp = 0; dp < NT / 2; dp++) {
                u32 vf[4];
                fa_frag_bn<D>(vf, Vs, j * 16, dp * 16);
                mma_bf16_16816(o[2 * dp], pa[j], vf, o[2 * dp]);
                mma_bf16_16816(o[2 * dp + 1], pa[j], vf + 2, o[2 * dp + 1]);
            }
        }
    }
#pragma unroll
    for (int r = 0; r < 2; r++) {
        float sum = fa_quad_sum(l[r]);
        i64 t = row0 + r * 8;
        if (t < T) {
            float inv = 1.0f / sum;
            bf16* orow = out + ((b * T + t) * a.H + h) * D;
#pragma unroll
            for (int n = 0; n < NT; n++) {
                u32 pair = pack_bf16(o[n][2 * r] * inv, o[n][2 * r + 1] * inv);
                memcpy(orow + n * 8 + tq * 2, &pair, 4);
            }
            if (tq == 0) lse[(b * a.H + h) * T + t] = m[r] * FA_LN2 + logf(sum);
        }
    }
}
extern "C" __global__ void flash_forward_d64(bf16* out, float* lse, const bf16* q, const bf16* k, const bf16* v,
                                             FlashDims a, float scale) {
    flash_forward_impl<64>(out, lse, q, k, v, a, scale);
}
AR_KERNEL(flash_forward_d64)
extern "C" __global__ void flash_forward_d128(bf16* out, float* lse, const bf16* q, const bf16* k, const bf16* v,
                                              FlashDims a, float scale) {
    flash_forward_impl<128>(out, lse, q, k, v, a, scale);
}
AR_KERNEL(flash_forward_d128)

// ---- dq: grid (ceil(T/64), H, B), 128 threads ----
// dS(t,s) = P(t,s) (dout_t·v_s - delta_t), P = exp(scale q_t·k_s - lse_t); dq_t = scale Σ_s dS k_s.
// Shared memory: Q, dO, K, V tiles [64][D+8] bf16.
template <int D>
__device__ void flash_backward_dq_impl(bf16* dq, const bf16* q, const bf16* k, const bf16* v, const bf16* dout,
                                       const float* lse, const float* delta, FlashDims a, float scale) {
    constexpr int LD = D + FA_PAD, KS = D / 16, NT = D / 8;
    AR_DYNAMIC_SMEM(bf16, smem);
    bf16* Qs = smem;
    bf16* dOs = Qs + FA_BQ * LD;
    bf16* Ks = dOs + FA_BQ * LD;
    bf16* Vs = Ks + FA_BK * LD;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane >> 2, tq = lane & 3;
    const i64 T = a.T, q0 = (i64)blockIdx.x * FA_BQ, h = blockIdx.y, b = blockIdx.z;
    const i64 kh = h / (a.H / a.KVH);
    const i64 qp = a.H * D, kp = a.KVH * D;
    const bf16* kb = k + (b * T * a.KVH + kh) * D;
    const bf16* vb = v + (b * T * a.KVH + kh) * D;
    const float sl2 = scale * FA_LOG2E;

    fa_load_rows<D>(Qs, q + (b * T * a.H + h) * D, q0, FA_BQ, T, qp);
    fa_load_rows<D>(dOs, dout + (b * T * a.H + h) * D, q0, FA_BQ, T, qp);
    cp_async_commit();
    const i64 row0 = q0 + warp * 16 + g;
    float lse2[2], dl[2];
#pragma unroll
    for (int r = 0; r < 2; r++) {
        i64 t = row0 + r * 8;
        lse2[r] = t < T ? lse[(b * a.H + h) * T + t] * FA_LOG2E : 0.0f;
        dl[r] = t < T ? delta[(b * a.H + h) * T + t] : 0.0f;
    }
    float acc[NT][4];
#pragma unroll
    for (int n = 0; n < NT; n++) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.0f;

    const i64 lo = a.window < 0 ? 0 : imax(0, q0 - a.window);
    const i64 hi = imin(T - 1, q0 + FA_BQ - 1);
    for (i64 k0 = (lo / FA_BK) * FA_BK; k0 <= hi; k0 += FA_BK) {
        __syncthreads();  // every warp is done with the previous K, V
        fa_load_rows<D>(Ks, kb, k0, FA_BK, T, kp);
        fa_load_rows<D>(Vs, vb, k0, FA_BK, T, kp);
        cp_async_commit();
        cp_async_wait_all();
        __syncthreads();
        // The tile's 64 keys in two halves of 32, to keep S and dP of half a tile in registers.
#pragma unroll
        for (int hk = 0; hk < 2; hk++) {
            float s[4][4], dp[4][4];
#pragma unroll
            for (int n = 0; n < 4; n++) {
                s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
                dp[n][0] = dp[n][1] = dp[n][2] = dp[n][3] = 0.0f;
            }
#pragma unroll
            for (int kk = 0; kk < KS; kk++) {
                u32 qf[4], of[4];
                fa_frag_a<D>(qf, Qs, warp * 16, kk * 16);
                fa_frag_a<D>(of, dOs, warp * 16, kk * 16);
#pragma unroll
                for (int np = 0; np < 2; np++) {
                    u32 kf[4], vf[4];
                    fa_frag_bt<D>(kf, Ks, hk * 32 + np * 16, kk * 16);
                    fa_frag_bt<D>(vf, Vs, hk * 32 + np * 16, kk * 16);
                    mma_bf16_16816(s[2 * np], qf, kf, s[2 * np]);
                    mma_bf16_16816(s[2 * np + 1], qf, kf + 2, s[2 * np + 1]);
                    mma_bf16_16816(dp[2 * np], of, vf, dp[2 * np]);
                    mma_bf16_16816(dp[2 * np + 1], of, vf + 2, dp[2 * np + 1]);
                }
            }
            // dS = P (dP - delta), P recomputed from lse; masked entries are 0.
#pragma unroll
            for (int n = 0; n < 4; n++) {
#pragma unroll
                for (int i = 0; i < 4; i++) {
                    int r = i >> 1;
                    i64 t = row0 + r * 8, sk = k0 + hk * 32 + n * 8 + tq * 2 + (i & 1);
                    float p = fa_visible(t, sk, T, a.window) ? exp2f(s[n][i] * sl2 - lse2[r]) : 0.0f;
                    s[n][i] = p * (dp[n][i] - dl[r]);
                }
            }
#pragma unroll
            for (int j = 0; j < 2; j++) {
                u32 dsa[4];
                fa_pack_a(dsa, s[2 * j], s[2 * j + 1]);
#pragma unroll
                for (int np = 0; np < NT / 2; np++) {
                    u32 kf[4];
                    fa_frag_bn<D>(kf, Ks, hk * 32 + j * 16, np * 16);
                    mma_bf16_16816(acc[2 * np], dsa, kf, acc[2 * np]);
                    mma_bf16_16816(acc[2 * np + 1], dsa, kf + 2, acc[2 * np + 1]);
                }
            }
        }
    }
#pragma unroll
    for (int r = 0; r < 2; r++) {
        i64 t = row0 + r * 8;
        if (t < T) {
            bf16* row = dq + ((b * T + t) * a.H + h) * D;
#pragma unroll
            for (int n = 0; n < NT; n++) {
                u32 pair = pack_bf16(scale * acc[n][2 * r], scale * acc[n][2 * r + 1]);
                memcpy(row + n * 8 + tq * 2, &pair, 4);
            }
        }
    }
}
extern "C" __global__ void flash_backward_dq_d64(bf16* dq, const bf16* q, const bf16* k, const bf16* v,
                                                 const bf16* dout, const float* lse, const float* delta,
                                                 FlashDims a, float scale) {
    flash_backward_dq_impl<64>(dq, q, k, v, dout, lse, delta, a, scale);
}
AR_KERNEL(flash_backward_dq_d64)
extern "C" __global__ void flash_backward_dq_d128(bf16* dq, const bf16* q, const bf16* k, const bf16* v,
                                                  const bf16* dout, const float* lse, const float* delta,
                                                  FlashDims a, float scale) {
    flash_backward_dq_impl<128>(dq, q, k, v, dout, lse, delta, a, scale);
}
AR_KERNEL(flash_backward_dq_d128)

// ---- dk, dv: grid (ceil(T/64), KVH, B), 128 threads ----
// A warp owns 16 keys and works on the transposed products (rows are keys):
//   Sᵀ = K Qᵀ, Pᵀ = exp(scale Sᵀ - lse), dPᵀ = V dOᵀ, dSᵀ = Pᵀ (dPᵀ - delta),
//   dV += Pᵀ dO, dK += dSᵀ Q  (times scale at the end),
// over every query head of the group and every query tile of 32 that sees the block's keys.
// Shared memory: K, V [64][D+8] bf16, Q, dO [32][D+8] bf16, lse·log2 e and delta [32] f32.
template <int D>
__device__ void flash_backward_dkdv_impl(bf16* dk, bf16* dv, const bf16* q, const bf16* k, const bf16* v,
                                         const bf16* dout, const float* lse, const float* delta, FlashDims a,
                                         float scale) {
    constexpr int LD = D + FA_PAD, KS = D / 16, NT = D / 8;
    AR_DYNAMIC_SMEM(bf16, smem);
    bf16* Ks = smem;
    bf16* Vs = Ks + FA_BK * LD;
    bf16* Qs = Vs + FA_BK * LD;
    bf16* dOs = Qs + FA_BQ2 * LD;
    float* lses = reinterpret_cast<float*>(dOs + FA_BQ2 * LD);
    float* dls = lses + FA_BQ2;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane >> 2, tq = lane & 3;
    const i64 T = a.T, k0 = (i64)blockIdx.x * FA_BK, kh = blockIdx.y, b = blockIdx.z;
    const i64 group = a.H / a.KVH, qp = a.H * D, kp = a.KVH * D;
    const float sl2 = scale * FA_LOG2E;

    fa_load_rows<D>(Ks, k + (b * T * a.KVH + kh) * D, k0, FA_BK, T, kp);
    fa_load_rows<D>(Vs, v + (b * T * a.KVH + kh) * D, k0, FA_BK, T, kp);
    cp_async_commit();
    float dka[NT][4], dva[NT][4];
#pragma unroll
    for (int n = 0; n < NT; n++) {
        dka[n][0] = dka[n][1] = dka[n][2] = dka[n][3] = 0.0f;
        dva[n][0] = dva[n][1] = dva[n][2] = dva[n][3] = 0.0f;
    }
    const i64 key0 = k0 + warp * 16 + g;  // this lane's keys: key0 and key0 + 8
    const i64 tmax = a.window < 0 ? T - 1 : imin(T - 1, k0 + FA_BK - 1 + a.window);
    for (i64 gi = 0; gi < group; gi++) {
        const i64 h = kh * group + gi;
        const bf16* qb = q + (b * T * a.H + h) * D;
        const bf16* ob = dout + (b * T * a.H + h) * D;
        for (i64 t0 = (k0 / FA_BQ2) * FA_BQ2; t0 <= tmax; t0 += FA_BQ2) {
            __syncthreads();  // every warp is done with the previous Q, dO
            fa_load_rows<D>(Qs, qb, t0, FA_BQ2, T, qp);
            fa_load_rows<D>(dOs, ob, t0, FA_BQ2, T, qp);
            cp_async_commit();
            if (threadIdx.x < FA_BQ2) {
                i64 t = t0 + threadIdx.x;
                lses[threadIdx.x] = t < T ? lse[(b * a.H + h) * T + t] * FA_LOG2E : 0.0f;
                dls[threadIdx.x] = t < T ? delta[(b * a.H + h) * T + t] : 0.0f;
            }
            cp_async_wait_all();
            __syncthreads();
            float s[4][4], dp[4][4];
#pragma unroll
            for (int n = 0; n < 4; n++) {
                s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
                dp[n][0] = dp[n][1] = dp[n][2] = dp[n][3] = 0.0f;
            }
#pragma unroll
            for (int kk = 0; kk < KS; kk++) {
                u32 kf[4], vf[4];
                fa_frag_a<D>(kf, Ks, warp * 16, kk * 16);
                fa_frag_a<D>(vf, Vs, warp * 16, kk * 16);
#pragma unroll
                for (int np = 0; np < 2; np++) {
                    u32 qf[4], of[4];
                    fa_frag_bt<D>(qf, Qs, np * 16, kk * 16);
                    fa_frag_bt<D>(of, dOs, np * 16, kk * 16);
                    mma_bf16_16816(s[2 * np], kf, qf, s[2 * np]);
                    mma_bf16_16816(s[2 * np + 1], kf, qf + 2, s[2 * np + 1]);
                    mma_bf16_16816(dp[2 * np], vf, of, dp[2 * np]);
                    mma_bf16_16816(dp[2 * np + 1], vf, of + 2, dp[2 * np + 1]);
                }
            }
            // Pᵀ and dSᵀ in place of s and dp; columns are queries.
#pragma unroll
            for (int n = 0; n < 4; n++) {
#pragma unroll
                for (int i = 0; i < 4; i++) {
                    int c = n * 8 + tq * 2 + (i & 1);
                    i64 sk = key0 + (i >> 1) * 8, t = t0 + c;
                    float p = (sk < T && fa_visible(t, sk, T, a.window)) ? exp2f(s[n][i] * sl2 - lses[c]) : 0.0f;
                    s[n][i] = p;
                    dp[n][i] = p * (dp[n][i] - dls[c]);
                }
            }
#pragma unroll
            for (int j = 0; j < 2; j++) {
                u32 pa[4], dsa[4];
                fa_pack_a(pa, s[2 * j], s[2 * j + 1]);
                fa_pack_a(dsa, dp[2 * j], dp[2 * j + 1]);
#pragma unroll
                for (int np = 0; np < NT / 2; np++) {
                    u32 of[4], qf[4];
                    fa_frag_bn<D>(of, dOs, j * 16, np * 16);
                    fa_frag_bn<D>(qf, Qs, j * 16, np * 16);
                    mma_bf16_16816(dva[2 * np], pa, of, dva[2 * np]);
                    mma_bf16_16816(dva[2 * np + 1], pa, of + 2, dva[2 * np + 1]);
                    mma_bf16_16816(dka[2 * np], dsa, qf, dka[2 * np]);
                    mma_bf16_16816(dka[2 * np + 1], dsa, qf + 2, dka[2 * np + 1]);
                }
            }
        }
    }
#pragma unroll
    for (int r = 0; r < 2; r++) {
        i64 sk = key0 + r * 8;
        if (sk < T) {
            i64 o = ((b * T + sk) * a.KVH + kh) * D;
#pragma unroll
            for (int n = 0; n < NT; n++) {
                u32 kpair = pack_bf16(scale * dka[n][2 * r], scale * dka[n][2 * r + 1]);
                u32 vpair = pack_bf16(dva[n][2 * r], dva[n][2 * r + 1]);
                memcpy(dk + o + n * 8 + tq * 2, &kpair, 4);
                memcpy(dv + o + n * 8 + tq * 2, &vpair, 4);
            }
        }
    }
}
extern "C" __global__ void flash_backward_dkdv_d64(bf16* dk, bf16* dv, const bf16* q, const bf16* k, const bf16* v,
                                                   const bf16* dout, const float* lse, const float* delta,
                                                   FlashDims a, float scale) {
    flash_backward_dkdv_impl<64>(dk, dv, q, k, v, dout, lse, delta, a, scale);
}
AR_KERNEL(flash_backward_dkdv_d64)
extern "C" __global__ void flash_backward_dkdv_d128(bf16* dk, bf16* dv, const bf16* q, const bf16* k, const bf16* v,
                                                    const bf16* dout, const float* lse, const float* delta,
                                                    FlashDims a, float scale) {
    flash_backward_dkdv_impl<128>(dk, dv, q, k, v, dout, lse, delta, a, scale);
}
AR_KERNEL(flash_backward_dkdv_d128)

// ---- flash_selftest: C = A·B for 16x16 bf16 matrices through the same fragment helpers ----
// One warp. a [16][16] and b [16][16] row-major, bt = bᵀ; c1 from ldmatrix on bᵀ's rows (as S =
// Q Kᵀ reads K), c2 from ldmatrix.trans on b's rows (as O = P V reads V), both [16][16] f32.
// The parity tests compare both with the product on the CPU: on a GPU this checks the
// fragment layouts the kernels above assume against the hardware's.
extern "C" __global__ void flash_selftest(float* c1, float* c2, const bf16* a, const bf16* b, const bf16* bt) {
    __align__(16) __shared__ bf16 As[16 * (16 + FA_PAD)], Bs[16 * (16 + FA_PAD)], BTs[16 * (16 + FA_PAD)];
    for (int i = threadIdx.x; i < 256; i += 32) {
        int r = i / 16, c = i % 16;
        As[r * (16 + FA_PAD) + c] = a[i];
        Bs[r * (16 + FA_PAD) + c] = b[i];
        BTs[r * (16 + FA_PAD) + c] = bt[i];
    }
    __syncthreads();
    u32 af[4], bf1[4], bf2[4];
    fa_frag_a<16>(af, As, 0, 0);
    fa_frag_bt<16>(bf1, BTs, 0, 0);
    fa_frag_bn<16>(bf2, Bs, 0, 0);
    float d1[2][4] = {{0, 0, 0, 0}, {0, 0, 0, 0}}, d2[2][4] = {{0, 0, 0, 0}, {0, 0, 0, 0}};
    mma_bf16_16816(d1[0], af, bf1, d1[0]);
    mma_bf16_16816(d1[1], af, bf1 + 2, d1[1]);
    mma_bf16_16816(d2[0], af, bf2, d2[0]);
    mma_bf16_16816(d2[1], af, bf2 + 2, d2[1]);
    int lane = threadIdx.x % 32, g = lane >> 2, tq = lane & 3;
    for (int n = 0; n < 2; n++) {
        for (int i = 0; i < 4; i++) {
            int row = g + (i >> 1) * 8, col = n * 8 + tq * 2 + (i & 1);
            c1[row * 16 + col] = d1[n][i];
            c2[row * 16 + col] = d2[n][i];
        }
    }
}
AR_KERNEL(flash_selftest)
