// gather.cu — scatter-add of rows, the backward of gather_rows_f32 (elementwise.cu) and an exact row copy at an
// offset (into a destination filled with -0).
//
// Math:     dst[index[i],:] += src[i,:] for i = 0..N-1 in increasing i; index -1 skips row i (other indices are
//           validated by the host). Each destination element is written by exactly one thread, which adds its
//           sources in increasing i: no atomics, deterministic, and the same float additions in the same order as
//           the CPU twin (src/AdvRobust.Cpu/CpuBackend.Gather.cs).
// Layout:   src N×d, index int32[N], dst M×d, row-major float32.
// Launch:   1-D grid-stride over the N·d source elements (i = e / d, column c = e % d), blockDim 256. The thread of
//           (i, c) works only when i is the first row with index[i] = r (it scans index[0..i) to know) and then
//           sums every later row j with index[j] = r into dst[r, c]: O(N) index reads per element, shared by the
//           warp (consecutive lanes have the same i), so O(N²·d) index reads in all — cheap for the N ≤ a few
//           thousand rows of a batch or a negative pool, and free of the float atomics a one-pass scatter would need.
// Traffic per element: reads 4 B of src and 4 B of dst, writes 4 B of dst = 12 B (+ the index scans, from cache).
#include "common.cuh"

// ---- kernels ----
extern "C" __global__ void scatter_add_rows_f32(const float* __restrict__ src, const int* __restrict__ index,
    float* __restrict__ dst, int n, int d)
{
    const long long total = (long long)n * d;
    for (long long e = grid_start(); e < total; e += grid_stride())
    {
        long long row;
        int col;
        divmod_ll(e, d, row, col);
        const int i = (int)row, r = index[i];
        if (r < 0) continue;
        bool first = true;
        for (int j = 0; j < i && first; j++) first = index[j] != r;
        if (!first) continue;
        float acc = dst[(long long)r * d + col];
        for (int j = i; j < n; j++)
            if (index[j] == r) acc += src[(long long)j * d + col];
        dst[(long long)r * d + col] = acc;
    }
}
