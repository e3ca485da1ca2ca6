using System.Runtime.InteropServices;
using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Kernels;

/// <summary>
/// kernels/fab.cu and kernels/square.cu against their CPU twins (CpuBackend.Fab.cs, CpuBackend.Square.cs) on fresh
/// seeded random inputs of awkward sizes. Shape letters: N rows of D pixels (C×H×W for Square), K classes.
/// </summary>
[TestFixture, Category("Gpu")]
public class FabSquareParityTests
{
    private IBackend _gpu = null!;

    [SetUp]
    public void SetUp() => _gpu = Backends.CudaOrIgnore();

    private static SeededRandom Rng() => new(TestContext.CurrentContext.Test.FullName);

    private static int[] OtherLabels(SeededRandom rng, int[] y, int k) =>
        y.Select(v => (v + rng.Next(1, k)) % k).ToArray();

    // ---- FAB ----

    [Test]
    public void FabStep_RandomInput_GpuMatchesCpu([Values] PgdNorm norm,
        [Values(new[] { 1, 1, 2 }, new[] { 7, 17, 3 }, new[] { 13, 192, 10 }, new[] { 5, 777, 4 })] int[] shape)
    {
        var rng = Rng();
        int n = shape[0], d = shape[1], k = shape[2];
        float[] x0 = rng.Uniform(n * d, 0f, 1f);
        float[] x = x0.Zip(rng.Uniform(n * d, -0.2f, 0.2f), (a, b) => Math.Clamp(a + b, 0f, 1f)).ToArray();
        float[] g = rng.Normal(n * d);
        for (int i = 0; i < g.Length; i += 5) g[i] = 0f;                 // coordinates that never move
        float[] logits = rng.Normal(n * k, 2f);
        int[] y = rng.Labels(n, k), t = OtherLabels(rng, y, k);
        var p = new FabParams(norm, 0.1f, 1.05f, 0.9f);

        float[] Run(IBackend b)
        {
            using var tx = Tensor.FromArray(b, x, n, d);
            using var tx0 = Tensor.FromArray(b, x0, n, d);
            using var tg = Tensor.FromArray(b, g, n, d);
            using var tz = Tensor.FromArray(b, logits, n, k);
            using var ty = Tensor.FromArray(b, y, n);
            using var tt = Tensor.FromArray(b, t, n);
            Ops.FabStep(p, tx, tx0, tg, tz, ty, tt);
            return tx.ToArray();
        }
        // Both solve the projection in double (sorted breakpoints vs bisection): the level agrees to ~1e-12, and the
        // float results to a rounding step.
        AssertClose.All(Run(Backends.Cpu), Run(_gpu), 2e-6, 0, $"{norm} {string.Join("x", shape)} seed {rng.Seed}");
    }

    [Test]
    public void FabAccept_RandomInput_GpuMatchesCpu([Values] PgdNorm norm,
        [Values(new[] { 1, 1, 2 }, new[] { 9, 33, 3 }, new[] { 31, 300, 10 })] int[] shape)
    {
        var rng = Rng();
        int n = shape[0], d = shape[1], k = shape[2];
        float[] x0 = rng.Uniform(n * d, 0f, 1f), x = rng.Uniform(n * d, 0f, 1f), best = rng.Uniform(n * d, 0f, 1f);
        float[] logits = rng.Normal(n * k, 2f);
        int[] y = rng.Labels(n, k);
        int top = Enumerable.Range(0, k).MaxBy(j => logits[j]);
        y[0] = (top + 1) % k;                                             // row 0 misclassified, +∞ best: taken
        // Best norms: +∞ (none yet), tiny (never beaten) or in range.
        double[] bestNorm = Enumerable.Range(0, n)
            .Select(i => (i % 3) switch { 0 => double.PositiveInfinity, 1 => 1e-9, _ => rng.Uniform(1, 0f, 20f)[0] })
            .ToArray();
        var p = new FabParams(norm, 0.1f, 1.05f, 0.9f);

        (float[] X, float[] Best, double[] Norm) Run(IBackend b)
        {
            using var tx = Tensor.FromArray(b, x, n, d);
            using var tx0 = Tensor.FromArray(b, x0, n, d);
            using var tz = Tensor.FromArray(b, logits, n, k);
            using var ty = Tensor.FromArray(b, y, n);
            using var tb = Tensor.FromArray(b, best, n, d);
            using var tn = Tensor.FromArray(b, MemoryMarshal.Cast<double, float>(bestNorm).ToArray(), 2 * n);
            Ops.FabAccept(p, tx, tx0, tz, ty, tb, tn);
            return (tx.ToArray(), tb.ToArray(), MemoryMarshal.Cast<float, double>(tn.ToArray()).ToArray());
        }
        var cpu = Run(Backends.Cpu);
        var gpu = Run(_gpu);
        string what = $"{norm} {string.Join("x", shape)} seed {rng.Seed}";
        AssertClose.All(cpu.X, gpu.X, 1e-7, 0, what + " x");
        AssertClose.All(cpu.Best, gpu.Best, 0, 0, what + " best");
        for (int i = 0; i < n; i++)
            Assert.That(gpu.Norm[i], double.IsPositiveInfinity(cpu.Norm[i]) ? Is.EqualTo(cpu.Norm[i])
                : Is.EqualTo(cpu.Norm[i]).Within(1e-9 * (1 + cpu.Norm[i])), $"{what}: norm {i}");
        Assert.That(cpu.Best, Is.Not.EqualTo(best), "no row took a new best");
    }

