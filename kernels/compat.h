// compat.h — ONLY for the clang-14 syntax gate (tests/AdvRobust.Tests/Kernels/KernelCompileTests.cs).
//
// clang compiles kernels/*.cu with `-nocudainc -nocudalib -include compat.h`, i.e. without any CUDA toolkit header.
// This file supplies exactly what the kernels use and nvcc/NVRTC provide implicitly: the execution-space keywords,
// the built-in variables (threadIdx, blockIdx, blockDim, gridDim), the math functions (mapped onto libdevice
// `__nv_*` declarations, left unresolved in the PTX because of -nocudalib) and the warp shuffles (mapped onto
// `__nvvm_*` builtins). __syncthreads() is a clang builtin and needs nothing.
//
// nvcc and NVRTC must never see this file: no .cu or .cuh includes it (a test checks that). When a kernel starts
// using a new intrinsic, add its mapping here, and only here.
#ifndef AR_COMPAT_H
#define AR_COMPAT_H

#if !defined(__clang__) || !defined(__CUDA__)
#error "compat.h is for the clang CUDA syntax gate only; nvcc and NVRTC do not need it"
#endif

// ---- execution spaces and qualifiers ----
#define __host__ __attribute__((host))
#define __device__ __attribute__((device))
#define __global__ __attribute__((global))
#define __shared__ __attribute__((shared))
#define __constant__ __attribute__((constant))
#define __forceinline__ __inline__ __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...) __attribute__((launch_bounds(__VA_ARGS__)))

// ---- built-in variables and libdevice declarations (both ship with clang) ----
#include <__clang_cuda_builtin_vars.h>
#include <__clang_cuda_libdevice_declares.h>

// ---- math: libdevice ----
#define sqrtf __nv_sqrtf
#define rsqrtf __nv_rsqrtf
#define sqrt __nv_sqrt
#define rint __nv_rint
#define fminf __nv_fminf
#define fmaxf __nv_fmaxf
#define fabsf __nv_fabsf
#define expf __nv_expf
#define logf __nv_logf
#define tanhf __nv_tanhf
#define powf __nv_powf
#define cosf __nv_cosf
#define sinf __nv_sinf
#define __umulhi __nv_umulhi
#define __int_as_float __nv_int_as_float
#define __float_as_int __nv_float_as_int

// ---- warp shuffles: nvvm builtins; 0x1f = the whole warp is one segment. The width argument is deliberately not
// accepted: a kernel that needs sub-warp widths must add (and the gate must see) a mapping that honours it. ----
static __device__ __forceinline__ float __shfl_xor_sync(unsigned int mask, float v, int lane_mask)
{
    return __nvvm_shfl_sync_bfly_f32(mask, v, lane_mask, 0x1f);
}
static __device__ __forceinline__ int __shfl_xor_sync(unsigned int mask, int v, int lane_mask)
{
    return __nvvm_shfl_sync_bfly_i32(mask, v, lane_mask, 0x1f);
}
static __device__ __forceinline__ float __shfl_down_sync(unsigned int mask, float v, unsigned int delta)
{
    return __nvvm_shfl_sync_down_f32(mask, v, delta, 0x1f);
}
static __device__ __forceinline__ int __shfl_down_sync(unsigned int mask, int v, unsigned int delta)
{
    return __nvvm_shfl_sync_down_i32(mask, v, delta, 0x1f);
}

#endif // AR_COMPAT_H
