using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using AdvRobust.Core;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Cpu;

// Winograd F(2×2, 3×3) (Lavin & Gray 2016) for the 3×3, stride-1, pad-1 convolutions with many channels: the forward
// and the data gradient (dx of such a conv is the same conv of dy with the filter turned 180° and its K/C axes
// swapped: w'[c, k, r, s] = w[k, c, 2 − r, 2 − s]). The filter gradient keeps im2col + SGEMM.
// Shape letters as in CpuBackend.Conv.cs: in I×H×W per sample (I = C forward, K for dx), out O×H×W, filter g O×I×3×3.
// The output plane is cut into 2×2 tiles (TH = ⌈H/2⌉ × TW = ⌈W/2⌉ per sample; a tile that runs past an odd edge
// writes only its valid outputs); tile (th, tw) reads the 4×4 input patch d at rows 2th − 1 .., columns 2tw − 1 ..
// (zeros outside, from a zero-padded copy 2TH + 2 by 2TW + 2). With
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
public sealed partial class CpuBackend
{
    /// <summary>The fewest input and output channels a 3×3 stride-1 pad-1 convolution needs to take the Winograd path
    /// (below it the transforms cost more than the multiplications they save; measured on ResNet-18's layers).
    /// </summary>
    public const int WinogradMinChannels = 32;

    /// <summary>ADVROBUST_CPU_WINOGRAD=0 turns the Winograd path off process-wide (every convolution then takes
    /// im2col + SGEMM, bit for bit the results from before it existed). A method, not a static field: the static
    /// <see cref="Instance"/> may be built before a field of another partial file is initialized.</summary>
    private static bool WinogradDefault() => Environment.GetEnvironmentVariable("ADVROBUST_CPU_WINOGRAD") is not "0";

    /// <summary>Whether eligible convolutions (3×3, stride 1, pad 1, at least <see cref="WinogradMinChannels"/> input
    /// and output channels) run as Winograd F(2×2, 3×3) (CpuBackend.Winograd.cs); every other convolution, and every
    /// filter gradient, is im2col + SGEMM. Off: bit for bit the im2col path (the bit-identity tests pin it).</summary>
    public bool Winograd { get; init; } = WinogradDefault();

    private bool TakesWinograd(in ConvGeometry g) =>
        Winograd && g.R == 3 && g.S == 3 && g.Stride == 1 && g.Pad == 1 && g.C >= WinogradMinChannels
        && g.K >= WinogradMinChannels && g.N > 0 && Avx2.IsSupported;

    /// <summary>Lanes of the vector transforms: tiles side by side.</summary>
    private const int WLanes = 8;

    /// <summary>y (N×O×H×W) = the 3×3 pad-1 convolution of x (N×I×H×W) with filter w (O×I×3×3, or I×O×3×3 read
    /// turned and transposed when flip: the data gradient), then relu(· + bias[o]) in float when bias is given.
    /// </summary>
    private static unsafe void WinogradConv(ReadOnlySpan<float> x, ReadOnlySpan<float> w, bool flip, Tensor? bias,
        Span<float> y, int n, int inC, int outC, int h, int wd)
    {
        int th = (h + 1) / 2, tw = (wd + 1) / 2, tiles = n * th * tw;
        int hp = 2 * th + 2, wp = 2 * tw + 2, plane = hp * wp;
        var ul = new Sgemm.PackedA(outC, inC);
        float[] u = ConvScratch.Rent(16 * (int)ul.Length), xp = ConvScratch.Rent(n * inC * plane);
        fixed (float* pw = w) FilterTransform((nint)pw, flip, outC, inC, ul, u);
        PadPlanes(x, n * inC, h, wd, hp, wp, xp);
        int nr = Sgemm.PackedB.Nr, threads = Environment.ProcessorCount;
        int nt = Math.Clamp((1 << 18) / (16 * (inC + outC)) / nr * nr, nr, 16 * nr);
        while (nt > nr && (tiles + nt - 1) / nt < 2 * threads) nt -= nr;
        int blocks = (tiles + nt - 1) / nt;
        var vl = new Sgemm.PackedB(inC, nt);
        int vLen = (int)vl.Length, mLen = outC * vl.PaddedN;
        float[] biases = bias?.F().ToArray() ?? [];
        bool relu = bias is not null;
        var geometry = (n, inC, outC, h, wd, th, tw, hp, wp);
        fixed (float* px = xp, pu = u, py = y)
        {
            var (xs, us, ys) = ((nint)px, (nint)pu, (nint)py);
            Parallel.For(0, blocks, new ParallelOptions { MaxDegreeOfParallelism = threads },
                () => (V: ConvScratch.Rent(16 * vLen), M: ConvScratch.Rent(16 * mLen)),
                (block, _, s) =>
                {
                    var (gn, gi, go, gh, gw, gth, gtw, ghp, gwp) = geometry;
                    int t0 = block * nt, count = Math.Min(nt, tiles - t0);
                    var layout = new Sgemm.PackedB(gi, count);
                    var tile = new TileGeometry(gi, go, gh, gw, gth, gtw, ghp, gwp);
                    fixed (float* v = s.V, m = s.M)
                    {
                        InputTransform(tile, (float*)xs, t0, count, layout, v, vLen);
                        for (int e = 0; e < 16; e++)
                        {
                            var me = new Span<float>(m + (long)e * mLen, go * layout.PaddedN);
                            me.Clear();
                            var ue = new ReadOnlySpan<float>((float*)us + e * ul.Length, (int)ul.Length);
                            var ve = new ReadOnlySpan<float>(v + (long)e * vLen, (int)layout.Length);
                            for (int p0 = 0; p0 < gi; p0 += ul.KcMax)
                                Sgemm.RunBlock(ue, ul, p0, ve[(p0 * layout.PaddedN)..], count, me, layout.PaddedN);
                        }
                        OutputTransform(tile, m, mLen, layout.PaddedN, t0, count, (float*)ys, relu ? biases : null);
                    }
                    return s;
                },
                s =>
                {
                    ConvScratch.Return(s.V);
                    ConvScratch.Return(s.M);
                });
        }
        ConvScratch.Return(u);
        ConvScratch.Return(xp);
    }

