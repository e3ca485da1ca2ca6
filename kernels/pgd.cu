// pgd.cu — projected gradient descent attack steps and random starts (Madry et al. 2018), in [lo, hi] pixel space.
//
// Math (x, x0, g: one float per pixel; a "sample" is one row of per_sample = C·H·W pixels):
//   linf step     x ← clamp(min(max(x + α·sign(g), x0 − ε), x0 + ε), lo, hi), sign(0) = 0
//   l2 step       per sample: gn = ‖g‖; step = gn > 0 ? α·g/gn : 0; d = x + step − x0; dn = ‖d‖;
//                 if dn > ε: d ← d·ε/dn; x ← clamp(x0 + d, lo, hi)
//   linf start    element e of sample g = first_sample + e / per_sample, k = e % per_sample:
//                 r = Draw(seed, stream, 0, g, k); x = clamp(x0 + ε(2·Uniform(r.x) − 1), lo, hi)
//   l2 start      z_k = Normal(r.x, r.y), r = Draw(seed, stream, 0, g, k); u = Uniform(Draw(seed, stream, 1, g, 0).x);
//                 radius = ε·u^(1/per_sample); zn = ‖z‖; x = clamp(x0 + radius·z/zn, lo, hi) (zn = 0: x = clamp(x0))
//   Starts: when ids is non-null, row s is sample g = first_sample + ids[s] (the shuffled ids of a training batch);
//   when key is non-null, (seed, stream, first_sample) are read from it (philox_key_from: a captured training step
//   replays with each step's key).
//   No backward: these are optimiser steps, not differentiable ops.
// Layout: N samples × per_sample contiguous float32; n = N·per_sample.
// Launch: linf kernels 1-D, blockDim 256, grid = min(ceil_div(n, 256), 65536) (grid-stride). l2 kernels: one block
//   per sample, grid = N, blockDim 256 (any multiple of 32 up to 1024); they make 2–3 passes over the sample.
// Traffic per element: linf step reads 3 floats, writes 1 = 16 B | l2 step reads g, then g x x0 twice (1 + 3 + 3
//   floats) and writes 1 = 32 B requested; passes 2 and 3 re-read the sample (a 3×32×32 sample is 12 KB) | linf
//   start reads 1, writes 1 = 8 B | l2 start 8 B (Philox recomputed in the second pass instead of storing z).
#include "common.cuh"
#include "philox.cuh"

// ---- device helpers ----
// ‖v‖² of one sample by the whole block (every thread must call it; see block_reduce).
__device__ __forceinline__ float sample_sum_squares(const float* __restrict__ v, int per_sample, float* scratch)
{
    float acc = 0.0f;
    for (int k = threadIdx.x; k < per_sample; k += blockDim.x) acc += v[k] * v[k];
    return block_sum(acc, scratch);
}

// z_k of the l2 random start for global sample g.
__device__ __forceinline__ float start_normal(unsigned long long seed, unsigned int stream, unsigned int g, int k)
{
    const philox4 r = philox_draw(seed, stream, PHILOX_PURPOSE_ELEMENT, g, (unsigned int)k);
    return philox_normal(r.x, r.y);
}

// ---- kernels ----
extern "C" __global__ void pgd_linf_step_f32(float* __restrict__ x, const float* __restrict__ x0,
    const float* __restrict__ g, float alpha, float eps, float lo, float hi, long long n)
{
    for (long long i = grid_start(); i < n; i += grid_stride())
    {
        const float base = x0[i];
        float v = x[i] + alpha * sign_f(g[i]);
        v = fminf(fmaxf(v, base - eps), base + eps);
        x[i] = clamp_f(v, lo, hi);
    }
}

// grid = N blocks: block s owns sample s. Pass 3 re-reads x[k] before the same thread overwrites it, so the
// in-place update is race-free (element k is touched by thread k % blockDim.x only).
extern "C" __global__ void pgd_l2_step_f32(float* __restrict__ x, const float* __restrict__ x0,
    const float* __restrict__ g, float alpha, float eps, float lo, float hi, int per_sample)
{
    __shared__ float scratch[AR_WARP_SIZE];
    const long long base = (long long)blockIdx.x * per_sample;
    float* xs = x + base;
    const float* x0s = x0 + base;
    const float* gs = g + base;

    const float gn = sqrtf(sample_sum_squares(gs, per_sample, scratch));
    float acc = 0.0f;
    for (int k = threadIdx.x; k < per_sample; k += blockDim.x)
    {
        const float step = gn > 0.0f ? alpha * gs[k] / gn : 0.0f;
        const float d = xs[k] + step - x0s[k];
        acc += d * d;
    }
    const float dn = sqrtf(block_sum(acc, scratch));
    const float shrink = dn > eps ? eps / dn : 1.0f;
    for (int k = threadIdx.x; k < per_sample; k += blockDim.x)
    {
        const float step = gn > 0.0f ? alpha * gs[k] / gn : 0.0f;
        float d = xs[k] + step - x0s[k];
        if (dn > eps) d *= shrink;
        xs[k] = clamp_f(x0s[k] + d, lo, hi);
    }
}

extern "C" __global__ void pgd_linf_random_start_f32(float* __restrict__ x, const float* __restrict__ x0, float eps,
    float lo, float hi, long long n, int per_sample, unsigned long long seed, unsigned int stream,
    unsigned int first_sample, const unsigned int* __restrict__ key, const int* __restrict__ ids)
{
    philox_key_from(key, seed, stream, first_sample);
    for (long long e = grid_start(); e < n; e += grid_stride())
    {
        long long s;
        int k;
        divmod_ll(e, per_sample, s, k);
        const unsigned int sample = first_sample + (ids != nullptr ? (unsigned int)ids[s] : (unsigned int)s);
        const philox4 r = philox_draw(seed, stream, PHILOX_PURPOSE_ELEMENT, sample, (unsigned int)k);
        x[e] = clamp_f(x0[e] + eps * (2.0f * philox_uniform(r.x) - 1.0f), lo, hi);
    }
}

// grid = N blocks: block s owns global sample first_sample + s. z is recomputed in the second pass, not stored.
extern "C" __global__ void pgd_l2_random_start_f32(float* __restrict__ x, const float* __restrict__ x0, float eps,
    float lo, float hi, int per_sample, unsigned long long seed, unsigned int stream, unsigned int first_sample,
    const unsigned int* __restrict__ key, const int* __restrict__ ids)
{
    __shared__ float scratch[AR_WARP_SIZE];
    philox_key_from(key, seed, stream, first_sample);
    const long long base = (long long)blockIdx.x * per_sample;
    const unsigned int sample = first_sample + (ids != nullptr ? (unsigned int)ids[blockIdx.x] : blockIdx.x);

    float acc = 0.0f;
    for (int k = threadIdx.x; k < per_sample; k += blockDim.x)
    {
        const float z = start_normal(seed, stream, sample, k);
        acc += z * z;
    }
    const float zn = sqrtf(block_sum(acc, scratch));
    const float u = philox_uniform(philox_draw(seed, stream, PHILOX_PURPOSE_SAMPLE, sample, 0u).x);
    const float radius = eps * powf(u, 1.0f / (float)per_sample);
    for (int k = threadIdx.x; k < per_sample; k += blockDim.x)
    {
        const float offset = zn > 0.0f ? radius * start_normal(seed, stream, sample, k) / zn : 0.0f;
        x[base + k] = clamp_f(x0[base + k] + offset, lo, hi);
    }
}
