using AdvRobust.Core;
using AdvRobust.Core.Autograd;
using AdvRobust.Core.Tensors;
using AdvRobust.Research.Training;
using AdvRobust.Research.Training.Objectives;
using AdvRobust.Tests.Support;
using static AdvRobust.Tests.Training.Objectives.ObjectiveTestData;

namespace AdvRobust.Tests.Training.Objectives;

// Each objective's backward pass against finite differences of its own loss, with everything the step draws or
// searches (adversarial examples, positives, mined negatives) held fixed, and each loss value against the papers'
// formula recomputed in double from separate forward passes. Shape letters: B = 12 rows of 1×4×4, K = 3 classes.
public class ObjectiveGradientTests
{
    private static IBackend Cpu => Backends.Cpu;

    private static SeededRandom Rng() => new(TestContext.CurrentContext.Test.FullName);

    [Test]
    public void Standard_ParameterGradients_MatchFiniteDifferences()
    {
        using var model = new TinyNet(Cpu, 1);
        var batch = Batch(Cpu, Separable(Rng(), 24), Range(0, 12), step: 0);
        var objective = new StandardObjective(new StandardSettings { LabelSmoothing = 0.1f });
        AssertGradientMatchesFiniteDifferences(model, tape => objective.Forward(tape, model, batch));
        Dispose(batch);
    }

    [Test]
    public void PgdAt_ParameterGradients_MatchFiniteDifferencesWithAdversarialFixed()
    {
        using var model = new TinyNet(Cpu, 2);
        var batch = Batch(Cpu, Separable(Rng(), 24), Range(0, 12), step: 3);
        var objective = new PgdAtObjective(new PgdAtSettings { Eps = 0.1f, StepSize = 0.03f, Steps = 3 });
        using var adversarial = objective.Attack(model, batch);
        AssertGradientMatchesFiniteDifferences(model, tape => objective.Forward(tape, model, adversarial, batch));
        Dispose(batch);
    }

    [Test]
    public void Trades_ParameterGradients_MatchFiniteDifferencesWithAdversarialFixed()
    {
        using var model = new TinyNet(Cpu, 3);
        var batch = Batch(Cpu, Separable(Rng(), 24), Range(0, 12), step: 5);
        var objective = new TradesObjective(new TradesSettings { Eps = 0.1f, StepSize = 0.03f, Steps = 3 });
        using var adversarial = objective.Attack(model, batch);
        AssertGradientMatchesFiniteDifferences(model, tape => objective.Forward(tape, model, adversarial, batch));
        Dispose(batch);
    }

    [Test]
    public void Trades_Loss_IsCleanCrossEntropyPlusBetaKlOfCleanToAdversarial()
    {
        using var model = new TinyNet(Cpu, 4);
        var batch = Batch(Cpu, Separable(Rng(), 24), Range(0, 12), step: 1);
        var objective = new TradesObjective(new TradesSettings { Beta = 3f, Eps = 0.1f, StepSize = 0.03f, Steps = 3 });
        using var adversarial = objective.Attack(model, batch);
        int[] y = batch.Labels.ToArray<int>();
        var stats = ObjectiveStats(model, y, tape => objective.Forward(tape, model, adversarial, batch));
        var (clean, _) = Outputs(model, batch.X);
        var (adv, _) = Outputs(model, adversarial);
        double ce = 0, kl = 0;
        for (int i = 0; i < y.Length; i++)
        {
            ce += CrossEntropy(clean.AsSpan(i * 3, 3), y[i]) / y.Length;
            for (int j = 0; j < 3; j++)
            {
                // KL(p_clean ‖ p_adv) = Σ_j p_j (log p_j − log q_j), with log p_j = −CE(z, j).
                double logP = -CrossEntropy(clean.AsSpan(i * 3, 3), j), logQ = -CrossEntropy(adv.AsSpan(i * 3, 3), j);
                kl += Math.Exp(logP) * (logP - logQ) / y.Length;
            }
        }
        Assert.That(kl, Is.GreaterThan(1e-4), "the attack should move the adversarial distribution");
        Assert.That(stats.Components["ce"], Is.EqualTo(ce).Within(1e-5));
        Assert.That(stats.Components["kl"], Is.EqualTo(kl).Within(1e-5));
        Assert.That(stats.Loss, Is.EqualTo(ce + 3 * kl).Within(1e-5));
        Dispose(batch);
    }

    [TestCase(false)]
    [TestCase(true)]
    public void Tla_ParameterGradients_MatchFiniteDifferencesWithNegativesFixed(bool selfPositive)
    {
        using var model = new TinyNet(Cpu, 5);
        var data = Separable(Rng(), 36);
        var batch = Batch(Cpu, data, Range(0, 12), step: 2);
        var objective = new TlaObjective(LargeTerms(selfPositive), new ObjectiveContext(data, 11));
        using var inputs = objective.Prepare(model, batch, batch.Labels.ToArray<int>());
        AssertGradientMatchesFiniteDifferences(model, tape => objective.Forward(tape, model, inputs, batch));
        Dispose(batch);
    }

