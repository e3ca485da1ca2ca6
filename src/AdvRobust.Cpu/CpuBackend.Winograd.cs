using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using AdvRobust.Core;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Cpu;

// Winograd F(2×2, 3×3) (Lavin & Gray 2016) for the 3×3, stride-1, pad-1 convolutions with many channels whose planes
// F(4×4, 3×3) does not take (CpuBackend.Winograd4.cs: planes that cut into whole groups of 8 4×4 tiles): the forward
// and the data gradient (dx of such a conv is the same conv of dy with the filter turned 180° and its K/C axes
// swapped: w'[c, k, r, s] = w[k, c, 2 − r, 2 − s]). The filter gradient keeps im2col + SGEMM.
// Shape letters as in CpuBackend.Conv.cs: in I×H×W per sample (I = C forward, K for dx), out O×H×W, filter g O×I×3×3.
// The output plane is cut into 2×2 tiles (TH = ⌈H/2⌉ × TW = ⌈W/2⌉ per sample; a tile that runs past an odd edge
// writes only its valid outputs); tile (th, tw) reads the 4×4 input patch d at rows 2th − 1 .., columns 2tw − 1 ..
// (zeros outside: each tile row's four input rows are copied into a zero-padded row buffer 2TW + 2 wide). With
//   G = [[1,0,0],[½,½,½],[½,−½,½],[0,0,1]], Bᵀ = [[1,0,−1,0],[0,1,1,0],[0,−1,1,0],[0,1,0,−1]], Aᵀ = [[1,1,1,0],[0,1,−1,−1]]
//   U[ξν][o, i] = (G g[o, i] Gᵀ)[ξ, ν]   (filter transform, once per call, in double, then rounded)
//   V[ξν][i, t] = (Bᵀ d[i, t] B)[ξ, ν]   (input transform, float; t a tile)
//   M[ξν] (O × T) = U[ξν] (O × I) · V[ξν] (I × T)   (16 SGEMMs, Sgemm.RunBlock with U pre-packed)
//   y[o, tile t] = Aᵀ M[·][o, t] A       (output transform, float, 2×2 outputs per tile)
// 16 multiplications per 4 outputs instead of 36: 2.25× fewer multiply-adds; the transforms add only adds and
// (for U) halvings, so the result differs from im2col's only by rounding (~1e-6 relative, WinogradTests).
// Tiles of the whole batch run in blocks of nt (a multiple of the micro-panel width, V and M about 1 MiB), one
// block per task: V is written straight into the SGEMM's packed-B layout, M stays in that core's cache. Each output
// sums its C blocks in an order fixed by the shape alone (Sgemm's K blocks), never by the blocking: the bits do not
// depend on the thread count or on which samples share a batch.
// Measured (direction only: the shared 2-core Zen 5 under load, medians of 5 runs alternated with im2col in one
// process): CIFAR ResNet-18 eval forward + input gradient, B = 32: 287.8 → 256.8 ms (275.4 with 32×32 planes only);
// B = 8: 83.3 → 78.2 ms (79.7). Per call
// at B = 32 with every plane forced onto this path (thread-summed ms, forward and dx averaged), 64 channels 32×32:
// input transform 7.8, 16 GEMMs 8.6, output transform 3.7, pad copy 2.0 (a whole-batch copy then, since folded
// into the input transform's row buffer), filter transform 0.3;
// 512 channels 4×4: filter transform 10.6, GEMMs 8.9 — hence WinogradMinPixels. The filter transform has since been
// vectorized (4.0 ms forward, 6.6 ms data gradient at 512×512 filters, loaded machine); with it the 8×8 and 4×4
// planes still ran slower than im2col at B = 8 and 32 (direction only): their rows hold fewer than 8 tiles, so the
// block path's transforms went one tile at a time, and each of a few blocks streamed all of U. The banded path
// (WinogradBanded, CpuBackend.WinogradBanded.cs: all tiles at once, gathers, channels shared out; filter transforms
// kept for constant weights) turned that round, so 8×8 and 4×4 planes now take Winograd too where the filter
// transform is kept (see WinogradMinPixels and WinogradMinPixelsPerCall).
public sealed partial class CpuBackend
{
    /// <summary>The fewest input and output channels a 3×3 stride-1 pad-1 convolution needs to take the Winograd path
    /// (the Madry small CNN's and the test models' narrow convolutions keep im2col's bits).</summary>
    public int WinogradMinChannels { get; init; } = 32;

