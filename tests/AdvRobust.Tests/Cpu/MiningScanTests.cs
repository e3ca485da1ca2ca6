using System.Runtime.Intrinsics;
using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Cpu;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Cpu;

/// <summary>
/// The vectorized sweep-1 scan of the CPU mining (Ops/MiningScan.cs) against its in-order scalar definition, bit for
/// bit and index for index: chunk by chunk on made-up distances full of ties, NaN, infinities and signed zeros, and
/// end to end (MineTripletsForRows against the scalar scan of PairwiseDistance's own rows, and against the
/// double-precision MineTripletsReference) on pools whose widths are not multiples of 16.
/// </summary>
public class MiningScanTests
{
    private static SeededRandom Rng() => new(TestContext.CurrentContext.Test.FullName);

    private static readonly AnchorBest None = new(-1, 0, -1, 0, -1, 0);

    /// <summary>Kinds of made-up rows: 0 continuous, 1 a few values (ties everywhere), 2 all equal, 3 ties with
    /// signed zeros and +inf, 4 like 1 with a NaN somewhere (the scalar fallback).</summary>
    private static float[] Distances(SeededRandom rng, int cols, int kind)
    {
        float[] few = kind == 3 ? [0f, -0f, 1f, float.PositiveInfinity] : [0.25f, 0.5f, 1f, 2f];
        var v = Enumerable.Range(0, cols).Select(_ => kind == 0 ? (float)rng.Next(0, 1 << 20) / (1 << 18)
            : kind == 2 ? 1f : few[rng.Next(0, few.Length)]).ToArray();
        if (kind == 4) v[rng.Next(0, cols)] = float.NaN;
        return v;
    }

    /// <summary>Labels of made-up pool columns: 0 random of 3 classes, 1 all the anchor's, 2 none the anchor's,
    /// 3 every column its own class.</summary>
    private static int[] Labels(SeededRandom rng, int cols, int kind, int j0) => Enumerable.Range(0, cols)
        .Select(c => kind switch { 0 => rng.Next(0, 3), 1 => 0, 2 => 1, _ => j0 + c }).ToArray();

    [Test]
    public void Vector_RandomChunks_SameBestsAsScalar([Values(16, 17, 31, 32, 44, 255, 256)] int cols,
        [Values(0, 1, 2, 3, 4)] int values, [Values(0, 1, 2, 3)] int labels)
    {
        var rng = Rng();
        for (int trial = 0; trial < 40; trial++)
        {
            int chunks = rng.Next(1, 4), m = chunks * cols;
            // The anchor's own column: none, a random one, or one in the overlapped tail of a chunk.
            int self = (trial % 3) switch
            {
                0 => -1, 1 => rng.Next(0, m), _ => cols - 1 - rng.Next(0, Math.Min(16, cols)),
            };
            var scalar = None;
            var vector = trial % 4 == 3 ? new AnchorBest(0, float.NaN, 0, 0.5f, 0, float.NaN) : None;
            if (trial % 4 == 3) scalar = vector;
            for (int k = 0; k < chunks; k++)
            {
                int j0 = k * cols;
                float[] dist = Distances(rng, cols, values);
                int[] yp = Labels(rng, cols, labels, j0);
                // Vector alone (it has no self column) against Scalar without one, then Scan against Scalar.
                var (alone, plain) = (vector, scalar);
                bool ran = MiningScan.Vector(ref alone, dist, yp, 0, j0);
                Assert.That(ran, Is.EqualTo(Vector512.IsHardwareAccelerated && !dist.Any(float.IsNaN)),
                    $"vector path taken, trial {trial}, chunk {k}");
                MiningScan.Scalar(ref plain, dist, yp, 0, j0, -1);
                if (ran) AssertSame(alone, plain, $"Vector, trial {trial}, chunk {k}, seed {rng.Seed}");
                else AssertSame(alone, vector, $"Vector declined and left the bests, trial {trial}, chunk {k}");
                MiningScan.Scalar(ref scalar, dist, yp, 0, j0, self);
                MiningScan.Scan(ref vector, dist, yp, 0, j0, self);
                AssertSame(vector, scalar, $"Scan, trial {trial}, chunk {k}, self {self}, seed {rng.Seed}");
            }
        }
    }

    [Test]
    public void Vector_NarrowChunk_LeavesItToScalar()
    {
        var best = None;
        Assert.That(MiningScan.Vector(ref best, new float[15], new int[15], 0, 0), Is.False);
        Assert.That(best, Is.EqualTo(None));
    }

