using System.Text.Json;
using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Research.Training;
using AdvRobust.Research.Training.Objectives;
using AdvRobust.Tests.Attacks;
using AdvRobust.Tests.Support;
using static AdvRobust.Tests.Training.Objectives.ObjectiveTestData;

namespace AdvRobust.Tests.Training.Objectives;

// Whole steps of each objective: determinism, keying of the random draws by (seed, step, sample id), model modes,
// weight-gradient passes and freed intermediates. Shape letters: B = 8 or 12 rows of 1×4×4, K = 3 classes.
public class ObjectiveStepTests
{
    private static IBackend Cpu => Backends.Cpu;

    private static SeededRandom Rng() => new(TestContext.CurrentContext.Test.FullName);

    /// <summary>Each kind with a short attack (3 steps, ε = 0.1) so that a step takes milliseconds.</summary>
    private static ITrainingObjective Create(string kind, TrainData data, string extra = "")
    {
        string attack = kind == "standard" ? "" : "\"eps\":0.1,\"stepSize\":0.03,\"steps\":3";
        string json = "{" + string.Join(",", new[] { attack, extra }.Where(s => s.Length > 0)) + "}";
        return TrainingObjectives.Create(kind, JsonDocument.Parse(json).RootElement, data.Context);
    }

    /// <summary>A training set and the context built on it.</summary>
    private sealed record TrainData(AdvRobust.Core.Data.LabeledImages Data, ObjectiveContext Context);

    private static TrainData Data(int n = 36)
    {
        var data = Separable(Rng(), n);
        return new TrainData(data, new ObjectiveContext(data, 11));
    }

    [TestCase("standard")]
    [TestCase("pgd-at")]
    [TestCase("trades")]
    [TestCase("tla")]
    public void Step_SameSeedStepAndBatch_BitIdenticalGradientsAndStats(string kind)
    {
        var data = Data();
        var runs = new List<(Dictionary<string, float[]> Grads, StepStats Stats)>();
        for (int run = 0; run < 2; run++)
        {
            using var model = new TinyNet(Cpu, 21);
            using var objective = Create(kind, data, kind == "tla" ? "\"selfPositive\":true" : "");
            var batch = Batch(Cpu, data.Data, Range(3, 12), step: 7);
            var stats = objective.Step(model, batch);
            runs.Add((ParameterGradients(model), stats));
            Dispose(batch);
        }
        foreach (var (name, g) in runs[0].Grads)
        {
            Assert.That(g.Any(v => v != 0), Is.True, $"{name} got no gradient");
            Assert.That(runs[1].Grads[name], Is.EqualTo(g), name);
        }
        Assert.That(runs[1].Stats.Loss, Is.EqualTo(runs[0].Stats.Loss));
        Assert.That(runs[1].Stats.Components, Is.EqualTo(runs[0].Stats.Components));
        Assert.That(runs[1].Stats.Correct, Is.EqualTo(runs[0].Stats.Correct));
        Assert.That(runs[0].Stats.Count, Is.EqualTo(12));
    }

    [TestCase("pgd-at")]
    [TestCase("trades")]
    public void Attack_DifferentStep_DifferentStartSameStepOtherBatch_SameExample(string kind)
    {
        var data = Data();
        using var model = new TinyNet(Cpu, 22);
        using var objective = Create(kind, data);
        var first = Batch(Cpu, data.Data, Range(0, 8), step: 4);
        var next = Batch(Cpu, data.Data, Range(0, 8), step: 5);
        var shifted = Batch(Cpu, data.Data, Range(4, 8), step: 4);
        float[] a = Adversarial(objective, model, first), b = Adversarial(objective, model, next);
        float[] c = Adversarial(objective, model, shifted);
        const int d = 16;
        // The attack runs in eval mode, so a sample's example depends only on (seed, step, sample id).
        Assert.That(c[..(4 * d)], Is.EqualTo(a[(4 * d)..]), "samples 4..7 in another batch");
        int differing = Enumerable.Range(0, 8).Count(i => !a.AsSpan(i * d, d).SequenceEqual(b.AsSpan(i * d, d)));
        Assert.That(differing, Is.EqualTo(8), "every sample should start elsewhere at the next step");
        foreach (var batch in new[] { first, next, shifted }) Dispose(batch);
    }

