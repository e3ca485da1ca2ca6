using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using AdvRobust.Core;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Cpu;

// Winograd F(4×4, 3×3) (Lavin & Gray 2016, interpolation points 0, ±1, ±2, ∞) for the Winograd-eligible convolutions
// (CpuBackend.Winograd.cs) whose planes cut evenly into groups of 8 tiles of 4×4: W a multiple of 32 (a tile row holds
// whole groups), or W = 16 with H a multiple of 8 (a group is two tile rows of 4). Same structure and notation as
// F(2×2, 3×3) there, with 6×6 input patches and 36 GEMMs per block of tiles:
//   Bᵀ = [[4,0,−5,0,1,0],[0,−4,−4,1,1,0],[0,4,−4,−1,1,0],[0,−2,−1,2,1,0],[0,2,−1,−2,1,0],[0,4,0,−5,0,1]]
//   G  = [[¼,0,0],[−⅙,−⅙,−⅙],[−⅙,⅙,−⅙],[1⁄24,1⁄12,⅙],[1⁄24,−1⁄12,⅙],[0,0,1]]
//   Aᵀ = [[1,1,1,1,1,0],[0,1,−1,2,−2,0],[0,1,1,4,4,0],[0,1,−1,8,−8,1]]
//   U[6ξ + ν][o, i] = (G g Gᵀ)[ξ, ν] (double, rounded once),  V[6ξ + ν][i, t] = (Bᵀ d Bᵀᵀ)[ξ, ν] (float),
//   M[e] (O × T) = U[e] · V[e],  y[o, tile t] = Aᵀ M[·][o, t] A  (4×4 outputs per tile).
// 36 multiplications per 16 outputs where F(2×2, 3×3) takes 64 (16 per 4) and im2col 144: 1.78× fewer multiply-adds
// than F(2×2, 3×3), and per output 2.25 transformed values written and read instead of 4. The price is accuracy: the
// transforms' entries reach 8 and 1⁄24, so rounding grows: against a double reference (WinogradTests) the max error
// was 2.6e-5 to 4.6e-5 of the outputs' RMS at ResNet-18's 64 and 128 channels, 10 to 30 × F(2×2, 3×3)'s.
// Measured in one process on this 2-core machine (scratch program, medians of 40 calls, alternated; direction only),
// B = 8 forward / data gradient: 64 channels 32×32 1.45 / 1.44 ms (F(2×2, 3×3) 1.96 / 1.92, im2col 2.31 / 2.28);
// 128 channels 16×16 1.19 / 1.16 ms (1.44 / 1.37; 2.30 / 2.01); B = 32, 64 channels: 5.7 ms (8.0; 9.2).
// Every group of 8 tiles is regular (no edge tile: H and W are multiples of 4), so the input transform takes its 8
// tiles' 6 columns from two 16-float loads by one two-source permute per column, and the output transform writes 32
// contiguous outputs (one tile row of 8 tiles) or 16 + 16 (two tile rows of 4) per output row.
public sealed partial class CpuBackend
{
    /// <summary>Whether the Winograd path uses F(4×4, 3×3) where the planes allow it (<see cref="TakesWinograd4"/>);
    /// off (ADVROBUST_CPU_WINOGRAD=2), every Winograd convolution is F(2×2, 3×3).</summary>
    public bool Winograd4 { get; init; } = Environment.GetEnvironmentVariable("ADVROBUST_CPU_WINOGRAD") is not "2";

    /// <summary>Planes that cut into whole groups of 8 tiles of 4×4 (see the header).</summary>
    private bool TakesWinograd4(int h, int w) => Winograd4 && h % 4 == 0 && (w % 32 == 0 || w == 16 && h % 8 == 0);

    /// <summary>Floats of V and M per block (both 36 matrices): nt tiles with 36·(I + O)·nt at most this.</summary>
    private const int Winograd4BlockFloats = 1 << 18;

