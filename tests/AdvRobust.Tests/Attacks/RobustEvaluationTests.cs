using System.Text.Json;
using AdvRobust.Core;
using AdvRobust.Core.Attacks;
using AdvRobust.Core.Data;
using AdvRobust.Core.Nn;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Attacks;

// RobustEvaluation (Core/Attacks/RobustEvaluation.cs): AutoAttack-style bookkeeping on an MLP over 3×8×8 images.
public class RobustEvaluationTests
{
    private static IBackend Cpu => Backends.Cpu;

    private static SeededRandom Rng() => new(TestContext.CurrentContext.Test.FullName);

    private static (Mlp Model, LabeledImages Data) Problem(int n)
    {
        var (model, x, y) = AttackTestData.Mlp(Cpu, Rng(), n);
        return (model, new LabeledImages(n, 3, 8, 8, x, y, 10, "synthetic"));
    }

    /// <summary>A small suite of every attack kind; eps 0.02 fools a part of the MLP's points.</summary>
    private static IAttack[] Suite() =>
    [
        new Pgd(new PgdSettings(PgdNorm.Linf, 0.02f, 0.005f, Steps: 2, Seed: 1)),
        new Apgd(new ApgdSettings(PgdNorm.Linf, 0.02f, Steps: 5, Seed: 1)),
        new Apgd(new ApgdSettings(PgdNorm.Linf, 0.02f, Steps: 3, Loss: AttackLossKind.TargetedDlr, TargetClasses: 2,
            Seed: 1)),
        new Square(new SquareSettings(0.02f, Queries: 20, Seed: 1)),
    ];

    [Test]
    public void RobustEvaluation_Sequential_WorstCaseAtMostEachAttackAndOnlyRobustPointsAttacked()
    {
        const int n = 60;
        var (model, data) = Problem(n);
        var recorders = Suite().Select(a => new RecordingAttack(a)).ToArray();
        var stages = new List<EvaluationProgress>();
        var steps = new List<AttackProgress>();
        var result = new RobustEvaluation(recorders, batchSize: 16).Run(model, data,
            new ListProgress<EvaluationProgress>(stages), new ListProgress<AttackProgress>(steps));

        bool[] clean = Clean(model, data);
        Assert.That(result.CleanCorrect, Is.EqualTo(clean.Count(c => c)));
        Assert.That(result.CleanCorrect, Is.InRange(1, n - 1));
        // Attack 1 sees every clean-correct point; attack a sees exactly the points no earlier attack fooled.
        var robust = clean.ToArray();
        for (int a = 0; a < recorders.Length; a++)
        {
            var expected = Enumerable.Range(0, n).Where(i => robust[i]).Select(i => (uint)i).ToArray();
            Assert.That(recorders[a].Ids.Order(), Is.EqualTo(expected), $"{recorders[a].Name}: wrong points");
            Assert.That(result.Attacks[a].Attacked, Is.EqualTo(expected.Length));
            foreach (uint id in recorders[a].Fooled) robust[id] = false;
            Assert.That(result.Attacks[a].Fooled, Is.EqualTo(recorders[a].Fooled.Count));
            Assert.That(result.Attacks[a].RobustAfter, Is.EqualTo(robust.Count(r => r)));
            Assert.That(result.RobustAccuracy, Is.LessThanOrEqualTo(result.Attacks[a].Accuracy), "worst case");
        }
        Assert.That(result.Robust, Is.EqualTo(robust));
        Assert.That(result.RobustCorrect, Is.InRange(1, result.CleanCorrect - 1), "should fool some points, not all");
        Assert.That(result.RobustAccuracy, Is.EqualTo(result.RobustCorrect / (double)n));
        string[] names = ["clean", "pgd-linf", "apgd-ce", "apgd-t", "square"];
        Assert.That(stages.Select(s => s.Stage).Distinct(), Is.EqualTo(names));
        Assert.That(stages.Last().Done, Is.EqualTo(stages.Last().Total));
        Assert.That(steps.Select(s => s.Attack).Distinct(), Is.SupersetOf(new[] { "pgd-linf", "apgd-ce" }));
    }

    [Test]
    public void RobustEvaluation_Individual_WorstCaseIsAndOfAttacksAndEqualsSequential()
    {
        const int n = 48;
        var (model, data) = Problem(n);
        var sequential = new RobustEvaluation(Suite(), batchSize: 20).Run(model, data);
        var individual = new RobustEvaluation(Suite(), batchSize: 20, individual: true).Run(model, data);
        Assert.That(individual.Mode, Is.EqualTo("individual"));
        foreach (var report in individual.Attacks)
        {
            Assert.That(report.Attacked, Is.EqualTo(individual.CleanCorrect), report.Name);
            Assert.That(individual.RobustAccuracy, Is.LessThanOrEqualTo(report.Accuracy), report.Name);
        }
        // Per-sample results do not depend on which other points share the batch, so pruning changes nothing.
        Assert.That(individual.Robust, Is.EqualTo(sequential.Robust));
        Assert.That(individual.Attacks.Min(a => a.Accuracy), Is.GreaterThan(individual.RobustAccuracy - 1e-12));
    }

    [Test]
    public void RobustEvaluation_BatchSize32Or256_IdenticalRobustFlags()
    {
        const int n = 264; // 8 full batches of 32 and a short one; one batch of 256 and a short one
        var (model, data) = Problem(n);
        var small = new RobustEvaluation(Suite(), batchSize: 32).Run(model, data);
        var large = new RobustEvaluation(Suite(), batchSize: 256).Run(model, data);
        Assert.That(large.Robust, Is.EqualTo(small.Robust));
        Assert.That(large.Attacks.Select(a => a.Fooled), Is.EqualTo(small.Attacks.Select(a => a.Fooled)));
        Assert.That(small.RobustCorrect, Is.InRange(1, small.CleanCorrect - 1));
        Assert.That(small.Attacks.Count(a => a.Fooled > 0), Is.GreaterThanOrEqualTo(2), "attacks should fool points");
    }

