using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace AdvRobust.Cpu;

// The banded F(2×2, 3×3) path (CpuBackend.Winograd.cs holds the transforms' definitions, the block path and the
// routing): for few tiles (small batches) or planes narrower than 8 tiles (ResNet's 8×8 and 4×4 stages), all tiles of a
// chunk at once, the transforms 8 tiles at a time by gathers whatever the plane's width, the GEMMs by bands of output
// channels. Same ops in the same order as the block path: the same bits (WinogradTests.Banded_SameBitsAsBlocks).
public sealed partial class CpuBackend
{
    /// <summary>The most tiles (N·⌈H/2⌉·⌈W/2⌉) for which an F(2×2, 3×3) convolution runs as one block of all its
    /// tiles with the cores sharing out its channels (<see cref="WinogradBanded"/>) rather than one block of tiles per
    /// core; planes narrower than 8 tiles (W ≤ 14) always take it, in blocks of this many tiles.</summary>
    public int WinogradBandedTiles { get; init; } = 512;

    /// <summary>
    /// F(2×2, 3×3) over all the tiles at once (in chunks of <see cref="WinogradBandedTiles"/>), for few tiles or small
    /// planes (one block per core would leave cores idle, every block streams all of U, 16·O·I floats, and the block
    /// path's transforms take 8 tiles at once only along a plane's row): x copied with a zero ring (planes Hp × Wp), the
    /// input transform 8 tiles at a time by gathers (any plane size; <see cref="GatherInputTransform"/>) with the cores
    /// taking ranges of input channels, the 16 GEMMs with the cores taking bands of output channels (whole
    /// micro-panels of U's rows, every K block in order, as <see cref="Sgemm.RunPacked"/>), the output transform 8
    /// tiles at a time by ranges of output channels. Each value is computed by the same ops in the same order as in
    /// a block of tiles (<see cref="InputTransform"/>, <see cref="OutputTransform"/>): the same bits.
    /// </summary>
    private unsafe void WinogradBanded(TileGeometry g, nint x, nint u, Sgemm.PackedA ul, nint y, int n,
        float[]? biases)
    {
        int threads = Environment.ProcessorCount, mr = SgemmKernels.Mr(SgemmKernels.Best);
        int tiles = n * g.Tiles, chunk = Math.Min(tiles, Math.Max(8, WinogradBandedTiles / 8 * 8));
        var most = new Sgemm.PackedB(g.InC, chunk);
        int vLen = (int)most.Length, mLen = g.OutC * most.PaddedN;
        int planes = n * g.InC, planeFloats = g.Hp * g.Wp;
        float[] vb = ConvScratch.Rent(16 * vLen), mb = ConvScratch.Rent(16 * mLen);
        float[] xb = ConvScratch.Rent(planes * planeFloats);
        fixed (float* pv = vb, pm = mb, pxp = xb)
        {
            var (v, m, xp) = ((nint)pv, (nint)pm, (nint)pxp);
            int inParts = Math.Min(threads, g.InC), outParts = Math.Min(threads, g.OutC);
            CpuParallel.For(0, threads, threads, part =>
            {
                for (int plane = part * planes / threads; plane < (part + 1) * planes / threads; plane++)
                {
                    float* dst = (float*)xp + (long)plane * planeFloats, src = (float*)x + (long)plane * g.H * g.W;
                    new Span<float>(dst, planeFloats).Clear();
                    for (int h = 0; h < g.H; h++)
                        new ReadOnlySpan<float>(src + h * g.W, g.W).CopyTo(new Span<float>(dst + (h + 1) * g.Wp + 1, g.W));
                }
            });
            for (int t0 = 0; t0 < tiles; t0 += chunk)
            {
                int count = Math.Min(chunk, tiles - t0);
                var layout = new Sgemm.PackedB(g.InC, count);
                int ld = layout.PaddedN;
                CpuParallel.For(0, inParts, threads, part => GatherInputTransform(g, (float*)xp, t0, count, layout,
                    (float*)v, vLen, part * g.InC / inParts, (part + 1) * g.InC / inParts));
                int panels = (g.OutC + mr - 1) / mr, bands = Math.Min(panels, 2 * threads);
                CpuParallel.For(0, bands, threads, band =>
                {
                    int row0 = band * panels / bands * mr;
                    int rows = Math.Min(g.OutC, (band + 1) * panels / bands * mr) - row0;
                    for (int e = 0; e < 16; e++)
                    {
                        var me = new Span<float>((float*)m + (long)e * mLen + (long)row0 * ld, rows * ld);
                        me.Clear();
                        var ue = new ReadOnlySpan<float>((float*)u + e * ul.Length, (int)ul.Length);
                        var ve = new ReadOnlySpan<float>((float*)v + (long)e * vLen, (int)layout.Length);
                        for (int p0 = 0; p0 < g.InC; p0 += ul.KcMax)
                            Sgemm.RunBlock(ue, ul, p0, ve[(p0 * ld)..], count, me, ld, row0, rows);
                    }
                });
                CpuParallel.For(0, outParts, threads, part => ScatterOutputTransform(g, (float*)m, mLen, ld, t0, count,
                    (float*)y, biases, part * g.OutC / outParts, (part + 1) * g.OutC / outParts));
            }
        }
        ConvScratch.Return(vb);
        ConvScratch.Return(mb);
        ConvScratch.Return(xb);
    }

