using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace AdvRobust.Cpu;

/// <summary>
/// The dot products of the rows of A (N×D) with the rows of B (M×D), block by block, for the pairwise distances and
/// the fused mining (CpuBackend.Distance.cs, CpuBackend.Triplet.cs): dot[i,j] = Σ_k a_ik·b_jk in double, summed in
/// order k = 0..D−1 with one fused multiply-add per step. A product of two floats is exact in double, so
/// fma(a, b, s) rounds exactly as s + a·b does: every dot product is bit for bit the one of the plain loop
/// <c>s += (double)u[k] * v[k]</c> that the readable reference runs. The blocking changes how fast, never what.
///
/// Blocking (GotoBLAS, as in Sgemm.cs, on doubles): B is packed once, converted to double, into NR-row micro-panels
/// over all of D (the threads split the panels), in spans of at most 64 MiB that are swept in order of j; rows of A
/// are cut into blocks of at most MC rows, one CpuParallel.For task each (a multiple of the thread count). A task packs
/// its block once into MR-row micro-panels, then walks the span in chunks of NC rows of B: it clears a chunk-sized
/// buffer of sums, runs the MR×NR micro-kernel over KC-step slices of D (each slice continues from the partial sums
/// the previous one stored, so the order over k stays 0..D−1), and hands the finished block of sums to the caller's
/// epilogue. Only one MC×NC block of sums per task exists at a time, never the N×M matrix, and an epilogue sees the
/// chunks of its rows in increasing j.
/// Memory: the packed span, min(M, 64 MiB / 8D)·D doubles, shared; per task MC·D + MC·NC doubles (at D = 512:
/// 0.8 + 0.4 MB). A B micro-panel slice (KC×NR, 32 KiB) stays in L1 while the A block slice (MC×KC, 384 KiB) is
/// read from L2.
/// </summary>
internal static unsafe class RowDots
{
    public const int MR = 12, NR = 16, KC = 256, MC = 192, NC = 256;

    /// <summary>Below this many multiply-adds one thread does it all.</summary>
    private const long SerialBelow = 1L << 20;

    /// <summary>
    /// Receives the sums of rows i0..i0+rows−1 of A against rows j0..j0+cols−1 of B: dot[r*ld + c] is the sum for
    /// (i0 + r, j0 + c). Called from the task that owns rows i0.., so per-row state needs no locking.
    /// </summary>
    public delegate void Epilogue(int i0, int rows, int j0, int cols, ReadOnlySpan<double> dot, int ld);

    /// <param name="maxThreads">0: one task per core.</param>
    /// <param name="packedBBytes">The most memory the packed B of one span takes; larger pools are swept span by
    /// span, in order of j (a parameter so that tests can force several spans).</param>
    public static void Run(ReadOnlySpan<float> a, int n, ReadOnlySpan<float> b, int m, int d, Epilogue epilogue,
        int maxThreads = 0, int packedBBytes = 64 << 20)
    {
        if (n == 0 || m == 0) return;
        int threads = maxThreads > 0 ? maxThreads : Environment.ProcessorCount;
        if ((long)n * m * d < SerialBelow) threads = 1;
        int blocks = RoundUp(CeilDiv(n, MC), threads);
        int mc = RoundUp(CeilDiv(n, blocks), MR);
        blocks = CeilDiv(n, mc);
        // B is packed once per span of rows, shared by all tasks; spans run in order of j.
        int span = Math.Min(RoundUp(m, NR), Math.Max(NC, packedBBytes / 8 / Math.Max(d, 1) / NC * NC));
        double[] bufB = ArrayPool<double>.Shared.Rent(Math.Max(1, span * d));
        try
        {
            fixed (float* pa = a, pb = b)
            fixed (double* packB = bufB)
            {
                var job = new Job { A = pa, PackB = packB, N = n, D = d };
                for (int j0 = 0; j0 < m; j0 += span)
                {
                    job.J0 = j0;
                    job.Cols = Math.Min(span, m - j0);
                    float* from = pb + (long)j0 * d;
                    int cols = job.Cols, panels = CeilDiv(cols, NR);
                    if (threads == 1 || blocks == 1)
                    {
                        Pack(packB, from, cols, NR, d, 0, panels);
                        for (int t = 0; t < blocks; t++) job.RunBlock(t * mc, Math.Min(mc, n - t * mc), epilogue);
                        continue;
                    }
                    int per = CeilDiv(panels, threads);
                    CpuParallel.For(0, threads, threads, t =>
                        Pack(job.PackB, from, cols, NR, d, t * per, Math.Min(panels, (t + 1) * per)));
                    CpuParallel.For(0, blocks, threads, t => job.RunBlock(t * mc, Math.Min(mc, n - t * mc), epilogue));
                }
            }
        }
        finally
        {
            ArrayPool<double>.Shared.Return(bufB);
        }
    }

    private static int CeilDiv(int x, int y) => (x + y - 1) / y;
    private static int RoundUp(int x, int y) => CeilDiv(x, y) * y;