    /// <summary>F(4×4, 3×3) as <see cref="WinogradConv"/> does F(2×2, 3×3): y = conv(x, w) (w turned and transposed
    /// when flip), relu(· + bias[o]) when bias is given.</summary>
    private unsafe void Winograd4Conv(ConvParams p, ReadOnlySpan<float> x, Tensor w, bool flip, Tensor? bias,
        Span<float> y, int n, int inC, int outC, int h, int wd)
    {
        int th = h / 4, tw = wd / 4, tiles = n * th * tw;
        var ul = new Sgemm.PackedA(outC, inC);
        float[] u = DerivedWeight(p, w, flip ? WeightForm.Winograd4DataGradient : WeightForm.Winograd4Forward,
            36 * (int)ul.Length, dst =>
            {
                fixed (float* pw = w.F(), pu = dst) FilterTransform((nint)pw, flip, outC, inC, ul, (nint)pu, six: true);
            }, out bool rented);
        int nr = PanelWidth, threads = Environment.ProcessorCount;
        int nt = Math.Clamp(Winograd4BlockFloats / (36 * (inC + outC)) / nr * nr, nr, 8 * nr);
        while (nt > nr && (tiles + nt - 1) / nt < 2 * threads) nt -= nr;
        float[]? biases = bias?.F().ToArray();
        var tile = new TileGeometry(inC, outC, h, wd, th, tw, h + 2, wd + 2);
        fixed (float* px = x, pu = u, py = y)
        {
            var (xs, ys) = ((nint)px, (nint)py);
            WinogradBlocks(36, tiles, nt, ul, (nint)pu, inC, outC,
                (t0, count, layout, v, vLen) =>
                    InputTransform4(tile, (float*)xs, t0, count, layout, (float*)v, vLen),
                (t0, count, layout, m, mLen) =>
                    OutputTransform4(tile, (float*)m, mLen, layout.PaddedN, t0, count, (float*)ys, biases));
        }
        if (rented) ConvScratch.Return(u);
    }

    /// <summary>Lanes 4t of two 16-float vectors (t = 0..7): one column of 8 tiles' patches, or of their outputs.
    /// </summary>
    private static readonly Vector512<int> EveryFourth =
        Vector512.Create(0, 4, 8, 12, 16, 20, 24, 28, 0, 0, 0, 0, 0, 0, 0, 0);

    /// <summary>Four 8-tile output columns (b = 0..3, two per source) to tiles 0..3 (lanes 4t + b), then 4..7.</summary>
    private static readonly Vector512<int> TilesLow = Vector512.Create(0, 8, 16, 24, 1, 9, 17, 25, 2, 10, 18, 26, 3, 11, 19, 27);

    private static readonly Vector512<int> TilesHigh = Vector512.Create(4, 12, 20, 28, 5, 13, 21, 29, 6, 14, 22, 30, 7, 15, 23, 31);

    /// <summary>Floats past a padded row that the 8-tile loads may read (and ignore).</summary>
    private const int RowSlack = 32;

    /// <summary>Bᵀ times a 6-vector (lane by lane): the input transform along one axis.</summary>
    private static void Bt<T>(T d0, T d1, T d2, T d3, T d4, T d5, out T z0, out T z1, out T z2, out T z3, out T z4,
        out T z5) where T : IFloatLanes<T>
    {
        T four = T.Of(4f), five = T.Of(5f), two = T.Of(2f);
        z0 = four * d0 - five * d2 + d4;
        z1 = d3 + d4 - four * (d1 + d2);
        z2 = four * (d1 - d2) - d3 + d4;
        z3 = two * (d3 - d1) - d2 + d4;
        z4 = two * (d1 - d3) - d2 + d4;
        z5 = four * d1 - five * d3 + d5;
    }

