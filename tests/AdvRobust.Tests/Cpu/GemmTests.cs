using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Cpu;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Cpu;

/// <summary>
/// The blocked SGEMM against GemmReference (double accumulators). Sizes are awkward on purpose: 130×257×63 has
/// edge micro-tiles in both directions and two K blocks; 100×300×1100 has more than one tile along M and N.
/// </summary>
public class GemmTests
{
    private static IBackend Cpu => Backends.Cpu;

    private static readonly int[][] Sizes = [[1, 1, 1], [3, 5, 7], [17, 33, 65], [130, 257, 63], [100, 300, 1100]];

    /// <summary>Every micro-kernel, by name since the enum is internal; those the CPU lacks are ignored.</summary>
    private static readonly string[] Kernels = Enum.GetNames<SgemmKernel>();

    private static SeededRandom Rng() => new(TestContext.CurrentContext.Test.FullName);

    private static SgemmKernel Supported(string name)
    {
        var kernel = Enum.Parse<SgemmKernel>(name);
        if (!SgemmKernels.IsSupported(kernel)) Assert.Ignore($"this CPU cannot run the {kernel} SGEMM kernel");
        return kernel;
    }

    /// <summary>Rounding grows with the length K of each dot product; inputs are in [-1, 1].</summary>
    internal static double Atol(int k) => 2e-7 * k;

    /// <summary>Random A, B, C of the shapes op(A) m×k, op(B) k×n need, stored transposed where asked.</summary>
    internal static (float[] A, int[] ShapeA, float[] B, int[] ShapeB, float[] C) Inputs(SeededRandom rng,
        int m, int k, int n, bool transA, bool transB) =>
        (rng.Uniform(m * k), transA ? [k, m] : [m, k],
         rng.Uniform(k * n), transB ? [n, k] : [k, n],
         rng.Uniform(m * n));

    private static float[] Reference(float[] a, bool transA, float[] b, bool transB, float[] c,
        int m, int k, int n, float alpha, float beta)
    {
        var expected = (float[])c.Clone();
        GemmReference.Run(a, transA, b, transB, expected, m, n, k, alpha, beta);
        return expected;
    }

    private static float[] ThroughOps(float[] a, int[] shapeA, bool transA, float[] b, int[] shapeB, bool transB,
        float[] c, int m, int n, float alpha, float beta)
    {
        using var ta = Tensor.FromArray(Cpu, a, shapeA);
        using var tb = Tensor.FromArray(Cpu, b, shapeB);
        using var tc = Tensor.FromArray(Cpu, c, m, n);
        Ops.Gemm(ta, transA, tb, transB, tc, alpha, beta);
        return tc.ToArray();
    }

    [Test]
    public void Gemm_EveryTransposeAndSize_MatchesReference([Values] bool transA, [Values] bool transB,
        [ValueSource(nameof(Sizes))] int[] size)
    {
        int m = size[0], k = size[1], n = size[2];
        var (a, sa, b, sb, c) = Inputs(Rng(), m, k, n, transA, transB);
        var expected = Reference(a, transA, b, transB, c, m, k, n, 1f, 0f);
        var actual = ThroughOps(a, sa, transA, b, sb, transB, c, m, n, 1f, 0f);
        AssertClose.All(expected, actual, Atol(k), 1e-5, $"{m}x{k}x{n} transA={transA} transB={transB}");
    }

    [Test]
    public void Gemm_AlphaAndBeta_ScaleProductAndC([Values] bool transA, [Values] bool transB)
    {
        const int m = 17, k = 33, n = 65;
        var (a, sa, b, sb, c) = Inputs(Rng(), m, k, n, transA, transB);
        var expected = Reference(a, transA, b, transB, c, m, k, n, -0.7f, 1.3f);
        var actual = ThroughOps(a, sa, transA, b, sb, transB, c, m, n, -0.7f, 1.3f);
        AssertClose.All(expected, actual, Atol(k), 1e-5, "alpha=-0.7 beta=1.3");
    }

    [Test]
    public void Gemm_BetaZeroAndNaNInC_OverwritesC()
    {
        const int m = 130, k = 257, n = 63;
        var (a, sa, b, sb, _) = Inputs(Rng(), m, k, n, false, false);
        var c = Enumerable.Repeat(float.NaN, m * n).ToArray();
        var expected = Reference(a, false, b, false, c, m, k, n, 1f, 0f);
        var actual = ThroughOps(a, sa, false, b, sb, false, c, m, n, 1f, 0f);
        Assert.That(actual, Has.None.NaN);
        AssertClose.All(expected, actual, Atol(k), 1e-5, "beta=0 over NaN");
    }

    [Test]
    public void Gemm_AlphaZero_OnlyScalesC()
    {
        const int m = 7, k = 9, n = 20;
        var (a, sa, b, sb, c) = Inputs(Rng(), m, k, n, false, true);
        a[3] = float.NaN;
        var actual = ThroughOps(a, sa, false, b, sb, true, c, m, n, 0f, 2f);
        Assert.That(actual, Is.EqualTo(c.Select(v => 2f * v).ToArray()));
    }

    [Test]
    public void Gemm_EmptyInnerDimension_ScalesC()
    {
        using var a = Tensor.Empty(Cpu, DType.Float32, 3, 0);
        using var b = Tensor.Empty(Cpu, DType.Float32, 0, 4);
        using var c = Tensor.FromArray(Cpu, Enumerable.Repeat(float.NaN, 12).ToArray(), 3, 4);
        Ops.Gemm(a, false, b, false, c, 1f, 0f);
        Assert.That(c.ToArray(), Is.All.EqualTo(0f));
    }

    [Test]
    public void SgemmKernel_EveryTranspose_MatchesReference([ValueSource(nameof(Kernels))] string name,
        [Values] bool transA, [Values] bool transB)
    {
        var kernel = Supported(name);
        const int m = 130, k = 257, n = 63;
        var (a, _, b, _, c) = Inputs(Rng(), m, k, n, transA, transB);
        var expected = Reference(a, transA, b, transB, c, m, k, n, 0.5f, -1f);
        var actual = (float[])c.Clone();
        Sgemm.Run(a, transA, b, transB, actual, m, n, k, 0.5f, -1f, kernel);
        AssertClose.All(expected, actual, Atol(k), 1e-5, $"{kernel} kernel");
    }

    [Test]
    public void Sgemm_AnyThreadCount_SameBits([ValueSource(nameof(Kernels))] string name)
    {
        var kernel = Supported(name);
        // 1, 5 and 8 threads cut C into different tiles, so elements move between full and edge micro-tiles.
        const int m = 100, k = 300, n = 1100;
        var (a, _, b, _, c) = Inputs(Rng(), m, k, n, false, true);
        float[] Run(int threads)
        {
            var result = (float[])c.Clone();
            Sgemm.Run(a, false, b, true, result, m, n, k, 1f, 0.5f, kernel, threads);
            return result;
        }
        var one = Run(1);
        Assert.That(Run(5), Is.EqualTo(one));
        Assert.That(Run(8), Is.EqualTo(one));
    }
}