    private struct Job
    {
        public float* A;
        public double* PackB;
        public int N, D, J0, Cols;

        /// <summary>Rows i0..i0+mc−1 of A against the packed span of B (rows J0..J0+Cols−1), chunk by chunk.</summary>
        public readonly void RunBlock(int i0, int mc, Epilogue epilogue)
        {
            int mcPad = RoundUp(mc, MR), ld = Math.Min(NC, RoundUp(Cols, NR));
            double[] bufA = ArrayPool<double>.Shared.Rent(Math.Max(1, mcPad * D));
            double[] bufDot = ArrayPool<double>.Shared.Rent(mcPad * ld);
            try
            {
                fixed (double* packA = bufA, dot = bufDot)
                {
                    Pack(packA, A + (long)i0 * D, mc, MR, D, 0, mcPad / MR);
                    for (int c0 = 0; c0 < Cols; c0 += NC)
                    {
                        int nc = Math.Min(NC, Cols - c0), ncPad = RoundUp(nc, NR);
                        new Span<double>(dot, mcPad * ld).Clear();
                        for (int p0 = 0; p0 < D; p0 += KC)
                        {
                            int kc = Math.Min(KC, D - p0);
                            for (int jr = 0; jr < ncPad; jr += NR)
                            {
                                double* bp = PackB + (long)(c0 + jr) * D + p0 * NR;
                                for (int ir = 0; ir < mcPad; ir += MR)
                                    Kernel(kc, packA + (long)ir * D + p0 * MR, bp, dot + ir * ld + jr, ld);
                            }
                        }
                        epilogue(i0, mc, J0 + c0, nc, new ReadOnlySpan<double>(dot, mcPad * ld), ld);
                    }
                }
            }
            finally
            {
                ArrayPool<double>.Shared.Return(bufA);
                ArrayPool<double>.Shared.Return(bufDot);
            }
        }
    }

    /// <summary>
    /// Packs micro-panels first..last−1 of a row-major rows×d float block, `panel` rows each, as doubles:
    /// dst[q0*d + p*panel + lane] = src[(q0 + lane)*d + p], zero for rows past the end. Writes stream in order;
    /// reads follow `panel` rows side by side.
    /// </summary>
    private static void Pack(double* dst, float* src, int rows, int panel, int d, int first, int last)
    {
        for (int q = first; q < last; q++)
        {
            int q0 = q * panel, lanes = Math.Min(panel, rows - q0);
            double* to = dst + (long)q0 * d;
            float* from = src + (long)q0 * d;
            for (int p = 0; p < d; p++, to += panel)
            {
                int lane = 0;
                for (; lane < lanes; lane++) to[lane] = from[(long)lane * d + p];
                for (; lane < panel; lane++) to[lane] = 0;
            }
        }
    }

