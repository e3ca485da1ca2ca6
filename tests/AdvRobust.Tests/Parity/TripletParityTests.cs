using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Cpu;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Parity;

/// <summary>
/// kernels/triplet.cu against the CPU twins (CpuBackend.Triplet.cs). Shape letters: anchors N×D, pool M×D; the loss
/// takes row-aligned A, P, Q (N×D). Mining compares indices exactly except at near-ties (see AssertMinedAgree).
/// </summary>
[TestFixture, Category("Gpu")]
public class TripletParityTests
{
    private static readonly DistanceKind[] MiningDistances =
        [DistanceKind.SquaredEuclidean, DistanceKind.Euclidean, DistanceKind.Angular];

    // (N, M, D, ExcludeSelf): ExcludeSelf mines a set against itself. 65 and 130 cross the 64-anchor tiles.
    private static readonly (int N, int M, int D, bool Self)[] MiningSizes =
    [
        (1, 1, 1, true), (7, 7, 3, true), (33, 130, 17, false), (130, 130, 512, true), (65, 33, 777, false),
        (130, 7, 1, false),
    ];

    private IBackend _gpu = null!;

    [SetUp]
    public void SetUp() => _gpu = Backends.CudaOrIgnore();

    private static IEnumerable<TestCaseData> MiningCases() =>
        from mining in Enum.GetValues<MiningKind>()
        from kind in MiningDistances
        from s in MiningSizes
        select new TestCaseData(mining, kind, s.N, s.M, s.D, s.Self);

