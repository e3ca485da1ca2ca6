using System.Buffers;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using AdvRobust.Core;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Cpu;

// The per-core fused path of the convolution's forward and data gradient (CpuBackend.Conv.cs holds the shapes, the
// chunking and the plain im2col/col2im it must match bit for bit): a core's chunk builds its im2col one K block × one
// column block at a time straight into the SGEMM's packed panels and multiplies it while it is in L2; the data
// gradient adds dcol into a zero-padded dx, one strided run per output row. Tests: ConvFusedTests.
public sealed partial class CpuBackend
{
    /// <summary>
    /// One core's chunk of the forward, im2col fused into the GEMM: the chunk's columns in blocks (<see
    /// cref="ColumnBlock"/>), each block's col built one K block at a time (kc rows, straight into packed-B panels,
    /// from a zero-padded copy of the chunk's input so no tap needs a bounds test) and multiplied at once by the
    /// pre-packed W (<see cref="Sgemm.RunBlock"/>), so col never leaves L2 (a whole sample's is 2.3 MiB in a ResNet's
    /// first stage). Each output still sums its K blocks from a cleared C in order, with the same kernel: the bits of
    /// the unfused path.
    /// </summary>
    private static unsafe void ForwardChunk(in ConvGeometry g, ReadOnlySpan<float> x, float[] packedW,
        in Sgemm.PackedA wl, int n0, int nb, float[] col, float[] buf, Span<float> y, Tensor? bias)
    {
        int cols = nb * g.PQ, kc = wl.KcMax;
        bool direct = nb == 1;
        Span<float> c = direct ? y.Slice(n0 * g.YSample, g.YSample) : buf.AsSpan(0, g.K * cols);
        int ldc = direct ? g.PQ : cols, width = ColumnBlock(kc, g.K, cols);
        var chunk = x.Slice(n0 * g.XSample, nb * g.XSample);
        // A strided conv reads its taps with vector loads up to TapSlack floats past a run: always from a copy.
        float[]? padded = g.Pad > 0 || g.Stride > 1 ? ConvScratch.Rent(nb * g.PaddedSample + TapSlack) : null;
        if (padded is not null) PadChunk(g, chunk, padded);
        fixed (float* xp = padded is null ? chunk : padded, block = col)
        {
            for (int j0 = 0; j0 < cols; j0 += width)
            {
                int nw = Math.Min(width, cols - j0);
                for (int k = 0; k < g.K; k++) c.Slice(k * ldc + j0, nw).Clear();
                for (int p0 = 0; p0 < g.L; p0 += kc)
                {
                    int kb = Math.Min(kc, g.L - p0);
                    Im2ColBlock(g, xp, j0, nw, p0, kb, block);
                    Sgemm.RunBlock(packedW, wl, p0, col, nw, c[j0..], ldc);
                }
            }
        }
        if (padded is not null) ConvScratch.Return(padded);
        for (int s = 0; s < nb; s++) UnpackChunk(g, buf, cols, s, direct, y.Slice((n0 + s) * g.YSample, g.YSample), bias);
    }

    /// <summary>The chunk's samples with pad zeros around every plane: dst[b, c, pad + h, pad + w] = x[b, c, h, w]
    /// (a plain copy when pad is 0).</summary>
    private static void PadChunk(in ConvGeometry g, ReadOnlySpan<float> x, float[] dst)
    {
        int hp = g.H + 2 * g.Pad, wp = g.W + 2 * g.Pad, planes = x.Length / (g.H * g.W);
        if (g.Pad > 0) dst.AsSpan(0, planes * hp * wp).Clear();
        for (int plane = 0; plane < planes; plane++)
        for (int h = 0; h < g.H; h++)
            x.Slice((plane * g.H + h) * g.W, g.W).CopyTo(dst.AsSpan((plane * hp + g.Pad + h) * wp + g.Pad, g.W));
    }

