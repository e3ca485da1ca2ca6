using System.Text.Json;
using AdvRobust.Core;
using AdvRobust.Core.Optim;
using AdvRobust.Research.Training;
using AdvRobust.Research.Training.Objectives;
using AdvRobust.Tests.Attacks;
using AdvRobust.Tests.Support;
using static AdvRobust.Tests.Training.Objectives.ObjectiveTestData;

namespace AdvRobust.Tests.Training.Objectives;

// A few SGD steps with each objective on the separable 1×4×4 problem (36 images, 3 classes, batches of 12).
public class ObjectiveTrainingTests
{
    private static IBackend Cpu => Backends.Cpu;

    private static SeededRandom Rng() => new(TestContext.CurrentContext.Test.FullName);

    private const string Attack = "\"eps\":0.1,\"stepSize\":0.03,\"steps\":3";

    [TestCase("standard", "{}")]
    [TestCase("pgd-at", "{" + Attack + "}")]
    [TestCase("trades", "{" + Attack + "}")]
    [TestCase("tla", "{" + Attack + ",\"selfPositive\":true}")]
    public void SgdSteps_LowerTheObjectivesOwnLoss(string kind, string settings)
    {
        var data = Separable(Rng(), 36);
        using var model = new TinyNet(Cpu, 41);
        using var objective = TrainingObjectives.Create(kind, JsonDocument.Parse(settings).RootElement,
            new ObjectiveContext(data, 11));
        var sgd = new Sgd(model, learningRate: 0.05f);
        var probe = Batch(Cpu, data, Range(0, 12), step: 1000);
        double Loss()
        {
            double loss = objective.Step(model, probe).Loss;
            sgd.ZeroGrad();
            return loss;
        }
        double before = Loss();
        for (int step = 0; step < 24; step++)
        {
            var batch = Batch(Cpu, data, Range(step % 3 * 12, 12), step);
            objective.Step(model, batch);
            sgd.Step();
            sgd.ZeroGrad();
            Dispose(batch);
        }
        double after = Loss();
        TestContext.Out.WriteLine($"{kind}: loss {before:F4} -> {after:F4}");
        Assert.That(after, Is.LessThan(0.7 * before));
        Dispose(probe);
    }

    [Test]
    public void PgdAt_TrainedToy_AdversarialLossAtLeastCleanLoss()
    {
        var data = Separable(Rng(), 36);
        using var model = new TinyNet(Cpu, 42);
        var standard = new StandardObjective(new StandardSettings());
        var sgd = new Sgd(model, learningRate: 0.05f);
        for (int step = 0; step < 30; step++)
        {
            var batch = Batch(Cpu, data, Range(step % 3 * 12, 12), step);
            standard.Step(model, batch);
            sgd.Step();
            sgd.ZeroGrad();
            Dispose(batch);
        }
        var probe = Batch(Cpu, data, Range(0, 12), step: 0);
        var objective = new PgdAtObjective(new PgdAtSettings { Eps = 0.1f, StepSize = 0.03f, Steps = 5 });
        using var adversarial = objective.Attack(model, probe);
        model.Eval();
        int[] y = probe.Labels.ToArray<int>();
        double[] clean = AttackData.CrossEntropy(model, probe.X, y);
        double[] adv = AttackData.CrossEntropy(model, adversarial, y);
        Assert.That(clean.Average(), Is.LessThan(0.5), "the toy should be trained");
        for (int i = 0; i < y.Length; i++)
            Assert.That(adv[i], Is.GreaterThanOrEqualTo(clean[i]), $"sample {i}");
        Assert.That(adv.Average(), Is.GreaterThan(clean.Average() * 1.1));
        Dispose(probe);
    }
}