    /// <summary>Per-sample sizes of one Winograd convolution: channels in and out, the plane, tiles, padded plane.
    /// </summary>
    private readonly record struct TileGeometry(int InC, int OutC, int H, int W, int TH, int TW, int Hp, int Wp)
    {
        public int Tiles => TH * TW;
    }

    /// <summary>U[e = 4ξ + ν] = G g Gᵀ for every (o, i), in double, rounded once, written into 16 pre-packed A
    /// matrices (O × I, <see cref="Sgemm.PackedA"/> layout, rows past O zero) at u + e·layout.Length.</summary>
    private static unsafe void FilterTransform(nint w, bool flip, int outC, int inC, Sgemm.PackedA layout,
        float[] u)
    {
        int mr = SgemmKernels.Mr(SgemmKernels.Best), len = (int)layout.Length;
        u.AsSpan(0, 16 * len).Clear();
        Parallel.For(0, outC, o =>
        {
            float* filter = (float*)w;
            Span<double> f = stackalloc double[9], t = stackalloc double[12], gg = stackalloc double[16];
            for (int i = 0; i < inC; i++)
            {
                // g[r, s] of filter (o, i): the forward's w[o, i, r, s], or the data gradient's w[i, o, 2 − r, 2 − s].
                for (int r = 0; r < 3; r++)
                for (int s = 0; s < 3; s++)
                    f[3 * r + s] = flip ? filter[((i * outC + o) * 3 + 2 - r) * 3 + 2 - s]
                        : filter[((o * inC + i) * 3 + r) * 3 + s];
                for (int s = 0; s < 3; s++)  // t = G g (4×3)
                {
                    double g0 = f[s], g1 = f[3 + s], g2 = f[6 + s];
                    (t[s], t[3 + s], t[6 + s], t[9 + s]) = (g0, 0.5 * (g0 + g1 + g2), 0.5 * (g0 - g1 + g2), g2);
                }
                for (int xi = 0; xi < 4; xi++)  // (G g) Gᵀ (4×4)
                {
                    double g0 = t[3 * xi], g1 = t[3 * xi + 1], g2 = t[3 * xi + 2];
                    (gg[4 * xi], gg[4 * xi + 1], gg[4 * xi + 2], gg[4 * xi + 3]) =
                        (g0, 0.5 * (g0 + g1 + g2), 0.5 * (g0 - g1 + g2), g2);
                }
                int p0 = i / layout.KcMax * layout.KcMax, kc = Math.Min(layout.KcMax, inC - p0);
                long at = (long)p0 * layout.PaddedM + (long)(o / mr * mr) * kc + (i - p0) * mr + o % mr;
                for (int e = 0; e < 16; e++) u[e * len + at] = (float)gg[e];
            }
        });
    }

    /// <summary>dst[plane, 1 + r, 1 + c] = src[plane, r, c] in planes of hp × wp, zero elsewhere.</summary>
    private static void PadPlanes(ReadOnlySpan<float> src, int planes, int h, int w, int hp, int wp, float[] dst)
    {
        dst.AsSpan(0, planes * hp * wp).Clear();
        for (int p = 0; p < planes; p++)
        for (int r = 0; r < h; r++)
            src.Slice((p * h + r) * w, w).CopyTo(dst.AsSpan((p * hp + 1 + r) * wp + 1, w));
    }

