// pool.cu — 2-D max and average pooling, forward and backward (square window, floor mode).
//
// Math: window (p, q) covers rows p·s − pad + i and columns q·s − pad + j for i, j in [0, k).
//   max forward   y[p,q] = max of the window's in-bounds x (padding is ignored, never a candidate)
//   max backward  dx[h,w] = Σ dy[p,q] over the windows whose argmax is (h, w); the argmax is the first maximum in
//                 window order (row-major over i, then j), so ties route the whole gradient to one element, as in
//                 CpuBackend's reference. NaN: a NaN candidate is the maximum (the first NaN in window order).
//   avg forward   y[p,q] = (Σ in-bounds x) / k² (padded zeros count: PyTorch's count_include_pad = true)
//   avg backward  dx[h,w] = Σ dy[p,q] / k² over the windows containing (h, w)
//   Backward passes gather (each dx element sums the windows covering it, in (p, q) order), so they need no atomics
//   and are deterministic; overlapping windows (k > s) are handled by the same loop. As in the CPU twin
//   (CpuBackend.Pool.cs): max backward adds in float in (p, q) order from 0, and the average sums run in double and
//   are divided by k² in double before rounding, so both match the CPU bit for bit.
// Layout: x N×C×H×W and y N×C×P×Q float32, row-major; planes = N·C independent H×W images; P = (H + 2pad − k)/s + 1.
// Launch: 1-D grid-stride, blockDim 256, grid = min(ceil_div(n, 256), 32·SMs): forward over n = planes·P·Q outputs,
//   backward over n = planes·H·W inputs. Every window holds at least one in-bounds element (pad ≤ k/2).
// Traffic per element: max/avg forward read k² floats, write 1 = 4(k² + 1) B per output | avg backward reads
//   ⌈k/s⌉² dy, writes 1 per input | max backward re-scans each covering window (k² x and 1 dy): ⌈k/s⌉²·(k² + 1)
//   reads + 1 write per input (k = 3, s = 2: 40 + 1 floats = 164 B; cache hits not subtracted).
#include "common.cuh"

// ---- device helpers ----
// Windows [lo, hi] along one axis that contain input coordinate i: p·s − pad ≤ i ≤ p·s − pad + k − 1 (lo > hi: none).
__device__ __forceinline__ void covering_windows(int i, int k, int s, int pad, int outs, int& lo, int& hi)
{
    const int top = i + pad - k + 1;  // smallest p·s allowed
    lo = top <= 0 ? 0 : (top + s - 1) / s;
    hi = (i + pad) / s;
    if (hi > outs - 1) hi = outs - 1;
}

// The flat in-plane index (row·W + col) of the first maximum of window (p, q): NaN beats everything, and among
// equal values the first in window order wins.
__device__ __forceinline__ int window_argmax(const float* __restrict__ plane, int h, int w, int p, int q, int k,
    int s, int pad)
{
    const int r0 = p * s - pad, c0 = q * s - pad;
    int best_at = -1;
    float best = 0.0f;
    for (int i = 0; i < k; ++i)
    {
        const int r = r0 + i;
        if (r < 0 || r >= h) continue;
        for (int j = 0; j < k; ++j)
        {
            const int c = c0 + j;
            if (c < 0 || c >= w) continue;
            const float v = plane[r * w + c];
            if (best_at < 0 || (best == best && (v > best || v != v)))
            {
                best = v;
                best_at = r * w + c;
            }
        }
    }
    return best_at;
}

// Splits a flat output (or input) index into its plane and in-plane coordinates (a, b) of an A×B grid.
__device__ __forceinline__ void split_index(long long e, int a_size, int b_size, long long& plane, int& a, int& b)
{
    long long rest;
    divmod_ll(e, b_size, rest, b);
    divmod_ll(rest, a_size, plane, a);
}

// ---- kernels ----
extern "C" __global__ void maxpool2d_forward_f32(const float* __restrict__ x, float* __restrict__ y, int planes,
    int h, int w, int p, int q, int kernel, int stride, int pad)
{
    const long long n = (long long)planes * p * q;
    for (long long e = grid_start(); e < n; e += grid_stride())
    {
        long long plane;
        int op, oq;
        split_index(e, p, q, plane, op, oq);
        const float* xp = x + plane * h * w;
        y[e] = xp[window_argmax(xp, h, w, op, oq, kernel, stride, pad)];
    }
}

extern "C" __global__ void maxpool2d_backward_f32(const float* __restrict__ x, const float* __restrict__ dy,
    float* __restrict__ dx, int planes, int h, int w, int p, int q, int kernel, int stride, int pad)
{
    const long long n = (long long)planes * h * w;
    for (long long e = grid_start(); e < n; e += grid_stride())
    {
        long long plane;
        int ih, iw;
        split_index(e, h, w, plane, ih, iw);
        const float* xp = x + plane * h * w;
        const float* dyp = dy + plane * p * q;
        int p_lo, p_hi, q_lo, q_hi;
        covering_windows(ih, kernel, stride, pad, p, p_lo, p_hi);
        covering_windows(iw, kernel, stride, pad, q, q_lo, q_hi);
        const int self = ih * w + iw;
        float acc = 0.0f;
        for (int op = p_lo; op <= p_hi; ++op)
            for (int oq = q_lo; oq <= q_hi; ++oq)
                if (window_argmax(xp, h, w, op, oq, kernel, stride, pad) == self) acc += dyp[op * q + oq];
        dx[e] = acc;
    }
}

extern "C" __global__ void avgpool2d_forward_f32(const float* __restrict__ x, float* __restrict__ y, int planes,
    int h, int w, int p, int q, int kernel, int stride, int pad)
{
    const long long n = (long long)planes * p * q;
    const double area = (double)kernel * kernel;
    for (long long e = grid_start(); e < n; e += grid_stride())
    {
        long long plane;
        int op, oq;
        split_index(e, p, q, plane, op, oq);
        const float* xp = x + plane * h * w;
        const int r0 = op * stride - pad, c0 = oq * stride - pad;
        double acc = 0.0;
        for (int i = 0; i < kernel; ++i)
        {
            const int r = r0 + i;
            if (r < 0 || r >= h) continue;
            for (int j = 0; j < kernel; ++j)
            {
                const int c = c0 + j;
                if (c >= 0 && c < w) acc += (double)xp[r * w + c];
            }
        }
        y[e] = (float)(acc / area);
    }
}

extern "C" __global__ void avgpool2d_backward_f32(const float* __restrict__ dy, float* __restrict__ dx, int planes,
    int h, int w, int p, int q, int kernel, int stride, int pad)
{
    const long long n = (long long)planes * h * w;
    const double area = (double)kernel * kernel;
    for (long long e = grid_start(); e < n; e += grid_stride())
    {
        long long plane;
        int ih, iw;
        split_index(e, h, w, plane, ih, iw);
        const float* dyp = dy + plane * p * q;
        int p_lo, p_hi, q_lo, q_hi;
        covering_windows(ih, kernel, stride, pad, p, p_lo, p_hi);
        covering_windows(iw, kernel, stride, pad, q, q_lo, q_hi);
        double acc = 0.0;
        for (int op = p_lo; op <= p_hi; ++op)
            for (int oq = q_lo; oq <= q_hi; ++oq) acc += (double)dyp[op * q + oq];
        dx[e] = (float)(acc / area);
    }
}
