// elementwise.cu: fill, the strided copy (which also converts between f32 and bf16), unary
// functions and their derivatives, broadcasting binary functions (of mixed float dtypes where
// the tensor layer mixes an f32 parameter into bf16 activations) and where. One thread per
// element, grid-stride loops, float arithmetic. Kernel names end in the dtype of every float
// operand, in parameter order, or in one dtype when all are alike.
#include "common.cuh"

// ---- fill: dst[i] = v for i < n ----

template <typename T>
__device__ void fill_impl(T* dst, i64 n, float v) {
    AR_FOR(i, n) st(dst, i, v);
}
extern "C" __global__ void fill_f32(float* dst, i64 n, float v) { fill_impl(dst, n, v); }
AR_KERNEL(fill_f32)
extern "C" __global__ void fill_bf16(bf16* dst, i64 n, float v) { fill_impl(dst, n, v); }
AR_KERNEL(fill_bf16)
extern "C" __global__ void fill_i32(int* dst, i64 n, float v) {
    int iv = (int)v;
    AR_FOR(i, n) dst[i] = iv;
}
AR_KERNEL(fill_i32)

// ---- copy: dst[Σ i_j*st0_j] (+)= src[Σ i_j*st1_j] over d.shape ----
// dst strides never repeat an element, so accumulating needs no atomics.

template <typename T>
__device__ void copy_impl(T* dst, const T* src, const Dims& d, i64 accumulate) {
    AR_FOR(i, d.n) {
        i64 od, os, unused;
        dims_offsets(d, i, &od, &os, &unused);
        if (accumulate) {
            st(dst, od, ld(dst, od) + ld(src, os));
        } else {
            dst[od] = src[os];
        }
    }
}
extern "C" __global__ void copy_f32(float* dst, const float* src, Dims d, i64 accumulate) {
    copy_impl(dst, src, d, accumulate);
}
AR_KERNEL(copy_f32)
extern "C" __global__ void copy_bf16(bf16* dst, const bf16* src, Dims d, i64 accumulate) {
    copy_impl(dst, src, d, accumulate);
}
AR_KERNEL(copy_bf16)
extern "C" __global__ void copy_i32(int* dst, const int* src, Dims d, i64 accumulate) {
    AR_FOR(i, d.n) {
        i64 od, os, unused;
        dims_offsets(d, i, &od, &os, &unused);
        dst[od] = accumulate ? dst[od] + src[os] : src[os];
    }
}
AR_KERNEL(copy_i32)

// Converting copies: dst[..] (+)= src[..] with src read as float and stored in dst's type.
template <typename TD, typename TS>
__device__ void convert_copy_impl(TD* dst, const TS* src, const Dims& d, i64 accumulate) {
    AR_FOR(i, d.n) {
        i64 od, os, unused;
        dims_offsets(d, i, &od, &os, &unused);
        float v = ld(src, os);
        st(dst, od, accumulate ? ld(dst, od) + v : v);
    }
}
extern "C" __global__ void copy_f32_bf16(float* dst, const bf16* src, Dims d, i64 accumulate) {
    convert_copy_impl(dst, src, d, accumulate);
}
AR_KERNEL(copy_f32_bf16)
extern "C" __global__ void copy_bf16_f32(bf16* dst, const float* src, Dims d, i64 accumulate) {
    convert_copy_impl(dst, src, d, accumulate);
}
AR_KERNEL(copy_bf16_f32)

// ---- unary: y = f(x; a, b), and dx = dy * f'(x) ----
// The op numbers are tensor.UnaryOp's, in its order.
enum {
    U_AFFINE, U_EXP, U_LOG, U_SQRT, U_RSQRT, U_RECIP, U_SQUARE, U_ABS, U_RELU, U_RELU_SQUARE,
    U_SIGMOID, U_TANH, U_SOFTCAP, U_CLAMP_MIN, U_CLAMP_MAX, U_STEP_GE, U_POW_SCALAR,
    U_GELU, U_GELU_TANH, U_SILU, U_SOFTPLUS, U_MISH
};

// The smooth activations' pieces: softplus (x itself above 20, as PyTorch) and the tanh
// GELU's inner u = sqrt(2/pi)*(x + 0.044715x^3).
__device__ __forceinline__ float softplus_f(float x) { return x > 20.0f ? x : log1pf(expf(x)); }
__device__ __forceinline__ float gelu_u(float x) { return 0.7978845608f * (x + 0.044715f * x * x * x); }