    /// <summary>V[e][i, t0 + j] = (Bᵀ d B)[e] for the block's tiles j &lt; count into 16 packed-B matrices (I × count,
    /// at v + e·vLen), WLanes tiles at a time (their patches gathered); lanes past count zero.</summary>
    private static unsafe void InputTransform(in TileGeometry g, float* xp, int t0, int count, Sgemm.PackedB layout,
        float* v, int vLen)
    {
        int plane = g.Hp * g.Wp;
        Span<int> lanes = stackalloc int[WLanes];
        var d = new Vector256<float>[16];
        for (int j0 = 0; j0 < layout.PaddedN; j0 += WLanes)
        {
            for (int l = 0; l < WLanes; l++)
            {
                int t = t0 + j0 + l, sample = t / g.Tiles, within = t % g.Tiles;
                lanes[l] = j0 + l < count ? sample * g.InC * plane + within / g.TW * 2 * g.Wp + within % g.TW * 2 : 0;
            }
            var offsets = Vector256.Create<int>(lanes);
            var live = Vector256.LessThan(Vector256.Create(j0) + Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7),
                Vector256.Create(count)).AsSingle();
            for (int i = 0; i < g.InC; i++)
            {
                float* src = xp + (long)i * plane;
                for (int r = 0; r < 4; r++)
                for (int c = 0; c < 4; c++)
                    d[4 * r + c] = Avx2.GatherVector256(src + r * g.Wp + c, offsets, 4) & live;
                // Bᵀ d (rows), then (Bᵀ d) B (columns), in place.
                for (int c = 0; c < 4; c++)
                {
                    var (d0, d1, d2, d3) = (d[c], d[4 + c], d[8 + c], d[12 + c]);
                    (d[c], d[4 + c], d[8 + c], d[12 + c]) = (d0 - d2, d1 + d2, d2 - d1, d1 - d3);
                }
                long at = layout.Offset(i, j0);
                for (int r = 0; r < 4; r++)
                {
                    var (e0, e1, e2, e3) = (d[4 * r], d[4 * r + 1], d[4 * r + 2], d[4 * r + 3]);
                    float* row = v + (long)(4 * r) * vLen + at;
                    Vector256.Store(e0 - e2, row);
                    Vector256.Store(e1 + e2, row + vLen);
                    Vector256.Store(e2 - e1, row + 2L * vLen);
                    Vector256.Store(e1 - e3, row + 3L * vLen);
                }
            }
        }
    }

    /// <summary>y[sample, o, 2th + a, 2tw + b] = (Aᵀ M[·][o, t] A)[a, b] for the block's tiles (M: 16 matrices O ×
    /// ld at m + e·mLen), only outputs inside the plane; relu(· + bias[o]) in float when biases is given.</summary>
    private static unsafe void OutputTransform(in TileGeometry g, float* m, int mLen, int ld, int t0, int count,
        float* y, float[]? biases)
    {
        int pq = g.H * g.W, ySample = g.OutC * pq;
        var at = new long[count];
        var mask = new byte[count];  // bit 0: the tile's second column is inside, bit 1: its second row
        for (int j = 0; j < count; j++)
        {
            int t = t0 + j, sample = t / g.Tiles, within = t % g.Tiles, r = within / g.TW * 2, c = within % g.TW * 2;
            at[j] = (long)sample * ySample + r * g.W + c;
            mask[j] = (byte)((c + 1 < g.W ? 1 : 0) | (r + 1 < g.H ? 2 : 0));
        }
        Span<float> out4 = stackalloc float[4 * WLanes];
        var mv = new Vector256<float>[16];
        for (int o = 0; o < g.OutC; o++)
        {
            float b = biases is null ? 0f : biases[o];
            float* yo = y + (long)o * pq;
            for (int j0 = 0; j0 < count; j0 += WLanes)
            {
                for (int e = 0; e < 16; e++) mv[e] = Vector256.Load(m + (long)e * mLen + (long)o * ld + j0);
                // Aᵀ M (rows 0, 1), then · A (columns 0, 1).
                Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
                for (int c = 0; c < 4; c++)
                {
                    var top = mv[c] + mv[4 + c] + mv[8 + c];
                    var bottom = mv[4 + c] - mv[8 + c] - mv[12 + c];
                    mv[c] = top;
                    mv[4 + c] = bottom;
                }
                s0 = mv[0] + mv[1] + mv[2];
                s1 = mv[1] - mv[2] - mv[3];
                s2 = mv[4] + mv[5] + mv[6];
                s3 = mv[5] - mv[6] - mv[7];
                fixed (float* q = out4)
                {
                    Vector256.Store(s0, q);
                    Vector256.Store(s1, q + WLanes);
                    Vector256.Store(s2, q + 2 * WLanes);
                    Vector256.Store(s3, q + 3 * WLanes);
                }
                int lanes = Math.Min(WLanes, count - j0);
                for (int l = 0; l < lanes; l++)
                {
                    float* dst = yo + at[j0 + l];
                    int k = mask[j0 + l];
                    dst[0] = Finish(out4[l], b, biases);
                    if ((k & 1) != 0) dst[1] = Finish(out4[WLanes + l], b, biases);
                    if ((k & 2) == 0) continue;
                    dst[g.W] = Finish(out4[2 * WLanes + l], b, biases);
                    if ((k & 1) != 0) dst[g.W + 1] = Finish(out4[3 * WLanes + l], b, biases);
                }
            }
        }
    }

    /// <summary>The output as the convolution gives it, or relu(y + b) in float (the separate ops' bits).</summary>
    private static float Finish(float y, float b, float[]? biases) => biases is null ? y : ReluOp.Forward(y + b);
}