    /// <summary>The fewest output pixels (H·W) per plane for the Winograd path when its filter transform is kept
    /// (a weight marked <see cref="ConvParams.ConstantWeight"/>: attacks, evaluation): 4×4 and up. Measured with the banded
    /// path and kept filter transforms (scratch program on this 2-core machine, medians of 40 calls, two alternated
    /// passes, ms forward / data gradient; direction only): 512 channels 4×4, B = 8: 1.05-1.32 / 1.03-1.24 against
    /// im2col's 2.46-2.86 / 1.94-2.15; 256 channels 8×8, B = 8: 1.25-1.47 / 1.25-1.45 against 1.75-1.92 / 1.68-1.85;
    /// B = 32: 4.35-5.78 / 4.20-5.93 against 6.85-8.30 / 6.76-8.06, and 5.98-6.81 / 5.57-7.10 against 6.73-7.95 /
    /// 6.57-7.77. CIFAR ResNet-18 eval forward + input gradient with 256 instead (the threshold before): B = 8
    /// 67-69 → 55-59 ms, B = 32 222 → 195-198 ms (scratch profile, two runs each: direction only).
    /// </summary>
    public int WinogradMinPixels { get; init; } = 16;

    /// <summary>The same when the filter transform is computed per call (a weight not so marked: training). On the
    /// small planes the per-call transform of 16·O·I doubles costs more than the multiplications saved at small
    /// batches: unmarked, B = 8, 512 channels 4×4, Winograd 4.28-4.56 / 6.73-6.94 ms forward / data gradient against
    /// im2col's 3.18-3.46 / 2.71-3.16; B = 32 7.2 / 10.0 against 8.2 / 8.0 (B = 128: 17.6-18.8 / 20.6-22.0 against
    /// 25.9-27.4 / 25.4; same scratch program), so unmarked weights keep the threshold from before (16×16 and up).
    /// The two paths' results differ by rounding: a marked and an unmarked weight on an 8×8 or 4×4 plane give
    /// slightly different bits (as eval's folded batch norm does).</summary>
    public int WinogradMinPixelsPerCall { get; init; } = 256;

    /// <summary>ADVROBUST_CPU_WINOGRAD=0 turns the Winograd path off process-wide (every convolution then takes
    /// im2col + SGEMM, bit for bit the results from before it existed). A method, not a static field: the static
    /// <see cref="Instance"/> may be built before a field of another partial file is initialized.</summary>
    private static bool WinogradDefault() => Environment.GetEnvironmentVariable("ADVROBUST_CPU_WINOGRAD") is not "0";

    /// <summary>Whether eligible convolutions (3×3, stride 1, pad 1, at least <see cref="WinogradMinChannels"/> input
    /// and output channels, planes of at least <see cref="WinogradMinPixels"/> or <see cref="WinogradMinPixelsPerCall"/>) run as Winograd, F(4×4, 3×3) or F(2×2, 3×3) (CpuBackend.Winograd4.cs, CpuBackend.Winograd.cs); every other convolution, and every
    /// filter gradient, is im2col + SGEMM. Off: bit for bit the im2col path (the bit-identity tests pin it).</summary>
    public bool Winograd { get; init; } = WinogradDefault();

    private bool TakesWinograd(in ConvGeometry g, bool kept) =>
        Winograd && g.R == 3 && g.S == 3 && g.Stride == 1 && g.Pad == 1 && g.C >= WinogradMinChannels
        && g.K >= WinogradMinChannels && g.H * g.W >= (kept ? WinogradMinPixels : WinogradMinPixelsPerCall)
        && g.N > 0 && Avx512F.IsSupported;

