using AdvRobust.Core;
using AdvRobust.Core.Autograd;
using AdvRobust.Core.Checkpoints;
using AdvRobust.Core.Nn;
using AdvRobust.Core.Nn.Layers;
using AdvRobust.Core.Nn.Models;
using AdvRobust.Core.Optim;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Models;

/// <summary>
/// Models on the CPU backend: output shapes, one SGD step lowering the loss, eval mode using running statistics, and
/// checkpoints reproducing logits bit for bit. Sizes are cut for two CPU cores: tiny batches, and the WideResNets
/// either reduced (WRN-10-2 on 32×32) or full (WRN-28-10) on 8×8 inputs. Shape letters: N batch, K classes,
/// D embedding.
/// </summary>
public class ModelForwardTests
{
    private static IBackend Cpu => Backends.Cpu;
    private static readonly float[] Mean = ModelZooTests.CifarMean, Std = ModelZooTests.CifarStd;

    private static Tensor Images(SeededRandom rng, int n, int[] chw) =>
        Tensor.FromArray(Cpu, rng.Uniform(n * chw[0] * chw[1] * chw[2], 0f, 1f), n, chw[0], chw[1], chw[2]);

    private static ImageClassifier Build(string name) => name switch
    {
        "small-cnn" => ModelZoo.Create("small-cnn", Cpu, 10, [1, 28, 28], [0.1307f], [0.3081f], 1),
        "resnet18" => ModelZoo.Create("resnet18", Cpu, 10, [3, 32, 32], Mean, Std, 1),
        "preact-resnet18" => ModelZoo.Create("preact-resnet18", Cpu, 10, [3, 32, 32], Mean, Std, 1),
        "wrn-10-2 32x32" => new WideResNet(new ParameterInit(Cpu, 1), 10, 2, 10, [3, 32, 32], Mean, Std),
        "wrn-28-10 8x8" => ModelZoo.Create("wrn-28-10", ParameterInit.ForLoading(Cpu), 10, [3, 8, 8], Mean, Std),
        _ => throw new ArgumentException(name),
    };

    private static (float[] Logits, float[] Embedding) Run(Classifier model, Tensor x)
    {
        using var tape = new Tape(Cpu, parameterGradients: false);
        var output = model.Forward(tape, tape.Constant(x));
        return (output.Logits.Value.ToArray(), output.Embedding.Value.ToArray());
    }

    private static float MeanLoss(Classifier model, Tensor x, Tensor labels)
    {
        using var tape = new Tape(Cpu, parameterGradients: false);
        var logits = model.Forward(tape, tape.Constant(x)).Logits;
        return F.Mean(tape, F.CrossEntropy(tape, logits, labels)).Value.ToArray()[0];
    }

    [TestCase("small-cnn", 1024)]
    [TestCase("resnet18", 512)]
    [TestCase("preact-resnet18", 512)]
    [TestCase("wrn-10-2 32x32", 128)]
    [TestCase("wrn-28-10 8x8", 640)]
    public void Forward_TinyBatch_GivesLogitsAndEmbeddingShapes(string name, int embeddingDim)
    {
        var rng = new SeededRandom(nameof(Forward_TinyBatch_GivesLogitsAndEmbeddingShapes) + name);
        using var model = Build(name);
        model.Eval();
        using var x = Images(rng, 2, model.InputShape);
        using var tape = new Tape(Cpu, parameterGradients: false);

        var output = model.Forward(tape, tape.Constant(x));

        Assert.That(output.Logits.Shape.Dims.ToArray(), Is.EqualTo(new[] { 2, 10 }));
        Assert.That(output.Embedding.Shape.Dims.ToArray(), Is.EqualTo(new[] { 2, embeddingDim }));
        Assert.That(model.EmbeddingDim, Is.EqualTo(embeddingDim));
        Assert.That(output.Logits.Value.ToArray().Concat(output.Embedding.Value.ToArray()),
            Is.All.Matches<float>(float.IsFinite));
    }

    [Test]
    public void Forward_WrongInputShape_ThrowsNamingBothShapes()
    {
        using var model = CheckpointTests.Narrow(1);
        using var x = Tensor.Zeros(Cpu, 2, 3, 16, 16);
        using var tape = new Tape(Cpu);
        var e = Assert.Throws<ArgumentException>(() => model.Forward(tape, tape.Constant(x)))!;
        Assert.That(e.Message, Does.Contain("3×8×8").And.Contain("[2, 3, 16, 16]"));
    }