__device__ __forceinline__ float unary_f(i64 op, float x, float a, float b) {
    switch (op) {
    case U_AFFINE: return a * x + b;
    case U_EXP: return expf(x);
    case U_LOG: return logf(x);
    case U_SQRT: return sqrtf(x);
    case U_RSQRT: return 1.0f / sqrtf(x);
    case U_RECIP: return 1.0f / x;
    case U_SQUARE: return x * x;
    case U_ABS: return fabsf(x);
    case U_RELU: return x > 0.0f ? x : 0.0f;
    case U_RELU_SQUARE: { float r = x > 0.0f ? x : 0.0f; return r * r; }
    case U_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case U_TANH: return tanhf(x);
    case U_SOFTCAP: return a * tanhf(x / a);
    case U_CLAMP_MIN: return x > a ? x : a;
    case U_CLAMP_MAX: return x < a ? x : a;
    case U_STEP_GE: return x >= a ? 1.0f : 0.0f;
    case U_POW_SCALAR: return powf(x, a);
    case U_GELU: return 0.5f * x * (1.0f + erff(x * 0.7071067812f));
    case U_GELU_TANH: return 0.5f * x * (1.0f + tanhf(gelu_u(x)));
    case U_SILU: return x / (1.0f + expf(-x));
    case U_SOFTPLUS: return softplus_f(x);
    case U_MISH: return x * tanhf(softplus_f(x));
    }
    return __int_as_float(0x7fc00000);  // NaN: an op number the backend never sends
}

// unary_needs_y: whether op's derivative reads the forward's output (the others spare a pass
// over y: relu_square's backward, the MLP's, reads only x and dy).
__device__ __forceinline__ bool unary_needs_y(i64 op) {
    return op == U_EXP || op == U_SQRT || op == U_RSQRT || op == U_RECIP || op == U_SIGMOID || op == U_TANH ||
           op == U_SOFTCAP;
}

// dy/dx given x and the forward's y.
__device__ __forceinline__ float unary_df(i64 op, float x, float y, float a, float b) {
    switch (op) {
    case U_AFFINE: return a;
    case U_EXP: return y;
    case U_LOG: return 1.0f / x;
    case U_SQRT: return 0.5f / y;
    case U_RSQRT: return -0.5f * y * y * y;
    case U_RECIP: return -y * y;
    case U_SQUARE: return 2.0f * x;
    case U_ABS: return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : 0.0f);
    case U_RELU: return x > 0.0f ? 1.0f : 0.0f;
    case U_RELU_SQUARE: return x > 0.0f ? 2.0f * x : 0.0f;
    case U_SIGMOID: return y * (1.0f - y);
    case U_TANH: return 1.0f - y * y;
    case U_SOFTCAP: { float r = y / a; return 1.0f - r * r; }
    case U_CLAMP_MIN: return x >= a ? 1.0f : 0.0f;
    case U_CLAMP_MAX: return x <= a ? 1.0f : 0.0f;
    case U_STEP_GE: return 0.0f;
    case U_POW_SCALAR: return a * powf(x, a - 1.0f);
    case U_GELU: return 0.5f * (1.0f + erff(x * 0.7071067812f)) + x * 0.3989422804f * expf(-0.5f * x * x);
    case U_GELU_TANH: {
        float t = tanhf(gelu_u(x));
        return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * 0.7978845608f * (1.0f + 3.0f * 0.044715f * x * x);
    }
    case U_SILU: { float s = 1.0f / (1.0f + expf(-x)); return s * (1.0f + x * (1.0f - s)); }
    case U_SOFTPLUS: return 1.0f / (1.0f + expf(-x));
    case U_MISH: {
        float t = tanhf(softplus_f(x));
        return t + x * (1.0f - t * t) / (1.0f + expf(-x));
    }
    }
    return __int_as_float(0x7fc00000);
}

template <typename T>
__device__ void unary_impl(T* dst, const T* x, i64 n, i64 op, float a, float b) {
    AR_FOR(i, n) st(dst, i, unary_f(op, ld(x, i), a, b));
}
extern "C" __global__ void unary_f32(float* dst, const float* x, i64 n, i64 op, float a, float b) {
    unary_impl(dst, x, n, op, a, b);
}
AR_KERNEL(unary_f32)
extern "C" __global__ void unary_bf16(bf16* dst, const bf16* x, i64 n, i64 op, float a, float b) {
    unary_impl(dst, x, n, op, a, b);
}
AR_KERNEL(unary_bf16)

template <typename T>
__device__ void unary_backward_impl(T* dx, const T* dy, const T* x, const T* y, i64 n, i64 op, float a, float b) {
    if (unary_needs_y(op)) {
        AR_FOR(i, n) st(dx, i, ld(dy, i) * unary_df(op, ld(x, i), ld(y, i), a, b));
    } else {
        AR_FOR(i, n) st(dx, i, ld(dy, i) * unary_df(op, ld(x, i), 0.0f, a, b));
    }
}
extern "C" __global__ void unary_backward_f32(float* dx, const float* dy, const float* x, const float* y,
                                              i64 n, i64 op, float a, float b) {
    unary_backward_impl(dx, dy, x, y, n, op, a, b);
}
AR_KERNEL(unary_backward_f32)
extern "C" __global__ void unary_backward_bf16(bf16* dx, const bf16* dy, const bf16* x, const bf16* y,
                                               i64 n, i64 op, float a, float b) {
    unary_backward_impl(dx, dy, x, y, n, op, a, b);
}
AR_KERNEL(unary_backward_bf16)

// ---- binary: dst[i] = f(x[..], y[..]), dst contiguous over d.shape; st0 = x, st1 = y ----
// The op numbers are tensor.BinaryOp's, in its order.
enum { B_ADD, B_SUB, B_MUL, B_DIV, B_MAX, B_MIN, B_EQ, B_GE };