    /// <summary>Columns per block of a fused chunk: a multiple of the micro-panel width with the block of col (kc
    /// rows) at most 64 Ki floats and the block of C (m rows) at most 128 Ki (512 KiB: in L2 with W's block, C is
    /// read and written once per K block), cut into blocks of equal width. Every column block streams all of W
    /// through the core once: with C capped at 64 Ki floats, ResNet-18's 512-channel layers at B = 32 (256 columns
    /// per core) took two blocks and read W (9.4 MB, not cache-resident inside a model) twice; with 128 Ki, once
    /// (their forward 10.1–10.6 → 8.6–9.1 ms per call in ResNet-18 at B = 32, scratch profiler on this CPU, two alternated
    /// runs each: direction only).</summary>
    private static int ColumnBlock(int kc, int m, int cols)
    {
        int nr = Sgemm.PackedB.Nr;
        int width = Math.Max(nr, Math.Min((1 << 16) / Math.Max(1, kc), (1 << 17) / Math.Max(1, m)) / nr * nr);
        int blocks = (cols + width - 1) / width;
        return Math.Min(cols, ((cols + blocks - 1) / blocks + nr - 1) / nr * nr);
    }

    /// <summary>
    /// Rows p0 .. p0+kb−1 of the chunk's col, columns j0 .. j0+nw−1, written into packed-B micro-panels at block
    /// (column j's lane at panel j/NR, block + (j/NR)·NR·kb + (l − p0)·NR + j mod NR; lanes past nw zero). xp is
    /// the chunk's input padded (<see cref="PadChunk"/>; x itself when pad is 0), so col[(c·R + r)·S + s, column of
    /// (sample, p, q)] = xp[sample, c, p·stride + r, q·stride + s]: the columns fall into runs (one output row's
    /// pixels within one micro-panel) that read one strided stretch of xp from an offset that is the run's plus
    /// the row's (c·Hp + r)·Wp + s, so the runs are found once per block and each row only copies.
    /// </summary>
    private static unsafe void Im2ColBlock(in ConvGeometry g, float* xp, int j0, int nw, int p0, int kb, float* block)
    {
        int nr = Sgemm.PackedB.Nr, rs = g.R * g.S, hp = g.H + 2 * g.Pad, wp = g.W + 2 * g.Pad, st = g.Stride;
        if (nw % nr != 0)
            new Span<float>(block + (long)(nw - nw % nr) * kb, nr * kb).Clear();
        // Runs: (offset in xp, first column in the block, length); at most one per column.
        int[] runs = ArrayPool<int>.Shared.Rent(3 * nw);
        int count = 0;
        for (int j = j0; j < j0 + nw;)
        {
            int sample = j / g.PQ, pixel = j % g.PQ, p = pixel / g.Q, q = pixel % g.Q;
            int run = Math.Min(g.Q - q, j0 + nw - j);
            long src = (long)sample * g.C * hp * wp + p * st * wp + q * st;
            while (run > 0)
            {
                int jj = j - j0, piece = Math.Min(run, nr - jj % nr);
                (runs[3 * count], runs[3 * count + 1], runs[3 * count + 2]) = ((int)src, jj, piece);
                count++;
                src += piece * st;
                j += piece;
                run -= piece;
            }
        }
        // Row l's offset in xp, then each run's rows one after another (its micro-panel written in order).
        int[] rows = ArrayPool<int>.Shared.Rent(kb);
        for (int l = 0, c = p0 / rs, r = p0 % rs / g.S, s = p0 % g.S; l < kb; l++)
        {
            rows[l] = (c * hp + r) * wp + s;
            if (++s == g.S && (s = 0) == 0 && ++r == g.R && (r = 0) == 0) c++;
        }
        for (int i = 0; i < count; i++)
        {
            int jj = runs[3 * i + 1], lane = jj % nr, length = runs[3 * i + 2];
            float* src = xp + runs[3 * i], dst = block + (long)(jj - lane) * kb + lane;
            if (st == 1 && length == 32)
                for (int l = 0; l < kb; l++, dst += nr)
                {
                    Vector512.Store(Vector512.Load(src + rows[l]), dst);
                    Vector512.Store(Vector512.Load(src + rows[l] + 16), dst + 16);
                }
            else
                for (int l = 0; l < kb; l++, dst += nr) CopyTaps(src + rows[l], st, dst, length);
        }
        ArrayPool<int>.Shared.Return(rows);
        ArrayPool<int>.Shared.Return(runs);
    }

