using AdvRobust.Core;
using AdvRobust.Research.Certification;
using AdvRobust.Core.Random;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Attacks;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Certification;

/// <summary>
/// CERTIFY and PREDICT on a two-class linear model, where randomized smoothing has a closed form: with logits
/// (0, w·x + b) the base classifier is f(x) = [w·x + b &gt; 0], the margin under noise is N(w·x + b, σ²‖w‖²), so
/// p_A = Φ(|w·x + b| / (σ‖w‖)) and the exact certified radius σΦ⁻¹(p_A) is the distance |w·x + b| / ‖w‖ to the
/// hyperplane. Shape letters: x 1×C×H×W with D = C·H·W = 16.
/// </summary>
public class SmoothedClassifierTests
{
    private static readonly int[] InputShape = [1, 4, 4];
    private const int D = 16;
    private const double Alpha = 0.001;

    /// <summary>A linear model and an image x at signed distance <paramref name="distance"/> from its hyperplane
    /// (positive: class 1's side).</summary>
    private static LinearCase Linear(string test, double distance)
    {
        var rng = new SeededRandom(test);
        float[] w = rng.Normal(D), x = rng.Uniform(D, 0f, 1f);
        double norm = Math.Sqrt(w.Sum(v => (double)v * v)), dot = w.Select((v, k) => (double)v * x[k]).Sum();
        float b = (float)(distance * norm - dot);
        var weight = new float[2 * D];
        w.CopyTo(weight, D);                          // row 0 = 0, row 1 = w: logits (0, w·x + b)
        var model = new LinearClassifier(Backends.Cpu, weight, [0f, b], InputShape);
        return new LinearCase(model, Tensor.FromArray(Backends.Cpu, x, [1, .. InputShape]),
            w.Select(v => (double)v).ToArray());
    }

    private sealed record LinearCase(LinearClassifier Model, Tensor X, double[] W) : IDisposable
    {
        public void Dispose()
        {
            X.Dispose();
            Model.Dispose();
        }
    }

    [TestCase(0.25f, 0.2, 2000)]
    [TestCase(0.25f, -0.2, 2000)]
    [TestCase(0.5f, 0.3, 2000)]
    [TestCase(0.5f, 0.3, 20000)]
    [TestCase(0.25f, 0.5, 20000)]
    public void Certify_LinearModel_RadiusWithinClopperPearsonSlackOfDistanceToHyperplane(float sigma, double distance,
        int n)
    {
        using var lc = Linear(TestContext.CurrentContext.Test.FullName, distance);
        var (model, x) = (lc.Model, lc.X);
        var smoothed = new SmoothedClassifier(model, sigma, batchSize: 512, seed: 17);
        var c = smoothed.Certify(x, pointId: 3, n0: 100, n, Alpha);

        double trueRadius = Math.Abs(distance), pA = NormalCdf(trueRadius / sigma);
        double sd = Math.Sqrt(n * pA * (1 - pA));
        // A count 4 standard deviations low is the worst plausible draw; its bound gives the smallest plausible radius.
        double lowest = sigma * StandardNormal.InverseCdf(
            BinomialStatistics.ClopperPearsonLower((long)Math.Floor(n * pA - 4 * sd), n, Alpha));
        TestContext.Out.WriteLine($"N={n}: radius {c.Radius:F4}, exact {trueRadius}, lowest plausible {lowest:F4}");
        Assert.That(c.Predicted, Is.EqualTo(distance > 0 ? 1 : 0), "the side of the hyperplane x is on");
        Assert.That(c.Count, Is.EqualTo(n * pA).Within(4 * sd), $"n_A against N·p_A = {n * pA:F1}");
        Assert.That(c.Radius, Is.InRange(lowest, trueRadius),
            $"radius {c.Radius:F4} vs true {trueRadius} (slack down to {lowest:F4}), p_A bound {c.PLower:F5}");
        Assert.That(c.PLower, Is.EqualTo(BinomialStatistics.ClopperPearsonLower(c.Count, n, Alpha)));
    }