    /// <summary>
    /// The whole mining against the scalar scan of PairwiseDistance's rows (one chunk per row, so the same
    /// distances bit for bit), with pool widths that leave partial 16-column vectors and a partial last 256-column
    /// chunk, duplicated pool rows (exact ties), and NaN rows (a NaN first candidate sticks; NaN never wins later).
    /// </summary>
    [Test]
    public void MineTriplets_AwkwardPools_SameAsScalarScanOfPairwiseRows(
        [Values(DistanceKind.SquaredEuclidean, DistanceKind.Euclidean, DistanceKind.Angular)] DistanceKind kind,
        [Values(15, 17, 257, 300)] int m, [Values(0, 1, 2, 3)] int labels, [Values] bool nanRows)
    {
        var rng = Rng();
        const int n = 40, d = 9;
        var (pool, yp) = Pool(rng, m, d, labels, nanRows);
        int[] rows = Enumerable.Range(0, n).Select(i => (i * 37) % m).ToArray();
        foreach (bool excludeSelf in new[] { false, true })
        {
            var p = new MiningParams(MiningKind.BatchHard, kind, excludeSelf);
            var (fast, _) = MineBoth(p, pool, yp, d, rows);
            var cpu = CpuBackend.Instance;
            using var ta = Tensor.FromArray(cpu, Gather(pool, d, rows), n, d);
            using var tp = Tensor.FromArray(cpu, pool, m, d);
            using var all = Ops.PairwiseDistance(kind, ta, tp);
            float[] dist = all.ToArray();
            for (int i = 0; i < n; i++)
            {
                var s = None;
                MiningScan.Scalar(ref s, dist.AsSpan(i * m, m), yp, yp[rows[i]], 0, excludeSelf ? rows[i] : -1);
                var want = (s.Pos, Bits(s.DPos), s.Near, Bits(s.DNear));
                Assert.That((fast.Pos[i], Bits(fast.DPos[i]), fast.Neg[i], Bits(fast.DNeg[i])), Is.EqualTo(want),
                    $"anchor {i} (row {rows[i]}), {p}, labels {labels}, seed {rng.Seed}");
            }
        }
    }

    /// <summary>Both rules, SemiHard's second sweep included, against the double-precision oracle on integer
    /// data.</summary>
    [Test]
    public void MineTriplets_AwkwardPools_SameAsReference([Values] MiningKind mining,
        [Values(DistanceKind.SquaredEuclidean, DistanceKind.Euclidean, DistanceKind.Angular)] DistanceKind kind,
        [Values(17, 300)] int m, [Values(0, 1, 2, 3)] int labels, [Values] bool nanRows)
    {
        var rng = Rng();
        const int n = 40, d = 5;
        var (pool, yp) = Pool(rng, m, d, labels, nanRows);
        int[] rows = Enumerable.Range(0, n).Select(i => (i * 37) % m).ToArray();
        foreach (bool excludeSelf in new[] { false, true })
        {
            var p = new MiningParams(mining, kind, excludeSelf);
            var (fast, reference) = MineBoth(p, pool, yp, d, rows);
            string what = $"{p}, labels {labels}, seed {rng.Seed}";
            Assert.That(fast.Pos, Is.EqualTo(reference.Pos), what);
            Assert.That(fast.Neg, Is.EqualTo(reference.Neg), what);
            Assert.That(fast.DPos.Select(Bits), Is.EqualTo(reference.DPos.Select(Bits)), what);
            Assert.That(fast.DNeg.Select(Bits), Is.EqualTo(reference.DNeg.Select(Bits)), what);
        }
    }

    // ---- helpers ----

    private sealed record Mined(int[] Pos, float[] DPos, int[] Neg, float[] DNeg);

    /// <summary>
    /// Integer coordinates in {-1, 0, 1} with every fifth row a copy of an earlier one (exact ties), labels as in
    /// <see cref="Labels"/> relative to class 0 (the pool's own labels otherwise); NaN rows at 0, 16 and 256.
    /// </summary>
    private static (float[] Pool, int[] Labels) Pool(SeededRandom rng, int m, int d, int labels, bool nanRows)
    {
        float[] pool = Enumerable.Range(0, m * d).Select(_ => (float)rng.Next(-1, 2)).ToArray();
        for (int j = 5; j < m; j += 5) pool.AsSpan(rng.Next(0, j) * d, d).CopyTo(pool.AsSpan(j * d, d));
        foreach (int j in new[] { 0, 16, 256 }.Where(j => nanRows && j < m)) pool[j * d + rng.Next(0, d)] = float.NaN;
        int[] yp = labels switch
        {
            0 => rng.Labels(m, 3), 1 => new int[m], 2 => Enumerable.Range(0, m).Select(j => j % 2).ToArray(),
            _ => Enumerable.Range(0, m).ToArray(),
        };
        return (pool, yp);
    }

    private static (Mined Fast, Mined Reference) MineBoth(MiningParams p, float[] pool, int[] yp, int d, int[] rows)
    {
        var cpu = CpuBackend.Instance;
        int n = rows.Length;
        using var ta = Tensor.FromArray(cpu, Gather(pool, d, rows), n, d);
        using var tal = Tensor.FromArray(cpu, rows.Select(i => yp[i]).ToArray(), n);
        using var tp = Tensor.FromArray(cpu, pool, yp.Length, d);
        using var tpl = Tensor.FromArray(cpu, yp, yp.Length);
        using var fast = new MinedTriplets(cpu, n);
        using var reference = new MinedTriplets(cpu, n);
        cpu.MineTripletsForRows(p, ta, tal, tp, tpl, rows, fast);
        CpuBackend.MineTripletsReference(p, ta, tal, tp, tpl, rows, reference);
        return (ToMined(fast), ToMined(reference));
    }

    private static Mined ToMined(MinedTriplets t) => new(t.PositiveIndex.ToArray<int>(), t.PositiveDistance.ToArray(),
        t.NegativeIndex.ToArray<int>(), t.NegativeDistance.ToArray());

    private static float[] Gather(float[] rows, int d, int[] which) =>
        which.SelectMany(i => rows.AsSpan(i * d, d).ToArray()).ToArray();

    private static int Bits(float x) => BitConverter.SingleToInt32Bits(x);

    private static void AssertSame(AnchorBest got, AnchorBest want, string what) =>
        Assert.That((got.Pos, Bits(got.DPos), got.Near, Bits(got.DNear), got.Far, Bits(got.DFar)),
            Is.EqualTo((want.Pos, Bits(want.DPos), want.Near, Bits(want.DNear), want.Far, Bits(want.DFar))), what);
}
