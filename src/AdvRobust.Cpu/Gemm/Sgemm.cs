using System.Buffers;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static AdvRobust.Cpu.SgemmKernels;

namespace AdvRobust.Cpu;

/// <summary>
/// Cache-blocked SGEMM, row-major: C = alpha * op(A) op(B) + beta * C with op(A) M×K, op(B) K×N, C M×N.
///
/// Blocking (GotoBLAS/BLIS): C is cut into tiles of at most MC×NC, one task each, run by CpuParallel.For. A task
/// first scales its tile by beta (beta == 0 writes zeros, so NaN in C is overwritten), then for each block of at
/// most KC steps of K (K is split into equal blocks) packs its block of op(A) into MR-row micro-panels and its
/// block of op(B) into NR-column micro-panels, so transposes cost nothing in the kernel, which only streams
/// contiguous memory; it then runs the MR×NR micro-kernel (SgemmKernels.cs: 6×16 AVX2, 12×32 AVX-512) over the
/// tile: a B micro-panel (KC×NR: 16 KiB for AVX2, 32 KiB for AVX-512) stays in L1 while the A block (MC×KC,
/// 192 KiB) sits in L2.
/// Each element of C adds its K blocks in a fixed order whatever the tiling, and edge tiles round like full
/// ones, so results do not depend on the thread count. Below about 100³ multiply-adds one thread does it all.
/// When C has more than one row of tiles, op(B) is packed once up front (in parallel, same micro-panels) and shared
/// by them instead of each tile packing the same columns again; a caller that builds B itself can hand it over
/// packed (<see cref="RunPackedB"/>), or pack op(A) once (<see cref="PackedA"/>) and hand over op(B) one K block at a
/// time as it builds it (<see cref="RunBlock"/>, the convolutions' fused im2col on one core).
///
/// Measured on the 2-core CI machine (AMD EPYC Zen 5, 2 vCPUs, AVX-512; .NET 10 Release; GFLOP/s = 2MNK/time,
/// best of 60 trials, A and B uniform in [-0.5, 0.5], beta = 0) while other builds shared the two cores (CPU
/// pressure above 95%), so these are lower bounds that moved by up to 2× between runs. OpenBLAS is Debian's
/// libopenblas0-pthread 0.3.21 (cblas_sgemm, 2 threads), measured in the same process for comparison only.
/// (The AVX-512 column is the 6×32 kernel that the 12×32 one replaced; same bits, see SgemmOrderTests.)
///   shape (M×K×N, op)                     AVX-512 6×32   AVX2 6×16   OpenBLAS
///   256³                                       134          82         174
///   512³                                       135          83          98
///   1024³                                      120          45          38
///   1024³, both transposed                      80          75         114
///   conv forward  64×800×16384 (W·col)          53          43          49
///   conv dW       64×16384×800 (dY·colᵀ)        38          32          37
///   conv dX       800×64×16384 (Wᵀ·dY)          78          52          68
///   1024³ on one thread                        153          82          80
/// </summary>
/// <remarks>
/// Why not bind Debian's OpenBLAS (cblas_sgemm through LibraryImport) where it is installed: its kernels, blocking
/// and thread split depend on its version and on the CPU it detects, and so does the rounding of every sum; the
/// CPU backend's results (same seed, same adversarial examples and training metrics, pinned by the golden digests)
/// would then depend on which library a machine happens to have. This kernel sums every element in one fixed order
/// (SgemmOrderTests) on every AVX2 or AVX-512 machine; its speed against OpenBLAS in the same run is what issue 14
/// measures (GemmBenchmarks beside the PyTorch peer).
/// </remarks>
internal static unsafe class Sgemm
{
    public const int KC = 256;
    public const int MC = 192;
    public const int NC = 1024;

    /// <summary>Below this many multiply-adds (about 100³) one thread does the whole product.</summary>
    private const long SerialBelow = 1L << 20;

