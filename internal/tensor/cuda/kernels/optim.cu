// optim.cu: the optimizer updates, in place on f32 parameters and state: AdamW, Muon's
// Nesterov momentum, an exponential moving average (lerp), and Muon's final update with
// cautious weight decay. The host folds the
// step-dependent constants (bias corrections, decay factor) into the scalar arguments.
#include "common.cuh"

// adamw: p *= decay; m = lerp(m, g, w1); v = lerp(v, g^2, w2);
// p -= step_size * m / (sqrt(v * inv_bias2) + eps), where decay = 1 - lr*wd, w1 = 1 - beta1,
// w2 = 1 - beta2, step_size = lr / (1 - beta1^step), inv_bias2 = 1 / (1 - beta2^step).
extern "C" __global__ void adamw_f32(float* p, const float* g, float* m, float* v, i64 n, float decay,
                                     float w1, float w2, float step_size, float inv_bias2, float eps) {
    AR_FOR(i, n) {
        float gi = g[i];
        float mi = m[i] + w1 * (gi - m[i]);
        float vi = v[i] + w2 * (gi * gi - v[i]);
        m[i] = mi;
        v[i] = vi;
        float denom = sqrtf(vi * inv_bias2) + eps;
        p[i] = p[i] * decay - step_size * mi / denom;
    }
}
AR_KERNEL(adamw_f32)

// nesterov: buf = lerp(buf, g, 1 - momentum); g = lerp(g, buf, momentum).
extern "C" __global__ void nesterov_f32(float* g, float* buf, i64 n, float momentum) {
    AR_FOR(i, n) {
        float gi = g[i];
        float b = buf[i] + (1.0f - momentum) * (gi - buf[i]);
        buf[i] = b;
        g[i] = gi + momentum * (b - gi);
    }
}
AR_KERNEL(nesterov_f32)

// lerp: a = lerp(a, b, w) = a + w*(b - a).
extern "C" __global__ void lerp_f32(float* a, const float* b, i64 n, float w) {
    AR_FOR(i, n) a[i] += w * (b[i] - a[i]);
}
AR_KERNEL(lerp_f32)

// muon_update: p, g [P, R, C]; u = g * s with s [P, R] (per_row) or [P, C];
// p -= lr*u + (u*p >= 0 ? lr*wd*p : 0).
extern "C" __global__ void muon_update_f32(float* p, const float* g, const float* s, i64 np, i64 r, i64 c,
                                           i64 per_row, float lr, float wd) {
    AR_FOR(i, np * r * c) {
        i64 col = i % c, row = (i / c) % r, mat = i / (r * c);
        float sc = per_row ? s[mat * r + row] : s[mat * c + col];
        float u = g[i] * sc;
        float pv = p[i];
        p[i] = pv - (lr * u + (u * pv >= 0.0f ? lr * wd * pv : 0.0f));
    }
}
AR_KERNEL(muon_update_f32)
