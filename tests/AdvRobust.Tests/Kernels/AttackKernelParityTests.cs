using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Kernels;

/// <summary>kernels/attack.cu against its CPU twins (CpuBackend.Attack.cs) on seeded random inputs and state of awkward
/// sizes. Shape letters: N samples, K classes, M loss terms per sample, D values per sample.</summary>
[TestFixture, Category("Gpu")]
public class AttackKernelParityTests
{
    private IBackend _gpu = null!;

    [SetUp]
    public void SetUp() => _gpu = Backends.CudaOrIgnore();

    // (N, K, M, D): one sample, a class count past one block, several loss terms, a row past one block.
    private static readonly int[][] TrackShapes = [[1, 2, 1, 1], [7, 3, 1, 17], [33, 10, 4, 777], [130, 300, 1, 3],
        [5, 1000, 9, 256]];

    [Test]
    public void AttackTrack_RandomStateAndInput_GpuMatchesCpu([ValueSource(nameof(TrackShapes))] int[] shape,
        [Values] bool keepHighest, [Values] bool targeted, [Values] bool keepX)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        int n = shape[0], k = shape[1], m = shape[2], d = shape[3];
        float[] logits = rng.Normal(n * k);
        for (int i = 0; i < n; i += 3) logits[i * k + (k - 1)] = logits[i * k];   // ties go to the lower index
        float[] loss = rng.Normal(n * m);
        int[] labels = Ints(rng, n, k), targets = Ints(rng, n, k);
        float[] x = rng.Uniform(n * d, 0f, 1f), bestX = rng.Uniform(n * d, 0f, 1f);
        float[] bestLoss = rng.Normal(n);
        int[] set = Ints(rng, n, 2), success = Ints(rng, n, 2);
        for (int i = 0; i < n; i++) success[i] &= set[i];
        for (int i = 0; i < n; i += 4) bestLoss[i] = RowSum(loss, i, m); // equal losses: the earlier is kept

