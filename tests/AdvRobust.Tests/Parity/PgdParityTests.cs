using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Parity;

/// <summary>kernels/pgd.cu against the CPU twins (CpuBackend.Pgd.cs). Shape letters: N samples of D values.</summary>
[TestFixture, Category("Gpu")]
public class PgdParityTests
{
    // N = 1, 7, 33, 130 samples; per-sample sizes 1, 3, 17, 777, 512 and 768 (a 3×16×16 image).
    private static readonly int[][] Shapes =
        [[1, 1], [7, 3], [33, 17], [7, 777], [33, 512], [130, 3, 16, 16], [130, 1]];
    private IBackend _gpu = null!;

    [SetUp]
    public void SetUp() => _gpu = Backends.CudaOrIgnore();

    [Test]
    public void PgdStep_RandomInput_GpuMatchesCpu([Values] PgdNorm norm, [ValueSource(nameof(Shapes))] int[] shape)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        int n = shape[0], total = shape.Aggregate(1, (a, b) => a * b), d = total / n;
        float[] x0 = rng.Uniform(total, 0f, 1f);
        float[] noise = rng.Uniform(total, -0.05f, 0.05f);
        float[] x = x0.Select((v, i) => v + noise[i]).ToArray();
        float[] g = rng.Normal(total);
        for (int i = 0; i < total; i += 7) g[i] = 0f;                   // sign(0) = 0
        if (n > 1) Array.Clear(g, d, d);                               // sample 1: zero gradient, no l2 step
        var p = norm == PgdNorm.Linf ? new PgdParams(2f / 255, 8f / 255) : new PgdParams(0.1f, 0.3f);

        float[] Run(IBackend backend)
        {
            using var tx = Tensor.FromArray(backend, x, shape);
            using var tx0 = Tensor.FromArray(backend, x0, shape);
            using var tg = Tensor.FromArray(backend, g, shape);
            Ops.PgdStep(norm, tx, tx0, tg, p);
            return tx.ToArray();
        }
        // l-inf is the same float arithmetic on both sides; l2 sums the norms in float on the GPU, and the offset
        // (at most eps = 0.3) inherits their relative rounding.
        double atol = norm == PgdNorm.Linf ? 1e-6 : 2e-5;
        string what = $"{norm} step {string.Join("x", shape)}, seed {rng.Seed}";
        AssertClose.All(Run(Backends.Cpu), Run(_gpu), atol, 0, what);
    }

    [Test]
    public void PgdRandomStart_RandomInput_GpuMatchesCpu([Values] PgdNorm norm,
        [ValueSource(nameof(Shapes))] int[] shape)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        int total = shape.Aggregate(1, (a, b) => a * b);
        float[] x0 = rng.Uniform(total, 0f, 1f);
        var p = new PgdParams(0f, norm == PgdNorm.Linf ? 8f / 255 : 0.5f);
        ulong seed = rng.NextUInt64();
        const uint stream = 2, firstSample = 4_000_000_000;             // global indices near the top of uint

        float[] Run(IBackend backend)
        {
            using var tx0 = Tensor.FromArray(backend, x0, shape);
            using var tx = Tensor.Zeros(backend, shape);
            Ops.PgdRandomStart(norm, tx, tx0, p, seed, stream, firstSample);
            return tx.ToArray();
        }
        // The Philox bits are identical; l-inf then differs by at most an FMA's rounding. The l2 direction goes
        // through the device logf/cosf/powf and a float norm: agreement to float rounding, scaled by eps.
        double atol = norm == PgdNorm.Linf ? 1e-6 : 2e-5;
        AssertClose.All(Run(Backends.Cpu), Run(_gpu), atol, 0, $"{norm} start {string.Join("x", shape)}, seed {seed}");
    }

    [TestCase(PgdNorm.Linf)]
    [TestCase(PgdNorm.L2)]
    public void PgdRandomStart_BatchSplitOnGpu_MatchesWholeBatchOnCpu(PgdNorm norm)
    {
        const int n = 64, half = 32, d = 37;
        var x0 = Enumerable.Repeat(0.5f, n * d).ToArray();
        var p = new PgdParams(0f, 0.3f);
        float[] Start(IBackend backend, int rows, uint firstSample)
        {
            using var tx0 = Tensor.FromArray(backend, x0[..(rows * d)], rows, d);
            using var tx = Tensor.Zeros(backend, rows, d);
            Ops.PgdRandomStart(norm, tx, tx0, p, seed: 99, stream: 3, firstSample);
            return tx.ToArray();
        }
        float[] split = Start(_gpu, half, 0).Concat(Start(_gpu, half, half)).ToArray();
        AssertClose.All(Start(Backends.Cpu, n, 0), split, norm == PgdNorm.Linf ? 1e-6 : 2e-5, 0, $"{norm} split");
    }
}
