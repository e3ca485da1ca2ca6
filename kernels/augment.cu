// augment.cu — training-time data augmentation: per-sample random crop after zero padding, and horizontal flip.
//
// Math (the CPU twin RandomCropFlip in CpuBackend.Optim.cs, bit for bit): row s of the batch is global sample
//   g = first_sample + s (uint, wrapping). One Philox draw per sample, shared by its C channels:
//     r = Draw(seed, stream, purpose 3 (Philox.PurposeAugment), g, element 0)
//     dx = r.x mod (2·pad + 1) − pad;  dy = r.y mod (2·pad + 1) − pad;  mirror = flip && (r.z & 1)
//     y[s,c,i,j] = x[s,c, i + dy, j' + dx] with j' = mirror ? W − 1 − j : j, and 0 where that is outside the image
//   i.e. pad by `pad` zeros, crop H×W at offset (pad + dy, pad + dx), then mirror. No backward (data, not a layer).
//   A non-null key holds (seed, stream, first_sample) in device memory instead (philox_key_from): the trainer's
//   captured step reads each step's epoch and first sample from there.
// Layout: x, y N×C×H×W float32 row-major; y must not alias x.
// Launch: 1-D grid-stride over the N·C·H·W outputs, blockDim 256, grid = min(ceil_div(n, 256), 32·SMs). Each thread
//   recomputes its sample's draw (one Philox block, 10 rounds) instead of staging it: no shared memory, any grid.
// Traffic per element: reads at most 1 float, writes 1 = 8 B.
#include "common.cuh"
#include "philox.cuh"

// ---- constants ----
#define AUGMENT_PHILOX_PURPOSE 3u  // Philox.PurposeAugment in src/AdvRobust.Core/Random/Philox.cs

// ---- kernels ----
extern "C" __global__ void random_crop_flip_f32(const float* __restrict__ x, float* __restrict__ y, int samples,
    int channels, int h, int w, int pad, int flip, unsigned long long seed, unsigned int stream,
    unsigned int first_sample, const unsigned int* __restrict__ key)
{
    philox_key_from(key, seed, stream, first_sample);
    const long long plane = (long long)h * w;
    const long long n = (long long)samples * channels * plane;
    const unsigned int span = (unsigned int)(2 * pad + 1);
    for (long long e = grid_start(); e < n; e += grid_stride())
    {
        long long row, sc, s;
        int j, i, c;
        divmod_ll(e, w, row, j);     // row = (s·C + c)·H + i
        divmod_ll(row, h, sc, i);    // sc = s·C + c, the (sample, channel) plane
        divmod_ll(sc, channels, s, c);
        const philox4 r = philox_draw(seed, stream, AUGMENT_PHILOX_PURPOSE, first_sample + (unsigned int)s, 0u);
        const int dx = (int)(r.x % span) - pad, dy = (int)(r.y % span) - pad;
        const bool mirror = flip != 0 && (r.z & 1u) == 1u;
        const int si = i + dy, sj = (mirror ? w - 1 - j : j) + dx;
        const bool inside = si >= 0 && si < h && sj >= 0 && sj < w;
        y[e] = inside ? x[sc * plane + (long long)si * w + sj] : 0.0f;
    }
}