    [Test]
    public void RobustEvaluation_Result_SerializesSettingsSeedAndCounts()
    {
        var (model, data) = Problem(20);
        model.Train();
        int before = model.TrainingForwards;
        var result = new RobustEvaluation(Suite(), batchSize: 8).Run(model, data);
        Assert.That(model.TrainingForwards, Is.EqualTo(before), "evaluation ran a forward pass in training mode");
        Assert.That(model.Training, Is.True, "training mode was not restored");

        using var json = JsonDocument.Parse(result.ToJson());
        var root = json.RootElement;
        Assert.That(root.GetProperty("Samples").GetInt32(), Is.EqualTo(20));
        Assert.That(root.GetProperty("CleanCorrect").GetInt32(), Is.EqualTo(result.CleanCorrect));
        Assert.That(root.GetProperty("RobustCorrect").GetInt32(), Is.EqualTo(result.RobustCorrect));
        var apgdT = root.GetProperty("Attacks")[2];
        Assert.That(apgdT.GetProperty("Name").GetString(), Is.EqualTo("apgd-t"));
        Assert.That(apgdT.GetProperty("Norm").GetString(), Is.EqualTo("Linf"));
        var settings = apgdT.GetProperty("Settings");
        Assert.That(settings.GetProperty("Seed").GetUInt64(), Is.EqualTo(1UL));
        Assert.That(settings.GetProperty("Steps").GetInt32(), Is.EqualTo(3));
        Assert.That(settings.GetProperty("Loss").GetString(), Is.EqualTo("TargetedDlr"));
        Assert.That(settings.GetProperty("TargetClasses").GetInt32(), Is.EqualTo(2));
        var square = root.GetProperty("Attacks")[3].GetProperty("Settings");
        Assert.That(square.GetProperty("Queries").GetInt32(), Is.EqualTo(20));
    }

    [Test]
    public void RobustEvaluation_Standard_IsApgdCeApgdTFabTSquare()
    {
        // AutoAttack's standard order (autoattack.py, version='standard'): apgd-ce, apgd-t, fab-t, square.
        var linf = RobustEvaluation.Standard(PgdNorm.Linf, 8f / 255, seed: 5);
        Assert.That(linf.Attacks.Select(a => a.Name), Is.EqualTo(new[] { "apgd-ce", "apgd-t", "fab-t", "square" }));
        var apgdT = (ApgdSettings)linf.Attacks[1].Settings;
        Assert.That((apgdT.Steps, apgdT.TargetClasses, apgdT.Restarts, apgdT.Seed), Is.EqualTo((100, 9, 1, 5UL)));
        var fabT = (FabSettings)linf.Attacks[2].Settings;
        Assert.That((fabT.Norm, fabT.Eps, fabT.Steps, fabT.TargetClasses, fabT.Restarts, fabT.Seed),
            Is.EqualTo((PgdNorm.Linf, 8f / 255, 100, 9, 1, 5UL)));
        Assert.That(((SquareSettings)linf.Attacks[3].Settings).Queries, Is.EqualTo(5000));
        Assert.That(linf.Attacks.Select(a => a.Norm), Is.All.EqualTo(PgdNorm.Linf));
        // AutoAttack's standard l2 suite runs the same four, in l2.
        var l2 = RobustEvaluation.Standard(PgdNorm.L2, 0.5f, seed: 5);
        Assert.That(l2.Attacks.Select(a => a.Name), Is.EqualTo(new[] { "apgd-ce", "apgd-t", "fab-t", "square" }));
        Assert.That(l2.Attacks.Select(a => a.Norm), Is.All.EqualTo(PgdNorm.L2));
        var square = (SquareSettings)l2.Attacks[3].Settings;
        Assert.That((square.Queries, square.PInit, square.Restarts, square.Eps, square.Seed),
            Is.EqualTo((5000, 0.8f, 1, 0.5f, 5UL)));
    }

    private static bool[] Clean(Classifier model, LabeledImages data)
    {
        using var x = Tensor.FromArray(Cpu, data.Pixels, data.N, 3, 8, 8);
        return AttackData.Predict(model, x).Select((p, i) => p == data.Labels[i]).ToArray();
    }

    /// <summary>Passes an attack through, recording which samples it was given and which it fooled.</summary>
    private sealed class RecordingAttack(IAttack inner) : IAttack
    {
        public List<uint> Ids { get; } = [];
        public List<uint> Fooled { get; } = [];
        public string Name => inner.Name;
        public PgdNorm Norm => inner.Norm;
        public float Eps => inner.Eps;
        public bool NeedsTargets => inner.NeedsTargets;
        public object Settings => inner.Settings;

        public AttackResult Run(Classifier model, Tensor x, Tensor labels, uint[] sampleIds, Tensor? targets = null,
            IProgress<AttackProgress>? progress = null)
        {
            Ids.AddRange(sampleIds);
            var result = inner.Run(model, x, labels, sampleIds, targets, progress);
            int[] pred = AttackData.Predict(model, result.Adversarial), y = labels.ToArray<int>();
            for (int i = 0; i < y.Length; i++) if (pred[i] != y[i]) Fooled.Add(sampleIds[i]);
            return result;
        }
    }

    /// <summary>Records reports synchronously (Progress&lt;T&gt; posts them to the thread pool).</summary>
    private sealed class ListProgress<T>(List<T> items) : IProgress<T>
    {
        public void Report(T value) => items.Add(value);
    }
}