    /// <summary>
    /// dot[r*ld + j] = fma(a[p*MR + r], b[p*NR + j], dot[r*ld + j]) for p = 0..kc−1, r &lt; MR, j &lt; NR: the
    /// 12×16 tile in 24 of the 32 zmm registers (2 B vectors and 12 broadcasts per step, 24 FMAs), continuing from
    /// the stored sums. Under load on the 2-core machine it ran about 10% faster than a 6×16 tile (12 accumulators),
    /// alternated in the same minute at 2048×2048×512.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel(int kc, double* a, double* b, double* dot, int ld)
    {
        if (!Avx512F.IsSupported)
        {
            ScalarKernel(kc, a, b, dot, ld);
            return;
        }
        double* c0 = dot;
        double* c1 = dot + 1 * ld;
        double* c2 = dot + 2 * ld;
        double* c3 = dot + 3 * ld;
        double* c4 = dot + 4 * ld;
        double* c5 = dot + 5 * ld;
        double* c6 = dot + 6 * ld;
        double* c7 = dot + 7 * ld;
        double* c8 = dot + 8 * ld;
        double* c9 = dot + 9 * ld;
        double* c10 = dot + 10 * ld;
        double* c11 = dot + 11 * ld;
        Vector512<double> s0a = Avx512F.LoadVector512(c0), s0b = Avx512F.LoadVector512(c0 + 8);
        Vector512<double> s1a = Avx512F.LoadVector512(c1), s1b = Avx512F.LoadVector512(c1 + 8);
        Vector512<double> s2a = Avx512F.LoadVector512(c2), s2b = Avx512F.LoadVector512(c2 + 8);
        Vector512<double> s3a = Avx512F.LoadVector512(c3), s3b = Avx512F.LoadVector512(c3 + 8);
        Vector512<double> s4a = Avx512F.LoadVector512(c4), s4b = Avx512F.LoadVector512(c4 + 8);
        Vector512<double> s5a = Avx512F.LoadVector512(c5), s5b = Avx512F.LoadVector512(c5 + 8);
        Vector512<double> s6a = Avx512F.LoadVector512(c6), s6b = Avx512F.LoadVector512(c6 + 8);
        Vector512<double> s7a = Avx512F.LoadVector512(c7), s7b = Avx512F.LoadVector512(c7 + 8);
        Vector512<double> s8a = Avx512F.LoadVector512(c8), s8b = Avx512F.LoadVector512(c8 + 8);
        Vector512<double> s9a = Avx512F.LoadVector512(c9), s9b = Avx512F.LoadVector512(c9 + 8);
        Vector512<double> s10a = Avx512F.LoadVector512(c10), s10b = Avx512F.LoadVector512(c10 + 8);
        Vector512<double> s11a = Avx512F.LoadVector512(c11), s11b = Avx512F.LoadVector512(c11 + 8);
        for (int p = 0; p < kc; p++, a += MR, b += NR)
        {
            var b0 = Avx512F.LoadVector512(b);
            var b1 = Avx512F.LoadVector512(b + 8);
            Vector512<double> ar;
            ar = Vector512.Create(a[0]);
            s0a = Avx512F.FusedMultiplyAdd(ar, b0, s0a);
            s0b = Avx512F.FusedMultiplyAdd(ar, b1, s0b);
            ar = Vector512.Create(a[1]);
            s1a = Avx512F.FusedMultiplyAdd(ar, b0, s1a);
            s1b = Avx512F.FusedMultiplyAdd(ar, b1, s1b);
            ar = Vector512.Create(a[2]);
            s2a = Avx512F.FusedMultiplyAdd(ar, b0, s2a);
            s2b = Avx512F.FusedMultiplyAdd(ar, b1, s2b);
            ar = Vector512.Create(a[3]);
            s3a = Avx512F.FusedMultiplyAdd(ar, b0, s3a);
            s3b = Avx512F.FusedMultiplyAdd(ar, b1, s3b);
            ar = Vector512.Create(a[4]);
            s4a = Avx512F.FusedMultiplyAdd(ar, b0, s4a);
            s4b = Avx512F.FusedMultiplyAdd(ar, b1, s4b);
            ar = Vector512.Create(a[5]);
            s5a = Avx512F.FusedMultiplyAdd(ar, b0, s5a);
            s5b = Avx512F.FusedMultiplyAdd(ar, b1, s5b);
            ar = Vector512.Create(a[6]);
            s6a = Avx512F.FusedMultiplyAdd(ar, b0, s6a);
            s6b = Avx512F.FusedMultiplyAdd(ar, b1, s6b);
            ar = Vector512.Create(a[7]);
            s7a = Avx512F.FusedMultiplyAdd(ar, b0, s7a);
            s7b = Avx512F.FusedMultiplyAdd(ar, b1, s7b);
            ar = Vector512.Create(a[8]);
            s8a = Avx512F.FusedMultiplyAdd(ar, b0, s8a);
            s8b = Avx512F.FusedMultiplyAdd(ar, b1, s8b);
            ar = Vector512.Create(a[9]);
            s9a = Avx512F.FusedMultiplyAdd(ar, b0, s9a);
            s9b = Avx512F.FusedMultiplyAdd(ar, b1, s9b);
            ar = Vector512.Create(a[10]);
            s10a = Avx512F.FusedMultiplyAdd(ar, b0, s10a);
            s10b = Avx512F.FusedMultiplyAdd(ar, b1, s10b);
            ar = Vector512.Create(a[11]);
            s11a = Avx512F.FusedMultiplyAdd(ar, b0, s11a);
            s11b = Avx512F.FusedMultiplyAdd(ar, b1, s11b);
        }
        Avx512F.Store(c0, s0a); Avx512F.Store(c0 + 8, s0b);
        Avx512F.Store(c1, s1a); Avx512F.Store(c1 + 8, s1b);
        Avx512F.Store(c2, s2a); Avx512F.Store(c2 + 8, s2b);
        Avx512F.Store(c3, s3a); Avx512F.Store(c3 + 8, s3b);
        Avx512F.Store(c4, s4a); Avx512F.Store(c4 + 8, s4b);
        Avx512F.Store(c5, s5a); Avx512F.Store(c5 + 8, s5b);
        Avx512F.Store(c6, s6a); Avx512F.Store(c6 + 8, s6b);
        Avx512F.Store(c7, s7a); Avx512F.Store(c7 + 8, s7b);
        Avx512F.Store(c8, s8a); Avx512F.Store(c8 + 8, s8b);
        Avx512F.Store(c9, s9a); Avx512F.Store(c9 + 8, s9b);
        Avx512F.Store(c10, s10a); Avx512F.Store(c10 + 8, s10b);
        Avx512F.Store(c11, s11a); Avx512F.Store(c11 + 8, s11b);
    }

    /// <summary>The same contract in plain C# (s + a·b rounds as the fma: the product of two floats is exact).</summary>
    private static void ScalarKernel(int kc, double* a, double* b, double* dot, int ld)
    {
        for (int p = 0; p < kc; p++, a += MR, b += NR)
            for (int r = 0; r < MR; r++)
                for (int j = 0; j < NR; j++)
                    dot[r * ld + j] += a[r] * b[j];
    }
}