    public static void Run(ReadOnlySpan<float> a, bool transA, ReadOnlySpan<float> b, bool transB, Span<float> c,
        int m, int n, int k, float alpha, float beta, SgemmKernel? kernel = null, int maxThreads = 0)
    {
        var use = kernel ?? Best;
        if (!IsSupported(use)) throw new PlatformNotSupportedException($"SGEMM kernel {use} needs CPU support");
        if (m == 0 || n == 0) return;
        fixed (float* pa = a, pb = b, pc = c)
        {
            Run(new Job
            {
                A = pa, RowStrideA = transA ? 1 : k, ColStrideA = transA ? m : 1,
                B = pb, RowStrideB = transB ? 1 : n, ColStrideB = transB ? k : 1,
                C = pc, M = m, N = n, K = k, Alpha = alpha, Beta = beta,
                Kernel = use, NR = Nr(use), MR = Mr(use),
            }, maxThreads);
        }
    }

    /// <summary>
    /// <see cref="Run"/> with op(B) already packed by the caller in <see cref="PackedB"/>'s layout (the whole K×N,
    /// for the <see cref="Best"/> kernel), so no tile packs B: the tiles share one copy, and a caller that builds B
    /// anyway (im2col) writes it there directly. Same kernel, same K blocks: the same bits as <see cref="Run"/>.
    /// </summary>
    /// <param name="lda">A's row length as stored (0: op(A)'s, k, or m when transposed), so op(A) may be a block of
    /// rows of a larger matrix.</param>
    public static void RunPackedB(ReadOnlySpan<float> a, bool transA, ReadOnlySpan<float> packedB, Span<float> c,
        int m, int n, int k, float alpha, float beta, int maxThreads = 0, int lda = 0)
    {
        var layout = new PackedB(k, n);
        if (packedB.Length < layout.Length) throw new ArgumentException("packed B is shorter than K×N padded");
        if (m == 0 || n == 0) return;
        fixed (float* pa = a, pb = packedB, pc = c)
        {
            Run(new Job
            {
                A = pa, RowStrideA = transA ? 1 : lda > 0 ? lda : k, ColStrideA = transA ? lda > 0 ? lda : m : 1,
                Packed = pb, PaddedN = layout.PaddedN,
                C = pc, M = m, N = n, K = k, Alpha = alpha, Beta = beta,
                Kernel = Best, NR = PackedB.Nr, MR = Mr(Best),
            }, maxThreads);
        }
    }

    /// <summary>
    /// The layout of a pre-packed op(A) (M×K) for <see cref="RunBlock"/>: K cut into the blocks every product uses
    /// (<see cref="KBlock"/>); the block starting at column p0 (kc columns) holds M's MR-row micro-panels one after
    /// another from offset p0·PaddedM, the panel of row i0 at + i0·kc, element (i, p) at + (p − p0)·MR + i mod MR;
    /// rows past M are zero. These are the micro-panels a tile of <see cref="Run"/> packs for itself.
    /// </summary>
    public readonly struct PackedA(int m, int k)
    {
        public readonly int M = m, K = k, PaddedM = RoundUp(m, Mr(Best)), KcMax = KBlock(Math.Max(k, 1));

        public long Length => (long)K * PaddedM;

        /// <summary>Packs op(A) (row length lda as stored; 0: op(A)'s own) into dst in this layout, the K blocks spread
        /// over the cores.</summary>
        public void Pack(ReadOnlySpan<float> a, bool transA, Span<float> dst, int lda = 0)
        {
            if (dst.Length < Length || a.Length < (long)M * K) throw new ArgumentException("A or packed A is too short");
            long rowStride = transA ? 1 : lda > 0 ? lda : K, colStride = transA ? lda > 0 ? lda : M : 1;
            fixed (float* pa = a, pd = dst)
            {
                var (src, to, layout) = ((nint)pa, (nint)pd, this);
                int blocks = CeilDiv(K, KcMax);
                CpuParallel.For(0, blocks, Math.Min(blocks, Environment.ProcessorCount),
                    block =>
                    {
                        int p0 = block * layout.KcMax;
                        Sgemm.Pack((float*)to + (long)p0 * layout.PaddedM, (float*)src + p0 * colStride, layout.M,
                            Mr(Best), Math.Min(layout.KcMax, layout.K - p0), rowStride, colStride);
                    });
            }
        }
    }