    /// <summary>
    /// <see cref="InputTransform"/>'s V for tiles t0 .. t0 + tiles − 1 and channels i0 .. i1 − 1, from the zero-ringed
    /// planes xp (Hp × Wp), 8 tiles at a time whatever the plane's width: each of the 16 taps d[r, c] of the 8 tiles'
    /// patches is one gather (offsets sample·I·Hp·Wp + 2th·Wp + 2tw, + i·Hp·Wp + r·Wp + c), then Bᵀ d B with the
    /// same ops in the same order; lanes past the last tile are written as 0.
    /// </summary>
    private static unsafe void GatherInputTransform(in TileGeometry g, float* xp, int t0, int tiles,
        Sgemm.PackedB layout, float* v, int vLen, int i0, int i1)
    {
        int planeFloats = g.Hp * g.Wp, ld = layout.PaddedN;
        for (int e = 0; e < 16; e++)
        for (int i = i0; i < i1 && tiles < ld; i++)
            new Span<float>(v + (long)e * vLen + layout.Offset(i, tiles), ld - tiles).Clear();
        Span<int> lane = stackalloc int[8];
        var d = new Vector256<float>[16];
        for (int j0 = 0; j0 < tiles; j0 += 8)
        {
            int valid = Math.Min(8, tiles - j0);
            for (int l = 0; l < 8; l++)
            {
                int t = t0 + j0 + Math.Min(l, valid - 1), within = t % g.Tiles;
                lane[l] = (t / g.Tiles) * g.InC * planeFloats + 2 * (within / g.TW) * g.Wp + 2 * (within % g.TW);
            }
            var offsets = Vector256.Create<int>(lane);
            var keep = Vector256.LessThan(Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7), Vector256.Create(valid)).AsSingle();
            for (int i = i0; i < i1; i++)
            {
                float* plane = xp + (long)i * planeFloats;
                for (int rc = 0; rc < 16; rc++)
                    d[rc] = Avx2.GatherVector256(plane + rc / 4 * g.Wp + rc % 4, offsets, 4);
                for (int c = 0; c < 4; c++)  // Bᵀ d: rows 0 − 2, 1 + 2, 2 − 1, 1 − 3, column by column
                    (d[c], d[4 + c], d[8 + c], d[12 + c]) =
                        (d[c] - d[8 + c], d[4 + c] + d[8 + c], d[8 + c] - d[4 + c], d[4 + c] - d[12 + c]);
                float* dst = v + layout.Offset(i, j0);
                for (int xi = 0; xi < 4; xi++, dst += 4L * vLen)
                {
                    var (a, b, c, e) = (d[4 * xi], d[4 * xi + 1], d[4 * xi + 2], d[4 * xi + 3]);
                    Vector256.Store((a - c) & keep, dst);
                    Vector256.Store((b + c) & keep, dst + vLen);
                    Vector256.Store((c - b) & keep, dst + 2L * vLen);
                    Vector256.Store((b - e) & keep, dst + 3L * vLen);
                }
            }
        }
    }

    /// <summary>
    /// <see cref="OutputTransform"/> for tiles t0 .. t0 + tiles − 1 and output channels o0 .. o1 − 1, 8 tiles at a time whatever the
    /// plane's width: Aᵀ M A (and the bias and ReLU) with the same ops in the same order as its vector path, then
    /// each tile's 2×2 outputs written one by one, those past an odd edge left out.
    /// </summary>
    private static unsafe void ScatterOutputTransform(in TileGeometry g, float* m, int mLen, int ld, int t0,
        int tiles, float* y, float[]? biases, int o0, int o1)
    {
        int pq = g.H * g.W, ySample = g.OutC * pq;
        Span<float> outs = stackalloc float[32];
        Span<int> at = stackalloc int[8];
        for (int j0 = 0; j0 < tiles; j0 += 8)
        {
            int valid = Math.Min(8, tiles - j0);
            for (int l = 0; l < valid; l++)
            {
                int t = t0 + j0 + l, within = t % g.Tiles;
                at[l] = t / g.Tiles * ySample + 2 * (within / g.TW) * g.W + 2 * (within % g.TW);
            }
            for (int o = o0; o < o1; o++)
            {
                float* mo = m + (long)o * ld;
                var (t0v, b0v) = ColumnPair(mo, mLen, j0, 0);
                var (t1v, b1v) = ColumnPair(mo, mLen, j0, 1);
                var (t2v, b2v) = ColumnPair(mo, mLen, j0, 2);
                var (t3v, b3v) = ColumnPair(mo, mLen, j0, 3);
                var bias = Vector256.Create(biases is null ? 0f : biases[o]);
                for (int a = 0; a < 2; a++)
                {
                    var (u0, u1, u2, u3) = a == 0 ? (t0v, t1v, t2v, t3v) : (b0v, b1v, b2v, b3v);
                    var (left, right) = (u0 + u1 + u2, u1 - u2 - u3);
                    if (biases is not null)
                    {
                        (left, right) = (left + bias, right + bias);
                        left = Vector256.GreaterThan(left, Vector256<float>.Zero) & left;  // ReluOp's bits
                        right = Vector256.GreaterThan(right, Vector256<float>.Zero) & right;
                    }
                    left.CopyTo(outs[(16 * a)..]);
                    right.CopyTo(outs[(16 * a + 8)..]);
                }
                for (int l = 0; l < valid; l++)
                {
                    int within = (t0 + j0 + l) % g.Tiles, h = 2 * (within / g.TW), w = 2 * (within % g.TW);
                    float* dst = y + at[l] + (long)o * pq;
                    dst[0] = outs[l];
                    if (w + 1 < g.W) dst[1] = outs[8 + l];
                    if (h + 1 < g.H)
                    {
                        dst[g.W] = outs[16 + l];
                        if (w + 1 < g.W) dst[g.W + 1] = outs[24 + l];
                    }
                }
            }
        }
    }
}