    /// <summary>y (N×O×H×W) = the 3×3 pad-1 convolution of x (N×I×H×W) with filter w (O×I×3×3, or I×O×3×3 read
    /// turned and transposed when flip: the data gradient), then relu(· + bias[o]) in float when bias is given. The
    /// filter transform is computed per call, or taken as kept (<see cref="DerivedWeight"/>) when p.ConstantWeight.
    /// </summary>
    private unsafe void WinogradConv(ConvParams p, ReadOnlySpan<float> x, Tensor w, bool flip, Tensor? bias,
        Span<float> y, int n, int inC, int outC, int h, int wd)
    {
        if (TakesWinograd4(h, wd))
        {
            Winograd4Conv(p, x, w, flip, bias, y, n, inC, outC, h, wd);
            return;
        }
        int th = (h + 1) / 2, tw = (wd + 1) / 2, tiles = n * th * tw;
        int hp = 2 * th + 2, wp = 2 * tw + 2;
        var ul = new Sgemm.PackedA(outC, inC);
        float[] u = DerivedWeight(p, w, flip ? WeightForm.WinogradDataGradient : WeightForm.WinogradForward,
            16 * (int)ul.Length, dst =>
            {
                fixed (float* pw = w.F(), pu = dst) FilterTransform((nint)pw, flip, outC, inC, ul, (nint)pu);
            }, out bool rented);
        int nr = Sgemm.PackedB.Nr, threads = Environment.ProcessorCount;
        float[]? biases = bias?.F().ToArray();
        var tile = new TileGeometry(inC, outC, h, wd, th, tw, hp, wp);
        int nt = Math.Clamp((1 << 18) / (16 * (inC + outC)) / nr * nr, nr, 16 * nr);
        while (nt > nr && (tiles + nt - 1) / nt < 2 * threads) nt -= nr;
        fixed (float* px = x, pu = u, py = y)
        {
            var (xs, ys) = ((nint)px, (nint)py);
            if (tiles <= WinogradBandedTiles || tw < 8)
                WinogradBanded(tile, xs, (nint)pu, ul, ys, n, biases);
            else
                WinogradBlocks(16, tiles, nt, ul, (nint)pu, inC, outC,
                    (t0, count, layout, v, vLen) =>
                        InputTransform(tile, (float*)xs, t0, count, layout, (float*)v, vLen),
                    (t0, count, layout, m, mLen) =>
                        OutputTransform(tile, (float*)m, mLen, layout.PaddedN, t0, count, (float*)ys, biases));
        }
        if (rented) ConvScratch.Return(u);
    }

    /// <summary>One step of a block of tiles t0 .. t0 + count − 1 (<see cref="WinogradBlocks"/>): the input transform
    /// into V (its matrices stride floats apart, in layout), or the output transform from M (stride floats apart).
    /// </summary>
    private delegate void BlockStep(int t0, int count, Sgemm.PackedB layout, nint buffer, int stride);

    /// <summary>
    /// The block path of both Winograd variants: the tiles in blocks of nt (a multiple of the micro-panel width), one
    /// block per task on the cores, each block's V and M (e matrices each, about 1 MiB) kept in that core's cache:
    /// input(V), then M[k] = U[k]·V[k] for k &lt; e (U pre-packed, e matrices O × I at u + k·ul.Length; each output
    /// sums its K blocks in order from a cleared M, <see cref="Sgemm.RunBlock"/>), then output(M).
    /// </summary>
    private static unsafe void WinogradBlocks(int e, int tiles, int nt, Sgemm.PackedA ul, nint u, int inC, int outC,
        BlockStep input, BlockStep output)
    {
        var vl = new Sgemm.PackedB(inC, nt);
        int vLen = (int)vl.Length, mLen = outC * vl.PaddedN, blocks = (tiles + nt - 1) / nt;
        CpuParallel.For(0, blocks, Environment.ProcessorCount,
            () => (V: ConvScratch.Rent(e * vLen), M: ConvScratch.Rent(e * mLen)),
            (block, s) =>
            {
                int t0 = block * nt, count = Math.Min(nt, tiles - t0);
                var layout = new Sgemm.PackedB(inC, count);
                fixed (float* v = s.V, m = s.M)
                {
                    input(t0, count, layout, (nint)v, vLen);
                    for (int k = 0; k < e; k++)
                    {
                        var mk = new Span<float>(m + (long)k * mLen, outC * layout.PaddedN);
                        mk.Clear();
                        var uk = new ReadOnlySpan<float>((float*)u + k * ul.Length, (int)ul.Length);
                        var vk = new ReadOnlySpan<float>(v + (long)k * vLen, (int)layout.Length);
                        for (int p0 = 0; p0 < inC; p0 += ul.KcMax)
                            Sgemm.RunBlock(uk, ul, p0, vk[(p0 * layout.PaddedN)..], count, mk, layout.PaddedN);
                    }
                    output(t0, count, layout, (nint)m, mLen);
                }
                return s;
            },
            s =>
            {
                ConvScratch.Return(s.V);
                ConvScratch.Return(s.M);
            });
    }