    /// <summary>
    /// C[0..M, 0..n) (row stride ldc) += op(A)[:, p0 .. p0+kc) · op(B)[p0 .. p0+kc, 0..n) for ONE block of K (the
    /// one starting at p0, of <see cref="PackedA"/>'s length), on the calling thread (rows row0 .. row0+rows−1 of
    /// the product only, c starting at row0's row, when rows is given; row0 a multiple of MR): op(A) pre-packed whole, op(B)'s
    /// block packed as the NR-column micro-panels of that block (panel j0/NR at j0·kc, lanes past n zero). A caller
    /// that clears C, then runs every block in order of p0, gets the bits of <see cref="Run"/> with alpha = 1,
    /// beta = 0 (same kernel, same blocks, same order), while building each block of op(B) just before it is used
    /// (the convolutions' im2col, which then never leaves L2).
    /// </summary>
    public static void RunBlock(ReadOnlySpan<float> packedA, in PackedA layout, int p0, ReadOnlySpan<float> packedB,
        int n, Span<float> c, int ldc, int row0 = 0, int rows = -1)
    {
        int kc = Math.Min(layout.KcMax, layout.K - p0), mr = Mr(Best), nr = PackedB.Nr;
        int m = rows < 0 ? layout.M - row0 : rows;
        if (row0 % mr != 0 || row0 + m > layout.M) throw new ArgumentException("rows must start a micro-panel of A");
        if (packedA.Length < layout.Length || packedB.Length < (long)RoundUp(n, nr) * kc
            || c.Length < (long)(m - 1) * ldc + n)
            throw new ArgumentException("a block operand is shorter than its shape");
        fixed (float* pa = packedA, pb = packedB, pc = c)
        {
            float* a = pa + (long)p0 * layout.PaddedM + (long)row0 * kc;
            for (int i0 = 0; i0 < m; i0 += MC)
            for (int jr = 0; jr < n; jr += nr)
            for (int ir = i0; ir < Math.Min(m, i0 + MC); ir += mr)
                SgemmKernels.Run(Best, kc, a + ir * kc, pb + (long)jr * kc, pc + (long)ir * ldc + jr, ldc, 1f,
                    Math.Min(mr, m - ir), Math.Min(nr, n - jr));
        }
    }

    /// <summary>
    /// C (M×n, row stride ldc) = op(A)·op(B) with both already packed: op(A) whole (<see cref="PackedA"/>), op(B) as
    /// <see cref="PackedB"/>(K, n) lays it out. Bands of whole micro-panels of rows spread over the cores; each band
    /// clears its rows of C, then adds every K block in order of p0 (<see cref="RunBlock"/>): the bits of
    /// <see cref="Run"/> with alpha = 1, beta = 0. For a weight packed once and kept (the convolutions' W), where
    /// Run would pack it again in every tile.
    /// </summary>
    public static void RunPacked(float[] packedA, PackedA layout, ReadOnlySpan<float> packedB, int n, Span<float> c,
        int ldc, int maxThreads = 0)
    {
        var bl = new PackedB(layout.K, n);
        if (packedB.Length < bl.Length || c.Length < (long)(layout.M - 1) * ldc + n)
            throw new ArgumentException("packed B or C is shorter than its shape");
        if (layout.M == 0 || n == 0) return;
        int mr = Mr(Best), panels = CeilDiv(layout.M, mr);
        int threads = maxThreads > 0 ? maxThreads : Environment.ProcessorCount;
        if ((long)layout.M * n * layout.K < SerialBelow) threads = 1;
        int bands = Math.Min(panels, 4 * threads);
        fixed (float* pb = packedB, pc = c)
        {
            var (b, cs, bLength, cLength) = ((nint)pb, (nint)pc, (int)bl.Length, c.Length);
            CpuParallel.For(0, bands, threads, band =>
            {
                int row0 = band * panels / bands * mr, row1 = Math.Min(layout.M, (band + 1) * panels / bands * mr);
                var cb = new Span<float>((float*)cs + (long)row0 * ldc, cLength - row0 * ldc);
                for (int i = row0; i < row1; i++) cb.Slice((i - row0) * ldc, n).Clear();
                var all = new ReadOnlySpan<float>((float*)b, bLength);
                for (int p0 = 0; p0 < layout.K; p0 += layout.KcMax)
                    RunBlock(packedA, layout, p0, all[(p0 * bl.PaddedN)..], n, cb, ldc, row0, row1 - row0);
            });
        }
    }