    [TestCaseSource(nameof(MiningCases))]
    public void MineTriplets_RandomInput_GpuMatchesCpu(MiningKind mining, DistanceKind kind, int n, int m, int d,
        bool excludeSelf)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        float[] pool = rng.Normal(m * d);
        int[] poolLabels = rng.Labels(m, 5);
        float[] anchors = excludeSelf ? pool : rng.Normal(n * d);
        int[] anchorLabels = excludeSelf ? poolLabels : rng.Labels(n, 5);
        var p = new MiningParams(mining, kind, excludeSelf);
        var cpu = Mine(Backends.Cpu, p, anchors, anchorLabels, pool, poolLabels, d);
        var gpu = Mine(_gpu, p, anchors, anchorLabels, pool, poolLabels, d);
        string what = $"N={n} M={m} D={d}, seed {rng.Seed}";
        AssertMinedAgree(p, cpu, gpu, anchors, anchorLabels, pool, poolLabels, d, null, what);
    }

    [TestCase(MiningKind.BatchHard, DistanceKind.SquaredEuclidean)]
    [TestCase(MiningKind.BatchHard, DistanceKind.Euclidean)]
    [TestCase(MiningKind.SemiHard, DistanceKind.SquaredEuclidean)]
    [TestCase(MiningKind.SemiHard, DistanceKind.Euclidean)]
    public void MineTriplets_IntegerInputsWithTies_GpuMatchesCpuExactly(MiningKind mining, DistanceKind kind)
    {
        // Coordinates in {-2..2}: every squared distance and norm is a small integer, exact in float on both sides,
        // and sqrt is correctly rounded on both, so ties are exact and must go to the same (lowest) index.
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        const int m = 130, d = 3;
        float[] pool = Enumerable.Range(0, m * d).Select(_ => (float)rng.Next(-2, 3)).ToArray();
        int[] labels = rng.Labels(m, 4);
        foreach (bool excludeSelf in new[] { false, true })
        {
            var p = new MiningParams(mining, kind, excludeSelf);
            var cpu = Mine(Backends.Cpu, p, pool, labels, pool, labels, d);
            var gpu = Mine(_gpu, p, pool, labels, pool, labels, d);
            Assert.That(gpu.Pos, Is.EqualTo(cpu.Pos), $"positives, {p}");
            Assert.That(gpu.Neg, Is.EqualTo(cpu.Neg), $"negatives, {p}");
            Assert.That(gpu.DPos, Is.EqualTo(cpu.DPos), $"positive distances, {p}");
            Assert.That(gpu.DNeg, Is.EqualTo(cpu.DNeg), $"negative distances, {p}");
        }
    }

    // The real case, N = M = 65536 (2.2 TFLOP of distances), is for a GPU; the CUDA emulator runs every thread on the
    // CPU, so it gets an emulator-sized pool that still spans many tiles and a ragged last one.
    [TestCase(65536)]
    [TestCase(1000)]
    public void MineTriplets_LargePool_SampledAnchorsMatchCpu(int n)
    {
        if (n > 4096 && AdvRobust.Cuda.Interop.NativeLibraries.EmulatorSelected)
            Assert.Ignore($"a {n}-row pool takes hours on the CUDA emulator; its 1000-row case runs there instead");
        // N = M = n, D = 512 on the GPU; the CPU reference mines only 64 sampled anchors against the full pool.
        const int d = 512, sampled = 64;
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        float[] rows = rng.Normal((long)n * d);
        int[] labels = rng.Labels(n, 10);
        var p = new MiningParams(MiningKind.BatchHard, DistanceKind.Angular, ExcludeSelf: true);
        var gpuAll = Mine(_gpu, p, rows, labels, rows, labels, d);

        int[] sample = Enumerable.Range(0, sampled).Select(_ => rng.Next(0, n)).ToArray();
        var cpu = MineSubsetOnCpu(p, rows, labels, d, sample);
        var gpu = new MinedArrays([.. sample.Select(i => gpuAll.Pos[i])], [.. sample.Select(i => gpuAll.DPos[i])],
            [.. sample.Select(i => gpuAll.Neg[i])], [.. sample.Select(i => gpuAll.DNeg[i])]);
        float[] sampleRows = Gather(rows, d, sample);
        int[] sampleLabels = sample.Select(i => labels[i]).ToArray();
        string what = $"{n} pool, seed {rng.Seed}";
        AssertMinedAgree(p, cpu, gpu, sampleRows, sampleLabels, rows, labels, d, sample, what);
    }

    private static readonly (int N, int D)[] LossSizes = [(1, 1), (7, 3), (33, 17), (130, 512), (33, 777), (130, 1)];

    private static IEnumerable<TestCaseData> LossCases() =>
        from kind in MiningDistances
        from s in LossSizes
        select new TestCaseData(kind, s.N, s.D);

    [TestCaseSource(nameof(LossCases))]
    public void TripletLossAndBackward_RandomInput_GpuMatchesCpu(DistanceKind kind, int n, int d)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        float[] a = rng.Normal(n * d), pos = rng.Normal(n * d), neg = rng.Normal(n * d);
        float[] gl = rng.Uniform(n, 0.5f, 1.5f);
        float[] dap = Diagonal(kind, a, pos, n, d), dan = Diagonal(kind, a, neg, n, d);
        // A margin that makes about half of the rows active (the one row when N = 1). Rows whose hinge is within 1e-3
        // of the kink, or whose distances sit on a kink of their own (zero Euclidean distance, cosine 0), get no
        // upstream gradient.
        float[] sortedGap = dap.Zip(dan, (x, y) => x - y).OrderBy(v => v).ToArray();
        float margin = n == 1 ? 0.5f - sortedGap[0] : -sortedGap[n / 2];
        float[] eu1 = Diagonal(DistanceKind.Euclidean, a, pos, n, d);
        float[] eu2 = Diagonal(DistanceKind.Euclidean, a, neg, n, d);
        float[] c1 = Diagonal(DistanceKind.Cosine, a, pos, n, d), c2 = Diagonal(DistanceKind.Cosine, a, neg, n, d);
        double scale = 1 + dap.Concat(dan).Max(Math.Abs);
        for (int i = 0; i < n; i++)
        {
            bool kink = Math.Abs(dap[i] - dan[i] + margin) < 1e-3 * scale || Math.Min(eu1[i], eu2[i]) < 0.3f ||
                        Math.Min(Math.Abs(c1[i]), Math.Abs(c2[i])) < 1e-3f;
            if (kink) gl[i] = 0f;
        }

        float[] Loss(IBackend backend)
        {
            using var ta = Tensor.FromArray(backend, a, n, d);
            using var tp = Tensor.FromArray(backend, pos, n, d);
            using var tq = Tensor.FromArray(backend, neg, n, d);
            using var loss = Tensor.Zeros(backend, n);
            Ops.TripletLoss(kind, margin, ta, tp, tq, loss);
            return loss.ToArray();
        }
        float[][] Grads(IBackend backend)
        {
            using var ta = Tensor.FromArray(backend, a, n, d);
            using var tp = Tensor.FromArray(backend, pos, n, d);
            using var tq = Tensor.FromArray(backend, neg, n, d);
            using var tgl = Tensor.FromArray(backend, gl, n);
            using var gA = Tensor.Zeros(backend, n, d);
            using var gP = Tensor.Zeros(backend, n, d);
            using var gQ = Tensor.Zeros(backend, n, d);
            Ops.TripletLossBackward(kind, margin, ta, tp, tq, tgl, gA, gP, gQ);
            return [gA.ToArray(), gP.ToArray(), gQ.ToArray()];
        }
        string what = $"{kind} N={n} D={d} margin {margin}, seed {rng.Seed}";
        // Row distances are summed directly in float on the GPU (no cancellation): a few ulps of the largest one.
        AssertClose.All(Loss(Backends.Cpu), Loss(_gpu), 1e-5 * scale, 1e-5, $"loss {what}");
        float[][] cpu = Grads(Backends.Cpu), gpu = Grads(_gpu);
        string[] names = ["dA", "dP", "dQ"];
        for (int t = 0; t < 3; t++)
            AssertClose.All(cpu[t], gpu[t], 1e-4 * cpu[t].Append(0f).Max(Math.Abs) + 1e-6, 1e-3, $"{names[t]} {what}");
    }

    [TestCase(1, 1, 1)]
    [TestCase(33, 130, 777)]
    [TestCase(130, 7, 3)]
    public void GatherRows_RandomIndices_GpuMatchesCpuExactly(int n, int m, int d)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        float[] src = rng.Normal(m * d);
        int[] index = Enumerable.Range(0, n).Select(i => i % 5 == 1 ? -1 : rng.Next(0, m)).ToArray();
        float[] Run(IBackend backend)
        {
            using var ts = Tensor.FromArray(backend, src, m, d);
            using var ti = Tensor.FromArray(backend, index, n);
            using var dst = Tensor.FromArray(backend, Enumerable.Repeat(7f, n * d).ToArray(), n, d);
            Ops.GatherRows(ts, ti, dst);
            return dst.ToArray();
        }
        Assert.That(Run(_gpu), Is.EqualTo(Run(Backends.Cpu)));
    }

    // ---- helpers ----

    private sealed record MinedArrays(int[] Pos, float[] DPos, int[] Neg, float[] DNeg);

    private static MinedArrays Mine(IBackend backend, MiningParams p, float[] anchors, int[] anchorLabels,
        float[] pool, int[] poolLabels, int d)
    {
        using var ta = Tensor.FromArray(backend, anchors, anchorLabels.Length, d);
        using var tal = Tensor.FromArray(backend, anchorLabels, anchorLabels.Length);
        using var tp = Tensor.FromArray(backend, pool, poolLabels.Length, d);
        using var tpl = Tensor.FromArray(backend, poolLabels, poolLabels.Length);
        using var mined = Ops.MineTriplets(p, ta, tal, tp, tpl);
        return ToArrays(mined);
    }

    /// <summary>CPU mining of the anchors that are pool rows <paramref name="anchorRows"/>, against all rows.</summary>
    private static MinedArrays MineSubsetOnCpu(MiningParams p, float[] pool, int[] poolLabels, int d, int[] anchorRows)
    {
        var cpu = CpuBackend.Instance;
        using var ta = Tensor.FromArray(cpu, Gather(pool, d, anchorRows), anchorRows.Length, d);
        using var tal = Tensor.FromArray(cpu, anchorRows.Select(i => poolLabels[i]).ToArray(), anchorRows.Length);
        using var tp = Tensor.FromArray(cpu, pool, poolLabels.Length, d);
        using var tpl = Tensor.FromArray(cpu, poolLabels, poolLabels.Length);
        using var mined = new MinedTriplets(cpu, anchorRows.Length);
        cpu.MineTripletsForRows(p, ta, tal, tp, tpl, anchorRows, mined);
        return ToArrays(mined);
    }

    private static MinedArrays ToArrays(MinedTriplets mined) => new(mined.PositiveIndex.ToArray<int>(),
        mined.PositiveDistance.ToArray(), mined.NegativeIndex.ToArray<int>(), mined.NegativeDistance.ToArray());

    private static float[] Gather(float[] rows, int d, int[] which) =>
        which.SelectMany(i => rows.AsSpan(i * d, d).ToArray()).ToArray();

    /// <summary>
    /// Per anchor: a GPU index must be a valid candidate (right label, not the anchor itself) and either equal the
    /// CPU's or be a near-tie: the CPU's own distance to it within tolerance of the CPU's best. For SemiHard a choice
    /// within tolerance of d_ap is accepted too, since rounding decides whether such a negative counts as farther
    /// than the positive. The reported distances must agree within tolerance wherever the choice is not ambiguous.
    /// </summary>
    private static void AssertMinedAgree(MiningParams p, MinedArrays cpu, MinedArrays gpu, float[] anchors,
        int[] anchorLabels, float[] pool, int[] poolLabels, int d, int[]? selfRows, string what)
    {
        int n = anchorLabels.Length, m = poolLabels.Length;
        using var ta = Tensor.FromArray(Backends.Cpu, anchors, n, d);
        using var tp = Tensor.FromArray(Backends.Cpu, pool, m, d);
        using var distances = Ops.PairwiseDistance(p.Distance, ta, tp);
        float[] dist = distances.ToArray();
        var (atol, rtol) = DistanceTolerance.For(p.Distance, DistanceTolerance.MaxNorm2(anchors, d),
            DistanceTolerance.MaxNorm2(pool, d));
        bool Close(double x, double y) => Math.Abs(x - y) <= atol + rtol * Math.Abs(y);

        for (int i = 0; i < n; i++)
        {
            int self = p.ExcludeSelf ? selfRows?[i] ?? i : -1;
            string at = $"anchor {i}, {p}, {what}";
            bool Valid(int j, bool positive) =>
                j >= 0 && j < m && j != self && (poolLabels[j] == anchorLabels[i]) == positive;

            if (cpu.Pos[i] < 0)
            {
                Assert.That((gpu.Pos[i], gpu.DPos[i]), Is.EqualTo((-1, 0f)), $"no positive, {at}");
            }
            else
            {
                Assert.That(Valid(gpu.Pos[i], true), $"GPU positive {gpu.Pos[i]} is not a positive, {at}");
                Assert.That(Close(dist[i * m + gpu.Pos[i]], cpu.DPos[i]),
                    $"GPU positive {gpu.Pos[i]} vs CPU {cpu.Pos[i]}: not a near-tie, {at}");
                Assert.That(Close(gpu.DPos[i], cpu.DPos[i]), $"positive distance {gpu.DPos[i]} vs {cpu.DPos[i]}, {at}");
            }

            if (cpu.Neg[i] < 0)
            {
                Assert.That((gpu.Neg[i], gpu.DNeg[i]), Is.EqualTo((-1, 0f)), $"no negative, {at}");
                continue;
            }
            Assert.That(Valid(gpu.Neg[i], false), $"GPU negative {gpu.Neg[i]} is not a negative, {at}");
            double dGpuChoice = dist[i * m + gpu.Neg[i]];
            bool ambiguous = p.Kind == MiningKind.SemiHard &&
                             (Close(dGpuChoice, cpu.DPos[i]) || Close(cpu.DNeg[i], cpu.DPos[i]));
            if (ambiguous) continue;
            Assert.That(Close(dGpuChoice, cpu.DNeg[i]),
                $"GPU negative {gpu.Neg[i]} vs CPU {cpu.Neg[i]}: not a near-tie, {at}");
            Assert.That(Close(gpu.DNeg[i], cpu.DNeg[i]), $"negative distance {gpu.DNeg[i]} vs {cpu.DNeg[i]}, {at}");
        }
    }

    private static float[] Diagonal(DistanceKind kind, float[] a, float[] b, int n, int d)
    {
        using var ta = Tensor.FromArray(Backends.Cpu, a, n, d);
        using var tb = Tensor.FromArray(Backends.Cpu, b, n, d);
        using var dist = Ops.PairwiseDistance(kind, ta, tb);
        float[] all = dist.ToArray();
        return Enumerable.Range(0, n).Select(i => all[i * n + i]).ToArray();
    }
}