    /// <summary>Per-sample sizes of one Winograd convolution: channels in and out, the plane, tiles, padded plane.
    /// </summary>
    private readonly record struct TileGeometry(int InC, int OutC, int H, int W, int TH, int TW, int Hp, int Wp)
    {
        public int Tiles => TH * TW;
    }

    /// <summary>U[e = 4ξ + ν] = G g Gᵀ for every (o, i), in double, rounded once, written into 16 pre-packed A
    /// matrices (O × I, <see cref="Sgemm.PackedA"/> layout, rows past O zero) at u + e·layout.Length; with six, F(4×4,
    /// 3×3)'s 6×3 G (CpuBackend.Winograd4.cs) into 36 matrices, e = 6ξ + ν. One task per micro-panel of MR filters
    /// o; for each i the panel's g[o, i] are gathered 8 lanes at a time (lanes past O read as zero, so the padding
    /// rows come out ±0) and transformed as 8 doubles at once, each lane by the same ops in the same order as the
    /// scalar formula (<see cref="Rows"/>), so U's bits are those of one (o, i) at a time; the results land as a
    /// contiguous run of the panel's row i in each U[e].
    /// </summary>
    internal static unsafe void FilterTransform(nint w, bool flip, int outC, int inC, Sgemm.PackedA layout, nint u,
        bool six = false)
    {
        int mr = SgemmKernels.Mr(SgemmKernels.Best), len = (int)layout.Length, taps = six ? 6 : 4;
        // g[r, s] of filter (o, i): the forward's w[o, i, r, s], or the data gradient's w[i, o, 2 − r, 2 − s].
        int oStride = flip ? 9 : inC * 9, iStride = flip ? outC * 9 : 9;
        CpuParallel.For(0, layout.PaddedM / mr, panel =>
        {
            var f = new Vector512<double>[9];
            var t = new Vector512<double>[18];  // G g: t[3ξ + s]
            var row = new Vector512<double>[6];
            for (int half = 0; half < mr; half += 8)
            {
                int o = panel * mr + half, lanes = Math.Min(8, mr - half), valid = Math.Clamp(outC - o, 0, lanes);
                var index = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7) * oStride;
                var mask = Vector256.LessThan(Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7), Vector256.Create(valid))
                    .AsSingle();
                for (int i = 0; i < inC; i++)
                {
                    float* g = (float*)w + (long)Math.Min(o, outC - 1) * oStride + (long)i * iStride;
                    for (int rs = 0; rs < 9; rs++)
                        f[rs] = Avx512F.ConvertToVector512Double(Avx2.GatherMaskVector256(Vector256<float>.Zero,
                            g + (flip ? 8 - rs : rs), index, mask, 4));
                    for (int s = 0; s < 3; s++)  // t = G g, column by column
                    {
                        Rows(six, f[s], f[3 + s], f[6 + s], row);
                        for (int xi = 0; xi < taps; xi++) t[3 * xi + s] = row[xi];
                    }
                    int p0 = i / layout.KcMax * layout.KcMax, kc = Math.Min(layout.KcMax, inC - p0);
                    float* at = (float*)u + (long)p0 * layout.PaddedM + (long)panel * mr * kc + (i - p0) * mr + half;
                    for (int xi = 0; xi < taps; xi++)  // (G g) Gᵀ, row by row: U[taps·ξ + ν]
                    {
                        Rows(six, t[3 * xi], t[3 * xi + 1], t[3 * xi + 2], row);
                        for (int nu = 0; nu < taps; nu++) Put(row[nu], at + (long)(taps * xi + nu) * len);
                    }
                }

                void Put(Vector512<double> v, float* dst)
                {
                    var single = Avx512F.ConvertToVector256Single(v);
                    if (lanes == 8) Vector256.Store(single, dst);
                    else for (int l = 0; l < lanes; l++) dst[l] = single.GetElement(l);
                }
            }
        });
    }

    /// <summary>G times a column (or a row times Gᵀ), lane by lane, into dst: F(2×2, 3×3)'s (g0, ½(g0 + g1 + g2),
    /// ½(g0 − g1 + g2), g2), or with six F(4×4, 3×3)'s (g0/4, −(g0 + g1 + g2)/6, −(g0 − g1 + g2)/6,
    /// g0/24 + g1/12 + g2/6, g0/24 − g1/12 + g2/6, g2).</summary>
    private static void Rows(bool six, Vector512<double> g0, Vector512<double> g1, Vector512<double> g2,
        Vector512<double>[] dst)
    {
        if (!six)
        {
            var half = Vector512.Create(0.5);
            (dst[0], dst[1], dst[2], dst[3]) = (g0, half * (g0 + g1 + g2), half * (g0 - g1 + g2), g2);
            return;
        }
        Vector512<double> six6 = Vector512.Create(6.0), a = g0 / Vector512.Create(24.0), b = g1 / Vector512.Create(12.0);
        Vector512<double> c = g2 / six6;
        (dst[0], dst[1], dst[2]) = (g0 / Vector512.Create(4.0), -((g0 + g1 + g2) / six6), -((g0 - g1 + g2) / six6));
        (dst[3], dst[4], dst[5]) = (a + b + c, a - b + c, g2);
    }

    /// <summary>NR of the AVX-512 SGEMM kernel (the Winograd path needs AVX-512: its packed-B panels).</summary>
    private const int PanelWidth = 32;

    /// <summary>Even lanes, then odd lanes, of 16 floats: 8 tiles' columns 2tw and 2tw + 1.</summary>
    private static readonly Vector512<int> Deinterleave =
        Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);

    /// <summary>Lanes of two 8-float vectors alternated (a0, b0, a1, b1, ...): two output columns of 8 tiles.</summary>
    private static readonly Vector512<int> Interleave =
        Vector512.Create(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);

    /// <summary>
    /// V[e][i, j] = (Bᵀ d B)[e] for the block's tiles t0 + j (j &lt; count) into 16 packed-B matrices (I × count, at
    /// v + e·vLen; lanes past count zero). Walks the block's tiles one tile row (sample, th, tw0 .. tw1) at a time:
    /// per channel, Bᵀ d over the row's four padded input rows as contiguous vectors (E_ξ, 4 rows of Wp floats),
    /// then · B along each E_ξ: 8 tiles at once from one load of 16 columns split into even and odd lanes
    /// (columns 2tw, 2tw + 1) and one load two columns on (2tw + 2, 2tw + 3), stored as 8 contiguous lanes of a
    /// micro-panel; a tile that does not start such a group of 8 goes alone.
    /// </summary>
    private static unsafe void InputTransform(in TileGeometry g, float* x, int t0, int count, Sgemm.PackedB layout,
        float* v, int vLen, int i0 = 0, int i1 = -1)
    {
        int wp = g.Wp;
        if (i1 < 0) i1 = g.InC;
        if (Sgemm.PackedB.Nr != PanelWidth) throw new InvalidOperationException("packed-B panels are not 32 wide");
        for (int e = 0; e < 16; e++)
        for (int i = i0; i < i1 && count < layout.PaddedN; i++)
            new Span<float>(v + (long)e * vLen + layout.Offset(i, count), layout.PaddedN - count).Clear();
        // The tile row's four input rows, zero-padded (columns 0 and past W stay zero), then E_0 .. E_3.
        float[] rows = ConvScratch.Rent(8 * wp + 16);
        rows.AsSpan(0, 8 * wp + 16).Clear();
        fixed (float* src = rows)
        for (int t = t0; t < t0 + count;)
        {
            float* er = src + 4 * wp;
            int sample = t / g.Tiles, within = t % g.Tiles, th = within / g.TW, tw0 = within % g.TW;
            int tw1 = Math.Min(g.TW, tw0 + t0 + count - t), j0 = t - t0;
            for (int i = i0; i < i1; i++)
            {
                float* plane = x + (long)(sample * g.InC + i) * g.H * g.W;
                for (int k = 0; k < 4; k++)
                {
                    int hr = 2 * th - 1 + k;
                    var row = new Span<float>(src + k * wp + 1, g.W);
                    if ((uint)hr < (uint)g.H) new ReadOnlySpan<float>(plane + (long)hr * g.W, g.W).CopyTo(row);
                    else row.Clear();
                }
                int col = 2 * tw0, end = 2 * tw1 + 2;  // Bᵀ d over the columns the row's tiles read
                for (; col <= end - 16; col += 16)
                {
                    var (r0, r1) = (Vector512.Load(src + col), Vector512.Load(src + wp + col));
                    var (r2, r3) = (Vector512.Load(src + 2 * wp + col), Vector512.Load(src + 3 * wp + col));
                    Vector512.Store(r0 - r2, er + col);
                    Vector512.Store(r1 + r2, er + wp + col);
                    Vector512.Store(r2 - r1, er + 2 * wp + col);
                    Vector512.Store(r1 - r3, er + 3 * wp + col);
                }
                for (; col < end; col++)
                {
                    float r0 = src[col], r1 = src[wp + col], r2 = src[2 * wp + col], r3 = src[3 * wp + col];
                    (er[col], er[wp + col], er[2 * wp + col], er[3 * wp + col]) = (r0 - r2, r1 + r2, r2 - r1, r1 - r3);
                }
                long rowAt = layout.Offset(i, 0);  // + (j − j mod NR)·kc + j mod NR for column j
                int kc = Math.Min(layout.KcMax, g.InC - i / layout.KcMax * layout.KcMax);
                for (int tw = tw0; tw < tw1;)
                {
                    int j = j0 + tw - tw0;
                    float* dst = v + rowAt + (long)(j & ~(PanelWidth - 1)) * kc + (j & (PanelWidth - 1));
                    if (tw + 8 <= tw1 && j % 8 == 0 && Avx512F.IsSupported)
                    {
                        for (int xi = 0; xi < 4; xi++, dst += 4L * vLen)
                        {
                            float* row = er + xi * wp + 2 * tw;
                            var p = Avx512F.PermuteVar16x32(Vector512.Load(row), Deinterleave);
                            var q = Avx512F.PermuteVar16x32(Vector512.Load(row + 2), Deinterleave);
                            var (a, b, c, d) = (p.GetLower(), p.GetUpper(), q.GetLower(), q.GetUpper());
                            Vector256.Store(a - c, dst);
                            Vector256.Store(b + c, dst + vLen);
                            Vector256.Store(c - b, dst + 2L * vLen);
                            Vector256.Store(b - d, dst + 3L * vLen);
                        }
                        tw += 8;
                        continue;
                    }
                    for (int xi = 0; xi < 4; xi++, dst += 4L * vLen)
                    {
                        float* row = er + xi * wp + 2 * tw;
                        var (a, b, c, d) = (row[0], row[1], row[2], row[3]);
                        (dst[0], dst[vLen], dst[2L * vLen], dst[3L * vLen]) = (a - c, b + c, c - b, b - d);
                    }
                    tw++;
                }
            }
            t += tw1 - tw0;
        }
        ConvScratch.Return(rows);
    }

    /// <summary>
    /// y[sample, o, 2th + a, 2tw + b] = (Aᵀ M[·][o, j] A)[a, b] for the block's tiles t0 + j (M: 16 matrices O × ld
    /// at m + e·mLen), only outputs inside the plane; relu(· + bias[o]) in float when biases is given. Tile rows as
    /// in <see cref="InputTransform"/>: 8 tiles at once where their 16 output columns lie inside the plane (two rows
    /// of 16 floats, the tiles' two columns interleaved), else one tile at a time.
    /// </summary>
    private static unsafe void OutputTransform(in TileGeometry g, float* m, int mLen, int ld, int t0, int count,
        float* y, float[]? biases, int o0 = 0, int o1 = -1)
    {
        if (o1 < 0) o1 = g.OutC;
        int pq = g.H * g.W, ySample = g.OutC * pq;
        Span<float> s = stackalloc float[16];
        for (int t = t0; t < t0 + count;)
        {
            int sample = t / g.Tiles, within = t % g.Tiles, th = within / g.TW, tw0 = within % g.TW;
            int tw1 = Math.Min(g.TW, tw0 + t0 + count - t), j0 = t - t0;
            bool second = 2 * th + 1 < g.H;
            for (int o = o0; o < o1; o++)
            {
                float b = biases is null ? 0f : biases[o];
                float* yr = y + (long)sample * ySample + (long)o * pq + 2 * th * g.W;
                float* mo = m + (long)o * ld;
                for (int tw = tw0; tw < tw1;)
                {
                    int j = j0 + tw - tw0;
                    if (tw + 8 <= tw1 && 2 * tw + 16 <= g.W && Avx512F.IsSupported)
                    {
                        // Aᵀ M: rows 0 (top) and 1 (bottom) of each column ν, then · A along them.
                        var (t0v, b0v) = ColumnPair(mo, mLen, j, 0);
                        var (t1v, b1v) = ColumnPair(mo, mLen, j, 1);
                        var (t2v, b2v) = ColumnPair(mo, mLen, j, 2);
                        var (t3v, b3v) = ColumnPair(mo, mLen, j, 3);
                        for (int a = 0; a < 2 && (a == 0 || second); a++)
                        {
                            var (u0, u1, u2, u3) = a == 0 ? (t0v, t1v, t2v, t3v) : (b0v, b1v, b2v, b3v);
                            var both = Avx512F.PermuteVar16x32x2((u0 + u1 + u2).ToVector512(), Interleave,
                                (u1 - u2 - u3).ToVector512());
                            if (biases is not null)
                            {
                                both += Vector512.Create(b);
                                both = Vector512.GreaterThan(both, Vector512<float>.Zero) & both;  // ReluOp's bits
                            }
                            Vector512.Store(both, yr + a * g.W + 2 * tw);
                        }
                        tw += 8;
                        continue;
                    }
                    for (int e = 0; e < 16; e++) s[e] = mo[e * (long)mLen + j];
                    for (int nu = 0; nu < 4; nu++)
                        (s[nu], s[4 + nu]) = (s[nu] + s[4 + nu] + s[8 + nu], s[4 + nu] - s[8 + nu] - s[12 + nu]);
                    bool right = 2 * tw + 1 < g.W;
                    for (int a = 0; a < 2 && (a == 0 || second); a++)
                    {
                        float* dst = yr + a * g.W + 2 * tw;
                        dst[0] = Finish(s[4 * a] + s[4 * a + 1] + s[4 * a + 2], b, biases);
                        if (right) dst[1] = Finish(s[4 * a + 1] - s[4 * a + 2] - s[4 * a + 3], b, biases);
                    }
                    tw++;
                }
            }
            t += tw1 - tw0;
        }
    }

    /// <summary>Rows 0 and 1 of Aᵀ M for column ν of 8 tiles: M[ν] + M[4 + ν] + M[8 + ν], M[4 + ν] − M[8 + ν] −
    /// M[12 + ν].</summary>
    private static unsafe (Vector256<float> Top, Vector256<float> Bottom) ColumnPair(float* mo, int mLen, int j, int nu)
    {
        var (m0, m1) = (Vector256.Load(mo + nu * (long)mLen + j), Vector256.Load(mo + (4 + nu) * (long)mLen + j));
        var (m2, m3) = (Vector256.Load(mo + (8 + nu) * (long)mLen + j), Vector256.Load(mo + (12 + nu) * (long)mLen + j));
        return (m0 + m1 + m2, m1 - m2 - m3);
    }

    /// <summary>The output as the convolution gives it, or relu(y + b) in float (the separate ops' bits).</summary>
    private static float Finish(float y, float b, float[]? biases) => biases is null ? y : ReluOp.Forward(y + b);
}
