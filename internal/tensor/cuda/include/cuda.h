/*
 * cuda.h: the CUDA 13 compatibility header for gorgonia.org/cu v0.9.6.
 *
 * gorgonia.org/cu was written against the pre-13 driver API. CUDA 13 changed five of the
 * signatures it calls: cuCtxCreate gained a parameters argument, cuMemAdvise and
 * cuMemPrefetchAsync take a CUmemLocation instead of a CUdevice, cuGraphAddDependencies and
 * cuGraphGetEdges take edge data. The CUDA 13 driver still exports the old symbols, so this
 * header, found first on the include path (make build-cuda puts its folder before the CUDA
 * include folder in CGO_CFLAGS), includes the real cuda.h and re-declares those five names
 * with their pre-13 signatures. On CUDA 11 and 12 headers it only includes the real one.
 */
#ifndef AUTORESEARCH_CUDA_COMPAT_H
#define AUTORESEARCH_CUDA_COMPAT_H

#include_next <cuda.h>

#if CUDA_VERSION >= 13000

#ifdef __cplusplus
extern "C" {
#endif

#undef cuCtxCreate
#define cuCtxCreate cuCtxCreate_v2
CUresult CUDAAPI cuCtxCreate_v2(CUcontext *pctx, unsigned int flags, CUdevice dev);

#undef cuMemAdvise
CUresult CUDAAPI cuMemAdvise(CUdeviceptr devPtr, size_t count, CUmem_advise advice, CUdevice device);

#undef cuMemPrefetchAsync
CUresult CUDAAPI cuMemPrefetchAsync(CUdeviceptr devPtr, size_t count, CUdevice dstDevice, CUstream hStream);

#undef cuGraphAddDependencies
CUresult CUDAAPI cuGraphAddDependencies(CUgraph hGraph, const CUgraphNode *from, const CUgraphNode *to, size_t numDependencies);

#undef cuGraphGetEdges
CUresult CUDAAPI cuGraphGetEdges(CUgraph hGraph, CUgraphNode *from, CUgraphNode *to, size_t *numEdges);

#ifdef __cplusplus
}
#endif

#endif /* CUDA_VERSION >= 13000 */

#endif /* AUTORESEARCH_CUDA_COMPAT_H */
