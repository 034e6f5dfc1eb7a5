//go:build cudaemu && !cuda

// The kernel sources of kernels/, compiled by g++ for the emulator.
#define AR_EMULATE 1
#include "kernels/elementwise.cu"
#include "kernels/reduce.cu"
#include "kernels/nn.cu"
#include "kernels/layers.cu"
#include "kernels/optim.cu"
#include "kernels/attention.cu"
#include "kernels/flash.cu"
