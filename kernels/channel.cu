// channel.cu — per-channel affine map, per-channel sum and per-channel broadcast over axis 1 (bias add, eval-mode
// batch norm, input normalization, the bias/affine gradients, and the backward of a sum).
//
// Math: channel_affine  y[n,c,j] = x[n,c,j]·scale[c] + shift[c]; a null scale means 1, a null shift means 0.
//         Its backward is channel_affine again (dx = dy·scale) plus channel_sum (dshift = Σ dy, dscale = Σ dy·x).
//       channel_sum     y[c] = Σ_n Σ_j x[n,c,j].
//       channel_fill    y[n,c,j] = value[c] (a copy: the backward of a full sum is channel_fill of the scalar g over
//         y viewed as 1×1×L, one launch instead of a GEMM against a column of ones).
//       As in the CPU twin (CpuBackend.Channel.cs): a null scale skips the multiply and a null shift the add (both
//       null: y = x exactly, −0 included); the sum runs in double and is rounded to float once.
// Layout: x N×C×inner float32 row-major (inner = H·W for images, 1 for N×C), scale/shift/y float32[C].
//   In place (y == x) is allowed for channel_affine: each element is read then written by one thread.
// Launch: channel_affine and channel_fill 1-D grid-stride, blockDim 256, grid = min(ceil_div(n, 256), 32·SMs).
//   channel_sum one block per channel (grid = C), blockDim exactly CHANNEL_SUM_THREADS = 256 (a power of two; the
//   host's Kernels.ChannelSumThreads): thread t sums elements t, t + 256, ... of the channel's N·inner values in a
//   double, in that order; the 256 partials are combined by a fixed shared-memory tree (strides 128, 64, ..., 1) in
//   double. The order depends only on (N, inner), never on timing: bitwise deterministic, no atomics.
// Traffic per element: channel_affine reads 1, writes 1 = 8 B (+8 B per channel) | channel_sum reads 1 = 4 B
//   (+4 B written per channel) | channel_fill writes 1 = 4 B (+4 B read per channel).
#include "common.cuh"

// ---- constants ----
#define CHANNEL_SUM_THREADS 256

// ---- device helpers ----
// Channel of flat element e of an N×C×inner tensor.
__device__ __forceinline__ int channel_of(long long e, int channels, int inner)
{
    long long row;
    int unused;
    divmod_ll(e, inner, row, unused);
    long long sample;
    int c;
    divmod_ll(row, channels, sample, c);
    return c;
}

// ---- kernels ----
extern "C" __global__ void channel_affine_f32(const float* x, const float* __restrict__ scale,
    const float* __restrict__ shift, float* y, long long n, int channels, int inner)
{
    for (long long e = grid_start(); e < n; e += grid_stride())
    {
        const int c = channel_of(e, channels, inner);
        float v = x[e];
        if (scale != nullptr) v = v * scale[c];
        if (shift != nullptr) v = v + shift[c];
        y[e] = v;
    }
}

extern "C" __global__ void channel_fill_f32(const float* __restrict__ value, float* __restrict__ y, long long n,
    int channels, int inner)
{
    for (long long e = grid_start(); e < n; e += grid_stride()) y[e] = value[channel_of(e, channels, inner)];
}

extern "C" __global__ void channel_sum_f32(const float* __restrict__ x, float* __restrict__ y, int batch,
    int channels, int inner)
{
    __shared__ double partial[CHANNEL_SUM_THREADS];
    const int c = blockIdx.x, t = threadIdx.x;
    const long long count = (long long)batch * inner;
    double acc = 0.0;
    for (long long k = t; k < count; k += CHANNEL_SUM_THREADS)
    {
        long long n;
        int j;
        divmod_ll(k, inner, n, j);
        acc += (double)x[(n * channels + c) * inner + j];
    }
    partial[t] = acc;
    __syncthreads();
    for (int stride = CHANNEL_SUM_THREADS / 2; stride > 0; stride >>= 1)
    {
        if (t < stride) partial[t] += partial[t + stride];
        __syncthreads();
    }
    if (t == 0) y[c] = (float)partial[0];
}