    [Test]
    public void Certify_ModelThatIgnoresTheNoise_RadiusIsSigmaPhiInverseOfAlphaToTheOneOverN()
    {
        var model = new LinearClassifier(Backends.Cpu, new float[2 * D], [0f, 1f], InputShape);
        using var owned = model;
        using var x = Tensor.Zeros(Backends.Cpu, [1, .. InputShape]);
        var c = new SmoothedClassifier(model, 0.5f).Certify(x, 0, 100, 2000, Alpha);
        // All N draws give class 1: the Clopper–Pearson bound is α^(1/N) exactly.
        Assert.That(c.Predicted, Is.EqualTo(1));
        Assert.That(c.Count, Is.EqualTo(2000));
        Assert.That(c.Radius, Is.EqualTo(0.5 * StandardNormal.InverseCdf(Math.Pow(Alpha, 1.0 / 2000))).Within(1e-9));
    }

    [Test]
    public void CertifyAndPredict_PointOnTheHyperplane_Abstain([Values(0u, 1u, 2u)] uint pointId)
    {
        using var lc = Linear(TestContext.CurrentContext.Test.FullName, 0.0);
        var (model, x) = (lc.Model, lc.X);
        var smoothed = new SmoothedClassifier(model, 0.5f, seed: 5);
        var c = smoothed.Certify(x, pointId, 100, 2000, Alpha);
        var p = smoothed.Predict(x, pointId, 2000, Alpha);
        Assert.That(c.Abstained, Is.True, $"p_A ≈ ½ must abstain; n_A = {c.Count} of 2000, bound {c.PLower:F4}");
        Assert.That(c.Radius, Is.Zero);
        Assert.That(p.Abstained, Is.True, $"counts {p.TopCount} vs {p.RunnerUpCount}, p-value {p.PValue:F4}");
        Assert.That(p.TopCount + p.RunnerUpCount, Is.EqualTo(2000));
    }

    [Test]
    public void Predict_PointFarFromTheHyperplane_ReturnsItsSide()
    {
        using var lc = Linear(TestContext.CurrentContext.Test.FullName, -0.4);
        var (model, x) = (lc.Model, lc.X);
        var p = new SmoothedClassifier(model, 0.25f).Predict(x, 9, 1000, Alpha);
        Assert.That(p.Predicted, Is.Zero);
        Assert.That(p.PValue, Is.LessThan(Alpha));
    }

    /// <summary>
    /// The whole pipeline against the host: copy j of point i is x + σ·z with z_k = Normal(Draw(seed, stream = i,
    /// purpose 7, sample = j, element k)), and f counts it as class 1 when its margin is positive. Float rounding may
    /// flip draws whose margin is within 1e-4 of 0; none may differ otherwise.
    /// </summary>
    [Test]
    public void SampleCounts_LinearModel_MatchHostCountOfThePhiloxDraws()
    {
        using var lc = Linear(TestContext.CurrentContext.Test.FullName, 0.05);
        var (model, x, w) = (lc.Model, lc.X, lc.W);
        const float sigma = 0.5f;
        const ulong seed = 23;
        const uint point = 41, first = 100;
        const int count = 3000;
        int[] counts = new SmoothedClassifier(model, sigma, 256, seed).SampleCounts(x, point, first, count);
        float[] x0 = x.ToArray();
        double b = model.Bias[1];
        int positive = 0, close = 0;
        for (uint j = first; j < first + count; j++)
        {
            double margin = b;
            for (int k = 0; k < D; k++)
            {
                var r = Philox.Draw(seed, point, Philox.PurposeNoise, j, (uint)k);
                margin += w[k] * (x0[k] + sigma * Philox.Normal(r.X0, r.X1));
            }
            if (margin > 0) positive++;
            if (Math.Abs(margin) < 1e-4) close++;
        }
        Assert.That(counts.Sum(), Is.EqualTo(count));
        Assert.That(counts[1], Is.EqualTo(positive).Within(close), $"{close} draws within 1e-4 of the boundary");
    }