        object[] Run(IBackend b)
        {
            using var tLogits = Tensor.FromArray(b, logits, n, k);
            using var tLoss = Tensor.FromArray(b, loss, n, m);
            using var tLabels = Tensor.FromArray(b, labels, n);
            using var tTargets = Tensor.FromArray(b, targets, n);
            using var tx = Tensor.FromArray(b, x, n, d);
            using var best = new BestState(b, n, keepX ? tx : null);
            b.CopyIn(best.Loss.Storage, (ReadOnlySpan<float>)bestLoss);
            b.CopyIn(best.Set.Storage, (ReadOnlySpan<int>)set);
            b.CopyIn(best.Success.Storage, (ReadOnlySpan<int>)success);
            if (best.X is not null) b.CopyIn(best.X.Storage, (ReadOnlySpan<float>)bestX);
            Ops.AttackTrack(new AttackTrackParams(keepHighest), tLogits, tLoss, tLabels, targeted ? tTargets : null,
                tx, best);
            return [best.Loss.ToArray(), best.Current.ToArray(), best.Success.ToArray<int>(), best.Set.ToArray<int>(),
                best.Pending.ToArray<int>(), best.X?.ToArray() ?? []];
        }
        object[] cpu = Run(Backends.Cpu), gpu = Run(_gpu);
        string what = $"track {string.Join("x", shape)}, seed {rng.Seed}";
        // Thread 0 sums a row's terms left to right like the CPU, and the argmax is exact: every output is equal.
        for (int i = 0; i < cpu.Length; i++) Assert.That(gpu[i], Is.EqualTo(cpu[i]), $"{what}, output {i}");
    }

    private static readonly int[][] RowShapes = [[1, 1], [7, 3], [33, 17], [7, 777], [130, 3, 16, 16]];

    [Test]
    public void ApgdStep_RandomInput_GpuMatchesCpu([Values] PgdNorm norm, [ValueSource(nameof(RowShapes))] int[] shape,
        [Values(1f, 0.75f)] float momentum)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        int n = shape[0], total = shape.Aggregate(1, (a, b) => a * b);
        float eps = norm == PgdNorm.Linf ? 8f / 255 : 0.5f;
        float[] x0 = rng.Uniform(total, 0f, 1f);
        float[] x = x0.Select(v => Math.Clamp(v + rng.Uniform(1, -eps, eps)[0], 0f, 1f)).ToArray();
        float[] old = x0.Select(v => Math.Clamp(v + rng.Uniform(1, -eps, eps)[0], 0f, 1f)).ToArray();
        float[] g = rng.Normal(total);
        for (int i = 0; i < total; i += 5) g[i] = 0f;
        float[] step = rng.Uniform(n, 0f, 2f * eps);

        float[][] Run(IBackend b)
        {
            using var tx = Tensor.FromArray(b, x, shape);
            using var tx0 = Tensor.FromArray(b, x0, shape);
            using var tg = Tensor.FromArray(b, g, shape);
            using var s = new ApgdState(b, tx);
            b.CopyIn(s.XOld.Storage, (ReadOnlySpan<float>)old);
            b.CopyIn(s.Step.Storage, (ReadOnlySpan<float>)step);
            Ops.ApgdStep(norm, eps, momentum, tx, tx0, tg, s);
            return [tx.ToArray(), s.XOld.ToArray(), s.Z.ToArray()];
        }
        float[][] cpu = Run(Backends.Cpu), gpu = Run(_gpu);
        // l-inf is float arithmetic on both sides up to FMA contraction; l2 reduces its norms in float on the GPU.
        double atol = norm == PgdNorm.Linf ? 2e-6 : 2e-5;
        string what = $"{norm} apgd step {string.Join("x", shape)}, a = {momentum}, seed {rng.Seed}";
        for (int i = 0; i < cpu.Length; i++) AssertClose.All(cpu[i], gpu[i], atol, 0, $"{what}, output {i}");
    }

    [Test]
    public void ApgdSchedule_RandomState_GpuMatchesCpu([ValueSource(nameof(RowShapes))] int[] shape,
        [Values] bool checkpoint)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        int n = shape[0], total = shape.Aggregate(1, (a, b) => a * b);
        float[] x = rng.Uniform(total, 0f, 1f), g = rng.Normal(total);
        float[] xBest = rng.Uniform(total, 0f, 1f), gBest = rng.Normal(total);
        float[] loss = rng.Normal(n), best = rng.Normal(n), atCheck = rng.Normal(n), prev = rng.Normal(n);
        float[] step = rng.Uniform(n, 0.01f, 0.1f);
        float[] halved = Ints(rng, n, 2).Select(v => (float)v).ToArray();
        int[] increases = Ints(rng, n, 6);
        for (int i = 0; i < n; i += 3) atCheck[i] = best[i];                   // ≥ with equality
        const int window = 5;
        const float rho = 0.75f;

        object[] Run(IBackend b)
        {
            using var tx = Tensor.FromArray(b, x, shape);
            using var tg = Tensor.FromArray(b, g, shape);
            using var tLoss = Tensor.FromArray(b, loss, n);
            using var s = new ApgdState(b, tx);
            b.CopyIn(s.XBest.Storage, (ReadOnlySpan<float>)xBest);
            b.CopyIn(s.GradBest.Storage, (ReadOnlySpan<float>)gBest);
            b.CopyIn(s.LossBest.Storage, (ReadOnlySpan<float>)best);
            b.CopyIn(s.BestAtCheck.Storage, (ReadOnlySpan<float>)atCheck);
            b.CopyIn(s.LossPrev.Storage, (ReadOnlySpan<float>)prev);
            b.CopyIn(s.Step.Storage, (ReadOnlySpan<float>)step);
            b.CopyIn(s.HalvedLast.Storage, (ReadOnlySpan<float>)halved);
            b.CopyIn(s.Increases.Storage, (ReadOnlySpan<int>)increases);
            Ops.ApgdSchedule(new ApgdScheduleParams(checkpoint, window, rho), tLoss, tx, tg, s);
            return [tx.ToArray(), tg.ToArray(), s.XBest.ToArray(), s.GradBest.ToArray(), s.Step.ToArray(),
                s.LossBest.ToArray(), s.BestAtCheck.ToArray(), s.LossPrev.ToArray(), s.HalvedLast.ToArray(),
                s.Increases.ToArray<int>()];
        }
        object[] cpu = Run(Backends.Cpu), gpu = Run(_gpu);
        // Comparisons, copies and halving only: every output is equal.
        for (int i = 0; i < cpu.Length; i++)
            Assert.That(gpu[i], Is.EqualTo(cpu[i]), $"schedule {string.Join("x", shape)}, seed {rng.Seed}, output {i}");
    }

    private static int[] Ints(SeededRandom rng, int n, int bound) => rng.Labels(n, bound);

    /// <summary>The twin's row sum: the value itself for one term, else left to right from 0 in float.</summary>
    private static float RowSum(float[] a, int i, int m)
    {
        if (m == 1) return a[i];
        float sum = 0f;
        for (int j = 0; j < m; j++) sum += a[i * m + j];
        return sum;
    }
}
