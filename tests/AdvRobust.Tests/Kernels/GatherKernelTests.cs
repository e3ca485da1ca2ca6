using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Kernels;

/// <summary>
/// kernels/gather.cu against its CPU twin (CpuBackend.Gather.cs) on seeded random inputs of awkward sizes, with
/// repeated and skipped (−1) indices. Each destination element sums its sources in index order on both sides, so the
/// results are bit-equal, not merely close. Shape letters: src N×D, index N, dst M×D.
/// </summary>
[TestFixture, Category("Gpu")]
public class GatherKernelTests
{
    private IBackend _gpu = null!;

    [SetUp]
    public void SetUp() => _gpu = Backends.CudaOrIgnore();

    [TestCase(1, 1, 1)]
    [TestCase(7, 3, 5)]
    [TestCase(33, 130, 17)]
    [TestCase(300, 40, 257)]
    [TestCase(129, 129, 512)]
    public void ScatterAddRows_RandomInput_GpuBitEqualToCpu(int n, int m, int d)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        float[] src = rng.Normal((long)n * d), dst = rng.Normal((long)m * d);
        int[] index = Enumerable.Range(0, n).Select(_ => rng.Next(-1, m)).ToArray();
        float[] cpu = Run(Backends.Cpu, src, index, dst, n, m, d);
        float[] gpu = Run(_gpu, src, index, dst, n, m, d);
        Assert.That(gpu.Select(BitConverter.SingleToInt32Bits), Is.EqualTo(cpu.Select(BitConverter.SingleToInt32Bits)),
            $"N={n} M={m} D={d}, seed {rng.Seed}");
    }

    private static float[] Run(IBackend backend, float[] src, int[] index, float[] dst, int n, int m, int d)
    {
        using var s = Tensor.FromArray(backend, src, n, d);
        using var i = Tensor.FromArray(backend, index, n);
        using var t = Tensor.FromArray(backend, dst, m, d);
        Ops.ScatterAddRows(s, i, t);
        return t.ToArray();
    }
}
