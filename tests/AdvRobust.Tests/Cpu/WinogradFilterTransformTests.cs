using System.Runtime.Intrinsics.X86;
using AdvRobust.Cpu;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Cpu;

/// <summary>
/// The Winograd filter transform (CpuBackend.FilterTransform, vectorized over 8 filters at a time) against the
/// scalar formula it replaced: U[4ξ + ν][o, i] = (G g[o, i] Gᵀ)[ξ, ν] in double, rounded once to float, at its place
/// in the 16 packed-A matrices (Sgemm.PackedA layout), and 0 in the padding rows. Bit for bit, forward (g = w[o, i])
/// and data gradient (g = w[i, o] turned 180°), on sizes that leave partial micro-panels and partial K blocks; and the
/// F(4×4, 3×3) transform (36 matrices) against its own scalar formula.
/// </summary>
public class WinogradFilterTransformTests
{
    [TestCase(5, 7, false)]
    [TestCase(13, 33, false)]
    [TestCase(40, 300, false)]
    [TestCase(40, 300, true)]
    [TestCase(65, 17, true)]
    public unsafe void MatchesTheScalarFormula_BitForBit(int outC, int inC, bool flip)
    {
        if (!Avx512F.IsSupported) Assert.Ignore("the Winograd path needs AVX-512");
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        float[] w = rng.Normal(outC * inC * 9);
        var layout = new Sgemm.PackedA(outC, inC);
        var u = new float[16 * layout.Length];
        Array.Fill(u, float.NaN);  // every element must be written, the padding rows as 0
        fixed (float* pw = w, pu = u) CpuBackend.FilterTransform((nint)pw, flip, outC, inC, layout, (nint)pu);
        int mr = SgemmKernels.Mr(SgemmKernels.Best);
        for (int o = 0; o < layout.PaddedM; o++)
        for (int i = 0; i < inC; i++)
        {
            double[] want = o < outC ? Scalar(w, flip, outC, inC, o, i) : new double[16];
            int p0 = i / layout.KcMax * layout.KcMax, kc = Math.Min(layout.KcMax, inC - p0);
            long at = (long)p0 * layout.PaddedM + (long)(o / mr * mr) * kc + (i - p0) * mr + o % mr;
            for (int e = 0; e < 16; e++)
                Assert.That(BitConverter.SingleToInt32Bits(u[e * layout.Length + at]),
                    Is.EqualTo(BitConverter.SingleToInt32Bits((float)want[e])), $"U[{e}][{o}, {i}], seed {rng.Seed}");
        }
    }

    /// <summary>The scalar transform of one (o, i), in the operation order of the loop it replaced.</summary>
    private static double[] Scalar(float[] w, bool flip, int outC, int inC, int o, int i)
    {
        var f = new double[9];
        for (int r = 0; r < 3; r++)
        for (int s = 0; s < 3; s++)
            f[3 * r + s] = flip ? w[((i * outC + o) * 3 + 2 - r) * 3 + 2 - s] : w[((o * inC + i) * 3 + r) * 3 + s];
        var t = new double[12];
        for (int s = 0; s < 3; s++)
        {
            double g0 = f[s], g1 = f[3 + s], g2 = f[6 + s];
            (t[s], t[3 + s], t[6 + s], t[9 + s]) = (g0, 0.5 * (g0 + g1 + g2), 0.5 * (g0 - g1 + g2), g2);
        }
        var gg = new double[16];
        for (int xi = 0; xi < 4; xi++)
        {
            double g0 = t[3 * xi], g1 = t[3 * xi + 1], g2 = t[3 * xi + 2];
            (gg[4 * xi], gg[4 * xi + 1], gg[4 * xi + 2], gg[4 * xi + 3]) = (g0, 0.5 * (g0 + g1 + g2), 0.5 * (g0 - g1 + g2), g2);
        }
        return gg;
    }

    /// <summary>F(4×4, 3×3)'s transform (six: 6×3 G, 36 matrices U[6ξ + ν]) against its scalar formula in the same
    /// operation order, bit for bit, the padding rows included (±0).</summary>
    [TestCase(5, 7, false)]
    [TestCase(40, 300, true)]
    [TestCase(65, 17, false)]
    public unsafe void SixTaps_MatchesTheScalarFormula_BitForBit(int outC, int inC, bool flip)
    {
        if (!Avx512F.IsSupported) Assert.Ignore("the Winograd path needs AVX-512");
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        float[] w = rng.Normal(outC * inC * 9);
        var layout = new Sgemm.PackedA(outC, inC);
        var u = new float[36 * layout.Length];
        Array.Fill(u, float.NaN);
        fixed (float* pw = w, pu = u) CpuBackend.FilterTransform((nint)pw, flip, outC, inC, layout, (nint)pu, six: true);
        int mr = SgemmKernels.Mr(SgemmKernels.Best);
        for (int o = 0; o < layout.PaddedM; o++)
        for (int i = 0; i < inC; i++)
        {
            double[] want = new double[36];  // padding rows: the formula on g = 0 (−0 where it negates)
            {
                var t = new double[18];
                for (int s = 0; s < 3; s++)
                {
                    double[] col = Six(At(w, flip, outC, inC, o, i, 0, s), At(w, flip, outC, inC, o, i, 1, s),
                        At(w, flip, outC, inC, o, i, 2, s));
                    for (int xi = 0; xi < 6; xi++) t[3 * xi + s] = col[xi];
                }
                for (int xi = 0; xi < 6; xi++) Six(t[3 * xi], t[3 * xi + 1], t[3 * xi + 2]).CopyTo(want, 6 * xi);
            }
            int p0 = i / layout.KcMax * layout.KcMax, kc = Math.Min(layout.KcMax, inC - p0);
            long at = (long)p0 * layout.PaddedM + (long)(o / mr * mr) * kc + (i - p0) * mr + o % mr;
            for (int e = 0; e < 36; e++)
                Assert.That(BitConverter.SingleToInt32Bits(u[e * layout.Length + at]),
                    Is.EqualTo(BitConverter.SingleToInt32Bits((float)want[e])), $"U[{e}][{o}, {i}], seed {rng.Seed}");
        }
    }

    /// <summary>g[r, s] of filter (o, i): w[o, i, r, s], or w[i, o, 2 − r, 2 − s] for the data gradient.</summary>
    private static double At(float[] w, bool flip, int outC, int inC, int o, int i, int r, int s) =>
        o >= outC ? 0 : flip ? w[((i * outC + o) * 3 + 2 - r) * 3 + 2 - s] : w[((o * inC + i) * 3 + r) * 3 + s];

    /// <summary>G (6×3) times (g0, g1, g2): ¼g0, −(g0 + g1 + g2)/6, −(g0 − g1 + g2)/6, g0/24 ± g1/12 + g2/6, g2.</summary>
    private static double[] Six(double g0, double g1, double g2)
    {
        double a = g0 / 24.0, b = g1 / 12.0, c = g2 / 6.0;
        return [g0 / 4.0, -((g0 + g1 + g2) / 6.0), -((g0 - g1 + g2) / 6.0), a + b + c, a - b + c, g2];
    }
}
