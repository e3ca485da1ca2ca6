using System.Buffers;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using AdvRobust.Core;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Cpu;

// CPU twin of the cuDNN convolution: im2col + the blocked SGEMM (Gemm/Sgemm.cs).
// Shape letters: x N×C×H×W, w K×C×R×S, y N×K×P×Q with P = (H + 2·pad − R)/stride + 1 (Q likewise);
// L = C·R·S, the length of one unrolled receptive field. Cross-correlation, as in cuDNN and PyTorch.
// (3×3 stride-1 pad-1 convolutions with many channels on large planes take Winograd F(2×2, 3×3) for the forward and
// the data gradient instead: see CpuBackend.Winograd.cs and the Winograd property.)
//
// The batch is cut into chunks of B samples (n0 .. n0+B−1); a chunk's columns are laid side by side, so one GEMM
// covers it and small planes (PQ = 16 deep in a ResNet) still give the GEMM a wide N:
//   im2col:  col[(c·R + r)·S + s, b·PQ + p·Q + q] = x[n0+b, c, p·stride − pad + r, q·stride − pad + s]   (0 outside)
//   Forward:         Y (K × B·PQ) = W (K×L) · col;          y[n0+b, k, :] = Y[k, b·PQ ..]
//                    (col is written straight into the SGEMM's packed-B layout, Sgemm.PackedB, so it is never packed)
//                    (with a bias, fused into that unpack: y = relu(Y + bias[k]) in float, as the separate ops round)
//   Backward data:   dcol (L × B·PQ) = Wᵀ · dY, dY[k, b·PQ + pq] = dy[n0+b, k, pq] (packed-B layout);  then col2im:
//                    dx[n, c, h, w] = Σ over (r, s) with h = p·stride − pad + r, w = q·stride − pad + s of
//                                     dcol[(c·R + r)·S + s, b·PQ + p·Q + q], summed in float in (r, s) order
//                    (float, like cuDNN: at most R·S terms per output, so double bought no accuracy worth its cost)
//   Backward filter: dW (K×L) = Σ over chunks, in batch order, of dY · colᵀ (the GEMM adds into dW: beta = 1),
//                    computed as dWᵀ = col · dYᵀ one K block of the chunk GEMM at a time, never materializing a
//                    chunk's col (see Conv2dBackwardFilter: same sums, same order, same bits)
// Parallelism (forward, data gradient): a batch with enough chunks gives each core whole chunks; a small batch runs its
// chunks one after another, im2col/col2im one sample per task and the GEMM over tiles of C. A core's own chunk never
// materializes col: W (or Wᵀ) is packed once per call (Sgemm.PackedA), the forward builds col one K block × one
// column block at a time straight into packed-B panels from a zero-padded copy of the input and multiplies it at once
// (Sgemm.RunBlock, ForwardChunk), and the data gradient turns each few channels' dcol into dx through a zero-padded
// dx (DataGradChunk); all of it stays in L2. (CIFAR ResNet-18's convolutions at B = 32 on one thread, CPU time on the
// shared 2-core machine under load, so for direction only: 952 ms before, 610 ms after; stage 1's forward
// 60 → 20.5 ms, its data gradient 27 → 23 ms.) The filter gradient walks its chunks in turn (they add into dW in
// order): dYᵀ packed in parallel over K blocks, then bands of L (rows of dWᵀ, about two per core) each building and
// multiplying its own taps' col block by block in L2. Each output of the SGEMM sums its K-blocks in an order fixed by
// K alone (not by how M or N are cut), so y and dx are bit-identical whatever the thread count or the batch split
// (sample n gets the same y in a batch of 3 or of 256); dW depends only on the chunk partition, a function of (N, B)
// with B a function of the layer's shape, never of the thread count or the bands.
public sealed partial class CpuBackend
{
    /// <summary>Columns per chunk GEMM aimed at (B·PQ ≈ this), and the most floats one chunk's col may hold.</summary>
    private const int ConvTargetColumns = 2048, ConvMaxColFloats = 1 << 23;

