// cuda_emu.h — force-included (`-include cuda_emu.h`) when kernels/*.cu are compiled for the host into the emulator's
// kernels library. It supplies what nvcc/NVRTC provide implicitly, mapped onto the emulator runtime:
// - execution-space keywords vanish; __shared__ becomes `static thread_local`: one OS thread runs one block at a time,
//   so the block's fibers share it, and the runtime poisons the library's TLS (0xFF = NaN) at every block start
//   (limit: an array that nothing in its kernel ever writes may be folded to zeros by the host compiler);
// - threadIdx/blockIdx/blockDim/gridDim read the running fiber's variables;
// - __syncthreads and warp shuffles/votes are real rendezvous in the runtime's scheduler, checked there;
// - math built-ins map onto libm (no fast-math approximations: __expf is expf);
// - atomics are real host atomics (blocks run in parallel on a thread pool).
// Kernel sources never include this file and never change for the emulator; a kernel that starts using a new
// built-in adds its mapping here (and in kernels/compat.h for the clang gate).
#ifndef ADVROBUST_CUDA_EMU_H
#define ADVROBUST_CUDA_EMU_H

#include <math.h>
#include <stdint.h>
#include <string.h>
#include "emu_kernel_abi.h"

// ---- execution spaces and qualifiers ----
#define __host__
#define __device__
#define __global__
#define __shared__ static thread_local
#define __constant__ static const
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __restrict__ __restrict
#define __launch_bounds__(...)  // the limit is read from the NVRTC cubin (EIATTR_MAX_THREADS) at launch

#define EMU_STR2(x) #x
#define EMU_STR(x) EMU_STR2(x)
#define EMU_SITE __FILE__ ":" EMU_STR(__LINE__)

// ---- built-in variables ----
#define threadIdx (emu_thread_vars()->thread_idx)
#define blockIdx (emu_thread_vars()->block_idx)
#define blockDim (emu_thread_vars()->block_dim)
#define gridDim (emu_thread_vars()->grid_dim)
#define warpSize 32

// ---- barriers and warp collectives ----
#define __syncthreads() emu_syncthreads(EMU_SITE)
#define __trap() emu_kernel_trap(EMU_SITE, "__trap()")

template <class T>
static inline T emu_warp(int op, unsigned int mask, T v, int arg, int width, const char* site)
{
    static_assert(sizeof(T) <= 8, "warp shuffles move at most 8 bytes");
    uint64_t u = 0;
    memcpy(&u, &v, sizeof v);
    u = emu_warp_op(op, mask, u, arg, width, site);
    T r;
    memcpy(&r, &u, sizeof r);
    return r;
}

#define __shfl_sync(m, v, lane, ...) emu_warp(EMU_SHFL_IDX, (m), (v), (lane), emu_width(__VA_ARGS__ + 0), EMU_SITE)
#define __shfl_up_sync(m, v, d, ...) emu_warp(EMU_SHFL_UP, (m), (v), (int)(d), emu_width(__VA_ARGS__ + 0), EMU_SITE)
#define __shfl_down_sync(m, v, d, ...) emu_warp(EMU_SHFL_DOWN, (m), (v), (int)(d), emu_width(__VA_ARGS__ + 0), EMU_SITE)
#define __shfl_xor_sync(m, v, l, ...) emu_warp(EMU_SHFL_XOR, (m), (v), (l), emu_width(__VA_ARGS__ + 0), EMU_SITE)
#define __all_sync(m, p) ((int)emu_warp_op(EMU_VOTE_ALL, (m), (p) ? 1 : 0, 0, 32, EMU_SITE))
#define __any_sync(m, p) ((int)emu_warp_op(EMU_VOTE_ANY, (m), (p) ? 1 : 0, 0, 32, EMU_SITE))
#define __ballot_sync(m, p) ((unsigned int)emu_warp_op(EMU_VOTE_BALLOT, (m), (p) ? 1 : 0, 0, 32, EMU_SITE))
#define __syncwarp(...) ((void)emu_warp_op(EMU_SYNCWARP, emu_mask(__VA_ARGS__ + 0), 0, 0, 32, EMU_SITE))

// An omitted width/mask argument arrives as 0 (`__VA_ARGS__ + 0`): width 0 means 32, mask 0 means the full warp.
static inline int emu_width(int w) { return w == 0 ? 32 : w; }
static inline unsigned int emu_mask(unsigned int m) { return m == 0 ? 0xffffffffu : m; }

// ---- math ----
static inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
#define __expf expf  // glibc declares its own __expf; no fast approximation either way
#define __logf logf
static inline float __fdividef(float a, float b) { return a / b; }
static inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
static inline float __int_as_float(int i) { float f; memcpy(&f, &i, 4); return f; }
static inline int __float_as_int(float f) { int i; memcpy(&i, &f, 4); return i; }
static inline float __uint_as_float(unsigned int i) { float f; memcpy(&f, &i, 4); return f; }
static inline unsigned int __float_as_uint(float f) { unsigned int i; memcpy(&i, &f, 4); return i; }
static inline unsigned int __umulhi(unsigned int a, unsigned int b) { return (unsigned int)(((uint64_t)a * b) >> 32); }
static inline int __mulhi(int a, int b) { return (int)(((int64_t)a * b) >> 32); }
static inline int __popc(unsigned int x) { return __builtin_popcount(x); }
static inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz((unsigned int)x); }
static inline int __ffs(int x) { return __builtin_ffs(x); }

// ---- atomics (return the old value, like CUDA) ----
template <class T>
static inline T atomicAdd(T* p, T v)
{
    if constexpr (__is_integral(T)) return __atomic_fetch_add(p, v, __ATOMIC_RELAXED);
    else
    {
        T old, desired;
        __atomic_load(p, &old, __ATOMIC_RELAXED);
        do desired = old + v;
        while (!__atomic_compare_exchange(p, &old, &desired, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
        return old;
    }
}
template <class T> static inline T atomicSub(T* p, T v) { return __atomic_fetch_sub(p, v, __ATOMIC_RELAXED); }
template <class T> static inline T atomicExch(T* p, T v) { return __atomic_exchange_n(p, v, __ATOMIC_RELAXED); }
template <class T> static inline T atomicMax(T* p, T v) { return __atomic_fetch_max(p, v, __ATOMIC_RELAXED); }
template <class T> static inline T atomicMin(T* p, T v) { return __atomic_fetch_min(p, v, __ATOMIC_RELAXED); }
template <class T> static inline T atomicOr(T* p, T v) { return __atomic_fetch_or(p, v, __ATOMIC_RELAXED); }
template <class T> static inline T atomicAnd(T* p, T v) { return __atomic_fetch_and(p, v, __ATOMIC_RELAXED); }
template <class T>
static inline T atomicCAS(T* p, T compare, T v)
{
    __atomic_compare_exchange_n(p, &compare, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    return compare;
}
static inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
static inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

#endif // ADVROBUST_CUDA_EMU_H
