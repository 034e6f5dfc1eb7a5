//go:build cuda

#include "driver_cuda.h"

#include <string.h>

CUresult ar_current(CUcontext ctx) {
    CUcontext cur = NULL;
    CUresult r = cuCtxGetCurrent(&cur);
    if (r != CUDA_SUCCESS) return r;
    return cur == ctx ? CUDA_SUCCESS : cuCtxSetCurrent(ctx);
}

CUresult ar_get_current(CUcontext* ctx) { return cuCtxGetCurrent(ctx); }

#define AR_MAX_ARGS 32

CUresult ar_launch(CUcontext ctx, CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned block,
                   unsigned smem, CUstream stream, uint64_t* words, int32_t* offs, int nargs) {
    void* params[AR_MAX_ARGS];
    if (nargs > AR_MAX_ARGS) return CUDA_ERROR_INVALID_VALUE;
    for (int i = 0; i < nargs; i++) params[i] = &words[offs[i]];
    CUresult r = ar_current(ctx);
    if (r != CUDA_SUCCESS) return r;
    return cuLaunchKernel(f, gx, gy, gz, block, 1, 1, smem, stream, params, NULL);
}

CUresult ar_module_load(CUcontext ctx, CUmodule* mod, const char* ptx, char* log, size_t loglen) {
    CUresult r = ar_current(ctx);
    if (r != CUDA_SUCCESS) return r;
    CUjit_option opts[2] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
    void* vals[2] = {log, (void*)(uintptr_t)loglen};
    if (loglen > 0) log[0] = 0;
    return cuModuleLoadDataEx(mod, ptx, 2, opts, vals);
}

CUresult ar_module_function(CUcontext ctx, CUmodule mod, const char* name, int max_dynamic_smem, CUfunction* f) {
    CUresult r = ar_current(ctx);
    if (r != CUDA_SUCCESS) return r;
    r = cuModuleGetFunction(f, mod, name);
    if (r != CUDA_SUCCESS) return r;
    // Allow the opt-in shared memory above 48 KiB (the attention kernels use it); a kernel's
    // static shared memory counts against the same limit.
    int static_smem = 0;
    r = cuFuncGetAttribute(&static_smem, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, *f);
    if (r != CUDA_SUCCESS) return r;
    return cuFuncSetAttribute(*f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, max_dynamic_smem - static_smem);
}

CUresult ar_module_unload(CUcontext ctx, CUmodule mod) {
    CUresult r = ar_current(ctx);
    return r != CUDA_SUCCESS ? r : cuModuleUnload(mod);
}

CUresult ar_host_alloc(CUcontext ctx, void** p, size_t n) {
    CUresult r = ar_current(ctx);
    return r != CUDA_SUCCESS ? r : cuMemHostAlloc(p, n, 0);
}

CUresult ar_host_free(CUcontext ctx, void* p) {
    CUresult r = ar_current(ctx);
    return r != CUDA_SUCCESS ? r : cuMemFreeHost(p);
}

CUresult ar_event_create(CUcontext ctx, CUevent* ev) {
    CUresult r = ar_current(ctx);
    return r != CUDA_SUCCESS ? r : cuEventCreate(ev, CU_EVENT_DISABLE_TIMING);
}

CUresult ar_upload(CUcontext ctx, CUstream s, uint64_t dst, const void* pinned, size_t n, CUevent done) {
    CUresult r = ar_current(ctx);
    if (r != CUDA_SUCCESS) return r;
    r = cuMemcpyHtoDAsync((CUdeviceptr)dst, pinned, n, s);
    if (r != CUDA_SUCCESS) return r;
    return cuEventRecord(done, s);
}

CUresult ar_event_wait(CUcontext ctx, CUevent ev) {
    CUresult r = ar_current(ctx);
    return r != CUDA_SUCCESS ? r : cuEventSynchronize(ev);
}

CUresult ar_download(CUcontext ctx, CUstream s, void* pinned, uint64_t src, size_t n) {
    CUresult r = ar_current(ctx);
    if (r != CUDA_SUCCESS) return r;
    r = cuMemcpyDtoHAsync(pinned, (CUdeviceptr)src, n, s);
    if (r != CUDA_SUCCESS) return r;
    return cuStreamSynchronize(s);
}

CUresult ar_sync(CUcontext ctx, CUstream s) {
    CUresult r = ar_current(ctx);
    return r != CUDA_SUCCESS ? r : cuStreamSynchronize(s);
}

int ar_blas_create(CUcontext ctx, CUstream s, cublasHandle_t* h) {
    if (ar_current(ctx) != CUDA_SUCCESS) return CUBLAS_STATUS_NOT_INITIALIZED;
    cublasStatus_t st = cublasCreate(h);
    if (st != CUBLAS_STATUS_SUCCESS) return st;
    return cublasSetStream(*h, s);
}

int ar_blas_destroy(CUcontext ctx, cublasHandle_t h) {
    if (ar_current(ctx) != CUDA_SUCCESS) return CUBLAS_STATUS_NOT_INITIALIZED;
    return cublasDestroy(h);
}

static cudaDataType_t ar_type(int t) { return t == 1 ? CUDA_R_16BF : CUDA_R_32F; }

int ar_gemm(CUcontext ctx, cublasHandle_t h, int transa, int transb, int m, int n, int k, float alpha,
            uint64_t a, int ta, int lda, long long sa, uint64_t b, int tb, int ldb, long long sb, float beta,
            uint64_t c, int tc, int ldc, long long sc, int batch, int tf32) {
    if (ar_current(ctx) != CUDA_SUCCESS) return CUBLAS_STATUS_NOT_INITIALIZED;
    cublasOperation_t opa = transa ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasOperation_t opb = transb ? CUBLAS_OP_T : CUBLAS_OP_N;
    // fp32 accumulation always; TF32 tensor cores for f32 inputs when asked.
    cublasComputeType_t compute = tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    if (batch == 1) {
        return cublasGemmEx(h, opa, opb, m, n, k, &alpha, (const void*)(uintptr_t)a, ar_type(ta), lda,
                            (const void*)(uintptr_t)b, ar_type(tb), ldb, &beta, (void*)(uintptr_t)c, ar_type(tc), ldc,
                            compute, CUBLAS_GEMM_DEFAULT);
    }
    return cublasGemmStridedBatchedEx(h, opa, opb, m, n, k, &alpha, (const void*)(uintptr_t)a, ar_type(ta), lda, sa,
                                      (const void*)(uintptr_t)b, ar_type(tb), ldb, sb, &beta, (void*)(uintptr_t)c,
                                      ar_type(tc), ldc, sc, batch, compute, CUBLAS_GEMM_DEFAULT);
}
