using System.Buffers;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using AdvRobust.Core;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Cpu;

// CPU twin of the cuDNN convolution: im2col + the blocked SGEMM (Gemm/Sgemm.cs).
// Shape letters: x N×C×H×W, w K×C×R×S, y N×K×P×Q with P = (H + 2·pad − R)/stride + 1 (Q likewise);
// L = C·R·S, the length of one unrolled receptive field. Cross-correlation, as in cuDNN and PyTorch.
// (3×3 stride-1 pad-1 convolutions with many channels on large planes take Winograd F(4×4, 3×3) or F(2×2, 3×3) for
// the forward and the data gradient instead: see CpuBackend.Winograd4.cs, CpuBackend.Winograd.cs and the Winograd
// property.)
// Files: this one (shapes, chunking, entry points, the plain im2col/col2im), CpuBackend.ConvFused.cs (the per-core
// fused forward and data gradient), CpuBackend.ConvFilter.cs (the filter gradient).
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
// chunks one after another, each over all cores: the forward's im2col one K block per task (Im2ColChunk) and the GEMM
// over tiles of C, the data gradient's channel groups (GEMM block + col2im, DataGradChunk) spread over the cores. A core's own chunk never
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

    /// <summary>Winograd where it applies (<see cref="Winograd"/>), else im2col + SGEMM. W is packed
    /// once per call, or taken as kept (<see cref="DerivedWeight"/>) when p.ConstantWeight.</summary>
    private void ConvForward(ConvParams p, Tensor x, Tensor w, Tensor? bias, Tensor y)
    {
        var g = new ConvGeometry(p, x.Shape, w.Shape);
        if (TakesWinograd(g, p.ConstantWeight))
        {
            WinogradConv(p, x.F(), w, false, bias, y.F(), g.N, g.C, g.K, g.H, g.W);
            return;
        }
        var plan = ChunkPlan.For(g, g.L);
        var wl = new Sgemm.PackedA(g.K, g.L);
        float[] packedW = DerivedWeight(p, w, WeightForm.ForwardPanels, (int)wl.Length,
            dst => wl.Pack(w.F(), false, dst), out bool rented);
        ForChunks(g, g.L, plan, (n0, nb, col, buf, parallel) =>
        {
            if (!parallel)
            {
                ForwardChunk(g, x.F(), packedW, wl, n0, nb, col, buf, y.F(), bias);
                return;
            }
            int cols = nb * g.PQ;
            var packed = new Sgemm.PackedB(g.L, cols);
            Im2ColChunk(g, x.F().Slice(n0 * g.XSample, nb * g.XSample), nb, col, packed);
            // One sample: Y is exactly y[n0] (K×PQ), so the GEMM writes it in place.
            Span<float> yc = nb == 1 ? y.F().Slice(n0 * g.YSample, g.YSample) : buf.AsSpan(0, g.K * cols);
            Sgemm.RunPacked(packedW, wl, col.AsSpan(0, (int)packed.Length), cols, yc, cols);
            ForSamples(nb, nb > 1, s => UnpackChunk(g, buf, cols, s, nb == 1,
                y.F().Slice((n0 + s) * g.YSample, g.YSample), bias));
        });
        if (rented) ConvScratch.Return(packedW);
    }

    /// <summary>dx; a 3×3 stride-1 pad-1 conv's is the same conv of dy with w turned and transposed (Winograd where
    /// it applies, <see cref="Winograd"/>), any other's im2col + SGEMM + col2im.</summary>
    public void Conv2dBackwardData(ConvParams p, Tensor dy, Tensor w, Tensor dx)
    {
        var g = new ConvGeometry(p, dx.Shape, w.Shape);
        if (TakesWinograd(g, p.ConstantWeight))
        {
            WinogradConv(p, dy.F(), w, true, null, dx.F(), g.N, g.K, g.C, g.H, g.W);
            return;
        }
        var plan = ChunkPlan.For(g, g.L);
        var wl = new Sgemm.PackedA(g.L, g.K);
        float[] packedWt = DerivedWeight(p, w, WeightForm.DataGradientPanels, (int)wl.Length,
            dst => wl.Pack(w.F(), true, dst), out bool rented);
        ForChunks(g, g.L, plan, (n0, nb, dcol, buf, parallel) =>
        {
            int cols = nb * g.PQ;
            var packed = new Sgemm.PackedB(g.K, cols);
            ForSamples(nb, parallel, s => PackRows(dy.F().Slice((n0 + s) * g.YSample, g.YSample), g.K, g.PQ, buf,
                packed, s * g.PQ));
            ClearPadding(buf, packed);
            DataGradChunk(g, w.F(), packedWt, wl, buf.AsSpan(0, (int)packed.Length), n0, nb, dcol, dx.F(), parallel);
        });
        if (rented) ConvScratch.Return(packedWt);
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
            CpuParallel.For(0, plan.Chunks, plan.Threads,
                () => (Col: ConvScratch.Rent(ColFloats(colRows, b * geometry.PQ)),
                    Buf: ConvScratch.Rent(ColFloats(geometry.K, b * geometry.PQ))),
                (chunk, scratch) =>
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

    /// <summary>
    /// The whole col of a chunk of nb samples (x: theirs) in packed-B layout, its K blocks spread over the cores: each
    /// block is <see cref="Im2ColBlock"/>'s (the fused path's run-wise copy), written where <see cref="Sgemm.PackedB"/>
    /// puts it (block p0 at p0·PaddedN), from one zero-padded copy of the chunk. A block per task, so no two threads
    /// write the same cache line (a sample per task did: samples share micro-panels on small planes).
    /// </summary>
    private static unsafe void Im2ColChunk(in ConvGeometry g, ReadOnlySpan<float> x, int nb, float[] col,
        Sgemm.PackedB packed)
    {
        float[]? padded = g.Pad > 0 || g.Stride > 1 ? ConvScratch.Rent(nb * g.PaddedSample + TapSlack) : null;
        if (padded is not null) PadChunk(g, x, padded);
        fixed (float* xp0 = padded is null ? x : padded, c0 = col)
        {
            var (xp, cp, geometry, cols) = ((nint)xp0, (nint)c0, g, packed.N);
            CpuParallel.For(0, (g.L + packed.KcMax - 1) / packed.KcMax, block =>
            {
                int p0 = block * packed.KcMax;
                Im2ColBlock(geometry, (float*)xp, 0, cols, p0, Math.Min(packed.KcMax, geometry.L - p0),
                    (float*)cp + (long)p0 * packed.PaddedN);
            });
        }
        if (padded is not null) ConvScratch.Return(padded);
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
        else CpuParallel.For(0, count, body);
    }
}
