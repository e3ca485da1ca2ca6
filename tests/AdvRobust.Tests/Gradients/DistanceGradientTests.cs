using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Gradients;

// PairwiseDistanceBackward on the CPU against central finite differences of L = sum(G ∘ Dist) through the CPU forward.
// Shape letters: A is N×D, B is M×D, G and Dist are N×M. Inputs are drawn away from the points where a distance is
// not smooth: zero Euclidean distances and, for the angular distance, a cosine near 0 (the kink of 1 - |c|).
public class DistanceGradientTests
{
    private static IBackend Cpu => Backends.Cpu;

    [TestCase(DistanceKind.SquaredEuclidean)]
    [TestCase(DistanceKind.Euclidean)]
    [TestCase(DistanceKind.Cosine)]
    [TestCase(DistanceKind.Angular)]
    public void PairwiseDistanceBackward_RandomInput_MatchesFiniteDifference(DistanceKind kind)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        const int n = 4, m = 3, d = 5;
        float[] a, b;
        int tries = 0;
        do
        {
            a = rng.Normal(n * d);
            b = rng.Normal(m * d);
            Assert.That(++tries, Is.LessThan(100), "no smooth input found");
        } while (!IsSmooth(a, b, n, m, d));
        float[] g = rng.Normal(n * m);

        using var ta = Tensor.FromArray(Cpu, a, n, d);
        using var tb = Tensor.FromArray(Cpu, b, m, d);
        using var tg = Tensor.FromArray(Cpu, g, n, m);
        using var gradA = Tensor.Zeros(Cpu, n, d);
        using var gradB = Tensor.Zeros(Cpu, m, d);
        Ops.PairwiseDistanceBackward(kind, ta, tb, tg, gradA, gradB);

        double Loss() => WeightedDistanceSum(kind, a, b, g, n, m, d);
        AssertClose.All(gradA.ToArray(), FiniteDifference.Gradient(Loss, a), 2e-3, 1e-2, $"{kind} dA, seed {rng.Seed}");
        AssertClose.All(gradB.ToArray(), FiniteDifference.Gradient(Loss, b), 2e-3, 1e-2, $"{kind} dB, seed {rng.Seed}");
    }

    [Test]
    public void PairwiseDistanceBackward_EuclideanIdenticalRows_GivesZeroSubgradient()
    {
        // d(a, b) = 0 where the rows coincide: that pair contributes 0, not NaN; the other pair its usual e / d.
        using var a = Tensor.FromArray(Cpu, new float[] { 1, 2, 3 }, 1, 3);
        using var b = Tensor.FromArray(Cpu, new float[] { 1, 2, 3, 1, 2, 7 }, 2, 3);
        using var g = Tensor.FromArray(Cpu, new float[] { 1, 1 }, 1, 2);
        using var gradA = Tensor.Zeros(Cpu, 1, 3);
        using var gradB = Tensor.Zeros(Cpu, 2, 3);
        Ops.PairwiseDistanceBackward(DistanceKind.Euclidean, a, b, g, gradA, gradB);
        Assert.That(gradA.ToArray(), Is.EqualTo(new[] { 0f, 0f, -1f }));
        Assert.That(gradB.ToArray(), Is.EqualTo(new[] { 0f, 0f, 0f, 0f, 0f, 1f }));
    }

    [Test]
    public void PairwiseDistanceBackward_AngularOrthogonalRows_GivesZeroSubgradient()
    {
        // c = 0 exactly: dD/dc = -sign(0) = 0, so nothing flows back.
        using var a = Tensor.FromArray(Cpu, new float[] { 1, 0 }, 1, 2);
        using var b = Tensor.FromArray(Cpu, new float[] { 0, 3 }, 1, 2);
        using var g = Tensor.FromArray(Cpu, new float[] { 1 }, 1, 1);
        using var gradA = Tensor.Zeros(Cpu, 1, 2);
        using var gradB = Tensor.Zeros(Cpu, 1, 2);
        Ops.PairwiseDistanceBackward(DistanceKind.Angular, a, b, g, gradA, gradB);
        Assert.That(gradA.ToArray().Concat(gradB.ToArray()), Is.All.EqualTo(0f));
    }

    [Test]
    public void PairwiseDistanceBackward_SquaredHandCase_MatchesHandValues()
    {
        // dA_i = sum_j 2 G_ij (a_i - b_j), dB_j = -sum_i 2 G_ij (a_i - b_j); a = (1, 0), b0 = (0, 0), b1 = (1, 2).
        using var a = Tensor.FromArray(Cpu, new float[] { 1, 0 }, 1, 2);
        using var b = Tensor.FromArray(Cpu, new float[] { 0, 0, 1, 2 }, 2, 2);
        using var g = Tensor.FromArray(Cpu, new float[] { 0.5f, -1 }, 1, 2);
        using var gradA = Tensor.Zeros(Cpu, 1, 2);
        using var gradB = Tensor.Zeros(Cpu, 2, 2);
        Ops.PairwiseDistanceBackward(DistanceKind.SquaredEuclidean, a, b, g, gradA, gradB);
        Assert.That(gradA.ToArray(), Is.EqualTo(new[] { 1f, 4f }));
        Assert.That(gradB.ToArray(), Is.EqualTo(new[] { -1f, 0f, 0f, -4f }));
    }

    /// <summary>L = sum_ij G_ij d(a_i, b_j) through the CPU forward, summed in double.</summary>
    private static double WeightedDistanceSum(DistanceKind kind, float[] a, float[] b, float[] g, int n, int m, int d)
    {
        using var ta = Tensor.FromArray(Cpu, a, n, d);
        using var tb = Tensor.FromArray(Cpu, b, m, d);
        using var dist = Ops.PairwiseDistance(kind, ta, tb);
        float[] v = dist.ToArray();
        double sum = 0;
        for (int i = 0; i < v.Length; i++) sum += (double)g[i] * v[i];
        return sum;
    }

    /// <summary>Every pair is at Euclidean distance >= 0.1 and has |cosine| >= 0.05.</summary>
    private static bool IsSmooth(float[] a, float[] b, int n, int m, int d)
    {
        using var ta = Tensor.FromArray(Cpu, a, n, d);
        using var tb = Tensor.FromArray(Cpu, b, m, d);
        using var euclid = Ops.PairwiseDistance(DistanceKind.Euclidean, ta, tb);
        using var cos = Ops.PairwiseDistance(DistanceKind.Cosine, ta, tb);
        return euclid.ToArray().Min() >= 0.1f && cos.ToArray().Min(Math.Abs) >= 0.05f;
    }
}