    [Test]
    public void Tla_RowsWithoutNegative_LeftOutOfTripletAndGradientsStillMatch()
    {
        // Class 1 has 2 of 32 images, so most 4-image pools hold only class 0: rows of class 0 then have no negative.
        int[] labels = Enumerable.Range(0, 32).Select(i => i < 2 ? 1 : 0).ToArray();
        var data = Separable(Rng(), labels, classes: 2);
        using var model = new TinyNet(Cpu, 6, classes: 2);
        var objective = new TlaObjective(LargeTerms(true), new ObjectiveContext(data, 11));
        int[] rows = [0, 1, 2, 3];
        for (long step = 0; ; step++)
        {
            var batch = Batch(Cpu, data, rows, step);
            using var inputs = objective.Prepare(model, batch, labels[..4]);
            if (inputs.Pool.Any(i => labels[i] == 1))
            {
                Dispose(batch);
                Assert.That(step, Is.LessThan(20), "no pool without class 1 in 20 steps");
                continue;
            }
            Assert.That(inputs.Rows, Is.EqualTo(new[] { 0, 1 }), "only the class-1 rows have a negative");
            Assert.That(inputs.NegativeSlots[2..], Is.All.EqualTo(-1));
            Assert.That(inputs.Negatives!.Shape, Is.EqualTo(new Shape(2, 1, 4, 4)));
            AssertGradientMatchesFiniteDifferences(model, tape => objective.Forward(tape, model, inputs, batch));
            Dispose(batch);
            break;
        }
    }

    [TestCase(false)]
    [TestCase(true)]
    public void Tla_Loss_IsCrossEntropyPlusWeightedTripletAndNormTerms(bool selfPositive)
    {
        using var model = new TinyNet(Cpu, 7);
        var data = Separable(Rng(), 36);
        var batch = Batch(Cpu, data, Range(6, 12), step: 4);
        var settings = LargeTerms(selfPositive);
        var objective = new TlaObjective(settings, new ObjectiveContext(data, 11));
        int[] y = batch.Labels.ToArray<int>();
        using var inputs = objective.Prepare(model, batch, y);
        Assert.That(inputs.Rows, Has.Length.EqualTo(y.Length), "every row should have a negative in this pool");
        var stats = ObjectiveStats(model, y, tape => objective.Forward(tape, model, inputs, batch));

        var (logits, a) = Outputs(model, inputs.Adversarial);
        var positives = new List<(string Name, float[] P)> { ("random", Outputs(model, inputs.Positives).Embedding) };
        if (selfPositive) positives.Add(("self", Outputs(model, batch.X).Embedding));
        var (_, n) = Outputs(model, inputs.Negatives!);
        const int d = TinyNet.Embedding;
        int b = y.Length;
        double ce = Enumerable.Range(0, b)
            .Average(i => CrossEntropy(logits.AsSpan(i * 3, 3), y[i], settings.LabelSmoothing));
        double triplet = 0, norm = 0;
        foreach (var (name, p) in positives)
        {
            double hinge = Enumerable.Range(0, b).Average(i =>
            {
                var ai = a.AsSpan(i * d, d);
                double dap = 1 - AbsCosine(ai, p.AsSpan(i * d, d)), dan = 1 - AbsCosine(ai, n.AsSpan(i * d, d));
                return Math.Max(0, dap - dan + settings.Margin);
            });
            double squares = a.Concat(p).Concat(n).Sum(v => (double)v * v) / (b * d);
            if (selfPositive)
            {
                Assert.That(stats.Components["triplet." + name], Is.EqualTo(hinge).Within(1e-5), name);
                Assert.That(stats.Components["norm." + name], Is.EqualTo(squares).Within(1e-5), name);
            }
            (triplet, norm) = (triplet + hinge, norm + squares);
        }
        Assert.That(triplet, Is.GreaterThan(0.05), "the margin should keep the hinge active");
        Assert.That(stats.Components["ce"], Is.EqualTo(ce).Within(1e-5));
        Assert.That(stats.Components["triplet"], Is.EqualTo(triplet).Within(1e-5));
        Assert.That(stats.Components["norm"], Is.EqualTo(norm).Within(1e-5));
        double expected = ce + settings.TripletWeight * (triplet + settings.NormWeight * norm);
        Assert.That(stats.Loss, Is.EqualTo(expected).Within(1e-5));
        Dispose(batch);
    }

    /// <summary>
    /// TLA with a short attack and weights large enough that every part of the loss moves the gradient. The margin 1
    /// keeps every hinge active (D is in [0, 1]), so no row sits at the hinge's kink.
    /// </summary>
    private static TlaSettings LargeTerms(bool selfPositive) => new()
    {
        Eps = 0.1f, StepSize = 0.03f, Steps = 3, Margin = 1f, TripletWeight = 1f, NormWeight = 0.5f,
        SelfPositive = selfPositive,
    };

    private static StepStats ObjectiveStats(TinyNet model, int[] labels, Func<Tape, LossTerms> forward)
    {
        model.Train();
        using var tape = new Tape(Cpu, parameterGradients: false);
        return forward(tape).Stats(labels);
    }
}
