using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Cpu;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Cpu;

/// <summary>
/// The CPU's Winograd path (CpuBackend.Winograd.cs: 3×3, stride 1, pad 1, at least
/// CpuBackend.WinogradMinChannels channels in and out; forced on every plane size here) against the plain double-precision definition, forward and
/// data gradient, as F(4×4, 3×3) where the plane allows it (CpuBackend.Winograd4.cs: H a multiple of 4 and W of 32, or
/// 16×16 and the like) and F(2×2, 3×3) elsewhere, and as F(2×2, 3×3) on every shape (Winograd4 off).
/// Shape letters: x N×C×H×W, w K×C×3×3, y N×K×H×W.
/// Tolerance: the error is measured as max |got − ref| over the RMS of ref. F(2,3)'s transforms have entries 0, ±1,
/// ½ (U is computed in double and rounded once), so each output is a float sum over C of products of transformed
/// values of the same size as im2col's, plus a few adds in the transforms: its error is a small multiple of
/// im2col's (~1e-7 to 1e-6 of the RMS for C·9 ≤ 4608 terms). The test asks for at most 2e-5 of the RMS and at most 8 × (im2col's error on the
/// same data) + 1e-6, so a wrong tap, a lost tile or an edge that reads garbage (errors of order 1) always fails.
/// F(4×4, 3×3)'s transforms have entries up to 8 (Aᵀ), 5 (Bᵀ) and 1⁄24 (G), which amplify the float rounding of the
/// transforms and of the sums: measured 2.6e-5 to 4.6e-5 of the RMS on ResNet-18's 64- and 128-channel shapes, 20 to
/// 45 × im2col's (the price cuDNN's and oneDNN's F(4×4, 3×3) pay too). Those shapes are held to at most 1e-4 of the RMS
/// and 100 × im2col's error + 1e-6, still far below the errors of order 1 that a wrong tap or tile gives.
/// </summary>
public class WinogradTests
{
    /// <summary>Winograd on every eligible plane size, however small (the default takes it from 16×16 up).</summary>
    private static readonly IBackend Cpu = new CpuBackend { WinogradMinPixels = 1, WinogradMinPixelsPerCall = 1 };

    /// <summary>F(2×2, 3×3) on every eligible shape, the planes F(4×4, 3×3) would take included.</summary>
    private static readonly IBackend Cpu2 =
        new CpuBackend { WinogradMinPixels = 1, WinogradMinPixelsPerCall = 1, Winograd4 = false };

    /// <summary>The im2col path on every shape (the accuracy yardstick).</summary>
    private static readonly IBackend Im2Col = new CpuBackend { Winograd = false };

    // (n, c, h, w, k): odd planes (7, 9, 15), 4×4 and 2×2, 1 row, N = 1 and 3, C and K not multiples of 12 or 32,
    // and CIFAR ResNet-18's four stages.
    public static IEnumerable<TestCaseData> Shapes()
    {
        yield return new TestCaseData(3, 33, 7, 9, 40).SetArgDisplayNames("odd 7x9, C 33, K 40");
        yield return new TestCaseData(1, 40, 15, 15, 65).SetArgDisplayNames("15x15, K 65");
        yield return new TestCaseData(3, 65, 4, 4, 33).SetArgDisplayNames("4x4, C 65");
        yield return new TestCaseData(1, 32, 2, 2, 32).SetArgDisplayNames("2x2");
        yield return new TestCaseData(2, 36, 1, 3, 50).SetArgDisplayNames("1x3");
        yield return new TestCaseData(3, 64, 28, 28, 64).SetArgDisplayNames("28x28: rows of 14 tiles");
        yield return new TestCaseData(2, 64, 32, 32, 64).SetArgDisplayNames("resnet stage 1");
        yield return new TestCaseData(1, 128, 16, 16, 128).SetArgDisplayNames("resnet stage 2");
        yield return new TestCaseData(2, 256, 8, 8, 256).SetArgDisplayNames("resnet stage 3");
        yield return new TestCaseData(2, 512, 4, 4, 512).SetArgDisplayNames("resnet stage 4");
        yield return new TestCaseData(3, 40, 8, 64, 36).SetArgDisplayNames("8x64: two 8-tile groups per tile row");
        yield return new TestCaseData(3, 33, 16, 16, 40).SetArgDisplayNames("16x16, N 3: groups of two tile rows");
        yield return new TestCaseData(1, 32, 4, 32, 35).SetArgDisplayNames("4x32: one tile row");
    }

    /// <summary>Whether the default Winograd path takes F(4×4, 3×3) for this plane (CpuBackend.TakesWinograd4).</summary>
    private static bool TakesF4(int h, int w) => h % 4 == 0 && (w % 32 == 0 || w == 16 && h % 8 == 0);

    private static readonly ConvParams P = new(1, 1);

