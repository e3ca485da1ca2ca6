using AdvRobust.Core;
using AdvRobust.Core.Data;
using AdvRobust.Core.Tensors;
using AdvRobust.Research.Training;
using AdvRobust.Research.Training.Objectives;
using AdvRobust.Tests.Support;
using static AdvRobust.Tests.Training.Objectives.ObjectiveTestData;

namespace AdvRobust.Tests.Training.Objectives;

// TLA's draws and mining (TlaObjective.Prepare) against brute force on the host. Shape letters: B batch, P pool,
// D = 8 embedding features.
public class TlaMiningTests
{
    private static IBackend Cpu => Backends.Cpu;

    private static SeededRandom Rng() => new(TestContext.CurrentContext.Test.FullName);

    private static TlaObjective Objective(LabeledImages data, int poolMultiplier = 2) =>
        new(new TlaSettings { Eps = 0.1f, StepSize = 0.03f, Steps = 2, PoolMultiplier = poolMultiplier },
            new ObjectiveContext(data, 11));

    [Test]
    public void Prepare_Negative_IsOtherClassArgmaxOfAbsCosineOverThePool()
    {
        var data = Separable(Rng(), 60);
        using var model = new TinyNet(Cpu, 31);
        var batch = Batch(Cpu, data, Range(10, 12), step: 3);
        int[] y = batch.Labels.ToArray<int>();
        using var inputs = Objective(data).Prepare(model, batch, y);
        Assert.That(inputs.Pool, Has.Length.EqualTo(24));
        Assert.That(inputs.Pool.Distinct().Count(), Is.EqualTo(24), "the pool is drawn without replacement");

        // Brute force on eval-mode embeddings of the anchors and of the pool images.
        model.Eval();
        var (_, anchors) = Outputs(model, inputs.Adversarial);
        using var poolImages = Tensor.FromArray(Cpu, data.Subset(inputs.Pool).Pixels, 24, 1, 4, 4);
        var (_, pool) = Outputs(model, poolImages);
        model.Train();
        const int d = TinyNet.Embedding;
        float[] negatives = inputs.Negatives!.ToArray();
        for (int i = 0; i < y.Length; i++)
        {
            int best = -1;
            double bestCos = -1;
            for (int j = 0; j < 24; j++)
            {
                if (data.Labels[inputs.Pool[j]] == y[i]) continue;
                double cos = AbsCosine(anchors.AsSpan(i * d, d), pool.AsSpan(j * d, d));
                if (cos > bestCos) (best, bestCos) = (j, cos);
            }
            int slot = inputs.NegativeSlots[i];
            Assert.That(data.Labels[inputs.Pool[slot]], Is.Not.EqualTo(y[i]), $"row {i}: negative of its own class");
            Assert.That(slot, Is.EqualTo(best), $"row {i}: not the most similar other-class pool image");
            Assert.That(negatives.AsSpan(i * 16, 16).ToArray(), Is.EqualTo(data.Image(inputs.Pool[slot]).ToArray()),
                $"row {i}: the negative image is not the mined pool image");
        }
    }

    [Test]
    public void Prepare_Positives_SameClassNotSelfUnlessAlone()
    {
        // Class 2 has a single image (index 5): its positive can only be itself.
        int[] labels = Enumerable.Range(0, 30).Select(i => i == 5 ? 2 : i % 2).ToArray();
        var data = Separable(Rng(), labels, classes: 3);
        using var model = new TinyNet(Cpu, 32);
        var objective = Objective(data, poolMultiplier: 1);
        for (long step = 0; step < 3; step++)
        {
            var batch = Batch(Cpu, data, Range(0, 10), step);
            using var inputs = objective.Prepare(model, batch, labels[..10]);
            for (int i = 0; i < 10; i++)
            {
                int positive = inputs.PositiveIndices[i];
                Assert.That(labels[positive], Is.EqualTo(labels[i]), $"step {step} row {i}: positive of another class");
                Assert.That(positive == i, Is.EqualTo(i == 5), $"step {step} row {i}: positive {positive}");
            }
            float[] images = inputs.Positives.ToArray();
            Assert.That(images[..16], Is.EqualTo(data.Image(inputs.PositiveIndices[0]).ToArray()));
            Dispose(batch);
        }
    }

    [Test]
    public void Prepare_DifferentStep_DrawsAnotherPoolAndPositivesSameStepSameDraws()
    {
        var data = Separable(Rng(), 60);
        using var model = new TinyNet(Cpu, 33);
        var objective = Objective(data);
        int[] Pool(long step, int[] rows, out int[] positives)
        {
            var batch = Batch(Cpu, data, rows, step);
            using var inputs = objective.Prepare(model, batch, batch.Labels.ToArray<int>());
            Dispose(batch);
            positives = inputs.PositiveIndices;
            return inputs.Pool;
        }
        int[] pool0 = Pool(0, Range(0, 8), out int[] positives0);
        int[] pool1 = Pool(1, Range(0, 8), out int[] positives1);
        int[] again = Pool(0, Range(4, 8), out int[] positivesShifted);
        Assert.That(pool1, Is.Not.EqualTo(pool0));
        Assert.That(positives1, Is.Not.EqualTo(positives0));
        // The pool is keyed by (seed, step); each positive by (seed, step, sample id), whatever the batch.
        Assert.That(again, Is.EqualTo(pool0));
        Assert.That(positivesShifted[..4], Is.EqualTo(positives0[4..]));
    }

    [Test]
    public void Prepare_PoolLargerThanTrainingSet_ThrowsNamingBoth()
    {
        var data = Separable(Rng(), 12);
        using var model = new TinyNet(Cpu, 34);
        var batch = Batch(Cpu, data, Range(0, 8), step: 0);
        var e = Assert.Throws<ArgumentException>(() => Objective(data, poolMultiplier: 2).Step(model, batch));
        Assert.That(e!.Message, Does.Contain("16").And.Contain("12"));
        Dispose(batch);
    }
}
