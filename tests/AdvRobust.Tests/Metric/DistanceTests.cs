using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Metric;

// The CPU pairwise distances (CpuBackend.Distance.cs). Shape letters: A is N×D, B is M×D, Dist is N×M.
public class DistanceTests
{
    private static IBackend Cpu => Backends.Cpu;

    // A = [(1,2,2), (0,0,0)], B = [(1,2,2), (3,0,4), (0,-1,0)]: |a0| = 3, |b| = 3, 5, 1; a0.b = 9, 11, -2.
    private static readonly float[] HandA = [1, 2, 2, 0, 0, 0];
    private static readonly float[] HandB = [1, 2, 2, 3, 0, 4, 0, -1, 0];

    private static IEnumerable<TestCaseData> HandCases()
    {
        yield return new TestCaseData(DistanceKind.SquaredEuclidean, new double[] { 0, 12, 14, 9, 25, 1 });
        yield return new TestCaseData(DistanceKind.Euclidean, new[] { 0, Math.Sqrt(12), Math.Sqrt(14), 3, 5, 1 });
        // The zero row a1 has cosine 0 with everything (clamped norm), hence angular distance 1.
        yield return new TestCaseData(DistanceKind.Cosine, new[] { 1, 11.0 / 15, -2.0 / 3, 0, 0, 0 });
        yield return new TestCaseData(DistanceKind.Angular, new[] { 0, 4.0 / 15, 1.0 / 3, 1, 1, 1 });
    }

    [TestCaseSource(nameof(HandCases))]
    public void PairwiseDistance_HandRows_MatchHandValues(DistanceKind kind, double[] expected)
    {
        using var a = Tensor.FromArray(Cpu, HandA, 2, 3);
        using var b = Tensor.FromArray(Cpu, HandB, 3, 3);
        using var dist = Ops.PairwiseDistance(kind, a, b);
        Assert.That(dist.Shape, Is.EqualTo(new Shape(2, 3)));
        AssertClose.All(expected.Select(v => (float)v).ToArray(), dist.ToArray(), 1e-7, 1e-6, kind.ToString());
    }

    [TestCase(DistanceKind.SquaredEuclidean)]
    [TestCase(DistanceKind.Euclidean)]
    [TestCase(DistanceKind.Cosine)]
    [TestCase(DistanceKind.Angular)]
    public void PairwiseDistance_ZeroRows_GiveNoNaN(DistanceKind kind)
    {
        // Zero rows against zero rows and against a nonzero row, forward and backward.
        float[] bData = [0, 0, 0, 0, 0.5f, -1, 2, 0.25f];
        using var a = Tensor.Zeros(Cpu, 3, 4);
        using var b = Tensor.FromArray(Cpu, bData, 2, 4);
        using var dist = Ops.PairwiseDistance(kind, a, b);
        float[] d = dist.ToArray();
        Assert.That(d.All(float.IsFinite), Is.True, $"distances {string.Join(", ", d)}");
        float zeroToZero = kind == DistanceKind.Angular ? 1f : 0f;
        Assert.That(d[0], Is.EqualTo(zeroToZero), "zero row to zero row");

        using var g = Tensor.FromArray(Cpu, Enumerable.Repeat(1f, 6).ToArray(), 3, 2);
        using var gradA = Tensor.Zeros(Cpu, 3, 4);
        using var gradB = Tensor.Zeros(Cpu, 2, 4);
        Ops.PairwiseDistanceBackward(kind, a, b, g, gradA, gradB);
        Assert.That(gradA.ToArray().Concat(gradB.ToArray()).All(float.IsFinite), Is.True, "gradients are finite");
    }

    [TestCase(DistanceKind.SquaredEuclidean)]
    [TestCase(DistanceKind.Euclidean)]
    public void PairwiseDistance_IdenticalRows_GivesExactZeroNeverNegative(DistanceKind kind)
    {
        // Rows far from the origin, where |u|^2 + |v|^2 - 2 u.v in float would cancel to noise of either sign.
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        const int n = 9, d = 31;
        float[] data = rng.Uniform(n * d).Select(v => 1000f + v).ToArray();
        using var a = Tensor.FromArray(Cpu, data, n, d);
        using var b = Tensor.FromArray(Cpu, data, n, d);
        using var distance = Ops.PairwiseDistance(kind, a, b);
        float[] dist = distance.ToArray();
        Assert.That(dist.Min(), Is.GreaterThanOrEqualTo(0f));
        for (int i = 0; i < n; i++) Assert.That(dist[i * n + i], Is.EqualTo(0f), $"d(row {i}, itself)");
    }

    [Test]
    public void PairwiseDistance_AngularOfRowWithItself_IsZeroWithinRounding()
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        float[] data = rng.Normal(5 * 17);
        using var a = Tensor.FromArray(Cpu, data, 5, 17);
        using var distance = Ops.PairwiseDistance(DistanceKind.Angular, a, a);
        float[] dist = distance.ToArray();
        for (int i = 0; i < 5; i++) Assert.That(dist[i * 5 + i], Is.EqualTo(0f).Within(1e-6f), $"row {i}");
    }

    [TestCase(1, 1, 1)]
    [TestCase(7, 33, 17)]
    [TestCase(33, 7, 3)]
    [TestCase(2, 3, 777)]
    public void PairwiseDistance_AwkwardSizes_MatchDirectDefinition(int n, int m, int d)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        float[] aData = rng.Normal(n * d), bData = rng.Normal(m * d);
        using var a = Tensor.FromArray(Cpu, aData, n, d);
        using var b = Tensor.FromArray(Cpu, bData, m, d);
        foreach (var kind in Enum.GetValues<DistanceKind>())
        {
            float[] expected = Reference(kind, aData, bData, n, m, d);
            using var dist = Ops.PairwiseDistance(kind, a, b);
            AssertClose.All(expected, dist.ToArray(), 1e-6, 1e-6, $"{kind} N={n} M={m} D={d} seed {rng.Seed}");
        }
    }

    [Test]
    public void PairwiseDistance_FeatureSizesDiffer_Throws()
    {
        using var a = Tensor.Zeros(Cpu, 2, 3);
        using var b = Tensor.Zeros(Cpu, 2, 4);
        var e = Assert.Throws<ArgumentException>(() => Ops.PairwiseDistance(DistanceKind.Euclidean, a, b));
        Assert.That(e!.Message, Does.Contain("feature dimensions differ"));
    }

    /// <summary>The definitions, written out again with one row pair at a time (double, then rounded).</summary>
    private static float[] Reference(DistanceKind kind, float[] a, float[] b, int n, int m, int d)
    {
        var result = new float[n * m];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < m; j++)
            {
                double sq = 0, dot = 0, aa = 0, bb = 0;
                for (int k = 0; k < d; k++)
                {
                    double u = a[i * d + k], v = b[j * d + k];
                    sq += (u - v) * (u - v);
                    dot += u * v;
                    aa += u * u;
                    bb += v * v;
                }
                double cos = dot / (Math.Max(Math.Sqrt(aa), 1e-8) * Math.Max(Math.Sqrt(bb), 1e-8));
                result[i * m + j] = (float)(kind switch
                {
                    DistanceKind.SquaredEuclidean => sq,
                    DistanceKind.Euclidean => Math.Sqrt(sq),
                    DistanceKind.Cosine => cos,
                    _ => 1 - Math.Abs(cos),
                });
            }
        }
        return result;
    }
}
