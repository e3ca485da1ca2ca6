using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Cuda;
using AdvRobust.Research.Training;
using AdvRobust.Research.Training.Objectives;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Training;

/// <summary>
/// A PGD-AT training step on the emulator: its PGD runs as a step graph (Pgd.cs), the rest of the step eagerly (the
/// whole step is not captured: see PgdAtObjective). With graphs on, the step's statistics, every parameter gradient
/// and the batch-norm statistics equal those of the step with graphs off bit for bit, and the step makes Steps − 2
/// graph launches (PGD's steps 1..Steps−1: one eager, one captured, the rest replayed).
/// </summary>
[Category("Gpu")]
[Category("Emulator")]
public class TrainingGraphTests : EmulatorGraphFixture
{
    private const int N = 6;

    [TestCase(false)]
    [TestCase(true)]
    public void PgdAtStep_GraphsOn_EqualsGraphsOffBitForBit(bool attackInTrainMode)
    {
        var settings = PgdAtSettings.Cifar10 with { Steps = 6, AttackInTrainMode = attackInTrainMode };
        var off = Step(settings, graphs: false);
        var on = Step(settings, graphs: true);
        Assert.That(on.Stats.Loss, Is.EqualTo(off.Stats.Loss));
        Assert.That(on.Stats.Correct, Is.EqualTo(off.Stats.Correct));
        Assert.That(on.Grads, Is.EqualTo(off.Grads), "parameter gradients");
        Assert.That(on.Buffers, Is.EqualTo(off.Buffers), "batch-norm statistics");
        Assert.That(off.GraphLaunches, Is.Zero);
        Assert.That(on.GraphLaunches, Is.EqualTo(settings.Steps - 2));
    }

    private (StepStats Stats, float[][] Grads, float[][] Buffers, long GraphLaunches) Step(PgdAtSettings settings,
        bool graphs)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        using var model = NarrowResNet(7);
        int[] y = Enumerable.Range(0, N).Select(i => (i * 3) % 10).ToArray();
        using var x = Tensor.FromArray(Gpu, rng.Uniform(N * 3 * 8 * 8, 0f, 1f), N, 3, 8, 8);
        using var labels = Tensor.FromArray(Gpu, y, N);
        var batch = new TrainingBatch(x, labels, [.. Enumerable.Range(0, N).Select(i => (uint)i)], Epoch: 0, Step: 3,
            Seed: 11) { HostLabels = y };
        return WithGraphs(graphs, () =>
        {
            model.Train();
            model.ZeroGrad();
            long launches = EmulatorCounters.Total.GraphLaunches;
            var stats = new PgdAtObjective(settings).Step(model, batch);
            launches = EmulatorCounters.Total.GraphLaunches - launches;
            var grads = model.Parameters().Select(p => p.Grad!.ToArray()).ToArray();
            var buffers = model.NamedBuffers().Select(b => b.Buffer.ToArray()).ToArray();
            return (stats, grads, buffers, launches);
        });
    }
}