    /// <summary>A chunk run by one core aims at a col of at most this many floats (1 MiB: a core's L2) but at least
    /// ChunkMinColumns columns (a narrower GEMM spends more on packing W than on multiplying).</summary>
    private const int ChunkL2Floats = 1 << 18, ChunkMinColumns = 256;

    /// <summary>
    /// The col and chunk buffers. Not ArrayPool.Shared: a chunk's col is often above the largest size the shared pool
    /// keeps (2^20 elements), so every convolution allocated fresh multi-megabyte arrays, and the resulting full GCs
    /// (plus the shared pool's trimming on each of them) showed up in profiles of a training step.
    /// </summary>
    private static readonly ArrayPool<float> ConvScratch = ArrayPool<float>.Create(1 << 26, 8);

    public void Conv2dForward(ConvParams p, Tensor x, Tensor w, Tensor y) => ConvForward(p, x, w, null, y);

    /// <summary>Conv, bias add, ReLU with the bias and ReLU applied as each chunk's output is unpacked: per element
    /// y = relu(Y + bias[k]) in float, bitwise what the three separate ops give.</summary>
    public void Conv2dBiasReluForward(ConvParams p, Tensor x, Tensor w, Tensor bias, Tensor y) =>
        ConvForward(p, x, w, bias, y);

