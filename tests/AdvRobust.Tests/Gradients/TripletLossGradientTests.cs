using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Gradients;

// TripletLoss and TripletLossBackward on the CPU. Shape letters: A, P, Q (negatives) are row-aligned N×D, loss is N.
// The finite differences use L = sum_i gl_i loss_i through the CPU forward, on inputs where every hinge is at least
// 0.05 away from 0 (the kink of max(0, ·)), every Euclidean distance is >= 0.1 and every |cosine| >= 0.05.
public class TripletLossGradientTests
{
    private static IBackend Cpu => Backends.Cpu;

    [Test]
    public void TripletLoss_HandRows_MatchHandValues()
    {
        // Row 0: d(a,p) = 5, d(a,q) = 1 -> 5 - 1 + 0.5 = 4.5.  Row 1: d(a,p) = 1, d(a,q) = 3 -> hinge -1.5 -> 0.
        using var a = Tensor.FromArray(Cpu, new float[] { 0, 0, 0, 0 }, 2, 2);
        using var p = Tensor.FromArray(Cpu, new float[] { 3, 4, 1, 0 }, 2, 2);
        using var q = Tensor.FromArray(Cpu, new float[] { 1, 0, 0, 3 }, 2, 2);
        using var loss = Tensor.Zeros(Cpu, 2);
        Ops.TripletLoss(DistanceKind.Euclidean, 0.5f, a, p, q, loss);
        Assert.That(loss.ToArray(), Is.EqualTo(new[] { 4.5f, 0f }));
        Ops.TripletLoss(DistanceKind.SquaredEuclidean, 0.5f, a, p, q, loss);
        Assert.That(loss.ToArray(), Is.EqualTo(new[] { 24.5f, 0f }));
    }

    [TestCase(DistanceKind.SquaredEuclidean)]
    [TestCase(DistanceKind.Euclidean)]
    [TestCase(DistanceKind.Angular)]
    public void TripletLossBackward_RandomInput_MatchesFiniteDifference(DistanceKind kind)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        const int n = 6, d = 4;
        float[] a, p, q;
        float margin;
        int tries = 0;
        do
        {
            a = rng.Normal(n * d);
            p = rng.Normal(n * d);
            q = rng.Normal(n * d);
            margin = MarginSplittingRows(kind, a, p, q, n, d);
            Assert.That(++tries, Is.LessThan(200), "no smooth input found");
        } while (!IsSmooth(kind, a, p, q, margin, n, d));
        float[] gl = rng.Uniform(n, 0.5f, 1.5f);

        using var ta = Tensor.FromArray(Cpu, a, n, d);
        using var tp = Tensor.FromArray(Cpu, p, n, d);
        using var tq = Tensor.FromArray(Cpu, q, n, d);
        using var tgl = Tensor.FromArray(Cpu, gl, n);
        using var gradA = Tensor.Zeros(Cpu, n, d);
        using var gradP = Tensor.Zeros(Cpu, n, d);
        using var gradQ = Tensor.Zeros(Cpu, n, d);
        Ops.TripletLossBackward(kind, margin, ta, tp, tq, tgl, gradA, gradP, gradQ);

        double Loss() => WeightedLossSum(kind, margin, a, p, q, gl, n, d);
        string what = $"{kind}, margin {margin}, seed {rng.Seed}";
        AssertClose.All(gradA.ToArray(), FiniteDifference.Gradient(Loss, a), 2e-3, 1e-2, $"dA {what}");
        AssertClose.All(gradP.ToArray(), FiniteDifference.Gradient(Loss, p), 2e-3, 1e-2, $"dP {what}");
        AssertClose.All(gradQ.ToArray(), FiniteDifference.Gradient(Loss, q), 2e-3, 1e-2, $"dQ {what}");

        // The margin splits the rows: half of them are inactive and get exactly zero gradient.
        float[] hinge = Hinges(kind, margin, a, p, q, n, d);
        Assert.That(hinge.Count(h => h > 0), Is.EqualTo(n / 2), what);
        float[] gA = gradA.ToArray(), gP = gradP.ToArray(), gQ = gradQ.ToArray();
        for (int i = 0; i < n; i++)
        {
            if (hinge[i] > 0) continue;
            for (int k = i * d; k < (i + 1) * d; k++)
                Assert.That((gA[k], gP[k], gQ[k]), Is.EqualTo((0f, 0f, 0f)), $"inactive row {i}, {what}");
        }
    }

    [Test]
    public void TripletLossBackward_CosineKind_IsRejectedByTheFacade()
    {
        using var a = Tensor.Zeros(Cpu, 1, 2);
        using var gl = Tensor.Zeros(Cpu, 1);
        using var gradA = Tensor.Zeros(Cpu, 1, 2);
        var e = Assert.Throws<ArgumentException>(() =>
            Ops.TripletLossBackward(DistanceKind.Cosine, 0.1f, a, a, a, gl, gradA, gradA, gradA));
        Assert.That(e!.Message, Does.Contain("cosine is a similarity"));
    }

    /// <summary>L = sum_i gl_i loss_i through the CPU forward, summed in double.</summary>
    private static double WeightedLossSum(DistanceKind kind, float margin, float[] a, float[] p, float[] q, float[] gl,
        int n, int d)
    {
        using var ta = Tensor.FromArray(Cpu, a, n, d);
        using var tp = Tensor.FromArray(Cpu, p, n, d);
        using var tq = Tensor.FromArray(Cpu, q, n, d);
        using var loss = Tensor.Zeros(Cpu, n);
        Ops.TripletLoss(kind, margin, ta, tp, tq, loss);
        float[] v = loss.ToArray();
        double sum = 0;
        for (int i = 0; i < n; i++) sum += (double)gl[i] * v[i];
        return sum;
    }

    /// <summary>d(a_i, p_i) - d(a_i, q_i) + margin, from the diagonals of CPU pairwise distances.</summary>
    private static float[] Hinges(DistanceKind kind, float margin, float[] a, float[] p, float[] q, int n, int d)
    {
        float[] ap = Diagonal(kind, a, p, n, d), aq = Diagonal(kind, a, q, n, d);
        return Enumerable.Range(0, n).Select(i => ap[i] - aq[i] + margin).ToArray();
    }

    /// <summary>A margin halfway between the middle two values of d_ap - d_an: half of the rows are active.</summary>
    private static float MarginSplittingRows(DistanceKind kind, float[] a, float[] p, float[] q, int n, int d)
    {
        float[] sorted = Hinges(kind, 0f, a, p, q, n, d).OrderBy(v => v).ToArray();
        return -(sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    private static bool IsSmooth(DistanceKind kind, float[] a, float[] p, float[] q, float margin, int n, int d)
    {
        bool AwayFromKinks(float[] other) =>
            Diagonal(DistanceKind.Euclidean, a, other, n, d).Min() >= 0.1f &&
            Diagonal(DistanceKind.Cosine, a, other, n, d).Min(Math.Abs) >= 0.05f;
        return Hinges(kind, margin, a, p, q, n, d).Min(Math.Abs) >= 0.05f && AwayFromKinks(p) && AwayFromKinks(q);
    }

    private static float[] Diagonal(DistanceKind kind, float[] a, float[] b, int n, int d)
    {
        using var ta = Tensor.FromArray(Cpu, a, n, d);
        using var tb = Tensor.FromArray(Cpu, b, n, d);
        using var dist = Ops.PairwiseDistance(kind, ta, tb);
        float[] all = dist.ToArray();
        return Enumerable.Range(0, n).Select(i => all[i * n + i]).ToArray();
    }
}
