using System.Diagnostics;
using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Metric;

// CPU triplet mining and GatherRows (CpuBackend.Triplet.cs). Shape letters: anchors A N×D with N labels, pool P M×D
// with M labels. The reference below builds the full N×M matrix with PairwiseDistance and sorts the masked
// candidates (distance, then index), an independent formulation of the kernel's in-order scan.
public class TripletMiningTests
{
    private static IBackend Cpu => Backends.Cpu;

    private static readonly DistanceKind[] MiningDistances =
        [DistanceKind.SquaredEuclidean, DistanceKind.Euclidean, DistanceKind.Angular];

    [TestCase(MiningKind.BatchHard, false, 37, 53)]
    [TestCase(MiningKind.SemiHard, false, 37, 53)]
    [TestCase(MiningKind.BatchHard, true, 50, 50)]
    [TestCase(MiningKind.SemiHard, true, 50, 50)]
    public void MineTriplets_RandomInput_MatchesBruteForce(MiningKind mining, bool excludeSelf, int n, int m)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        const int d = 8;
        float[] pool = rng.Normal(m * d);
        int[] poolLabels = rng.Labels(m, 5);
        float[] anchors = excludeSelf ? pool : rng.Normal(n * d);
        int[] anchorLabels = excludeSelf ? poolLabels : rng.Labels(n, 5);
        foreach (var kind in MiningDistances)
        {
            var p = new MiningParams(mining, kind, excludeSelf);
            AssertMatchesBruteForce(p, anchors, anchorLabels, pool, poolLabels, d);
        }
    }

    [TestCase(MiningKind.BatchHard)]
    [TestCase(MiningKind.SemiHard)]
    public void MineTriplets_IntegerInputsWithDuplicates_TiesGoToLowestIndex(MiningKind mining)
    {
        // Coordinates in {-1, 0, 1} and D = 2: many exact duplicates and exactly equal distances.
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        const int m = 40, d = 2;
        float[] pool = Enumerable.Range(0, m * d).Select(_ => (float)rng.Next(-1, 2)).ToArray();
        int[] labels = rng.Labels(m, 3);
        foreach (var kind in MiningDistances)
        foreach (bool excludeSelf in new[] { false, true })
            AssertMatchesBruteForce(new MiningParams(mining, kind, excludeSelf), pool, labels, pool, labels, d);
    }

    [Test]
    public void MineTriplets_HandTies_PickLowestIndex()
    {
        // Anchor (0,0), label 0. Positives j0 (3,0) and j1 (0,3) tie at 9, j2 (1,1) at 2; negatives j3 (0,2),
        // j4 (2,0) and its duplicate j5 (2,0) tie at 4, j6 (4,0) at 16.
        float[] pool = [3, 0, 0, 3, 1, 1, 0, 2, 2, 0, 2, 0, 4, 0];
        int[] labels = [0, 0, 0, 1, 1, 1, 1];
        var p = new MiningParams(MiningKind.BatchHard, DistanceKind.SquaredEuclidean);
        Assert.That(Mine(p, [0, 0], [0], pool, labels, 2), Is.EqualTo(new Mined(0, 9, 3, 4)));
        var semi = p with { Kind = MiningKind.SemiHard };
        Assert.That(Mine(semi, [0, 0], [0], pool, labels, 2), Is.EqualTo(new Mined(0, 9, 6, 16)));
    }

    [Test]
    public void MineTriplets_SemiHard_TakesNearestNegativeBeyondThePositive()
    {
        // 1-D, anchor 0, Euclidean: positive j0 at 2; negatives at 1, 3 (j2), 2 (= d_ap, not beyond), 5, 3 (j5).
        float[] pool = [2, 1, -3, 2, 5, 3];
        int[] labels = [0, 1, 1, 1, 1, 1];
        var p = new MiningParams(MiningKind.SemiHard, DistanceKind.Euclidean);
        Assert.That(Mine(p, [0], [0], pool, labels, 1), Is.EqualTo(new Mined(0, 2, 2, 3)));
        var hard = p with { Kind = MiningKind.BatchHard };
        Assert.That(Mine(hard, [0], [0], pool, labels, 1), Is.EqualTo(new Mined(0, 2, 1, 1)));
    }

    [Test]
    public void MineTriplets_SemiHardNoNegativeBeyond_FallsBackToFarthestNegative()
    {
        // Positive j0 at 4; negatives at 1, 3, 3, 4 (j4) and 4 (j5): none beyond 4, so the farthest, lowest index.
        float[] pool = [4, 1, -3, 3, 4, -4];
        int[] labels = [0, 1, 1, 1, 1, 1];
        var p = new MiningParams(MiningKind.SemiHard, DistanceKind.Euclidean);
        Assert.That(Mine(p, [0], [0], pool, labels, 1), Is.EqualTo(new Mined(0, 4, 4, 4)));
    }

    [Test]
    public void MineTriplets_SemiHardWithoutPositive_UsesZeroAsPositiveDistance()
    {
        // No positive: d_ap is taken as 0 (the reported PositiveDistance), so the duplicate negative at 0 is skipped.
        float[] pool = [0, 2, 1];
        int[] labels = [1, 1, 1];
        var p = new MiningParams(MiningKind.SemiHard, DistanceKind.Euclidean);
        Assert.That(Mine(p, [0], [0], pool, labels, 1), Is.EqualTo(new Mined(-1, 0, 2, 1)));
        var hard = p with { Kind = MiningKind.BatchHard };
        Assert.That(Mine(hard, [0], [0], pool, labels, 1), Is.EqualTo(new Mined(-1, 0, 0, 0)));
    }

    [TestCase(MiningKind.BatchHard)]
    [TestCase(MiningKind.SemiHard)]
    public void MineTriplets_ExcludeSelf_NeverPicksTheAnchorItself(MiningKind mining)
    {
        // Rows 0 and 1 share label 0; row 2 is alone in class 2, so without itself it has no positive.
        float[] rows = [0, 0, 1, 0, 5, 5];
        int[] labels = [0, 0, 2];
        var p = new MiningParams(mining, DistanceKind.Euclidean);
        var keep = MineAll(p, rows, labels, rows, labels, 2);
        var exclude = MineAll(p with { ExcludeSelf = true }, rows, labels, rows, labels, 2);
        // Kept, row 2 is its own positive at 0, and both rules take row 1 (at sqrt 41) over row 0 (at sqrt 50).
        Assert.That(keep[2], Is.EqualTo(new Mined(2, 0f, 1, MathF.Sqrt(41))));
        Assert.That((exclude[2].Positive, exclude[2].PositiveDistance), Is.EqualTo((-1, 0f)));
        Assert.That((exclude[0].Positive, exclude[0].PositiveDistance), Is.EqualTo((1, 1f)));
        Assert.That((exclude[1].Positive, exclude[1].PositiveDistance), Is.EqualTo((0, 1f)));
    }

    [TestCase(MiningKind.BatchHard)]
    [TestCase(MiningKind.SemiHard)]
    public void MineTriplets_SingleClassPool_HasNoNegative(MiningKind mining)
    {
        var mined = Mine(new MiningParams(mining, DistanceKind.Angular), [1, 0], [3], [1, 1, 0, 1], [3, 3], 2);
        Assert.That((mined.Negative, mined.NegativeDistance), Is.EqualTo((-1, 0f)));
        Assert.That(mined.Positive, Is.EqualTo(1));
    }

    [Test]
    public void MineTriplets_CosineKind_IsRejectedByTheFacade()
    {
        using var a = Tensor.Zeros(Cpu, 2, 2);
        using var labels = Tensor.FromArray(Cpu, new[] { 0, 1 }, 2);
        var e = Assert.Throws<ArgumentException>(() =>
            Ops.MineTriplets(new MiningParams(MiningKind.BatchHard, DistanceKind.Cosine), a, labels, a, labels));
        Assert.That(e!.Message, Does.Contain("use Angular"));
    }

    [Test]
    public void MineTriplets_LargePool_FinishesQuicklyWithoutAnNxMArray()
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        const int n = 4096, d = 16;
        float[] rows = rng.Normal(n * d);
        int[] labels = rng.Labels(n, 10);
        using var t = Tensor.FromArray(Cpu, rows, n, d);
        using var tl = Tensor.FromArray(Cpu, labels, n);
        var p = new MiningParams(MiningKind.SemiHard, DistanceKind.SquaredEuclidean, ExcludeSelf: true);

        long before = GC.GetTotalAllocatedBytes(precise: true);
        var clock = Stopwatch.StartNew();
        using var mined = Ops.MineTriplets(p, t, tl, t, tl);
        clock.Stop();
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        TestContext.Out.WriteLine($"N = M = {n}, D = {d}: {clock.Elapsed.TotalSeconds:F2} s, {allocated} B allocated");
        Assert.That(allocated, Is.LessThan((long)n * n * sizeof(float) / 8), "mining allocated an N×M-sized buffer");
        Assert.That(clock.Elapsed.TotalSeconds, Is.LessThan(20), "mining 4096 × 4096 took too long");

        // Check a sample of anchors against the brute force over the whole pool.
        int[] sample = Enumerable.Range(0, 24).Select(_ => rng.Next(0, n)).ToArray();
        float[] sampleRows = sample.SelectMany(i => rows.AsSpan(i * d, d).ToArray()).ToArray();
        var expected = BruteForce(p, sampleRows, sample.Select(i => labels[i]).ToArray(), rows, labels, d, sample);
        int[] pos = mined.PositiveIndex.ToArray<int>(), neg = mined.NegativeIndex.ToArray<int>();
        float[] dPos = mined.PositiveDistance.ToArray(), dNeg = mined.NegativeDistance.ToArray();
        for (int k = 0; k < sample.Length; k++)
        {
            int i = sample[k];
            var actual = new Mined(pos[i], dPos[i], neg[i], dNeg[i]);
            Assert.That(actual, Is.EqualTo(expected[k]), $"anchor {i}, seed {rng.Seed}");
        }
    }

    // ---- GatherRows ----

    [Test]
    public void GatherRows_IndicesWithMinusOne_CopyRowsAndZeroTheRest()
    {
        using var src = Tensor.FromArray(Cpu, new float[] { 1, 2, 3, 4, 5, 6, 7, 8 }, 4, 2);
        using var index = Tensor.FromArray(Cpu, new[] { 2, -1, 0, 2, 3 }, 5);
        using var dst = Tensor.FromArray(Cpu, Enumerable.Repeat(9f, 10).ToArray(), 5, 2);
        Ops.GatherRows(src, index, dst);
        Assert.That(dst.ToArray(), Is.EqualTo(new float[] { 5, 6, 0, 0, 1, 2, 5, 6, 7, 8 }));
    }

    [TestCase(4)]
    [TestCase(-2)]
    public void GatherRows_OutOfRangeIndex_ThrowsNamingRowAndIndexAndWritesNothing(int bad)
    {
        using var src = Tensor.FromArray(Cpu, new float[] { 1, 2, 3, 4, 5, 6, 7, 8 }, 4, 2);
        using var index = Tensor.FromArray(Cpu, new[] { 0, 1, bad }, 3);
        using var dst = Tensor.Zeros(Cpu, 3, 2);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Ops.GatherRows(src, index, dst));
        Assert.That(e!.Message, Does.Contain($"index[2] = {bad}"));
        Assert.That(dst.ToArray(), Is.All.EqualTo(0f));
    }

    // ---- reference and helpers ----

    /// <summary>One anchor's mining result.</summary>
    private readonly record struct Mined(int Positive, float PositiveDistance, int Negative, float NegativeDistance);

    private static void AssertMatchesBruteForce(MiningParams p, float[] anchors, int[] anchorLabels, float[] pool,
        int[] poolLabels, int d)
    {
        Mined[] actual = MineAll(p, anchors, anchorLabels, pool, poolLabels, d);
        Mined[] expected = BruteForce(p, anchors, anchorLabels, pool, poolLabels, d, null);
        for (int i = 0; i < actual.Length; i++)
            Assert.That(actual[i], Is.EqualTo(expected[i]), $"anchor {i}, {p}");
    }

    private static Mined Mine(MiningParams p, float[] anchor, int[] anchorLabel, float[] pool, int[] poolLabels,
        int d) =>
        MineAll(p, anchor, anchorLabel, pool, poolLabels, d).Single();

    private static Mined[] MineAll(MiningParams p, float[] anchors, int[] anchorLabels, float[] pool, int[] poolLabels,
        int d)
    {
        using var ta = Tensor.FromArray(Cpu, anchors, anchors.Length / d, d);
        using var tal = Tensor.FromArray(Cpu, anchorLabels, anchorLabels.Length);
        using var tp = Tensor.FromArray(Cpu, pool, pool.Length / d, d);
        using var tpl = Tensor.FromArray(Cpu, poolLabels, poolLabels.Length);
        using var mined = Ops.MineTriplets(p, ta, tal, tp, tpl);
        int[] pos = mined.PositiveIndex.ToArray<int>(), neg = mined.NegativeIndex.ToArray<int>();
        float[] dPos = mined.PositiveDistance.ToArray(), dNeg = mined.NegativeDistance.ToArray();
        return Enumerable.Range(0, pos.Length).Select(i => new Mined(pos[i], dPos[i], neg[i], dNeg[i])).ToArray();
    }

    /// <summary>
    /// Full distance matrix, then per anchor the masked candidates sorted by (distance, index). Anchor i is pool row
    /// selfRows[i] (or i) when ExcludeSelf.
    /// </summary>
    private static Mined[] BruteForce(MiningParams p, float[] anchors, int[] anchorLabels, float[] pool,
        int[] poolLabels, int d, int[]? selfRows)
    {
        int n = anchorLabels.Length, m = poolLabels.Length;
        using var ta = Tensor.FromArray(Cpu, anchors, n, d);
        using var tp = Tensor.FromArray(Cpu, pool, m, d);
        using var distances = Ops.PairwiseDistance(p.Distance, ta, tp);
        float[] dist = distances.ToArray();
        var result = new Mined[n];
        for (int i = 0; i < n; i++)
        {
            int self = selfRows?[i] ?? i;
            var candidates = Enumerable.Range(0, m).Where(j => !(p.ExcludeSelf && j == self)).ToArray();
            float D(int j) => dist[i * m + j];
            int[] positives = candidates.Where(j => poolLabels[j] == anchorLabels[i]).ToArray();
            int[] negatives = candidates.Where(j => poolLabels[j] != anchorLabels[i]).ToArray();
            int pos = positives.OrderByDescending(D).ThenBy(j => j).DefaultIfEmpty(-1).First();
            float dPos = pos < 0 ? 0f : D(pos);
            int[] beyond = negatives.Where(j => D(j) > dPos).ToArray();
            int neg = p.Kind == MiningKind.BatchHard ? negatives.OrderBy(D).ThenBy(j => j).DefaultIfEmpty(-1).First()
                : beyond.Length > 0 ? beyond.OrderBy(D).ThenBy(j => j).First()
                : negatives.OrderByDescending(D).ThenBy(j => j).DefaultIfEmpty(-1).First();
            result[i] = new Mined(pos, dPos, neg, neg < 0 ? 0f : D(neg));
        }
        return result;
    }
}
