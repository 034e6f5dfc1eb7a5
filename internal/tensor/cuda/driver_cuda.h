// driver_cuda.h: the project's own thin C layer over the CUDA driver API and cuBLAS, for
// what gorgonia.org/cu does not offer or does too slowly: kernel launches with struct
// arguments in one cgo call, module loading with the JIT's error log, pinned host memory,
// stream-ordered copies, and cuBLAS GemmEx with bf16/TF32 on the backend's stream.
//
// Every entry point takes the backend's context and makes it current first (a cheap check
// when it already is), because a goroutine may run each cgo call on another OS thread.
#pragma once
#include <cuda.h>
#include <cublas_v2.h>
#include <stddef.h>
#include <stdint.h>

CUresult ar_current(CUcontext ctx);
CUresult ar_get_current(CUcontext* ctx);

CUresult ar_launch(CUcontext ctx, CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned block,
                   unsigned smem, CUstream stream, uint64_t* words, int32_t* offs, int nargs);

CUresult ar_module_load(CUcontext ctx, CUmodule* mod, const char* ptx, char* log, size_t loglen);
CUresult ar_module_function(CUcontext ctx, CUmodule mod, const char* name, int max_dynamic_smem, CUfunction* f);
CUresult ar_module_unload(CUcontext ctx, CUmodule mod);

CUresult ar_host_alloc(CUcontext ctx, void** p, size_t n);
CUresult ar_host_free(CUcontext ctx, void* p);
CUresult ar_event_create(CUcontext ctx, CUevent* ev);
CUresult ar_upload(CUcontext ctx, CUstream s, uint64_t dst, const void* pinned, size_t n, CUevent done);
CUresult ar_event_wait(CUcontext ctx, CUevent ev);
CUresult ar_download(CUcontext ctx, CUstream s, void* pinned, uint64_t src, size_t n);
CUresult ar_sync(CUcontext ctx, CUstream s);

int ar_blas_create(CUcontext ctx, CUstream s, cublasHandle_t* h);
int ar_blas_destroy(CUcontext ctx, cublasHandle_t h);
int ar_gemm(CUcontext ctx, cublasHandle_t h, int transa, int transb, int m, int n, int k, float alpha,
            uint64_t a, int ta, int lda, long long sa, uint64_t b, int tb, int ldb, long long sb, float beta,
            uint64_t c, int tc, int ldc, long long sc, int batch, int tf32);
