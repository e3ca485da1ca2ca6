using System.Buffers;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using AdvRobust.Core;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Cpu;

// The convolution's filter gradient (shapes and chunking in CpuBackend.Conv.cs): dWᵀ = col·dYᵀ block by block, col
// built for a band of taps straight into packed-A micro-panels in L2, the same blocks and order as one chunk-wide GEMM.
// Tests: ConvFilterOrderTests.
public sealed partial class CpuBackend
{
    /// <summary>
    /// dW = Σ over chunks, in batch order, of dY·colᵀ, computed transposed as dWᵀ (L×K) = col·dYᵀ, one K block of the
    /// chunk product at a time: per chunk, dYᵀ is packed once into the SGEMM's packed-B layout (shared, read-only), then
    /// each tile (a band of taps, rows of dWᵀ) walks the chunk's K blocks (the blocks Sgemm cuts nb·PQ into), builds
    /// that block of col for its taps straight into packed A micro-panels (in L2), and runs the SGEMM micro-kernel
    /// over them, adding into its rows of dWᵀ (cleared before the batch's first block). Same bits as one chunk-wide GEMM dY·colᵀ per chunk: the SGEMM's micro-kernel sums
    /// each element of a K block from 0 with one fma per step in order and adds the block sum with one
    /// fma(alpha, sum, C), and Sgemm runs the K blocks in order, so calling it block by block gives the same sums in the
    /// same order; and fma(a, b, c) = fma(b, a, c), so the transposed product rounds
    /// alike (ConvFilterOrderTests compares with the chunk-wide GEMM).
    /// </summary>
    public void Conv2dBackwardFilter(ConvParams p, Tensor x, Tensor dy, Tensor dw)
    {
        var g = new ConvGeometry(p, x.Shape, dw.Shape);
        if (g.N == 0 || g.K == 0 || g.L == 0)
        {
            dw.F().Clear();
            return;
        }
        int b = g.ChunkSamples, mr = SgemmKernels.Mr(SgemmKernels.Best);
        int microRows = (g.L + mr - 1) / mr, bands = Math.Min(microRows, 2 * Environment.ProcessorCount);
        // Chunks whose packed dYᵀ fills about a core's L2 go through the two phases together (fewer hand-offs).
        int stride = (int)new Sgemm.PackedB(b * g.PQ, g.K).Length, group = Math.Max(1, ChunkL2Floats / stride);
        float[] packedDy = ConvScratch.Rent(group * stride), dwt = ConvScratch.Rent(g.L * g.K);
        var geometry = g;
        for (int first = 0; first < g.N; first += group * b)
        {
            int start = first, chunks = Math.Min(group, (g.N - first + b - 1) / b);
            int blocks = (b * g.PQ + Sgemm.KC - 1) / Sgemm.KC;  // at least any chunk's K blocks
            CpuParallel.For(0, chunks * blocks, 0, t =>
            {
                int n0 = start + t / blocks * b, cols = Math.Min(b, geometry.N - n0) * geometry.PQ;
                var layout = new Sgemm.PackedB(cols, geometry.K);
                int p0 = t % blocks * layout.KcMax;
                if (p0 < cols) PackDyT(geometry, dy, n0, cols, layout, p0, packedDy.AsSpan(t / blocks * stride));
            });
            CpuParallel.For(0, bands, 0, t =>
            {
                int l0 = Math.Min(geometry.L, microRows * t / bands * mr);
                int l1 = Math.Min(geometry.L, microRows * (t + 1) / bands * mr);
                for (int i = 0; i < chunks; i++)
                {
                    int n0 = start + i * b, cols = Math.Min(b, geometry.N - n0) * geometry.PQ;
                    FilterBand(geometry, x, n0, cols, packedDy.AsSpan(i * stride), l0, l1, dwt);
                }
            });
        }
        var dwf = dw.F();
        for (int l = 0; l < g.L; l++)
        for (int k = 0; k < g.K; k++)
            dwf[k * g.L + l] = dwt[l * g.K + k];
        ConvScratch.Return(packedDy);
        ConvScratch.Return(dwt);
    }

