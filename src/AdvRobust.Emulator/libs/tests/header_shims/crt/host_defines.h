#pragma once
// Stand-in for a CUDA toolkit header that cuBLAS/cuDNN headers include; only what tests/check_headers.sh needs.
#define __host__
#define __device__
#define __cudart_builtin__
#define CUDARTAPI
#define __device_builtin__
#define CUDART_CB
#define __align__(n) __attribute__((aligned(n)))
#define __builtin_align__(n) __attribute__((aligned(n)))
#define __forceinline__ inline
#define __inline_hint__
#define __noinline__
#define __CUDA_ALIGN__(n) __attribute__((aligned(n)))