    private static void Run(Job job, int maxThreads)
    {
        int m = job.M, n = job.N, k = job.K, mr = job.MR, nr = job.NR;
        int threads = maxThreads > 0 ? maxThreads : Environment.ProcessorCount;
        if ((long)m * n * k < SerialBelow) threads = 1;
        var (tilesM, tilesN) = Tiles(m, n, mr, nr, threads);
        int mc = RoundUp(CeilDiv(m, tilesM), mr), nc = RoundUp(CeilDiv(n, tilesN), nr);
        tilesM = CeilDiv(m, mc);
        tilesN = CeilDiv(n, nc);
        long sharedFloats = (long)k * RoundUp(n, nr);
        if (job.Packed != null || tilesM == 1 || k == 0 || job.Alpha == 0f || sharedFloats > MaxSharedB)
        {
            RunTiles(job, threads, tilesM, mc, tilesN, nc);
            return;
        }
        // Several rows of tiles would each pack the same columns of op(B): pack it once, all of it, and share it.
        float[] shared = SharedB.Rent((int)sharedFloats);
        fixed (float* packed = shared)
        {
            var packer = job;
            packer.Packed = packed;
            packer.PaddedN = RoundUp(n, nr);
            int kcMax = KBlock(k), blocks = CeilDiv(k, kcMax);
            if (threads == 1)
                for (int t = 0; t < blocks * tilesN; t++) packer.PackShared(t / tilesN * kcMax, t % tilesN * nc, nc);
            else
                CpuParallel.For(0, blocks * tilesN, threads,
                    t => packer.PackShared(t / tilesN * kcMax, t % tilesN * nc, nc));
            RunTiles(packer, threads, tilesM, mc, tilesN, nc);
        }
        SharedB.Return(shared);
    }

    /// <summary>The largest op(B) packed once for all tiles (128 MiB); a larger one is packed per tile.</summary>
    private const int MaxSharedB = 1 << 25;

    /// <summary>Not ArrayPool.Shared: a shared op(B) is often above the largest array it keeps (2^20 floats).</summary>
    private static readonly ArrayPool<float> SharedB = ArrayPool<float>.Create(MaxSharedB, 4);

    private static void RunTiles(Job job, int threads, int tilesM, int mc, int tilesN, int nc)
    {
        if (threads == 1 || tilesM * tilesN == 1)
        {
            for (int t = 0; t < tilesM * tilesN; t++) job.RunTile(t / tilesN * mc, mc, t % tilesN * nc, nc);
            return;
        }
        CpuParallel.For(0, tilesM * tilesN, threads, t => job.RunTile(t / tilesN * mc, mc, t % tilesN * nc, nc));
    }

    /// <summary>
    /// Tiles of at most MC×NC, split further along the longer side until their number is a multiple of the thread
    /// count (3 tiles on 2 threads would leave one thread idle a third of the time).
    /// </summary>
    private static (int TilesM, int TilesN) Tiles(int m, int n, int mr, int nr, int threads)
    {
        int tilesM = CeilDiv(m, MC), tilesN = CeilDiv(n, NC);
        int target = RoundUp(tilesM * tilesN, threads);
        while (tilesM * tilesN < target)
        {
            int mc = CeilDiv(m, tilesM), nc = CeilDiv(n, tilesN);
            if (nc >= mc && nc > 2 * nr) tilesN++;
            else if (mc > 2 * mr) tilesM++;
            else break;
        }
        return (tilesM, tilesN);
    }

    private static int CeilDiv(int x, int y) => (x + y - 1) / y;
    private static int RoundUp(int x, int y) => CeilDiv(x, y) * y;

    /// <summary>The K block length: K cut into equal blocks of at most KC (a function of K alone).</summary>
    private static int KBlock(int k) => CeilDiv(k, CeilDiv(k, KC));