    // ---- Square ----

    private static readonly int[][] SquareShapes =
        [[1, 1, 1, 1, 1], [7, 3, 5, 9, 3], [13, 1, 8, 8, 7], [5, 32, 4, 7, 2], [9, 3, 12, 10, 10]];

    [Test]
    public void SquareCandidates_RandomInput_GpuMatchesCpu([Values] PgdNorm norm,
        [ValueSource(nameof(SquareShapes))] int[] shape)
    {
        var rng = Rng();
        int n = shape[0], c = shape[1], h = shape[2], w = shape[3], s = shape[4], d = c * h * w;
        float eps = norm == PgdNorm.Linf ? 0.05f : 0.7f;
        float[] x0 = rng.Uniform(n * d, 0f, 1f);
        float[] best = x0.Zip(rng.Uniform(n * d, -eps / 4, eps / 4), (a, b) => Math.Clamp(a + b, 0f, 1f)).ToArray();
        float[] margin = rng.Uniform(n, -1f, 1f);
        margin[0] = 0.5f;
        if (n > 1) margin[1] = 0f;                                        // m ≤ 0: not attacked
        int[] ids = Enumerable.Range(0, n).Select(_ => (int)rng.NextUInt64()).ToArray();
        var p = new SquareParams(norm, eps, s, rng.Next(0, 5000), rng.NextUInt64(), (uint)rng.Next(0, 4));

        float[] Run(IBackend b)
        {
            using var tx0 = Tensor.FromArray(b, x0, n, c, h, w);
            using var tb = Tensor.FromArray(b, best, n, c, h, w);
            using var tm = Tensor.FromArray(b, margin, n);
            using var ti = Tensor.FromArray(b, ids, n);
            using var cand = Tensor.Empty(b, DType.Float32, n, c, h, w);
            Ops.SquareCandidates(p, tx0, tb, tm, ti, cand);
            return cand.ToArray();
        }
        float[] cpu = Run(Backends.Cpu);
        Assert.That(cpu, Is.Not.EqualTo(best), "some candidate should differ from best");
        // l-inf: the same float arithmetic; l2: both in double, summed in different orders.
        AssertClose.All(cpu, Run(_gpu), norm == PgdNorm.Linf ? 0 : 1e-6, 0,
            $"{norm} {string.Join("x", shape)} seed {rng.Seed}");
    }