    /// <summary>
    /// V[e][i, j] = (Bᵀ d Bᵀᵀ)[e] for the block's tiles t0 + j into 36 packed-B matrices (I × count at v + e·vLen,
    /// lanes past count zero). Walks the block one tile row (W ≥ 32) or pair of tile rows (W = 16) at a time; per
    /// channel, Bᵀ along the rows over the 6 input rows of each tile row as 16-float vectors (E_ξ, 6 rows of Wp rounded up to
    /// 16), then
    /// along the columns 8 tiles at once: column k of the 8 patches is one permute of two 16-float loads.
    /// </summary>
    private static unsafe void InputTransform4(in TileGeometry g, float* x, int t0, int count, Sgemm.PackedB layout,
        float* v, int vLen)
    {
        int wp = g.Wp, ew = (wp + 15) / 16 * 16;  // E rows: whole 16-float stores never reach the next row
        for (int e = 0; e < 36; e++)
        for (int i = 0; i < g.InC && count < layout.PaddedN; i++)
            new Span<float>(v + (long)e * vLen + layout.Offset(i, count), layout.PaddedN - count).Clear();
        int stride = 6 * ew + RowSlack;  // one tile row's E_0 .. E_5
        float[] rows = ConvScratch.Rent(6 * wp + RowSlack + 2 * stride);
        rows.AsSpan(0, 6 * wp + RowSlack + 2 * stride).Clear();
        fixed (float* src = rows)
        for (int t = t0; t < t0 + count;)
        {
            int sample = t / g.Tiles, within = t % g.Tiles, th = within / g.TW, tw0 = within % g.TW;
            int pairs = g.TW == 4 ? 2 : 1;  // tile rows in this pass
            int tw1 = pairs == 2 ? 4 : Math.Min(g.TW, tw0 + t0 + count - t), span = pairs == 2 ? 8 : tw1 - tw0;
            int j0 = t - t0;
            float* er0 = src + 6 * wp + RowSlack;
            for (int i = 0; i < g.InC; i++)
            {
                float* plane = x + (long)(sample * g.InC + i) * g.H * g.W;
                for (int r = 0; r < pairs; r++)
                {
                    for (int k = 0; k < 6; k++)
                    {
                        int hr = 4 * (th + r) - 1 + k;
                        var row = new Span<float>(src + k * wp + 1, g.W);
                        if ((uint)hr < (uint)g.H) new ReadOnlySpan<float>(plane + (long)hr * g.W, g.W).CopyTo(row);
                        else row.Clear();
                    }
                    float* er = er0 + r * stride;
                    for (int col = 4 * tw0; col < 4 * tw1 + 2; col += 16)
                    {
                        Bt(new Lanes16(src + col), new Lanes16(src + wp + col), new Lanes16(src + 2 * wp + col),
                            new Lanes16(src + 3 * wp + col), new Lanes16(src + 4 * wp + col),
                            new Lanes16(src + 5 * wp + col), out var z0, out var z1, out var z2, out var z3,
                            out var z4, out var z5);
                        z0.Store(er + col);
                        z1.Store(er + ew + col);
                        z2.Store(er + 2 * ew + col);
                        z3.Store(er + 3 * ew + col);
                        z4.Store(er + 4 * ew + col);
                        z5.Store(er + 5 * ew + col);
                    }
                }
                long rowAt = layout.Offset(i, 0);
                int kc = Math.Min(layout.KcMax, g.InC - i / layout.KcMax * layout.KcMax);
                for (int q = 0; q < span; q += 8)
                {
                    int j = j0 + q;
                    float* dst = v + rowAt + (long)(j & ~(PanelWidth - 1)) * kc + (j & (PanelWidth - 1));
                    // The 8 tiles' patches start at columns 4tw of one E row (A: tiles 0..3, B: 4..7).
                    float* a = pairs == 2 ? er0 : er0 + 4 * (tw0 + q);
                    float* b = pairs == 2 ? er0 + stride : a + 16;
                    for (int xi = 0; xi < 6; xi++, a += ew, b += ew, dst += 6L * vLen)
                    {
                        Vector256<float> Column(int k) =>
                            Avx512F.PermuteVar16x32x2(Vector512.Load(a + k), EveryFourth, Vector512.Load(b + k))
                                .GetLower();
                        Bt(new Lanes8(Column(0)), new Lanes8(Column(1)), new Lanes8(Column(2)), new Lanes8(Column(3)),
                            new Lanes8(Column(4)), new Lanes8(Column(5)), out var z0, out var z1, out var z2,
                            out var z3, out var z4, out var z5);
                        Vector256.Store(z0.V, dst);
                        Vector256.Store(z1.V, dst + vLen);
                        Vector256.Store(z2.V, dst + 2L * vLen);
                        Vector256.Store(z3.V, dst + 3L * vLen);
                        Vector256.Store(z4.V, dst + 4L * vLen);
                        Vector256.Store(z5.V, dst + 5L * vLen);
                    }
                }
            }
            t += span;
        }
        ConvScratch.Return(rows);
    }