    /// <summary>
    /// The layout of a pre-packed op(B) (K×N) for <see cref="RunPackedB"/>: K cut into the blocks every product uses
    /// (<see cref="KBlock"/>); the block starting at row p0 (kc rows) holds N's NR-column micro-panels one after
    /// another from offset p0·PaddedN, panel j0/NR at + j0·kc, element (p, j) at + (p − p0)·NR + j mod NR. Lanes past
    /// N must be zero (the kernel multiplies them; their products land in columns it never stores, but a NaN there
    /// would stay harmless only by that accident).
    /// </summary>
    public readonly struct PackedB(int k, int n)
    {
        public static int Nr => SgemmKernels.Nr(Best);

        public readonly int K = k, N = n, PaddedN = RoundUp(n, SgemmKernels.Nr(Best)), KcMax = KBlock(Math.Max(k, 1));

        public long Length => (long)K * PaddedN;

        /// <summary>Where row p's element of column j lies (j any column below PaddedN).</summary>
        public long Offset(int p, int j)
        {
            int p0 = p / KcMax * KcMax, kc = Math.Min(KcMax, K - p0), nr = Nr;
            return (long)p0 * PaddedN + (long)(j / nr * nr) * kc + (p - p0) * nr + j % nr;
        }
    }

    /// <summary>One product: op(A)[i,p] = A[i*RowStrideA + p*ColStrideA], op(B)[p,j] likewise; or op(B) pre-packed
    /// at Packed (<see cref="PackedB"/> layout, rows PaddedN wide).</summary>
    private struct Job
    {
        public float* A, B, C, Packed;
        public int RowStrideA, ColStrideA, RowStrideB, ColStrideB, M, N, K, MR, NR, PaddedN;
        public float Alpha, Beta;
        public SgemmKernel Kernel;

        /// <summary>The tile of C at rows i0.., columns j0.. of at most mc×nc.</summary>
        public readonly void RunTile(int i0, int mc, int j0, int nc)
        {
            mc = Math.Min(mc, M - i0);
            nc = Math.Min(nc, N - j0);
            ScaleTile(i0, mc, j0, nc);
            if (K == 0 || Alpha == 0f) return;
            int kcMax = KBlock(K);
            float[] bufA = ArrayPool<float>.Shared.Rent(RoundUp(mc, MR) * kcMax);
            float[]? bufB = Packed == null ? ArrayPool<float>.Shared.Rent(RoundUp(nc, NR) * kcMax) : null;
            fixed (float* packA = bufA, packB = bufB)
            {
                for (int p0 = 0; p0 < K; p0 += kcMax)
                {
                    int kc = Math.Min(kcMax, K - p0);
                    PackA(packA, i0, mc, p0, kc);
                    float* panels = packB;
                    if (Packed == null) PackB(packB, p0, kc, j0, nc);
                    else panels = Packed + (long)p0 * PaddedN + (long)j0 * kc;
                    for (int jr = 0; jr < nc; jr += NR)
                    {
                        int nr = Math.Min(NR, nc - jr);
                        for (int ir = 0; ir < mc; ir += MR)
                        {
                            int mr = Math.Min(MR, mc - ir);
                            float* cTile = C + (long)(i0 + ir) * N + j0 + jr;
                            SgemmKernels.Run(Kernel, kc, packA + ir * kc, panels + jr * kc, cTile, N, Alpha, mr, nr);
                        }
                    }
                }
            }
            ArrayPool<float>.Shared.Return(bufA);
            if (bufB is not null) ArrayPool<float>.Shared.Return(bufB);
        }

        /// <summary>Packs op(B)'s K block from p0 and columns j0 .. j0+nc into Packed (<see cref="PackedB"/> layout):
        /// the micro-panels RunTile would pack for itself, at the place it reads them from.</summary>
        public readonly void PackShared(int p0, int j0, int nc)
        {
            int kc = Math.Min(KBlock(K), K - p0);
            PackB(Packed + (long)p0 * PaddedN + (long)j0 * kc, p0, kc, j0, Math.Min(nc, N - j0));
        }

        private readonly void ScaleTile(int i0, int mc, int j0, int nc)
        {
            if (Beta == 1f) return;
            for (int i = i0; i < i0 + mc; i++)
            {
                var row = new Span<float>(C + (long)i * N + j0, nc);
                if (Beta == 0f) row.Clear();
                else for (int j = 0; j < nc; j++) row[j] *= Beta;
            }
        }

