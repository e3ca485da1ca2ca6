using AdvRobust.Core;
using AdvRobust.Core.Attacks;
using AdvRobust.Core.Nn;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Attacks;

// PGD (Core/Attacks/Pgd.cs) on tiny CPU models: invariants, known answers on a linear classifier, restarts, targets,
// and independence of the batch. Shape letters: N samples of 1×4×4 or 3×8×8 pixels.
public class PgdTests
{
    private static IBackend Cpu => Backends.Cpu;

    private static SeededRandom Rng() => new(TestContext.CurrentContext.Test.FullName);

    [TestCase(PgdNorm.Linf, 8f / 255, 2f / 255)]
    [TestCase(PgdNorm.L2, 0.5f, 0.1f)]
    public void Pgd_RandomStartSteps_StayInBallAndBox(PgdNorm norm, float eps, float alpha)
    {
        var (model, x, y) = AttackTestData.Mlp(Cpu, Rng(), 24);
        using var tx = Tensor.FromArray(Cpu, x, 24, 3, 8, 8);
        using var ty = Tensor.FromArray(Cpu, y, 24);
        var pgd = new Pgd(new PgdSettings(norm, eps, alpha, Steps: 6, Restarts: 2, Seed: 7));
        using var result = pgd.Run(model, tx, ty, 0u);
        AttackData.AssertInBallAndBox(result.Adversarial, tx, norm, eps);
    }

    [Test]
    public void Pgd_ZeroStepsNoRandomStart_ReturnsX()
    {
        var (model, x, y) = AttackTestData.Mlp(Cpu, Rng(), 10);
        using var tx = Tensor.FromArray(Cpu, x, 10, 3, 8, 8);
        using var ty = Tensor.FromArray(Cpu, y, 10);
        var pgd = new Pgd(new PgdSettings(PgdNorm.Linf, 0.1f, 0.01f, Steps: 0, RandomStart: false));
        using var result = pgd.Run(model, tx, ty, 0u);
        Assert.That(result.Adversarial.ToArray(), Is.EqualTo(x));
        int[] pred = AttackData.Predict(model, tx);
        Assert.That(result.Success, Is.EqualTo(pred.Select((p, i) => p != y[i]).ToArray()));
        float[] cleanLoss = AttackData.CrossEntropy(model, tx, y).Select(v => (float)v).ToArray();
        AssertClose.All(cleanLoss, result.Loss, 1e-5, 1e-5, "loss at x");
    }

    [TestCase(PgdNorm.Linf, false)]
    [TestCase(PgdNorm.L2, false)]
    [TestCase(PgdNorm.Linf, true)]
    public void Pgd_LinearBinary_AdversarialLossAtLeastCleanLoss(PgdNorm norm, bool keepHighestLoss)
    {
        // A linear model with the (convex) CE loss: the maximizer over the ball is a fixed vertex (Linf) or a fixed
        // point (L2) that PGD reaches from any start, so the loss at the result must be at least the clean loss.
        const int n = 32;
        var (model, x, y, _) = AttackTestData.Binary(Cpu, Rng(), n, norm);
        using var tx = Tensor.FromArray(Cpu, x, n, 1, 4, 4);
        using var ty = Tensor.FromArray(Cpu, y, n);
        float eps = norm == PgdNorm.Linf ? 0.05f : 0.2f;
        var pgd = new Pgd(new PgdSettings(norm, eps, eps / 2, Steps: 10, KeepHighestLoss: keepHighestLoss, Seed: 3));
        using var result = pgd.Run(model, tx, ty, 0u);
        double[] clean = AttackData.CrossEntropy(model, tx, y);
        double[] adv = AttackData.CrossEntropy(model, result.Adversarial, y);
        for (int i = 0; i < n; i++)
            Assert.That(adv[i], Is.GreaterThanOrEqualTo(clean[i] - 1e-6), $"sample {i}: adversarial CE below clean CE");
        Assert.That(adv.Zip(clean).Count(p => p.First > p.Second + 1e-3), Is.EqualTo(n), "every loss should rise");
    }