    /// <summary>
    /// Queries whose index is read from the device counter and whose side the device derives from the p schedule
    /// (kernels/square.cu square_side): on both backends each candidate equals the fixed-argument candidate of that
    /// index with the host's side (Square.P, Square.Side / SquareL2.Side), bit for bit on the CPU, and the accept
    /// step advances the counter by one. Indices sit on both sides of the schedule's halvings, plain and rescaled.
    /// </summary>
    [Test]
    public void SquareCandidates_QueryFromDeviceCounter_EqualsHostSchedule([Values] PgdNorm norm,
        [Values] bool rescale,
        [Values(new[] { 3, 3, 8, 8 }, new[] { 2, 2, 13, 11 }, new[] { 2, 1, 32, 32 })] int[] shape)
    {
        var rng = Rng();
        int n = shape[0], c = shape[1], h = shape[2], w = shape[3], d = c * h * w, k = 3;
        float eps = norm == PgdNorm.Linf ? 0.05f : 0.7f;
        float[] x0 = rng.Uniform(n * d, 0f, 1f);
        float[] best = x0.Zip(rng.Uniform(n * d, -eps / 4, eps / 4), (a, b) => Math.Clamp(a + b, 0f, 1f)).ToArray();
        float[] margin = Enumerable.Repeat(0.5f, n).ToArray();
        int[] ids = Enumerable.Range(0, n).Select(_ => (int)rng.NextUInt64()).ToArray();
        var schedule = new SquareSchedule(0.8f, rescale ? 1200 : 10000, rescale);
        var fixedParams = new SquareParams(norm, eps, 0, 0, rng.NextUInt64(), (uint)rng.Next(0, 4));
        var counted = fixedParams with { Schedule = schedule };
        int[] queries = [0, 10, 11, 50, 51, 200, 201, 500, 501, 1000, 1001, 2000, 2001, 4001, 6001, 8001, 9999];
        if (rescale) queries = [0, 1, 2, 6, 7, 24, 25, 60, 61, 120, 121, 240, 241, 481, 721, 961, 1199];
        Assert.That(queries.Select(q => schedule.Side(norm, q, h, w)).Distinct().Count(), Is.GreaterThan(2),
            "the indices cover several sides");

        float[] Run(IBackend b, int q, bool fromCounter, out int after)
        {
            using var tx0 = Tensor.FromArray(b, x0, n, c, h, w);
            using var tb = Tensor.FromArray(b, best, n, c, h, w);
            using var tm = Tensor.FromArray(b, margin, n);
            using var ti = Tensor.FromArray(b, ids, n);
            using var counter = Tensor.FromArray(b, new[] { q }, 1);
            using var cand = Tensor.Empty(b, DType.Float32, n, c, h, w);
            if (fromCounter) Ops.SquareCandidates(counted, tx0, tb, tm, ti, counter, cand);
            else
                Ops.SquareCandidates(fixedParams with { Side = schedule.Side(norm, q, h, w), Query = q }, tx0, tb, tm,
                    ti, cand);
            float[] result = cand.ToArray();
            // The accept's bookkeeping has its own test (below); here: it advances the counter.
            using var tz = Tensor.FromArray(b, new float[n * k], n, k);
            using var ty = Tensor.FromArray(b, new int[n], n);
            using var tl = Tensor.FromArray(b, Enumerable.Repeat(-1f, n).ToArray(), n);
            Ops.SquareAccept(tz, ty, cand, tb, tm, tl, counter);
            after = counter.ToArray<int>()[0];
            return result;
        }
        foreach (int q in queries)
        {
            float[] host = Run(Backends.Cpu, q, fromCounter: false, out _);
            float[] cpu = Run(Backends.Cpu, q, fromCounter: true, out int cpuAfter);
            float[] gpu = Run(_gpu, q, fromCounter: true, out int gpuAfter);
            string what = $"{norm} rescale {rescale} {string.Join("x", shape)} query {q} seed {rng.Seed}";
            Assert.That(cpu, Is.EqualTo(host), $"{what}: CPU, counter against fixed arguments");
            AssertClose.All(host, gpu, norm == PgdNorm.Linf ? 0 : 1e-6, 0, $"{what}: GPU");
            Assert.That((cpuAfter, gpuAfter), Is.EqualTo((q + 1, q + 1)), $"{what}: the counter after the accept");
        }
    }

    [Test]
    public void SquareAccept_RandomInput_GpuMatchesCpu([Values(new[] { 1, 1, 2 }, new[] { 17, 75, 3 },
        new[] { 40, 192, 10 })] int[] shape)
    {
        var rng = Rng();
        int n = shape[0], d = shape[1], k = shape[2];
        float[] logits = rng.Normal(n * k, 2f), cand = rng.Uniform(n * d, 0f, 1f), best = rng.Uniform(n * d, 0f, 1f);
        int[] y = rng.Labels(n, k);
        float[] marginMin = rng.Uniform(n, -0.5f, 3f), lossMin = rng.Uniform(n, -1f, 3f);

        float[][] Run(IBackend b)
        {
            using var tz = Tensor.FromArray(b, logits, n, k);
            using var ty = Tensor.FromArray(b, y, n);
            using var tc = Tensor.FromArray(b, cand, n, d);
            using var tb = Tensor.FromArray(b, best, n, d);
            using var tm = Tensor.FromArray(b, marginMin, n);
            using var tl = Tensor.FromArray(b, lossMin, n);
            Ops.SquareAccept(tz, ty, tc, tb, tm, tl);
            return [tb.ToArray(), tm.ToArray(), tl.ToArray()];
        }
        float[][] cpu = Run(Backends.Cpu), gpu = Run(_gpu);
        string what = $"{string.Join("x", shape)} seed {rng.Seed}";
        for (int j = 0; j < 3; j++) AssertClose.All(cpu[j], gpu[j], 0, 0, $"{what} output {j}");
    }
}
