using System.Text.Json;
using AdvRobust.Core;
using AdvRobust.Research.Certification;
using AdvRobust.Research.Training.Objectives;
using AdvRobust.Tests.Support;
using static AdvRobust.Tests.Training.Objectives.ObjectiveTestData;

namespace AdvRobust.Tests.Training.Objectives;

// Gaussian noise augmentation (randomized smoothing's training): the step is standard training on x + σ·N(0, I) with
// the noise of GaussianAugmentation, keyed by (seed, epoch, sample id). Batches of 12 rows of 1×4×4, 3 classes.
public class GaussianNoiseObjectiveTests
{
    private static IBackend Cpu => Backends.Cpu;

    private static GaussianNoiseObjective Create(float sigma) => (GaussianNoiseObjective)TrainingObjectives.Create(
        "gaussian-noise", JsonDocument.Parse($"{{\"sigma\":{sigma}}}").RootElement,
        new AdvRobust.Research.Training.ObjectiveContext(Separable(new SeededRandom("ctx"), 6), 0));

    [Test]
    public void Step_EqualsStandardTrainingOnTheNoisyBatch()
    {
        var data = Separable(new SeededRandom(TestContext.CurrentContext.Test.FullName), 30);
        var batch = Batch(Cpu, data, Range(5, 12), step: 3);
        using var noiseModel = new TinyNet(Cpu, 4);
        using var objective = Create(0.3f);
        var stats = objective.Step(noiseModel, batch);

        using var noisy = GaussianAugmentation.Noisy(batch, 0.3f);
        using var reference = new TinyNet(Cpu, 4);
        using var standard = new StandardObjective(new StandardSettings());
        var expected = standard.Step(reference, batch with { X = noisy });

        Assert.That(stats.Loss, Is.EqualTo(expected.Loss));
        var grads = ParameterGradients(noiseModel);
        foreach (var (name, g) in ParameterGradients(reference)) Assert.That(grads[name], Is.EqualTo(g), name);
        Dispose(batch);
    }

    [Test]
    public void Step_NoiseDependsOnTheSampleNotTheBatch_AndSigmaZeroIsStandardTraining()
    {
        var data = Separable(new SeededRandom(TestContext.CurrentContext.Test.FullName), 30);
        var batch = Batch(Cpu, data, Range(5, 12), step: 3);
        using var zero = Create(0f);
        using var standard = new StandardObjective(new StandardSettings());
        using var a = new TinyNet(Cpu, 4);
        using var b = new TinyNet(Cpu, 4);
        Assert.That(zero.Step(a, batch).Loss, Is.EqualTo(standard.Step(b, batch).Loss));

        // Sample 9's noisy image is the same whether it is row 4 of ids 5..16 or row 0 of ids 9..12.
        using var whole = GaussianAugmentation.Noisy(batch, 0.5f);
        var part = Batch(Cpu, data, Range(9, 4), step: 3);
        using var partNoisy = GaussianAugmentation.Noisy(part, 0.5f);
        Assert.That(partNoisy.ToArray()[..16], Is.EqualTo(whole.ToArray()[(4 * 16)..(5 * 16)]));
        Dispose(batch);
        Dispose(part);
    }

    [Test]
    public void Create_NegativeSigma_IsRejectedByName()
    {
        Assert.That(() => Create(-0.1f), Throws.ArgumentException.With.Message.Contain("sigma"));
    }
}
