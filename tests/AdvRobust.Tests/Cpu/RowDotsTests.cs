using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Cpu;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Cpu;

/// <summary>
/// The blocked double GEMM behind the CPU distances and mining (RowDots.cs) and the fast paths built on it
/// (CpuBackend.PairwiseDistance, MineTripletsForRows) against their readable references (one row loop per pair).
/// Shape letters: A N×D, B M×D. Sizes cross every block edge: partial 6-row and 16-column micro-panels, more than one
/// 256-step slice of D (D = 600), more than one 256-column chunk of B (M = 700), and, with a small packing budget,
/// more than one packed span of B.
/// </summary>
public class RowDotsTests
{
    private static readonly int[][] Sizes = [[1, 1, 1], [7, 33, 17], [13, 700, 3], [200, 270, 600], [61, 300, 40]];

    private static SeededRandom Rng() => new(TestContext.CurrentContext.Test.FullName);

    /// <summary>Every sum is bit for bit the plain double loop, whatever the thread count and span size.</summary>
    [Test]
    public void RowDots_AnySizeThreadsAndSpans_SameBitsAsSequentialDoubleLoop(
        [Values(0, 1, 2, 3, 4)] int size, [Values(1, 2)] int threads, [Values(0, 40_000)] int packedBBytes)
    {
        var rng = Rng();
        int n = Sizes[size][0], m = Sizes[size][1], d = Sizes[size][2];
        float[] a = rng.Normal(n * d), b = rng.Normal(m * d);
        var got = new double[n * m];
        var seen = new int[n * m];
        var lastColumn = new int[n];
        Array.Fill(lastColumn, -1);
        RowDots.Run(a, n, b, m, d, (i0, rows, j0, cols, dot, ld) =>
        {
            for (int r = 0; r < rows; r++)
            {
                Assert.That(j0, Is.GreaterThan(lastColumn[i0 + r]), "chunks of a row arrive in order of j");
                lastColumn[i0 + r] = j0 + cols - 1;
                for (int c = 0; c < cols; c++)
                {
                    got[(i0 + r) * m + j0 + c] = dot[r * ld + c];
                    seen[(i0 + r) * m + j0 + c]++;
                }
            }
        }, threads, packedBBytes > 0 ? packedBBytes : 64 << 20);
        Assert.That(seen, Is.All.EqualTo(1), "each pair is handed over exactly once");
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < m; j++)
            {
                double s = 0;
                for (int k = 0; k < d; k++) s += (double)a[i * d + k] * b[j * d + k];
                Assert.That(got[i * m + j], Is.EqualTo(s), $"dot({i}, {j}) N={n} M={m} D={d}, seed {rng.Seed}");
            }
        }
    }

    /// <summary>
    /// Cosine and angular: the same bits as the reference (the same sums, the same formula). Squared Euclidean and
    /// Euclidean: the expansion |u|² + |v|² − 2u.v in double against the direct Σ(u−v)², equal up to one float ulp.
    /// </summary>
    [Test]
    public void PairwiseDistance_FastPath_MatchesReference([Values(0, 1, 2, 3, 4)] int size,
        [Values] DistanceKind kind)
    {
        var rng = Rng();
        int n = Sizes[size][0], m = Sizes[size][1], d = Sizes[size][2];
        var cpu = CpuBackend.Instance;
        using var a = Tensor.FromArray(cpu, rng.Normal(n * d), n, d);
        // A few rows of B equal rows of A: their squared distance must be exactly 0.
        float[] bData = rng.Normal(m * d);
        for (int j = 0; j < Math.Min(n, m); j += 5) Array.Copy(a.ToArray(), j * d, bData, j * d, d);
        using var b = Tensor.FromArray(cpu, bData, m, d);
        using var fast = Tensor.Zeros(cpu, n, m);
        using var reference = Tensor.Zeros(cpu, n, m);
        cpu.PairwiseDistance(kind, a, b, fast);
        CpuBackend.PairwiseDistanceReference(kind, a, b, reference);
        float[] got = fast.ToArray(), want = reference.ToArray();
        string what = $"{kind} N={n} M={m} D={d}, seed {rng.Seed}";
        if (kind is DistanceKind.Cosine or DistanceKind.Angular)
        {
            Assert.That(got, Is.EqualTo(want), what);
            return;
        }
        for (int e = 0; e < got.Length; e++)
        {
            float ulp = MathF.BitIncrement(Math.Abs(want[e])) - Math.Abs(want[e]);
            Assert.That(got[e], Is.EqualTo(want[e]).Within(ulp), $"element {e}, {what}");
        }
        for (int j = 0; j < Math.Min(n, m); j += 5) Assert.That(got[j * m + j], Is.EqualTo(0f), $"identical rows, {what}");
    }

    /// <summary>
    /// The fused mining against the per-anchor reference scan, output for output: same indices and the same
    /// distances, on continuous data and on integer data full of exact ties, with and without self-exclusion.
    /// </summary>
    [Test]
    public void MineTriplets_FastPath_MatchesReference([Values] MiningKind mining,
        [Values(DistanceKind.SquaredEuclidean, DistanceKind.Euclidean, DistanceKind.Angular)] DistanceKind kind,
        [Values] bool ties, [Values] bool excludeSelf)
    {
        var rng = Rng();
        const int n = 70, m = 300, d = 20;
        float[] pool = ties ? Enumerable.Range(0, m * d).Select(_ => (float)rng.Next(-1, 2)).ToArray() : rng.Normal(m * d);
        int[] labels = rng.Labels(m, 4);
        int[] rows = Enumerable.Range(0, n).Select(i => (i * 37) % m).ToArray();
        var cpu = CpuBackend.Instance;
        using var anchors = Tensor.FromArray(cpu, rows.SelectMany(i => pool.AsSpan(i * d, d).ToArray()).ToArray(), n, d);
        using var anchorLabels = Tensor.FromArray(cpu, rows.Select(i => labels[i]).ToArray(), n);
        using var tp = Tensor.FromArray(cpu, pool, m, d);
        using var tl = Tensor.FromArray(cpu, labels, m);
        var p = new MiningParams(mining, kind, excludeSelf);
        using var fast = new MinedTriplets(cpu, n);
        using var reference = new MinedTriplets(cpu, n);
        cpu.MineTripletsForRows(p, anchors, anchorLabels, tp, tl, rows, fast);
        CpuBackend.MineTripletsReference(p, anchors, anchorLabels, tp, tl, rows, reference);
        string what = $"{p}, ties {ties}, seed {rng.Seed}";
        Assert.That(fast.PositiveIndex.ToArray<int>(), Is.EqualTo(reference.PositiveIndex.ToArray<int>()), what);
        Assert.That(fast.NegativeIndex.ToArray<int>(), Is.EqualTo(reference.NegativeIndex.ToArray<int>()), what);
        Assert.That(fast.PositiveDistance.ToArray(), Is.EqualTo(reference.PositiveDistance.ToArray()), what);
        Assert.That(fast.NegativeDistance.ToArray(), Is.EqualTo(reference.NegativeDistance.ToArray()), what);
    }
}