    /// <summary>Floats past its last tap that <see cref="CopyTaps"/> may read (and ignore) on a strided run.</summary>
    private const int TapSlack = 32;

    /// <summary>The even lanes of two vectors: a stride-2 row's taps.</summary>
    private static readonly Vector512<int> EvenLanes =
        Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);

    /// <summary>dst[i] = src[i·stride] for i &lt; count (count ≤ 32); the widths of a ResNet's rows in one vector
    /// (a stride-2 run of 16, 8 or 4 reads up to <see cref="TapSlack"/> floats past its last tap).</summary>
    private static unsafe void CopyTaps(float* src, int stride, float* dst, int count)
    {
        if (stride == 2 && Avx512F.IsSupported && (count == 16 || count == 8 || count == 4))
        {
            var even = Avx512F.PermuteVar16x32x2(Vector512.Load(src), EvenLanes, Vector512.Load(src + 16));
            if (count == 16) Vector512.Store(even, dst);
            else if (count == 8) Vector256.Store(even.GetLower(), dst);
            else Vector128.Store(even.GetLower().GetLower(), dst);
            return;
        }
        if (stride != 1)
        {
            for (int i = 0; i < count; i++) dst[i] = src[i * stride];
            return;
        }
        switch (count)
        {
            case 32:
                Vector512.Store(Vector512.Load(src), dst);
                Vector512.Store(Vector512.Load(src + 16), dst + 16);
                return;
            case 16: Vector512.Store(Vector512.Load(src), dst); return;
            case 8: Vector256.Store(Vector256.Load(src), dst); return;
            case 4: Vector128.Store(Vector128.Load(src), dst); return;
            default: new ReadOnlySpan<float>(src, count).CopyTo(new Span<float>(dst, count)); return;
        }
    }

    /// <summary>
    /// One chunk of the data gradient: dcol a few channels at a time (<see cref="Col2ImChannels"/>), each block turned
    /// into those channels of dx while it is still in L2 (a whole chunk's dcol is often several MiB; rows of dcol do
    /// not depend on the others). col2im adds into a zero-padded copy of the chunk's dx, where every output row's taps
    /// are one strided run with no bounds test (the padding collects sums nobody reads), then copies the interior out:
    /// each element of dx still adds the same terms in the same (r, s) order from +0. On one core (a core's own chunk)
    /// the groups run in turn through dcol; parallel (a small batch's only chunk), the groups (as many as a multiple of
    /// the cores) are spread over the cores, each with its own block of dcol: they touch disjoint channels of dx.
    /// </summary>
    private static unsafe void DataGradChunk(in ConvGeometry g, ReadOnlySpan<float> w, float[] packedWt,
        Sgemm.PackedA wl, ReadOnlySpan<float> packedDy, int n0, int nb, float[] dcol, Span<float> dx, bool parallel)
    {
        int cols = nb * g.PQ, rs = g.R * g.S, group = Col2ImChannels(rs, cols), mr = SgemmKernels.Mr(SgemmKernels.Best);
        if (parallel)
        {
            int groups = (g.C + group - 1) / group, threads = CpuParallel.Threads;
            groups = (groups + threads - 1) / threads * threads;
            for (group = (g.C + groups - 1) / groups; group < g.C && group * rs % mr != 0; group++) { }
        }
        int ldb = new Sgemm.PackedB(g.K, cols).PaddedN;
        bool aligned = group >= g.C || group * rs % mr == 0;
        var chunk = dx.Slice(n0 * g.XSample, nb * g.XSample);
        float[]? padded = g.Pad > 0 ? ConvScratch.Rent(nb * g.PaddedSample) : null;
        var acc = padded is null ? chunk : padded.AsSpan(0, nb * g.PaddedSample);
        acc.Clear();
        fixed (float* pacc = acc, pdy = packedDy, pw = w)
        {
            var (accs, dys, ws, geometry, n) = ((nint)pacc, (nint)pdy, (nint)pw, g, (g.C + group - 1) / group);
            var dyLength = packedDy.Length;
            void Group(int gi, float[] block)
            {
                int c0 = gi * group, c1 = Math.Min(geometry.C, c0 + group), rows = (c1 - c0) * rs;
                var dyAll = new ReadOnlySpan<float>((float*)dys, dyLength);
                var span = block.AsSpan(0, rows * cols);
                if (aligned)
                {
                    // Wᵀ packed once per call; dY's K blocks as packed (its whole PackedB): Run's bits (Sgemm.RunBlock).
                    span.Clear();
                    for (int p0 = 0; p0 < geometry.K; p0 += wl.KcMax)
                        Sgemm.RunBlock(packedWt, wl, p0, dyAll[(p0 * ldb)..], cols, span, cols, c0 * rs, rows);
                }
                else
                    Sgemm.RunPackedB(new ReadOnlySpan<float>((float*)ws + c0 * rs, geometry.L * geometry.K - c0 * rs),
                        true, dyAll, span, rows, cols, geometry.K, 1f, 0f, 1, geometry.L);
                fixed (float* pd = block)
                    for (int s = 0; s < nb; s++)
                        Col2ImPadded(geometry, pd, cols, s * geometry.PQ, c0, c1,
                            (float*)accs + (long)s * geometry.PaddedSample);
            }
            if (!parallel)
                for (int gi = 0; gi < n; gi++) Group(gi, dcol);
            else
                CpuParallel.For(0, n, 0, () => ConvScratch.Rent(ColFloats(group * rs, cols)), (gi, block) =>
                {
                    Group(gi, block);
                    return block;
                }, block => ConvScratch.Return(block));
        }
        if (padded is null) return;
        int hp = g.H + 2 * g.Pad, wp = g.W + 2 * g.Pad;
        for (int plane = 0; plane < nb * g.C; plane++)
        for (int h = 0; h < g.H; h++)
            padded.AsSpan((plane * hp + g.Pad + h) * wp + g.Pad, g.W).CopyTo(chunk.Slice((plane * g.H + h) * g.W, g.W));
        ConvScratch.Return(padded);
    }

    /// <summary>Channels c0 .. c1−1 of one sample's padded dx (dxp[c, p·stride + r, q·stride + s] += dcol[(c·R + r)·S
    /// + s, colOffset + p·Q + q]; dcol's first row is channel c0's), (r, s) in order, each from +0.</summary>
    private static unsafe void Col2ImPadded(in ConvGeometry g, float* dcol, int ld, int colOffset, int c0, int c1,
        float* dxp)
    {
        int hp = g.H + 2 * g.Pad, wp = g.W + 2 * g.Pad;
        for (int c = c0; c < c1; c++)
        for (int r = 0; r < g.R; r++)
        for (int s = 0; s < g.S; s++)
        {
            float* src = dcol + (long)(((c - c0) * g.R + r) * g.S + s) * ld + colOffset;
            float* dst = dxp + (long)c * hp * wp + r * wp + s;
            for (int p = 0; p < g.P; p++) AddTaps(src + p * g.Q, dst + p * g.Stride * wp, g.Stride, g.Q);
        }
    }

    /// <summary>dst[i·stride] += src[i] for i &lt; count, one float add each (the vector width changes no bits).
    /// </summary>
    private static unsafe void AddTaps(float* src, float* dst, int stride, int count)
    {
        int i = 0;
        if (stride == 1)
        {
            for (; i <= count - 16; i += 16) Vector512.Store(Vector512.Load(dst + i) + Vector512.Load(src + i), dst + i);
            for (; i <= count - 4; i += 4) Vector128.Store(Vector128.Load(dst + i) + Vector128.Load(src + i), dst + i);
            for (; i < count; i++) dst[i] += src[i];
            return;
        }
        for (; i < count; i++) dst[i * stride] += src[i];
    }
}