__device__ __forceinline__ float binary_f(i64 op, float x, float y) {
    switch (op) {
    case B_ADD: return x + y;
    case B_SUB: return x - y;
    case B_MUL: return x * y;
    case B_DIV: return x / y;
    case B_MAX: return fmaxf(x, y);
    case B_MIN: return fminf(x, y);
    case B_EQ: return x == y ? 1.0f : 0.0f;
    case B_GE: return x >= y ? 1.0f : 0.0f;
    }
    return __int_as_float(0x7fc00000);
}

template <typename TD, typename TX, typename TY>
__device__ void binary_impl(TD* dst, const TX* x, const TY* y, const Dims& d, i64 op) {
    AR_FOR(i, d.n) {
        i64 ox, oy, unused;
        dims_offsets(d, i, &ox, &oy, &unused);
        st(dst, i, binary_f(op, ld(x, ox), ld(y, oy)));
    }
}
extern "C" __global__ void binary_f32(float* dst, const float* x, const float* y, Dims d, i64 op) {
    binary_impl(dst, x, y, d, op);
}
AR_KERNEL(binary_f32)
extern "C" __global__ void binary_bf16(bf16* dst, const bf16* x, const bf16* y, Dims d, i64 op) {
    binary_impl(dst, x, y, d, op);
}
AR_KERNEL(binary_bf16)
// Mixed: bf16 activations with an f32 parameter (a residual lambda), on either side.
extern "C" __global__ void binary_bf16_bf16_f32(bf16* dst, const bf16* x, const float* y, Dims d, i64 op) {
    binary_impl(dst, x, y, d, op);
}
AR_KERNEL(binary_bf16_bf16_f32)
extern "C" __global__ void binary_bf16_f32_bf16(bf16* dst, const float* x, const bf16* y, Dims d, i64 op) {
    binary_impl(dst, x, y, d, op);
}
AR_KERNEL(binary_bf16_f32_bf16)
extern "C" __global__ void binary_f32_f32_bf16(float* dst, const float* x, const bf16* y, Dims d, i64 op) {
    binary_impl(dst, x, y, d, op);
}
AR_KERNEL(binary_f32_f32_bf16)
extern "C" __global__ void binary_f32_bf16_f32(float* dst, const bf16* x, const float* y, Dims d, i64 op) {
    binary_impl(dst, x, y, d, op);
}
AR_KERNEL(binary_f32_bf16_f32)

// ---- where: dst[i] = cond[..] != 0 ? x[..] : y[..]; st0 = cond, st1 = x, st2 = y ----

template <typename T>
__device__ void where_impl(T* dst, const T* cond, const T* x, const T* y, const Dims& d) {
    AR_FOR(i, d.n) {
        i64 oc, ox, oy;
        dims_offsets(d, i, &oc, &ox, &oy);
        st(dst, i, ld(cond, oc) != 0.0f ? ld(x, ox) : ld(y, oy));
    }
}
extern "C" __global__ void where_f32(float* dst, const float* cond, const float* x, const float* y, Dims d) {
    where_impl(dst, cond, x, y, d);
}
AR_KERNEL(where_f32)
extern "C" __global__ void where_bf16(bf16* dst, const bf16* cond, const bf16* x, const bf16* y, Dims d) {
    where_impl(dst, cond, x, y, d);
}
AR_KERNEL(where_bf16)

// ---- scale_strided: C_i = beta * C_i for a batch of [m, n] matrices with row pitch ldc ----
// Gemm's K == 0 case (cuBLAS would leave C alone); beta == 0 writes zeros, NaN included.

template <typename T>
__device__ void scale_strided_impl(T* c, i64 batch, i64 m, i64 n, i64 ldc, i64 stride, float beta) {
    AR_FOR(i, batch * m * n) {
        i64 col = i % n, row = (i / n) % m, b = i / (n * m);
        i64 o = b * stride + row * ldc + col;
        st(c, o, beta == 0.0f ? 0.0f : beta * ld(c, o));
    }
}
extern "C" __global__ void scale_strided_f32(float* c, i64 batch, i64 m, i64 n, i64 ldc, i64 stride, float beta) {
    scale_strided_impl(c, batch, m, n, ldc, stride, beta);
}
AR_KERNEL(scale_strided_f32)
extern "C" __global__ void scale_strided_bf16(bf16* c, i64 batch, i64 m, i64 n, i64 ldc, i64 stride, float beta) {
    scale_strided_impl(c, batch, m, n, ldc, stride, beta);
}
AR_KERNEL(scale_strided_bf16)

// ---- convert: between f32 and bf16 storage (Gemm with mixed operands, casts) ----

extern "C" __global__ void convert_f32_bf16(bf16* dst, const float* src, i64 n) {
    AR_FOR(i, n) st(dst, i, src[i]);
}
AR_KERNEL(convert_f32_bf16)
extern "C" __global__ void convert_bf16_f32(float* dst, const bf16* src, i64 n) {
    AR_FOR(i, n) dst[i] = ld(src, i);
}
AR_KERNEL(convert_bf16_f32)