    [TestCase(PgdNorm.Linf)]
    [TestCase(PgdNorm.L2)]
    public void Pgd_LinearBinary_FoolsExactlyBeyondMinimalPerturbation(PgdNorm norm)
    {
        const int n = 96;
        var (model, x, y, epsStar) = AttackTestData.Binary(Cpu, Rng(), n, norm);
        float eps = (float)Math.Min(epsStar.Order().ElementAt(n / 2), 0.25);
        using var tx = Tensor.FromArray(Cpu, x, n, 1, 4, 4);
        using var ty = Tensor.FromArray(Cpu, y, n);
        // Linf: steps of eps/4 reach the optimal vertex from any start in 8 steps; L2: steps of eps align the
        // perturbation with the optimal direction geometrically fast.
        var settings = norm == PgdNorm.Linf
            ? new PgdSettings(norm, eps, eps / 4, Steps: 10, Seed: 11)
            : new PgdSettings(norm, eps, eps, Steps: 20, Seed: 11);
        using var result = new Pgd(settings).Run(model, tx, ty, 0u);
        int below = 0, above = 0;
        for (int i = 0; i < n; i++)
        {
            string what = $"sample {i}: eps* {epsStar[i]:G4}, eps {eps}";
            if (epsStar[i] < eps / 1.02)
            {
                below++;
                Assert.That(result.Success[i], Is.True, what);
            }
            if (epsStar[i] > eps * 1.02)
            {
                above++;
                Assert.That(result.Success[i], Is.False, what);
            }
        }
        Assert.That(below, Is.GreaterThan(20), "too few samples inside the ball to test");
        Assert.That(above, Is.GreaterThan(20), "too few samples outside the ball to test");
        int[] pred = AttackData.Predict(model, result.Adversarial);
        Assert.That(result.Success, Is.EqualTo(pred.Select((p, i) => p != y[i]).ToArray()), "flags match predictions");
    }

    [TestCase(false, AttackLossKind.CW)]
    [TestCase(true, AttackLossKind.CrossEntropy)]
    public void Pgd_MoreRestarts_NeverLowerPerSampleLoss(bool keepHighestLoss, AttackLossKind loss)
    {
        const int n = 32;
        var (model, x, y) = AttackTestData.Mlp(Cpu, Rng(), n);
        using var tx = Tensor.FromArray(Cpu, x, n, 3, 8, 8);
        using var ty = Tensor.FromArray(Cpu, y, n);
        float[]? previousLoss = null;
        bool[]? previousSuccess = null;
        foreach (int restarts in new[] { 1, 2, 4 })
        {
            var pgd = new Pgd(new PgdSettings(PgdNorm.Linf, 0.02f, 0.005f, Steps: 3, Restarts: restarts, Loss: loss,
                KeepHighestLoss: keepHighestLoss, Seed: 5));
            using var result = pgd.Run(model, tx, ty, 0u);
            AssertLossMatchesExample(model, result, y, loss);
            if (previousLoss is not null)
                for (int i = 0; i < n; i++)
                {
                    Assert.That(result.Loss[i], Is.GreaterThanOrEqualTo(previousLoss[i]), $"sample {i}, {restarts}");
                    if (!keepHighestLoss && previousSuccess![i]) Assert.That(result.Success[i], Is.True);
                }
            previousLoss = result.Loss;
            previousSuccess = result.Success;
        }
        Assert.That(previousSuccess!.Count(s => s), Is.InRange(1, n - 1), "eps should fool some samples, not all");
    }

