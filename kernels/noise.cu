// noise.cu — Gaussian noise for randomized smoothing (Cohen et al. 2019) and Gaussian noise augmentation.
//
// Math (the CPU twin GaussianNoise in CpuBackend.Noise.cs): row s of y is global sample
//   g = first_sample + (ids ? (unsigned)ids[s] : s) (uint, wrapping), k = 0..per_sample-1 the element in it:
//     r = Draw(seed, stream, purpose 7 (Philox.PurposeNoise), g, k);  z = Normal(r.x, r.y)  (Box–Muller)
//     y[s, k] = x[x_rows == 1 ? k : s·per_sample + k] + sigma·z
//   Keying by (g, k) makes a sample's noise independent of batch split and launch geometry; x_rows == 1 replicates one
//   image into N noisy copies (certification: copy j of test point i is g = j, stream = i). Only the cosine half of
//   Box–Muller is used, so element k needs exactly one Philox block, as on the CPU. A non-null key holds (seed,
//   stream, first_sample) in device memory instead (philox_key_from), for a captured training step. No backward: y
//   is data fed to the model (∂y/∂x = I would be the identity anyway).
// Layout: y N×per_sample float32 row-major; x the same or 1×per_sample; ids N int32 or null. y may alias x only when
//   x_rows == N (each element is read before it is written by the same thread).
// Launch: 1-D grid-stride over the n = N·per_sample outputs, blockDim 256, grid = min(ceil_div(n, 256), 32·SMs). Each
//   thread recomputes its own draw (10 Philox rounds + logf, cosf, sqrtf): no shared memory, any grid.
// Traffic per element: reads 1 float of x (replicated: one C·H·W row, served from L2) and writes 1 = 8 B; the N ids
//   add 4 B per sample.
#include "common.cuh"
#include "philox.cuh"

// ---- constants ----
#define NOISE_PHILOX_PURPOSE 7u  // Philox.PurposeNoise in src/AdvRobust.Core/Random/Philox.cs

// ---- kernels ----
extern "C" __global__ void gaussian_noise_f32(const float* x, float* y, const int* __restrict__ ids,
    float sigma, long long n, int per_sample, int x_rows, unsigned long long seed, unsigned int stream,
    unsigned int first_sample, const unsigned int* __restrict__ key)
{
    philox_key_from(key, seed, stream, first_sample);
    for (long long e = grid_start(); e < n; e += grid_stride())
    {
        long long s;
        int k;
        divmod_ll(e, per_sample, s, k);
        const unsigned int row = ids != nullptr ? (unsigned int)ids[s] : (unsigned int)s;
        const philox4 r = philox_draw(seed, stream, NOISE_PHILOX_PURPOSE, first_sample + row, (unsigned int)k);
        const float base = x_rows == 1 ? x[k] : x[e];
        y[e] = base + sigma * philox_normal(r.x, r.y);
    }
}
