using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;
using static AdvRobust.Tests.Cpu.GemmTests;

namespace AdvRobust.Tests.Parity;

/// <summary>The CUDA backend's GEMM (cuBLAS SGEMM, TF32 off) against the CPU SGEMM on the same inputs.</summary>
[TestFixture, Category("Gpu")]
public class GemmParityTests
{
    private static readonly int[][] Sizes =
        [[1, 1, 1], [3, 5, 7], [17, 33, 65], [130, 257, 63], [100, 300, 1100], [64, 800, 4096]];

    private IBackend _gpu = null!;

    [SetUp]
    public void SetUp() => _gpu = Backends.CudaOrIgnore();

    private static SeededRandom Rng() => new(TestContext.CurrentContext.Test.FullName);

    private static float[] Run(IBackend be, float[] a, int[] shapeA, bool transA, float[] b, int[] shapeB, bool transB,
        float[] c, int m, int n, float alpha, float beta)
    {
        using var ta = Tensor.FromArray(be, a, shapeA);
        using var tb = Tensor.FromArray(be, b, shapeB);
        using var tc = Tensor.FromArray(be, c, m, n);
        Ops.Gemm(ta, transA, tb, transB, tc, alpha, beta);
        return tc.ToArray();
    }

    [Test]
    public void Gemm_EveryTransposeAndSize_GpuMatchesCpu([Values] bool transA, [Values] bool transB,
        [ValueSource(nameof(Sizes))] int[] size)
    {
        int m = size[0], k = size[1], n = size[2];
        var (a, sa, b, sb, c) = Inputs(Rng(), m, k, n, transA, transB);
        AssertClose.All(Run(Backends.Cpu, a, sa, transA, b, sb, transB, c, m, n, 0.5f, -1.25f),
            Run(_gpu, a, sa, transA, b, sb, transB, c, m, n, 0.5f, -1.25f),
            2 * Atol(k), 1e-5, $"{m}x{k}x{n} transA={transA} transB={transB}");
    }

    [Test]
    public void Gemm_BetaZeroAndNaNInC_GpuMatchesCpu()
    {
        const int m = 130, k = 257, n = 63;
        var (a, sa, b, sb, _) = Inputs(Rng(), m, k, n, true, false);
        var c = Enumerable.Repeat(float.NaN, m * n).ToArray();
        var gpu = Run(_gpu, a, sa, true, b, sb, false, c, m, n, 1f, 0f);
        Assert.That(gpu, Has.None.NaN);
        AssertClose.All(Run(Backends.Cpu, a, sa, true, b, sb, false, c, m, n, 1f, 0f), gpu, 2 * Atol(k), 1e-5,
            "beta=0 over NaN");
    }
}
