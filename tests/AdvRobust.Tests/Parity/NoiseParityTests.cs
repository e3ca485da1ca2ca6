using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Parity;

/// <summary>
/// kernels/noise.cu against the CPU twin (CpuBackend.Noise.cs). The Philox bits are identical on both sides; the normal
/// goes through the device logf/cosf/sqrtf (|z| ≤ √(2·24·ln 2) ≈ 5.8, a few ulp each), so values agree to float
/// rounding scaled by σ·|z|. Shape letters: y N×..., x the same or one row.
/// </summary>
[TestFixture, Category("Gpu")]
public class NoiseParityTests
{
    private const double Atol = 1e-5;
    private IBackend _gpu = null!;

    [SetUp]
    public void SetUp() => _gpu = Backends.CudaOrIgnore();

    // N = 1, 7, 33, 257 samples; per-sample sizes 1, 3, 17, 777 and 784 (a 1×28×28 image), 3072 (3×32×32).
    private static readonly int[][] Shapes =
        [[1, 1], [7, 3], [33, 17], [7, 777], [257, 1, 28, 28], [33, 3, 32, 32]];

    [Test]
    public void GaussianNoise_RandomBatch_GpuMatchesCpu([ValueSource(nameof(Shapes))] int[] shape, [Values] bool replicate)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        int total = shape.Aggregate(1, (a, b) => a * b), d = total / shape[0];
        int[] xShape = replicate ? [1, .. shape[1..]] : shape;
        float[] x = rng.Uniform(replicate ? d : total, 0f, 1f);
        ulong seed = rng.NextUInt64();
        const uint stream = 6, firstSample = 4_000_000_000;             // global indices near the top of uint
        float[] Run(IBackend backend)
        {
            using var tx = Tensor.FromArray(backend, x, xShape);
            using var ty = Tensor.Zeros(backend, shape);
            Ops.GaussianNoise(tx, ty, 0.5f, seed, stream, firstSample);
            return ty.ToArray();
        }
        AssertClose.All(Run(Backends.Cpu), Run(_gpu), Atol, 0, $"noise {string.Join("x", shape)}, seed {seed}");
    }

    [Test]
    public void GaussianNoise_SampleIdTensorInPlace_GpuMatchesCpu()
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        const int n = 19, d = 45;
        float[] x = rng.Uniform(n * d, 0f, 1f);
        int[] ids = Enumerable.Range(0, n).Select(i => unchecked((int)(3_000_000_000u + (uint)(i * 7919 % 101)))).ToArray();
        float[] Run(IBackend backend)
        {
            using var tx = Tensor.FromArray(backend, x, n, d);
            using var tids = Tensor.FromArray(backend, ids, n);
            Ops.GaussianNoise(tx, tx, 0.25f, seed: 5, stream: 1, tids);
            return tx.ToArray();
        }
        AssertClose.All(Run(Backends.Cpu), Run(_gpu), Atol, 0, "noise with sample ids, in place");
    }

    [Test]
    public void GaussianNoise_BatchSplitOnGpu_MatchesWholeBatchOnCpu()
    {
        const int n = 1000, d = 31;
        float[] x = new SeededRandom(TestContext.CurrentContext.Test.FullName).Uniform(d, 0f, 1f);
        float[] Copies(IBackend backend, int rows, uint first)
        {
            using var tx = Tensor.FromArray(backend, x, 1, d);
            using var ty = Tensor.Empty(backend, DType.Float32, rows, d);
            Ops.GaussianNoise(tx, ty, 1f, seed: 42, stream: 17, first);
            return ty.ToArray();
        }
        float[] split = Copies(_gpu, 300, 100).Concat(Copies(_gpu, 700, 400)).ToArray();
        AssertClose.All(Copies(Backends.Cpu, n, 100), split, 2 * Atol, 0, "noise split");
    }
}