    /// <summary>Winograd F(2×2, 3×3) where it applies (<see cref="Winograd"/>), else im2col + SGEMM.</summary>
    private void ConvForward(ConvParams p, Tensor x, Tensor w, Tensor? bias, Tensor y)
    {
        var g = new ConvGeometry(p, x.Shape, w.Shape);
        if (TakesWinograd(g))
        {
            WinogradConv(x.F(), w.F(), false, bias, y.F(), g.N, g.C, g.K, g.H, g.W);
            return;
        }
        var plan = ChunkPlan.For(g, g.L);
        var wl = new Sgemm.PackedA(g.K, g.L);
        float[]? packedW = plan.PerCore ? ConvScratch.Rent((int)wl.Length) : null;
        if (packedW is not null) wl.Pack(w.F(), false, packedW);
        ForChunks(g, g.L, plan, (n0, nb, col, buf, parallel) =>
        {
            if (!parallel)
            {
                ForwardChunk(g, x.F(), packedW!, wl, n0, nb, col, buf, y.F(), bias);
                return;
            }
            int cols = nb * g.PQ;
            var packed = new Sgemm.PackedB(g.L, cols);
            ForSamples(nb, parallel, s => Im2ColPacked(g, x.F().Slice((n0 + s) * g.XSample, g.XSample), col, packed,
                s * g.PQ));
            ClearPadding(col, packed);
            // One sample: Y is exactly y[n0] (K×PQ), so the GEMM writes it in place.
            Span<float> yc = nb == 1 ? y.F().Slice(n0 * g.YSample, g.YSample) : buf.AsSpan(0, g.K * cols);
            Sgemm.RunPackedB(w.F(), false, col.AsSpan(0, (int)packed.Length), yc, g.K, cols, g.L, 1f, 0f);
            ForSamples(nb, nb > 1, s => UnpackChunk(g, buf, cols, s, nb == 1,
                y.F().Slice((n0 + s) * g.YSample, g.YSample), bias));
        });
        if (packedW is not null) ConvScratch.Return(packedW);
    }

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
    /// rows) at most 64 Ki floats and the block of C (m rows) too (both in L2 with W's block: C is read and written
    /// once per K block), cut into
    /// blocks of equal width.</summary>
    private static int ColumnBlock(int kc, int m, int cols)
    {
        int nr = Sgemm.PackedB.Nr;
        int width = Math.Max(nr, Math.Min((1 << 16) / Math.Max(1, kc), (1 << 16) / Math.Max(1, m)) / nr * nr);
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

    /// <summary>dx; a 3×3 stride-1 pad-1 conv's is the same conv of dy with w turned and transposed (Winograd where
    /// it applies, <see cref="Winograd"/>), any other's im2col + SGEMM + col2im.</summary>
    public void Conv2dBackwardData(ConvParams p, Tensor dy, Tensor w, Tensor dx)
    {
        var g = new ConvGeometry(p, dx.Shape, w.Shape);
        if (TakesWinograd(g))
        {
            WinogradConv(dy.F(), w.F(), true, null, dx.F(), g.N, g.K, g.C, g.H, g.W);
            return;
        }
        var plan = ChunkPlan.For(g, g.L);
        var wl = new Sgemm.PackedA(g.L, g.K);
        float[]? packedWt = plan.PerCore ? ConvScratch.Rent((int)wl.Length) : null;
        if (packedWt is not null) wl.Pack(w.F(), true, packedWt);
        ForChunks(g, g.L, plan, (n0, nb, dcol, buf, parallel) =>
        {
            int cols = nb * g.PQ;
            var packed = new Sgemm.PackedB(g.K, cols);
            ForSamples(nb, parallel, s => PackRows(dy.F().Slice((n0 + s) * g.YSample, g.YSample), g.K, g.PQ, buf,
                packed, s * g.PQ));
            ClearPadding(buf, packed);
            if (parallel)
            {
                Sgemm.RunPackedB(w.F(), true, buf.AsSpan(0, (int)packed.Length), dcol.AsSpan(0, g.L * cols), g.L,
                    cols, g.K, 1f, 0f);
                ForSamples(nb, true, s => Col2Im(g, dcol, cols, s * g.PQ, 0, g.C,
                    dx.F().Slice((n0 + s) * g.XSample, g.XSample)));
                return;
            }
            DataGradChunk(g, w.F(), packedWt!, wl, buf.AsSpan(0, (int)packed.Length), n0, nb, dcol, dx.F());
        });
        if (packedWt is not null) ConvScratch.Return(packedWt);
    }

    /// <summary>
    /// One core's chunk of the data gradient: dcol a few channels at a time (<see cref="Col2ImChannels"/>), each
    /// block turned into those channels of dx while it is still in L2 (a whole chunk's dcol is often several MiB;
    /// rows of dcol do not depend on the others). col2im adds into a zero-padded copy of the chunk's dx, where every
    /// output row's taps are one strided run with no bounds test (the padding collects sums nobody reads), then copies
    /// the interior out: each element of dx still adds the same terms in the same (r, s) order from +0.
    /// </summary>
    private static unsafe void DataGradChunk(in ConvGeometry g, ReadOnlySpan<float> w, float[] packedWt,
        in Sgemm.PackedA wl, ReadOnlySpan<float> packedDy, int n0, int nb, float[] dcol, Span<float> dx)
    {
        int cols = nb * g.PQ, rs = g.R * g.S, group = Col2ImChannels(rs, cols);
        int ldb = new Sgemm.PackedB(g.K, cols).PaddedN;
        bool aligned = group >= g.C || group * rs % SgemmKernels.Mr(SgemmKernels.Best) == 0;
        var chunk = dx.Slice(n0 * g.XSample, nb * g.XSample);
        float[]? padded = g.Pad > 0 ? ConvScratch.Rent(nb * g.PaddedSample) : null;
        var acc = padded is null ? chunk : padded.AsSpan(0, nb * g.PaddedSample);
        acc.Clear();
        fixed (float* pd = dcol, pacc = acc)
        {
            for (int c0 = 0; c0 < g.C; c0 += group)
            {
                int c1 = Math.Min(g.C, c0 + group);
                int rows = (c1 - c0) * rs;
                var block = dcol.AsSpan(0, rows * cols);
                if (aligned)
                {
                    // Wᵀ packed once per call; dY's K blocks as packed (its whole PackedB): Run's bits (Sgemm.RunBlock).
                    block.Clear();
                    for (int p0 = 0; p0 < g.K; p0 += wl.KcMax)
                        Sgemm.RunBlock(packedWt, wl, p0, packedDy[(p0 * ldb)..], cols, block, cols, c0 * rs, rows);
                }
                else Sgemm.RunPackedB(w[(c0 * rs)..], true, packedDy, block, rows, cols, g.K, 1f, 0f, 1, g.L);
                for (int s = 0; s < nb; s++) Col2ImPadded(g, pd, cols, s * g.PQ, c0, c1, pacc + (long)s * g.PaddedSample);
            }
        }
        if (padded is null) return;
        int hp = g.H + 2 * g.Pad, wp = g.W + 2 * g.Pad;
        for (int plane = 0; plane < nb * g.C; plane++)
        for (int h = 0; h < g.H; h++)
            padded.AsSpan((plane * hp + g.Pad + h) * wp + g.Pad, g.W).CopyTo(chunk.Slice((plane * g.H + h) * g.W, g.W));
        ConvScratch.Return(padded);
    }

    /// <summary>Channels c0 .. c1−1 of one sample's padded dx (dxp[c, p·stride + r, q·stride + s] += dcol[(c·R + r)·S
    /// + s, colOffset + p·Q + q]; dcol's first row is channel c0's), (r, s) in order as <see cref="Col2Im"/>.</summary>
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

    /// <summary>Channels per dcol block of a one-core data gradient: at most half of ChunkL2Floats in the block,
    /// and when possible a whole number of the kernel's MR-row micro-tiles (no zero-padded rows).</summary>
    private static int Col2ImChannels(int rs, int cols)
    {
        int group = Math.Max(1, ChunkL2Floats / 2 / Math.Max(1, rs * cols)), mr = SgemmKernels.Mr(SgemmKernels.Best);
        for (int g = group; g * rs >= mr; g--)
            if (g * rs % mr == 0) return g;
        return group;
    }

    /// <summary>One chunk of samples n0 .. n0+nb−1 with its col (rows × nb·PQ) and buf (K × nb·PQ) scratch;
    /// parallel: whether the chunk may use every core (else it runs on the calling thread alone).</summary>
    private delegate void ChunkBody(int n0, int nb, float[] col, float[] buf, bool parallel);

    /// <summary>How a batch is cut into chunks for the forward and the data gradient: when the batch gives every core
    /// a few chunks of at least ChunkMinColumns columns, each core takes whole chunks of B samples (PerCore);
    /// otherwise chunks of <see cref="ConvGeometry.ChunkSamples"/> run one after another, each spread over all cores.
    /// </summary>
    private readonly record struct ChunkPlan(bool PerCore, int B, int Chunks, int Threads)
    {
        public static ChunkPlan For(in ConvGeometry g, int colRows)
        {
            int threads = Environment.ProcessorCount;
            int b = Math.Max(Math.Max(1, ChunkL2Floats / Math.Max(1, colRows * g.PQ)),
                (ChunkMinColumns + g.PQ - 1) / g.PQ);
            int chunks = (g.N + b - 1) / Math.Max(1, b);
            if (chunks < threads) return new ChunkPlan(false, g.ChunkSamples, 0, threads);
            chunks = (chunks + threads - 1) / threads * threads;  // equal shares: a multiple of the thread count
            b = (g.N + chunks - 1) / chunks;
            return new ChunkPlan(true, b, (g.N + b - 1) / b, threads);
        }
    }

    /// <summary>
    /// Runs body over the batch in chunks (<see cref="ChunkPlan"/>), for the forward and the data gradient (whose
    /// outputs do not depend on the chunking, see the header). Per core, each core takes whole chunks (its col built,
    /// multiplied and consumed while it is in that core's L2, no hand-off between passes).
    /// </summary>
    private static void ForChunks(in ConvGeometry g, int colRows, ChunkPlan plan, ChunkBody body)
    {
        int b = plan.B;
        if (plan.PerCore)
        {
            var geometry = g;
            Parallel.For(0, plan.Chunks, new ParallelOptions { MaxDegreeOfParallelism = plan.Threads },
                () => (Col: ConvScratch.Rent(ColFloats(colRows, b * geometry.PQ)),
                    Buf: ConvScratch.Rent(ColFloats(geometry.K, b * geometry.PQ))),
                (chunk, _, scratch) =>
                {
                    int n0 = chunk * b;
                    body(n0, Math.Min(b, geometry.N - n0), scratch.Col, scratch.Buf, false);
                    return scratch;
                },
                scratch =>
                {
                    ConvScratch.Return(scratch.Col);
                    ConvScratch.Return(scratch.Buf);
                });
            return;
        }
        float[] col = ConvScratch.Rent(ColFloats(colRows, b * g.PQ)), buf = ConvScratch.Rent(ColFloats(g.K, b * g.PQ));
        for (int n0 = 0; n0 < g.N; n0 += b) body(n0, Math.Min(b, g.N - n0), col, buf, true);
        ConvScratch.Return(col);
        ConvScratch.Return(buf);
    }

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
        var options = new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount };
        var geometry = g;
        for (int first = 0; first < g.N; first += group * b)
        {
            int start = first, chunks = Math.Min(group, (g.N - first + b - 1) / b);
            int blocks = (b * g.PQ + Sgemm.KC - 1) / Sgemm.KC;  // at least any chunk's K blocks
            Parallel.For(0, chunks * blocks, options, t =>
            {
                int n0 = start + t / blocks * b, cols = Math.Min(b, geometry.N - n0) * geometry.PQ;
                var layout = new Sgemm.PackedB(cols, geometry.K);
                int p0 = t % blocks * layout.KcMax;
                if (p0 < cols) PackDyT(geometry, dy, n0, cols, layout, p0, packedDy.AsSpan(t / blocks * stride));
            });
            Parallel.For(0, bands, options, t =>
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

    /// <summary>The sizes of one convolution, and how many samples share a chunk GEMM.</summary>
    private readonly struct ConvGeometry
    {
        public readonly int N, C, H, W, K, R, S, P, Q, Stride, Pad;

        public ConvGeometry(ConvParams p, Shape x, Shape w)
        {
            (N, C, H, W, K, R, S) = (x[0], x[1], x[2], x[3], w[0], w[2], w[3]);
            (P, Q, Stride, Pad) = (p.OutSize(H, R), p.OutSize(W, S), p.Stride, p.Padding);
        }

        public int PQ => P * Q;
        public int L => C * R * S;
        public int XSample => C * H * W;
        public int YSample => K * P * Q;
        public int PaddedSample => C * (H + 2 * Pad) * (W + 2 * Pad);

        /// <summary>B: about ConvTargetColumns columns per chunk, at most ConvMaxColFloats in col, 1 ≤ B ≤ N.</summary>
        public int ChunkSamples
        {
            get
            {
                int b = Math.Min(ConvTargetColumns / PQ, ConvMaxColFloats / Math.Max(1, L * PQ));
                return Math.Clamp(b, 1, Math.Max(N, 1));
            }
        }
    }

    /// <summary>The outputs [lo, hi) whose tap k lands inside the image: 0 ≤ q·stride − pad + k &lt; size.</summary>
    private static (int Lo, int Hi) TapRange(int size, int outSize, int stride, int pad, int k)
    {
        int lo = pad - k > 0 ? (pad - k + stride - 1) / stride : 0;
        int last = size - 1 + pad - k;
        int hi = last < 0 ? 0 : Math.Min(outSize, last / stride + 1);
        return (Math.Min(lo, hi), hi);
    }

    /// <summary>Unrolls one sample (C×H×W) into columns colOffset .. colOffset+PQ of col (row length ld).</summary>
    private static void Im2Col(in ConvGeometry g, ReadOnlySpan<float> x, float[] col, int ld, int colOffset)
    {
        for (int c = 0; c < g.C; c++)
        for (int r = 0; r < g.R; r++)
        for (int s = 0; s < g.S; s++)
            Im2ColRow(g, x, c, r, s, col.AsSpan(((c * g.R + r) * g.S + s) * ld + colOffset, g.PQ));
    }

    /// <summary>
    /// <see cref="Im2Col"/> written straight into the SGEMM's packed-B layout (<see cref="Sgemm.PackedB"/>): the
    /// forward GEMM then packs nothing, so col is written once and read once by the kernel instead of being written,
    /// read, packed and read again. Each row of one sample's columns is built in a PQ-float scratch (in L1) and
    /// copied out in runs that end at a micro-panel's edge. The values are the same, so is the product.
    /// </summary>
    private static void Im2ColPacked(in ConvGeometry g, ReadOnlySpan<float> x, float[] col, Sgemm.PackedB packed,
        int colOffset)
    {
        float[] scratch = ArrayPool<float>.Shared.Rent(g.PQ);
        var row = scratch.AsSpan(0, g.PQ);
        for (int c = 0; c < g.C; c++)
        for (int r = 0; r < g.R; r++)
        for (int s = 0; s < g.S; s++)
        {
            int l = (c * g.R + r) * g.S + s;
            Im2ColRow(g, x, c, r, s, row);
            ScatterRow(row, col, packed, l, colOffset);
        }
        ArrayPool<float>.Shared.Return(scratch);
    }

    /// <summary>Rows 0 .. rows−1 of src (each `width` long) into columns colOffset .. of packed B's rows.</summary>
    private static void PackRows(ReadOnlySpan<float> src, int rows, int width, float[] dst, Sgemm.PackedB packed,
        int colOffset)
    {
        for (int p = 0; p < rows; p++) ScatterRow(src.Slice(p * width, width), dst, packed, p, colOffset);
    }

    /// <summary>dst (packed-B layout): row p, columns colOffset .. colOffset+row.Length = row, copied in runs that end
    /// at a micro-panel's edge.</summary>
    private static void ScatterRow(ReadOnlySpan<float> row, float[] dst, Sgemm.PackedB packed, int p, int colOffset)
    {
        int nr = Sgemm.PackedB.Nr;
        for (int j = 0; j < row.Length;)
        {
            int run = Math.Min(nr - (colOffset + j) % nr, row.Length - j);
            row.Slice(j, run).CopyTo(dst.AsSpan((int)packed.Offset(p, colOffset + j), run));
            j += run;
        }
    }

    /// <summary>Zeros the lanes of packed B past its last column (see <see cref="Sgemm.PackedB"/>).</summary>
    private static void ClearPadding(float[] col, Sgemm.PackedB packed)
    {
        if (packed.N == packed.PaddedN) return;
        for (int l = 0; l < packed.K; l++)
            col.AsSpan((int)packed.Offset(l, packed.N), packed.PaddedN - packed.N).Clear();
    }

    /// <summary>The floats of a col of rows × cols, room enough for its packed-B layout too.</summary>
    private static int ColFloats(int rows, int cols) =>
        rows * ((cols + Sgemm.PackedB.Nr - 1) / Sgemm.PackedB.Nr * Sgemm.PackedB.Nr);

    /// <summary>Row (c, r, s) of one sample's im2col, dst[p·Q + q] = x[c, p·stride − pad + r, q·stride − pad + s]
    /// (0 outside the image).</summary>
    private static void Im2ColRow(in ConvGeometry g, ReadOnlySpan<float> x, int c, int r, int s, Span<float> dst)
    {
        var (q0, q1) = TapRange(g.W, g.Q, g.Stride, g.Pad, s);
        for (int p = 0; p < g.P; p++)
        {
            var d = dst.Slice(p * g.Q, g.Q);
            int h = p * g.Stride - g.Pad + r;
            if ((uint)h >= (uint)g.H)
            {
                d.Clear();
                continue;
            }
            var src = x.Slice((c * g.H + h) * g.W, g.W);
            d[..q0].Clear();
            d[q1..].Clear();
            if (g.Stride == 1) src.Slice(q0 - g.Pad + s, q1 - q0).CopyTo(d[q0..]);
            else for (int q = q0; q < q1; q++) d[q] = src[q * g.Stride - g.Pad + s];
        }
    }

    /// <summary>Channels c0 .. c1−1 of dx for one sample (C×H×W) from columns colOffset .. of dcol, whose first row
    /// is channel c0's; sums in float, (r, s) in order.</summary>
    private static void Col2Im(in ConvGeometry g, float[] dcol, int ld, int colOffset, int c0, int c1, Span<float> dx)
    {
        for (int c = c0; c < c1; c++)
        {
            var plane = dx.Slice(c * g.H * g.W, g.H * g.W);
            plane.Clear();
            for (int r = 0; r < g.R; r++)
            for (int s = 0; s < g.S; s++)
            {
                var src = dcol.AsSpan((((c - c0) * g.R + r) * g.S + s) * ld + colOffset, g.PQ);
                var (q0, q1) = TapRange(g.W, g.Q, g.Stride, g.Pad, s);
                for (int p = 0; p < g.P; p++)
                {
                    int h = p * g.Stride - g.Pad + r;
                    if ((uint)h >= (uint)g.H) continue;
                    int row = h * g.W - g.Pad + s;
                    if (g.Stride == 1)
                    {
                        // A contiguous run: dx[row + q] += dcol[p·Q + q] for q in [q0, q1), vectorized.
                        AddInto(plane.Slice(row + q0, q1 - q0), src.Slice(p * g.Q + q0, q1 - q0));
                        continue;
                    }
                    for (int q = q0; q < q1; q++) plane[row + q * g.Stride] += src[p * g.Q + q];
                }
            }
        }
    }

    /// <summary>dst[i] += src[i]. Each element is one add, so the vector width cannot change a result.</summary>
    private static void AddInto(Span<float> dst, ReadOnlySpan<float> src)
    {
        int i = 0;
        if (System.Numerics.Vector.IsHardwareAccelerated)
        {
            int width = System.Numerics.Vector<float>.Count;
            for (; i <= dst.Length - width; i += width)
                (new System.Numerics.Vector<float>(dst[i..]) + new System.Numerics.Vector<float>(src[i..])).CopyTo(dst[i..]);
        }
        for (; i < dst.Length; i++) dst[i] += src[i];
    }

    /// <summary>dY[k, s·PQ ..] = dy[sample s of the chunk, k, :].</summary>
    private static void PackChunk(in ConvGeometry g, ReadOnlySpan<float> dySample, float[] buf, int ld, int s)
    {
        for (int k = 0; k < g.K; k++) dySample.Slice(k * g.PQ, g.PQ).CopyTo(buf.AsSpan(k * ld + s * g.PQ, g.PQ));
    }

    /// <summary>y[sample s of the chunk, k, :] = Y[k, s·PQ ..], then relu(· + bias[k]) when there is a bias.
    /// inPlace: the GEMM wrote Y into y already (a one-sample chunk), so only the bias and ReLU remain.</summary>
    private static void UnpackChunk(in ConvGeometry g, float[] buf, int ld, int s, bool inPlace, Span<float> ySample,
        Tensor? bias)
    {
        for (int k = 0; k < g.K; k++)
        {
            var dst = ySample.Slice(k * g.PQ, g.PQ);
            ReadOnlySpan<float> src = inPlace ? dst : buf.AsSpan(k * ld + s * g.PQ, g.PQ);
            if (bias is not null) BiasRelu(src, bias.F()[k], dst);
            else if (!inPlace) src.CopyTo(dst);
        }
    }

    /// <summary>y[i] = relu(x[i] + b): the float add, then <see cref="ReluOp"/>, as the unfused ops do.</summary>
    private static void BiasRelu(ReadOnlySpan<float> x, float b, Span<float> y)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var vb = Vector256.Create(b);
            for (; i <= x.Length - Vector256<float>.Count; i += Vector256<float>.Count)
                ReluOp.Forward(Vector256.Create(x.Slice(i, Vector256<float>.Count)) + vb).CopyTo(y.Slice(i));
        }
        for (; i < x.Length; i++) y[i] = ReluOp.Forward(x[i] + b);
    }

    /// <summary>Runs body(s) for s in [0, count): one task per sample when parallel and there is more than one.</summary>
    private static void ForSamples(int count, bool parallel, Action<int> body)
    {
        if (count == 1 || !parallel)
            for (int s = 0; s < count; s++) body(s);
        else Parallel.For(0, count, body);
    }
}