    [TestCase("pgd-at")]
    [TestCase("trades")]
    public void Attack_StaysInEpsBallAndPixelBox(string kind)
    {
        var data = Data();
        using var model = new TinyNet(Cpu, 23);
        using var objective = Create(kind, data);
        var batch = Batch(Cpu, data.Data, Range(0, 12), step: 0);
        using var adversarial = Attack(objective, model, batch);
        AttackData.AssertInBallAndBox(adversarial, batch.X, PgdNorm.Linf, 0.1f);
        Assert.That(adversarial.ToArray(), Is.Not.EqualTo(batch.X.ToArray()));
        Dispose(batch);
    }

    [TestCase("standard", 1)]
    [TestCase("pgd-at", 1)]
    [TestCase("trades", 2)]
    [TestCase("tla", 3)]
    public void Step_TrainModeForwardsAndWeightGradients_OnlyInTheLossPasses(string kind, int lossPasses)
    {
        // Attacks and mining run in eval mode without weight gradients: batch norm counts only the loss's train-mode
        // passes, and the convolution's backward-filter runs once per such pass.
        var backend = new TrackingBackend();
        var data = Data();
        using var model = new TinyNet(backend, 24);
        using var objective = Create(kind, data);
        var batch = Batch(backend, data.Data, Range(0, 12), step: 1);
        model.Eval();
        objective.Step(model, batch);
        Assert.That(model.Training, Is.True, "the step must leave the model in train mode");
        Assert.That(model.TrainingForwards, Is.EqualTo(lossPasses), "train-mode forward passes");
        Assert.That(backend.BackwardFilterCalls, Is.EqualTo(lossPasses), "weight-gradient passes");
        Dispose(batch);
    }

    [Test]
    public void PgdAt_AttackInTrainMode_RunsTheAttackWithBatchStatistics()
    {
        var data = Data();
        using var model = new TinyNet(Cpu, 25);
        using var objective = Create("pgd-at", data, "\"attackInTrainMode\":true");
        var batch = Batch(Cpu, data.Data, Range(0, 12), step: 1);
        objective.Step(model, batch);
        // 3 ascent steps + the final evaluation of the attack, then the loss pass.
        Assert.That(model.TrainingForwards, Is.EqualTo(5));
        Dispose(batch);
    }

    [TestCase("standard")]
    [TestCase("pgd-at")]
    [TestCase("trades")]
    [TestCase("tla")]
    public void Step_Repeated_FreesEveryIntermediate(string kind)
    {
        var backend = new TrackingBackend();
        var data = Data();
        using var model = new TinyNet(backend, 26);
        using var objective = Create(kind, data, kind == "tla" ? "\"selfPositive\":true,\"poolMultiplier\":2" : "");
        var batch = Batch(backend, data.Data, Range(0, 12), step: 0);
        objective.Step(model, batch); // allocates the parameter gradients, which then stay
        int live = backend.LiveStorages;
        objective.Step(model, batch with { Step = 1 });
        Assert.That(backend.LiveStorages, Is.EqualTo(live), "tensors left alive by a step");
        Dispose(batch);
    }

    private static Tensor Attack(ITrainingObjective objective, TinyNet model, TrainingBatch batch) => objective switch
    {
        PgdAtObjective pgdAt => pgdAt.Attack(model, batch),
        TradesObjective trades => trades.Attack(model, batch),
        _ => throw new ArgumentException(objective.Name),
    };

    private static float[] Adversarial(ITrainingObjective objective, TinyNet model, TrainingBatch batch)
    {
        using var adversarial = Attack(objective, model, batch);
        return adversarial.ToArray();
    }
}