    /// <summary>Taps l0 .. l1−1 (rows of dWᵀ, L×K) of one chunk (samples n0 .., cols = nb·PQ columns), block by block
    /// (see <see cref="Conv2dBackwardFilter"/>): the block of col for these taps packed straight into the SGEMM's
    /// MR-row A micro-panels, then the SGEMM's own micro-kernel over (A panel, dYᵀ panel) pairs, as Sgemm's tile loop
    /// runs it (a dYᵀ panel stays in L1 while the band's A panels stream from L2).</summary>
    private static unsafe void FilterBand(in ConvGeometry g, Tensor x, int n0, int cols, Span<float> packedDy, int l0,
        int l1, float[] dwt)
    {
        if (l1 <= l0) return;
        var layout = new Sgemm.PackedB(cols, g.K);
        var kernel = SgemmKernels.Best;
        int width = l1 - l0, mr = SgemmKernels.Mr(kernel), nr = Sgemm.PackedB.Nr, rows = (width + mr - 1) / mr * mr;
        float[] a = ConvScratch.Rent(rows * layout.KcMax);
        int[] taps = ArrayPool<int>.Shared.Rent(TapInts * rows);
        for (int j = 0; j < rows; j++)
        {
            int l = l0 + j, r = l % (g.R * g.S) / g.S, s = l % g.S;
            var (q0, q1) = TapRange(g.W, g.Q, g.Stride, g.Pad, s);
            // A padding row past l1 gets a row offset no output row reaches, so it reads as zeros.
            if (j >= width) (s, r, q0, q1) = (g.Pad, -1 - g.H - g.Pad, 0, 0);
            taps[TapInts * j] = l / (g.R * g.S) * g.H * g.W + s - g.Pad;
            (taps[TapInts * j + 1], taps[TapInts * j + 2], taps[TapInts * j + 3]) = (r, q0, q1);
        }
        fixed (float* px = x.F(), pa = a, pb = packedDy, pc = dwt)
        fixed (int* pt = taps)
        {
            float* c = pc + (long)l0 * g.K;
            if (n0 == 0) new Span<float>(c, width * g.K).Clear();
            for (int p0 = 0; p0 < cols; p0 += layout.KcMax)
            {
                int kc = Math.Min(layout.KcMax, cols - p0);
                Im2ColPackedA(g, px + (long)n0 * g.XSample, p0, kc, pt, width, mr, pa);
                float* block = pb + (long)p0 * layout.PaddedN;
                for (int jr = 0; jr < g.K; jr += nr)
                for (int ir = 0; ir < width; ir += mr)
                    SgemmKernels.Run(kernel, kc, pa + (long)ir * kc, block + (long)jr * kc, c + (long)ir * g.K + jr,
                        g.K, 1f, Math.Min(mr, width - ir), Math.Min(nr, g.K - jr));
            }
        }
        ArrayPool<int>.Shared.Return(taps);
        ConvScratch.Return(a);
    }

    /// <summary>Ints per tap in <see cref="Im2ColPackedA"/>'s table: c·H·W + s − pad, r, and the output columns
    /// [q0, q1) where the tap lands inside the image (<see cref="TapRange"/>).</summary>
    private const int TapInts = 4;

    /// <summary>
    /// col[l0 + j, p0 + p] for the chunk whose first sample is at x (j &lt; width, p &lt; kc) in the SGEMM's packed-A
    /// layout: dst[(j − j mod MR)·kc + p·MR + j mod MR], rows past width zero (taps: <see cref="TapInts"/>). Walks the
    /// columns in runs of one sample's output row; in a run, each tap reads a contiguous stretch of one input row.
    /// </summary>
    private static unsafe void Im2ColPackedA(in ConvGeometry g, float* x, int p0, int kc, int* taps, int width, int mr,
        float* dst)
    {
        int rows = (width + mr - 1) / mr * mr;  // the taps table covers them all
        for (int p = 0; p < kc;)
        {
            int column = p0 + p, within = column % g.PQ, oh = within / g.Q, ow0 = within % g.Q;
            int run = Math.Min(g.Q - ow0, kc - p), hb = oh * g.Stride - g.Pad;
            float* xs = x + (long)(column / g.PQ) * g.XSample;
            // Panel by panel and lane by lane: no division per tap and run (it would cost as much as the run's copy).
            for (int j0 = 0; j0 < rows; j0 += mr)
            for (int lane = 0; lane < mr; lane++)
            {
                float* d = dst + (long)j0 * kc + (long)p * mr + lane;
                int* t = taps + TapInts * (j0 + lane);
                int h = hb + t[1], lo = 0, hi = 0;
                if ((uint)h < (uint)g.H)
                {
                    lo = Math.Clamp(t[2] - ow0, 0, run);
                    hi = Math.Clamp(t[3] - ow0, lo, run);
                }
                int i = 0;
                for (; i < lo; i++) d[i * mr] = 0f;
                float* src = xs + t[0] + h * g.W + ow0 * g.Stride;
                if (g.Stride == 1)
                    for (; i < hi; i++) d[i * mr] = src[i];
                else
                    for (; i < hi; i++) d[i * mr] = src[i * g.Stride];
                for (; i < run; i++) d[i * mr] = 0f;
            }
            p += run;
        }
    }

    /// <summary>
    /// K block p0 of the chunk's dYᵀ (cols × K, element (p, k) = dy[n0 + p / PQ, k, p mod PQ]) into the packed-B
    /// layout (<see cref="Sgemm.PackedB"/>), lanes past K zero.
    /// </summary>
    private static unsafe void PackDyT(in ConvGeometry g, Tensor dy, int n0, int cols, Sgemm.PackedB layout, int p0,
        Span<float> packed)
    {
        int kc = Math.Min(layout.KcMax, cols - p0), nr = Sgemm.PackedB.Nr;
        fixed (float* src = dy.F(), dst = packed)
        {
            float* block = dst + (long)p0 * layout.PaddedN;
            for (int p = 0; p < kc; p++)
            {
                int column = p0 + p;
                float* ys = src + (long)(n0 + column / g.PQ) * g.YSample + column % g.PQ;
                for (int k0 = 0; k0 < layout.PaddedN; k0 += nr)
                {
                    float* d = block + (long)k0 * kc + (long)p * nr;
                    int k = k0, real = Math.Min(g.K, k0 + nr);
                    for (; k < real; k++) d[k - k0] = ys[(long)k * g.PQ];
                    for (; k < k0 + nr; k++) d[k - k0] = 0f;
                }
            }
        }
    }
}
