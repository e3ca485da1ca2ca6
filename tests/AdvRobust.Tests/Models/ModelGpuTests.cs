using AdvRobust.Core;
using AdvRobust.Core.Autograd;
using AdvRobust.Core.Checkpoints;
using AdvRobust.Core.Nn.Layers;
using AdvRobust.Core.Nn.Models;
using AdvRobust.Core.Optim;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Models;

/// <summary>
/// The models on CUDA against the CPU reference: one seed gives the same weights on both (the draws are made on the
/// host), so a narrow ResNet-18 (width 4, 3×8×8) must give the same logits, loss and gradients up to float reduction
/// order; eval mode must not depend on the batch; a checkpoint written from the GPU must load on the CPU.
/// Shape letters: N batch, K classes.
/// </summary>
[TestFixture, Category("Gpu")]
public class ModelGpuTests
{
    private IBackend _gpu = null!;

    [SetUp]
    public void SetUp() => _gpu = Backends.CudaOrIgnore();

    private static SeededRandom Rng() => new(TestContext.CurrentContext.Test.FullName);

    private static ResNet18 Narrow(IBackend backend, ulong seed) =>
        new(new ParameterInit(backend, seed), 10, [3, 8, 8], ModelZooTests.CifarMean, ModelZooTests.CifarStd, width: 4);

    /// <summary>One training-mode forward and backward: logits, the mean CE loss, every parameter's gradient.
    /// </summary>
    private static (float[] Logits, float Loss, Dictionary<string, float[]> Grads) TrainPass(ResNet18 model,
        float[] images, int[] labels, int n)
    {
        var backend = model.Conv1.Weight.Value.Backend;
        using var x = Tensor.FromArray(backend, images, n, 3, 8, 8);
        using var y = Tensor.FromArray(backend, labels, n);
        using var tape = new Tape(backend);
        model.Train();
        model.ZeroGrad();
        var logits = model.Forward(tape, tape.Input(x)).Logits;
        var loss = F.Mean(tape, F.CrossEntropy(tape, logits, y));
        tape.Backward(loss);
        return (logits.Value.ToArray(), loss.Value.ToArray()[0],
            model.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter.Grad!.ToArray()));
    }

    private static float[] EvalLogits(ResNet18 model, float[] images, int n)
    {
        var backend = model.Conv1.Weight.Value.Backend;
        using var x = Tensor.FromArray(backend, images, n, 3, 8, 8);
        using var tape = new Tape(backend, parameterGradients: false);
        model.Eval();
        return model.Forward(tape, tape.Constant(x)).Logits.Value.ToArray();
    }

    [Test]
    public void TrainPass_NarrowResNet18_GpuMatchesCpu()
    {
        var rng = Rng();
        var images = rng.Uniform(8 * 3 * 8 * 8, 0f, 1f);
        var labels = rng.Labels(8, 10);
        using var cpu = Narrow(Backends.Cpu, 11);
        using var gpu = Narrow(_gpu, 11);

        var (cpuLogits, cpuLoss, cpuGrads) = TrainPass(cpu, images, labels, 8);
        var (gpuLogits, gpuLoss, gpuGrads) = TrainPass(gpu, images, labels, 8);

        AssertClose.All(cpuLogits, gpuLogits, 1e-4, 1e-3, "train-mode logits");
        Assert.That(gpuLoss, Is.EqualTo(cpuLoss).Within(1e-4));
        foreach (var (name, g) in cpuGrads)
        {
            // Batch norm divides by the batch std, so gradient errors scale with each tensor's own magnitude.
            double scale = g.Max(v => Math.Abs((double)v));
            AssertClose.All(g, gpuGrads[name], 1e-3 * scale + 1e-7, 1e-2, $"grad {name}");
        }
        AssertClose.All(cpu.Bn1.RunningMean.ToArray(), gpu.Bn1.RunningMean.ToArray(), 1e-5, 1e-4, "bn1.running_mean");
        AssertClose.All(cpu.Bn1.RunningVar.ToArray(), gpu.Bn1.RunningVar.ToArray(), 1e-5, 1e-4, "bn1.running_var");
        Assert.That(gpu.Bn1.NumBatchesTracked.ToArray(), Is.EqualTo(new[] { 1f }), "counted on the device");
    }

    [Test]
    public void Eval_NarrowResNet18OnGpu_MatchesCpuAndIgnoresBatchComposition()
    {
        var rng = Rng();
        var warmup = rng.Uniform(6 * 192, 0f, 1f);
        var batch = rng.Uniform(8 * 192, 0f, 1f);
        using var cpu = Narrow(Backends.Cpu, 12);
        using var gpu = Narrow(_gpu, 12);
        var warmupLabels = rng.Labels(6, 10);
        TrainPass(cpu, warmup, warmupLabels, 6); // moves the running statistics away from (0, 1)
        TrainPass(gpu, warmup, warmupLabels, 6);
        // The two backends' running statistics agree only to rounding: copy the CPU's so eval compares like with like.
        foreach (var ((_, c), (_, g)) in cpu.NamedBuffers().Zip(gpu.NamedBuffers()))
            g.Backend.CopyIn<float>(g.Storage, c.ToArray());

        var cpuLogits = EvalLogits(cpu, batch, 8);
        var gpuLogits = EvalLogits(gpu, batch, 8);
        var gpuAlone = EvalLogits(gpu, batch[..192], 1);

        AssertClose.All(cpuLogits, gpuLogits, 1e-4, 1e-3, "eval logits");
        AssertClose.All(gpuLogits.AsSpan(0, 10), gpuAlone, 1e-5, 1e-4, "sample 0 alone vs in a batch of 8");
    }

    [Test]
    public void Checkpoint_TrainedOnGpu_LoadsOnCpuBitIdenticallyWithMatchingLogits()
    {
        var rng = Rng();
        var images = rng.Uniform(8 * 192, 0f, 1f);
        var labels = rng.Labels(8, 10);
        string path = Path.Combine(Path.GetTempPath(), $"advrobust-gpu-ckpt-{Guid.NewGuid():N}.safetensors");
        try
        {
            using var gpu = Narrow(_gpu, 13);
            var sgd = new Sgd(gpu, 0.05f, momentum: 0.9f, weightDecay: 5e-4f);
            float before = TrainPass(gpu, images, labels, 8).Loss;
            sgd.Step();
            float after = TrainPass(gpu, images, labels, 8).Loss;
            Checkpoint.Save(path, gpu);

            using var cpu = Narrow(Backends.Cpu, 14);
            Checkpoint.Load(path, cpu);

            Assert.That(after, Is.LessThan(before), "one SGD step on the GPU lowers the loss");
            foreach (var ((name, c, _), (_, g, _)) in Checkpoint.State(cpu).Zip(Checkpoint.State(gpu)))
                Assert.That(c.ToArray(), Is.EqualTo(g.ToArray()), name);
            Assert.That(cpu.Bn1.NumBatchesTracked.ToArray(), Is.EqualTo(new[] { 2f }));
            AssertClose.All(EvalLogits(gpu, images, 8), EvalLogits(cpu, images, 8), 1e-4, 1e-3, "eval logits");
        }
        finally
        {
            File.Delete(path);
        }
    }
}