        /// <summary>dst[ir*kc + p*MR + r] = op(A)[i0+ir+r, p0+p], zero past row M.</summary>
        private readonly void PackA(float* dst, int i0, int mc, int p0, int kc) =>
            Pack(dst, A + (long)i0 * RowStrideA + (long)p0 * ColStrideA, mc, MR, kc, RowStrideA, ColStrideA);

        /// <summary>dst[jr*kc + p*NR + j] = op(B)[p0+p, j0+jr+j], zero past column N.</summary>
        private readonly void PackB(float* dst, int p0, int kc, int j0, int nc) =>
            Pack(dst, B + (long)p0 * RowStrideB + (long)j0 * ColStrideB, nc, NR, kc, ColStrideB, RowStrideB);
    }

    /// <summary>
    /// Packs a width×kc block, element (q, p) at src[q*qStride + p*kStride], into micro-panels of `panel` lanes:
    /// dst[q0*kc + p*panel + lane] for q = q0 + lane, zero-padded past width. The source is read along whichever
    /// index is contiguous, so rows of a large matrix stream in order (a column walk would touch a new page per
    /// element, where the hardware prefetcher does not follow).
    /// </summary>
    private static void Pack(float* dst, float* src, int width, int panel, int kc, long qStride, long kStride)
    {
        if (qStride == 1)
        {
            // Panel by panel, so the writes stream in order; the kc rows read side by side stay in L1 from one panel
            // to the next.
            for (int q0 = 0; q0 < width; q0 += panel)
            {
                int lanes = Math.Min(panel, width - q0);
                float* d = dst + (long)q0 * kc, s = src + q0;
                for (int p = 0; p < kc; p++, d += panel, s += kStride)
                {
                    int lane = 0;
                    for (; lane + 8 <= lanes; lane += 8) Vector256.Store(Vector256.Load(s + lane), d + lane);
                    for (; lane + 4 <= lanes; lane += 4) Vector128.Store(Vector128.Load(s + lane), d + lane);
                    for (; lane < lanes; lane++) d[lane] = s[lane];
                    for (; lane < panel; lane++) d[lane] = 0f;
                }
            }
            return;
        }
        for (int q0 = 0; q0 < width; q0 += panel, dst += panel * kc)
        {
            int lanes = Math.Min(panel, width - q0), lane = 0;
            // Rows contiguous along p (op(A) = W as stored): four rows at a time, 4×4 blocks transposed in registers.
            if (kStride == 1 && Sse.IsSupported)
                for (; lane + 4 <= lanes; lane += 4)
                {
                    float* s0 = src + (q0 + lane) * qStride, d = dst + lane;
                    int p = 0;
                    for (; p + 4 <= kc; p += 4, d += 4 * panel)
                    {
                        var (a, b) = (Vector128.Load(s0 + p), Vector128.Load(s0 + qStride + p));
                        var (c, e) = (Vector128.Load(s0 + 2 * qStride + p), Vector128.Load(s0 + 3 * qStride + p));
                        var (ab0, ce0) = (Sse.UnpackLow(a, b), Sse.UnpackLow(c, e));    // a0 b0 a1 b1, c0 e0 c1 e1
                        var (ab1, ce1) = (Sse.UnpackHigh(a, b), Sse.UnpackHigh(c, e));  // a2 b2 a3 b3, c2 e2 c3 e3
                        Vector128.Store(Sse.MoveLowToHigh(ab0, ce0), d);
                        Vector128.Store(Sse.MoveHighToLow(ce0, ab0), d + panel);
                        Vector128.Store(Sse.MoveLowToHigh(ab1, ce1), d + 2 * panel);
                        Vector128.Store(Sse.MoveHighToLow(ce1, ab1), d + 3 * panel);
                    }
                    for (; p < kc; p++)
                        for (int r = 0; r < 4; r++) dst[p * panel + lane + r] = s0[r * qStride + p];
                }
            for (; lane < panel; lane++)
            {
                float* s = src + (q0 + lane) * qStride;
                float* d = dst + lane;
                if (lane < lanes) for (int p = 0; p < kc; p++) d[p * panel] = s[p * kStride];
                else for (int p = 0; p < kc; p++) d[p * panel] = 0f;
            }
        }
    }
}