    [Test]
    public void Pgd_Targeted_ReachesTargetOnLinearModel()
    {
        const int n = 20, k = 4, d = 16;
        var rng = Rng();
        var model = new LinearClassifier(Cpu, rng.Normal(k * d, 1f), rng.Normal(k, 0.1f), 1, 4, 4);
        float[] x = rng.Uniform(n * d, 0.2f, 0.8f);
        using var tx = Tensor.FromArray(Cpu, x, n, 1, 4, 4);
        int[] y = AttackData.Predict(model, tx), t = y.Select(v => (v + 1) % k).ToArray();
        using var ty = Tensor.FromArray(Cpu, y, n);
        using var tt = Tensor.FromArray(Cpu, t, n);
        var pgd = new Pgd(new PgdSettings(PgdNorm.Linf, 0.5f, 0.05f, Steps: 30, Targeted: true, Seed: 1));
        using var result = pgd.Run(model, tx, ty, 0u, tt);
        Assert.That(AttackData.Predict(model, result.Adversarial), Is.EqualTo(t));
        Assert.That(result.Success, Is.All.True);
        AttackData.AssertInBallAndBox(result.Adversarial, tx, PgdNorm.Linf, 0.5f);
    }

    [TestCase(PgdNorm.Linf)]
    [TestCase(PgdNorm.L2)]
    public void Pgd_SplitBatch_SameRowsAsWholeBatch(PgdNorm norm)
    {
        const int n = 16, d = 192;
        var (model, x, y) = AttackTestData.Mlp(Cpu, Rng(), n);
        float eps = norm == PgdNorm.Linf ? 0.03f : 0.5f;
        var pgd = new Pgd(new PgdSettings(norm, eps, 0.01f, Steps: 3, Restarts: 2, Seed: 9));
        using var tx = Tensor.FromArray(Cpu, x, n, 3, 8, 8);
        using var ty = Tensor.FromArray(Cpu, y, n);
        using var whole = pgd.Run(model, tx, ty, 100u);
        float[] whole0 = whole.Adversarial.ToArray();
        for (int half = 0; half < 2; half++)
        {
            int lo = half * n / 2;
            using var hx = Tensor.FromArray(Cpu, x[(lo * d)..((lo + n / 2) * d)], n / 2, 3, 8, 8);
            using var hy = Tensor.FromArray(Cpu, y[lo..(lo + n / 2)], n / 2);
            using var part = pgd.Run(model, hx, hy, 100u + (uint)lo);
            Assert.That(part.Adversarial.ToArray(), Is.EqualTo(whole0[(lo * d)..((lo + n / 2) * d)]), $"half {half}");
            Assert.That(part.Success, Is.EqualTo(whole.Success[lo..(lo + n / 2)]));
        }
    }

    [Test]
    public void Pgd_TrainingModeModel_AttackedInEvalModeAndRestored()
    {
        var (model, x, y) = AttackTestData.Mlp(Cpu, Rng(), 8);
        using var tx = Tensor.FromArray(Cpu, x, 8, 3, 8, 8);
        using var ty = Tensor.FromArray(Cpu, y, 8);
        model.Train();
        int before = model.TrainingForwards;
        using var result = new Pgd(new PgdSettings(PgdNorm.Linf, 0.03f, 0.01f, Steps: 2)).Run(model, tx, ty, 0u);
        Assert.That(model.TrainingForwards, Is.EqualTo(before), "a forward pass ran in training mode");
        Assert.That(model.Training, Is.True, "training mode was not restored");
        Assert.That(model.Parameters().All(p => p.Grad is null), Is.True, "an attack computed a weight gradient");
    }

    /// <summary>The reported loss is the attack loss recomputed at the returned example.</summary>
    private static void AssertLossMatchesExample(Classifier model, AttackResult result, int[] y, AttackLossKind loss)
    {
        float[] z = AttackData.Logits(model, result.Adversarial);
        int k = model.Classes;
        for (int i = 0; i < y.Length; i++)
        {
            double[] zi = z.AsSpan(i * k, k).ToArray().Select(v => (double)v).ToArray();
            double expected = loss == AttackLossKind.CW
                ? zi.Where((_, j) => j != y[i]).Max() - zi[y[i]]
                : LinearClassifier.CrossEntropy(zi, y[i]);
            Assert.That(result.Loss[i], Is.EqualTo(expected).Within(1e-4 + 1e-4 * Math.Abs(expected)), $"sample {i}");
        }
    }
}