    [Test]
    public void Certify_BatchSizeAndRepeat_GiveTheSameCertificate()
    {
        using var lc = Linear(TestContext.CurrentContext.Test.FullName, 0.1);
        var (model, x) = (lc.Model, lc.X);
        var small = new SmoothedClassifier(model, 0.25f, batchSize: 7, seed: 3).Certify(x, 12, 50, 700, Alpha);
        var large = new SmoothedClassifier(model, 0.25f, batchSize: 1000, seed: 3).Certify(x, 12, 50, 700, Alpha);
        var again = new SmoothedClassifier(model, 0.25f, batchSize: 1000, seed: 3).Certify(x, 12, 50, 700, Alpha);
        var otherPoint = new SmoothedClassifier(model, 0.25f, batchSize: 1000, seed: 3).Certify(x, 13, 50, 700, Alpha);
        Assert.That(small, Is.EqualTo(large));
        Assert.That(again, Is.EqualTo(large));
        Assert.That(otherPoint.Count, Is.Not.EqualTo(large.Count), "another point id draws other noise");
    }

    [Test]
    public void Certify_TrainingModeModel_RunsInEvalModeAndRestoresIt()
    {
        using var lc = Linear(TestContext.CurrentContext.Test.FullName, 0.1);
        var (model, x) = (lc.Model, lc.X);
        model.Train();
        var progress = new List<int>();
        new SmoothedClassifier(model, 0.25f, batchSize: 40).Certify(x, 0, 30, 100, Alpha, new SyncProgress<int>(progress.Add));
        Assert.That(model.TrainingForwards, Is.Zero);
        Assert.That(model.Training, Is.True);
        Assert.That(progress, Is.EqualTo(new[] { 30, 70, 110, 130 }), "draws done after each batch, out of N0 + N");
    }

    [Test]
    public void Certify_BadArguments_ThrowNamingTheProblem()
    {
        using var lc = Linear(TestContext.CurrentContext.Test.FullName, 0.1);
        var (model, x) = (lc.Model, lc.X);
        using var two = Tensor.Zeros(Backends.Cpu, [2, .. InputShape]);
        var smoothed = new SmoothedClassifier(model, 0.25f);
        Assert.Multiple(() =>
        {
            Assert.That(() => smoothed.Certify(two, 0, 10, 10, Alpha), Throws.ArgumentException.With.Message.Contains("one 1×1×4×4"));
            Assert.That(() => smoothed.Certify(x, 0, 0, 10, Alpha), Throws.ArgumentException.With.Message.Contains("N0"));
            Assert.That(() => smoothed.Certify(x, 0, 10, 10, 1.5), Throws.ArgumentException.With.Message.Contains("alpha"));
            Assert.That(() => new SmoothedClassifier(model, 0f), Throws.ArgumentException.With.Message.Contains("sigma"));
            Assert.That(() => new SmoothedClassifier(model, 1f, batchSize: 0), Throws.ArgumentException.With.Message.Contains("batch"));
        });
    }

    [Test]
    public void CertifiedAccuracy_HandMadePoints_CountsCorrectPointsCertifiedAtLeastR()
    {
        CertifiedPoint[] points =
        [
            new(0, 1, 1, 0.6, true, 0), new(1, 2, 2, 0.2, true, 0), new(2, 3, 4, 0.9, false, 0),
            new(3, 0, SmoothedClassifier.Abstain, 0, false, 0),
        ];
        Assert.That(CertifiedAccuracy.At(points, [0, 0.2, 0.5, 0.6, 1.0]).Select(p => p.Accuracy),
            Is.EqualTo(new[] { 0.5, 0.5, 0.25, 0.25, 0 }));
        Assert.That(CertifiedAccuracy.Curve(points), Is.EqualTo(new[] { (0.0, 0.5), (0.2, 0.5), (0.6, 0.25) }));
        Assert.That(CertifiedAccuracy.At([], 0.5), Is.Zero);
    }

    /// <summary>Φ(z) = ½ + ∫₀^z φ(t) dt by composite Simpson with 20,000 intervals (error far below 1e-12).</summary>
    private static double NormalCdf(double z)
    {
        const int m = 20_000;
        double h = z / m, sum = Phi(0) + Phi(z);
        for (int i = 1; i < m; i++) sum += (i % 2 == 1 ? 4 : 2) * Phi(i * h);
        return 0.5 + sum * h / 3;
        static double Phi(double t) => Math.Exp(-0.5 * t * t) / Math.Sqrt(2 * Math.PI);
    }
}