    [TestCaseSource(nameof(Shapes))]
    public void Forward_MatchesDoubleReference(int n, int c, int h, int w, int k)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        float[] xs = rng.Normal(n * c * h * w), ws = rng.Normal(k * c * 9);
        double[] want = ReferenceForward(xs, ws, n, c, h, w, k);
        float[] im2col = Forward(Im2Col, xs, ws, n, c, h, w, k);
        AssertAccurate(want, Forward(Cpu, xs, ws, n, c, h, w, k), im2col, TakesF4(h, w), $"forward, seed {rng.Seed}");
        AssertAccurate(want, Forward(Cpu2, xs, ws, n, c, h, w, k), im2col, false, $"forward F(2,3), seed {rng.Seed}");
    }

    [TestCaseSource(nameof(Shapes))]
    public void BackwardData_MatchesDoubleReference(int n, int c, int h, int w, int k)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        float[] gs = rng.Normal(n * k * h * w), ws = rng.Normal(k * c * 9);
        double[] want = ReferenceBackwardData(gs, ws, n, c, h, w, k);
        float[] im2col = BackwardData(Im2Col, gs, ws, n, c, h, w, k);
        AssertAccurate(want, BackwardData(Cpu, gs, ws, n, c, h, w, k), im2col, TakesF4(h, w),
            $"backward data, seed {rng.Seed}");
        AssertAccurate(want, BackwardData(Cpu2, gs, ws, n, c, h, w, k), im2col, false,
            $"backward data F(2,3), seed {rng.Seed}");
    }

    /// <summary>F(4×4, 3×3) is taken exactly where the plane cuts into whole groups of 8 tiles (its bits differ from
    /// F(2×2, 3×3)'s there, and equal them elsewhere).</summary>
    [TestCase(2, 32, 32, 32, 32, true)]
    [TestCase(2, 32, 16, 16, 32, true)]
    [TestCase(2, 32, 8, 64, 32, true)]
    [TestCase(2, 32, 28, 28, 32, false)]
    [TestCase(2, 32, 12, 16, 32, false)]
    [TestCase(2, 32, 30, 32, 32, false)]
    public void Routing_F4OnlyOnWholeTileGroups(int n, int c, int h, int w, int k, bool f4)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        float[] xs = rng.Normal(n * c * h * w), ws = rng.Normal(k * c * 9);
        bool same = Forward(Cpu, xs, ws, n, c, h, w, k).AsSpan().SequenceEqual(Forward(Cpu2, xs, ws, n, c, h, w, k));
        Assert.That(same, Is.EqualTo(!f4), "bits equal to F(2×2, 3×3)'s");
    }

    /// <summary>The eligible shapes do take the Winograd path (some bits differ from im2col's), the others do not
    /// (31 channels, stride 2, 5×5, pad 0: bit for bit im2col's); with the default backend, planes from 4×4 up
    /// (all four stages of a ResNet) and not 3×3 for a kept (ConstantWeight) filter, from 16×16 up for one
    /// transformed per call.</summary>
    [TestCase(2, 32, 6, 6, 32, 3, 1, 1, false, true)]
    [TestCase(2, 31, 6, 6, 64, 3, 1, 1, false, false)]
    [TestCase(2, 64, 6, 6, 31, 3, 1, 1, false, false)]
    [TestCase(2, 64, 6, 6, 64, 3, 2, 1, false, false)]
    [TestCase(2, 64, 6, 6, 64, 5, 1, 2, false, false)]
    [TestCase(2, 64, 6, 6, 64, 3, 1, 0, false, false)]
    [TestCase(2, 32, 16, 16, 32, 3, 1, 1, true, true)]
    [TestCase(2, 32, 16, 16, 32, 3, 1, 1, true, true, false)]
    [TestCase(2, 256, 8, 8, 256, 3, 1, 1, true, true)]
    [TestCase(2, 256, 8, 8, 256, 3, 1, 1, true, false, false)]
    [TestCase(2, 64, 4, 4, 64, 3, 1, 1, true, true)]
    [TestCase(2, 64, 4, 4, 64, 3, 1, 1, true, false, false)]
    [TestCase(2, 64, 3, 3, 64, 3, 1, 1, true, false)]
    public void Routing_OnlyEligibleShapesLeaveIm2Col(int n, int c, int h, int w, int k, int r, int stride, int pad,
        bool defaultBackend, bool winograd, bool kept = true)
    {
        var cpu = defaultBackend ? Backends.Cpu : Cpu;
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        var p = new ConvParams(stride, pad) { ConstantWeight = kept };
        float[] xs = rng.Normal(n * c * h * w), ws = rng.Normal(k * c * r * r);
        int outH = p.OutSize(h, r), outW = p.OutSize(w, r);
        float[] gs = rng.Normal(n * k * outH * outW);
        float[] Run(IBackend be, bool data)
        {
            using var wt = Tensor.FromArray(be, ws, k, c, r, r);
            if (data)
            {
                using var dy = Tensor.FromArray(be, gs, n, k, outH, outW);
                using var dx = Tensor.Empty(be, DType.Float32, n, c, h, w);
                be.Conv2dBackwardData(p, dy, wt, dx);
                return dx.ToArray();
            }
            using var x = Tensor.FromArray(be, xs, n, c, h, w);
            using var y = Tensor.Empty(be, DType.Float32, n, k, outH, outW);
            be.Conv2dForward(p, x, wt, y);
            return y.ToArray();
        }
        foreach (bool data in new[] { false, true })
        {
            bool same = Run(cpu, data).AsSpan().SequenceEqual(Run(Im2Col, data));
            Assert.That(same, Is.EqualTo(!winograd), $"{(data ? "dx" : "y")}: bits equal to im2col's");
        }
    }

    /// <summary>The banded F(2×2, 3×3) path (all tiles at once or in chunks, channels shared out over the cores,
    /// transforms by gathers) gives the bits of the block-per-core path, forward with bias + ReLU and data gradient,
    /// on planes whose rows hold 8 tiles or more (where both paths apply).</summary>
    [TestCase(3, 40, 16, 18, 36, 100000)]
    [TestCase(3, 40, 16, 18, 36, 40)]
    [TestCase(2, 33, 30, 30, 40, 64)]
    [TestCase(1, 64, 17, 33, 70, 24)]
    public void Banded_SameBitsAsBlocks(int n, int c, int h, int w, int k, int bandedTiles)
    {
        var blocks = new CpuBackend { WinogradMinPixelsPerCall = 1, Winograd4 = false, WinogradBandedTiles = 0 };
        var banded = new CpuBackend { WinogradMinPixelsPerCall = 1, Winograd4 = false, WinogradBandedTiles = bandedTiles };
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        float[] xs = rng.Normal(n * c * h * w), ws = rng.Normal(k * c * 9), gs = rng.Normal(n * k * h * w);
        float[] biases = rng.Normal(k);
        float[] Fused(IBackend be)
        {
            using var x = Tensor.FromArray(be, xs, n, c, h, w);
            using var wt = Tensor.FromArray(be, ws, k, c, 3, 3);
            using var bias = Tensor.FromArray(be, biases, k);
            using var y = Tensor.Empty(be, DType.Float32, n, k, h, w);
            be.Conv2dBiasReluForward(P, x, wt, bias, y);
            return y.ToArray();
        }
        Assert.That(Forward(banded, xs, ws, n, c, h, w, k), Is.EqualTo(Forward(blocks, xs, ws, n, c, h, w, k)), "forward");
        Assert.That(Fused(banded), Is.EqualTo(Fused(blocks)), "relu(conv + bias)");
        Assert.That(BackwardData(banded, gs, ws, n, c, h, w, k), Is.EqualTo(BackwardData(blocks, gs, ws, n, c, h, w, k)),
            "data gradient");
    }

    /// <summary>Sample s alone gives the bits it gets in a batch (blocks of tiles span samples), and the fused bias +
    /// ReLU is bitwise relu(y + b) on the Winograd path too.</summary>
    [TestCase(5, 48, 9, 11, 40)]
    [TestCase(9, 64, 8, 8, 64)]
    [TestCase(5, 64, 28, 28, 64)]
    [TestCase(5, 40, 16, 16, 36)]
    [TestCase(3, 33, 8, 64, 40)]
    public void Batch_SampleAloneAndFusedBiasRelu_SameBits(int n, int c, int h, int w, int k)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        float[] xs = rng.Normal(n * c * h * w), ws = rng.Normal(k * c * 9), gs = rng.Normal(n * k * h * w);
        float[] biases = rng.Normal(k);
        biases[0] = -0f;
        float[] y = Forward(Cpu, xs, ws, n, c, h, w, k), dx = BackwardData(Cpu, gs, ws, n, c, h, w, k);
        int xSample = c * h * w, ySample = k * h * w;
        for (int s = 0; s < n; s++)
        {
            float[] ys = Forward(Cpu, xs[(s * xSample)..((s + 1) * xSample)], ws, 1, c, h, w, k);
            Assert.That(y[(s * ySample)..((s + 1) * ySample)], Is.EqualTo(ys), $"forward, sample {s}");
            float[] dxs = BackwardData(Cpu, gs[(s * ySample)..((s + 1) * ySample)], ws, 1, c, h, w, k);
            Assert.That(dx[(s * xSample)..((s + 1) * xSample)], Is.EqualTo(dxs), $"data gradient, sample {s}");
        }
        using var x = Tensor.FromArray(Cpu, xs, n, c, h, w);
        using var wt = Tensor.FromArray(Cpu, ws, k, c, 3, 3);
        using var bias = Tensor.FromArray(Cpu, biases, k);
        using var fused = Tensor.Empty(Cpu, DType.Float32, n, k, h, w);
        Cpu.Conv2dBiasReluForward(P, x, wt, bias, fused);
        float[] got = fused.ToArray();
        for (int e = 0; e < got.Length; e++)
        {
            float want = Math.Max(y[e] + biases[e / (h * w) % k], 0f);
            if (BitConverter.SingleToInt32Bits(got[e]) != BitConverter.SingleToInt32Bits(want))
                Assert.Fail($"relu(y + b), element {e}: {got[e]:R} vs {want:R}");
        }
    }

    private static void AssertAccurate(double[] want, float[] got, float[] im2col, bool f4, string what)
    {
        double rms = Math.Sqrt(want.Sum(v => v * v) / want.Length), err = 0, baseline = 0;
        for (int i = 0; i < want.Length; i++)
        {
            err = Math.Max(err, Math.Abs(got[i] - want[i]));
            baseline = Math.Max(baseline, Math.Abs(im2col[i] - want[i]));
        }
        (err, baseline) = (err / rms, baseline / rms);
        TestContext.Out.WriteLine($"{what}: max error / RMS {err:E2} (im2col {baseline:E2})");
        var (bound, factor) = f4 ? (1e-4, 100) : (2e-5, 8);
        Assert.That(err, Is.LessThanOrEqualTo(bound), $"{what}: max error / RMS {err:E2}");
        Assert.That(err, Is.LessThanOrEqualTo(factor * baseline + 1e-6), $"{what}: {err:E2} against im2col's {baseline:E2}");
    }

    private static float[] Forward(IBackend be, float[] xs, float[] ws, int n, int c, int h, int w, int k)
    {
        using var x = Tensor.FromArray(be, xs, n, c, h, w);
        using var wt = Tensor.FromArray(be, ws, k, c, 3, 3);
        using var y = Tensor.Empty(be, DType.Float32, n, k, h, w);
        be.Conv2dForward(P, x, wt, y);
        return y.ToArray();
    }

    private static float[] BackwardData(IBackend be, float[] gs, float[] ws, int n, int c, int h, int w, int k)
    {
        using var dy = Tensor.FromArray(be, gs, n, k, h, w);
        using var wt = Tensor.FromArray(be, ws, k, c, 3, 3);
        using var dx = Tensor.Empty(be, DType.Float32, n, c, h, w);
        be.Conv2dBackwardData(P, dy, wt, dx);
        return dx.ToArray();
    }

    /// <summary>y[n, k, i, j] = Σ_c,a,b x[n, c, i − 1 + a, j − 1 + b]·w[k, c, a, b] in double (0 outside).</summary>
    private static double[] ReferenceForward(float[] x, float[] w, int n, int c, int h, int wd, int k)
    {
        var y = new double[n * k * h * wd];
        Parallel.For(0, n * k, nk =>
        {
            int s = nk / k, kk = nk % k;
            for (int i = 0; i < h; i++)
            for (int j = 0; j < wd; j++)
            {
                double sum = 0;
                for (int cc = 0; cc < c; cc++)
                for (int a = 0; a < 3; a++)
                for (int b = 0; b < 3; b++)
                {
                    int hi = i - 1 + a, wj = j - 1 + b;
                    if (hi < 0 || hi >= h || wj < 0 || wj >= wd) continue;
                    sum += (double)x[((s * c + cc) * h + hi) * wd + wj] * w[((kk * c + cc) * 3 + a) * 3 + b];
                }
                y[(nk * h + i) * wd + j] = sum;
            }
        });
        return y;
    }

    /// <summary>dx[n, c, i, j] = Σ_k,a,b dy[n, k, i + 1 − a, j + 1 − b]·w[k, c, a, b] in double (0 outside).</summary>
    private static double[] ReferenceBackwardData(float[] dy, float[] w, int n, int c, int h, int wd, int k)
    {
        var dx = new double[n * c * h * wd];
        Parallel.For(0, n * c, nc =>
        {
            int s = nc / c, cc = nc % c;
            for (int i = 0; i < h; i++)
            for (int j = 0; j < wd; j++)
            {
                double sum = 0;
                for (int kk = 0; kk < k; kk++)
                for (int a = 0; a < 3; a++)
                for (int b = 0; b < 3; b++)
                {
                    int oi = i + 1 - a, oj = j + 1 - b;
                    if (oi < 0 || oi >= h || oj < 0 || oj >= wd) continue;
                    sum += (double)dy[((s * k + kk) * h + oi) * wd + oj] * w[((kk * c + cc) * 3 + a) * 3 + b];
                }
                dx[(nc * h + i) * wd + j] = sum;
            }
        });
        return dx;
    }
}