    /// <summary>
    /// y[sample, o, 4th + a, 4tw + b] = (Aᵀ M[·][o, j] A)[a, b] for the block's tiles t0 + j (M: 36 matrices O × ld at
    /// m + e·mLen), relu(· + bias[o]) in float when biases is given; 8 tiles at a time, each output row as 32
    /// contiguous floats (8 tiles of one tile row) or 16 + 16 (4 tiles of each of two tile rows).
    /// </summary>
    private static unsafe void OutputTransform4(in TileGeometry g, float* m, int mLen, int ld, int t0, int count,
        float* y, float[]? biases)
    {
        int pq = g.H * g.W, ySample = g.OutC * pq;
        var s = new Vector256<float>[36];
        for (int t = t0; t < t0 + count; t += 8)
        {
            int sample = t / g.Tiles, within = t % g.Tiles, th = within / g.TW, tw = within % g.TW, j = t - t0;
            for (int o = 0; o < g.OutC; o++)
            {
                float* mo = m + (long)o * ld + j;
                for (int e = 0; e < 36; e++) s[e] = Vector256.Load(mo + e * (long)mLen);
                // Aᵀ along ξ for each column ν: rows a = 0..3 of Aᵀ M, kept in s[6a + ν].
                for (int nu = 0; nu < 6; nu++)
                {
                    var (m0, m1, m2, m3, m4, m5) = (s[nu], s[6 + nu], s[12 + nu], s[18 + nu], s[24 + nu], s[30 + nu]);
                    At(m0, m1, m2, m3, m4, m5, out s[nu], out s[6 + nu], out s[12 + nu], out s[18 + nu]);
                }
                float* plane = y + (long)sample * ySample + (long)o * pq;
                var bias = Vector512.Create(biases is null ? 0f : biases[o]);
                for (int a = 0; a < 4; a++)
                {
                    At(s[6 * a], s[6 * a + 1], s[6 * a + 2], s[6 * a + 3], s[6 * a + 4], s[6 * a + 5],
                        out var y0, out var y1, out var y2, out var y3);
                    var (p01, p23) = (Vector512.Create(y0, y1), Vector512.Create(y2, y3));
                    var low = Avx512F.PermuteVar16x32x2(p01, TilesLow, p23);
                    var high = Avx512F.PermuteVar16x32x2(p01, TilesHigh, p23);
                    if (biases is not null)
                    {
                        low += bias;
                        high += bias;
                        low = Vector512.GreaterThan(low, Vector512<float>.Zero) & low;  // ReluOp's bits
                        high = Vector512.GreaterThan(high, Vector512<float>.Zero) & high;
                    }
                    if (g.TW == 4)
                    {
                        Vector512.Store(low, plane + (4 * th + a) * g.W);
                        Vector512.Store(high, plane + (4 * th + 4 + a) * g.W);
                    }
                    else
                    {
                        Vector512.Store(low, plane + (4 * th + a) * g.W + 4 * tw);
                        Vector512.Store(high, plane + (4 * th + a) * g.W + 4 * tw + 16);
                    }
                }
            }
        }
    }

    /// <summary>Aᵀ times a 6-vector (lane by lane): the output transform along one axis.</summary>
    private static void At(Vector256<float> m0, Vector256<float> m1, Vector256<float> m2, Vector256<float> m3,
        Vector256<float> m4, Vector256<float> m5, out Vector256<float> r0, out Vector256<float> r1,
        out Vector256<float> r2, out Vector256<float> r3)
    {
        Vector256<float> plus12 = m1 + m2, minus12 = m1 - m2, plus34 = m3 + m4, minus34 = m3 - m4;
        r0 = m0 + plus12 + plus34;
        r1 = minus12 + Vector256.Create(2f) * minus34;
        r2 = plus12 + Vector256.Create(4f) * plus34;
        r3 = minus12 + Vector256.Create(8f) * minus34 + m5;
    }

    /// <summary>The lane arithmetic <see cref="Bt{T}"/> needs, over 16 floats (rows) or 8 (tiles).</summary>
    private interface IFloatLanes<T> where T : IFloatLanes<T>
    {
        static abstract T Of(float value);
        static abstract T operator +(T a, T b);
        static abstract T operator -(T a, T b);
        static abstract T operator *(T a, T b);
    }

    private readonly unsafe struct Lanes16(Vector512<float> v) : IFloatLanes<Lanes16>
    {
        public readonly Vector512<float> V = v;
        public Lanes16(float* p) : this(Vector512.Load(p)) { }
        public void Store(float* p) => Vector512.Store(V, p);
        public static Lanes16 Of(float value) => new(Vector512.Create(value));
        public static Lanes16 operator +(Lanes16 a, Lanes16 b) => new(a.V + b.V);
        public static Lanes16 operator -(Lanes16 a, Lanes16 b) => new(a.V - b.V);
        public static Lanes16 operator *(Lanes16 a, Lanes16 b) => new(a.V * b.V);
    }

    private readonly struct Lanes8(Vector256<float> v) : IFloatLanes<Lanes8>
    {
        public readonly Vector256<float> V = v;
        public static Lanes8 Of(float value) => new(Vector256.Create(value));
        public static Lanes8 operator +(Lanes8 a, Lanes8 b) => new(a.V + b.V);
        public static Lanes8 operator -(Lanes8 a, Lanes8 b) => new(a.V - b.V);
        public static Lanes8 operator *(Lanes8 a, Lanes8 b) => new(a.V * b.V);
    }
}