    [TestCase("small-cnn")]
    [TestCase("narrow-resnet18")]
    public void SgdStep_FixedBatch_LowersTheLoss(string name)
    {
        var rng = new SeededRandom(nameof(SgdStep_FixedBatch_LowersTheLoss) + name);
        using var model = name == "small-cnn"
            ? ModelZoo.Create("small-cnn", Cpu, 10, [1, 28, 28], [0.1307f], [0.3081f], 3)
            : (ImageClassifier)new ResNet18(new ParameterInit(Cpu, 3), 10, [3, 16, 16], Mean, Std, width: 8);
        using var x = Images(rng, 8, model.InputShape);
        using var labels = Tensor.FromArray(Cpu, rng.Labels(8, 10), 8);
        var sgd = new Sgd(model, 0.05f, momentum: 0.9f, weightDecay: 5e-4f);
        model.Train();

        float before;
        using (var tape = new Tape(Cpu))
        {
            var loss = F.Mean(tape, F.CrossEntropy(tape, model.Forward(tape, tape.Input(x)).Logits, labels));
            before = loss.Value.ToArray()[0];
            tape.Backward(loss);
        }
        sgd.Step();
        float after = MeanLoss(model, x, labels); // still training mode: batch statistics, as the step saw them

        Assert.That(model.Parameters().All(p => p.Grad is not null), "every parameter got a gradient");
        Assert.That(after, Is.LessThan(before));
        TestContext.Out.WriteLine($"{name}: loss {before} → {after}");
    }

    [Test]
    public void Eval_RunningStatistics_LogitsIndependentOfBatchComposition()
    {
        var rng = new SeededRandom(nameof(Eval_RunningStatistics_LogitsIndependentOfBatchComposition));
        using var model = CheckpointTests.Narrow(5);
        using var warmup = Images(rng, 6, model.InputShape);
        Run(model, warmup); // training mode: moves the running statistics away from (0, 1)
        using var a = Images(rng, 4, model.InputShape);
        var others = Images(rng, 4, model.InputShape).ToArray();
        var first = a.ToArray().AsSpan(0, 3 * 8 * 8).ToArray();
        using var b = Tensor.FromArray(Cpu, first.Concat(others).ToArray(), 5, 3, 8, 8); // sample 0 with new companions

        var trainA = Run(model, a).Logits;
        var trainB = Run(model, b).Logits;
        model.Eval();
        var evalA = Run(model, a).Logits;
        var evalB = Run(model, b).Logits;

        // Bit-identical on the CPU backend today; the property is per-sample statistics, so compare with a tolerance.
        AssertClose.All(evalA.AsSpan(0, 10), evalB.AsSpan(0, 10), 1e-6, 1e-5, "eval logits of sample 0");
        double trainDiff = trainA.Take(10).Zip(trainB.Take(10), (p, q) => Math.Abs(p - q)).Max();
        Assert.That(trainDiff, Is.GreaterThan(1e-3), "control: batch statistics do depend on the companions");
        Assert.That(model.Bn1.NumBatchesTracked.ToArray(), Is.EqualTo(new[] { 3f }), "three training forwards counted");
    }

    [Test]
    public void Checkpoint_SaveThenLoadIntoOtherSeed_GivesBitIdenticalLogits()
    {
        var rng = new SeededRandom(nameof(Checkpoint_SaveThenLoadIntoOtherSeed_GivesBitIdenticalLogits));
        string path = Path.Combine(Path.GetTempPath(), $"advrobust-ckpt-{Guid.NewGuid():N}.safetensors");
        try
        {
            using var source = CheckpointTests.Narrow(7);
            using var x = Images(rng, 4, source.InputShape);
            Run(source, x); // training forward: running statistics and counters change
            source.Eval();
            var expected = Run(source, x);
            Checkpoint.Save(path, source);

            using var target = CheckpointTests.Narrow(8);
            target.Eval();
            var different = Run(target, x).Logits;
            Checkpoint.Load(path, target);
            var actual = Run(target, x);

            Assert.That(different, Is.Not.EqualTo(expected.Logits));
            Assert.That(actual.Logits, Is.EqualTo(expected.Logits));
            Assert.That(actual.Embedding, Is.EqualTo(expected.Embedding));
            Assert.That(target.Bn1.NumBatchesTracked.ToArray(), Is.EqualTo(new[] { 1f }));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
