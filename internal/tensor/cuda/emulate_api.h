// emulate_api.h: what the Go driver of the emulator (driver_emu.go) calls.
#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

int ar_emu_kernel_count(void);
const char* ar_emu_kernel_name(int i);
int ar_emu_launch(int kernel, unsigned gx, unsigned gy, unsigned gz, unsigned block, unsigned smem,
                  uint64_t* words, int32_t* offs, int nargs, char* err, int errlen);
void ar_emu_gemm(int transa, int transb, int m, int n, int k, float alpha, uintptr_t a, int ta, int lda,
                 long long sa, uintptr_t b, int tb, int ldb, long long sb, float beta, uintptr_t c, int tc,
                 int ldc, long long sc, int batch, int tf32);

// Device memory is host memory; addresses cross to Go as integers.
uintptr_t ar_emu_malloc(size_t n);
void ar_emu_free(uintptr_t p);
void ar_emu_upload(uintptr_t dst, const void* src, size_t n);
void ar_emu_download(void* dst, uintptr_t src, size_t n);

#ifdef __cplusplus
}
#endif
