using AdvRobust.Core;
using AdvRobust.Core.Nn.Models;
using AdvRobust.Research.Training;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Training;

/// <summary>
/// PORT's mixed batch assembled on the CUDA backend (real rows uploaded, cropped and flipped there, then added into
/// their −0 placeholders in front of the synthetic rows) is bit for bit the CPU's: the inputs of every step of a short
/// run, recorded by the objective, do not depend on the backend (data order, augmentation and mixing involve no
/// rounding), and neither do the host labels the trainer hands over.
/// </summary>
[TestFixture, Category("Gpu")]
public class MixedBatchGpuTests
{
    private string _root = null!;

    [SetUp]
    public void SetUp() => _root = Directory.CreateTempSubdirectory("advrobust-mixgpu-").FullName;

    [TearDown]
    public void TearDown()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    [Test]
    public void Train_WithSyntheticSet_GpuStepInputsBitEqualToCpu()
    {
        var gpu = Backends.CudaOrIgnore();
        var cpuInputs = Record(Backends.Cpu, "cpu");
        var gpuInputs = Record(gpu, "gpu");
        Assert.That(gpuInputs, Has.Count.EqualTo(cpuInputs.Count));
        for (int s = 0; s < cpuInputs.Count; s++)
        {
            Assert.That(gpuInputs[s].X.Select(BitConverter.SingleToInt32Bits),
                Is.EqualTo(cpuInputs[s].X.Select(BitConverter.SingleToInt32Bits)), $"step {s}: pixels");
            Assert.That(gpuInputs[s].Y, Is.EqualTo(cpuInputs[s].Y), $"step {s}: labels");
            Assert.That(gpuInputs[s].HostY, Is.EqualTo(cpuInputs[s].Y), $"step {s}: host labels");
        }
    }

    private List<(float[] X, int[] Y, int[]? HostY)> Record(IBackend backend, string name)
    {
        var config = RunTestData.Config("data.synthetic.path=proxy.npz", "data.synthetic.batchSize=4", "epochs=1");
        var (train, test) = RunTestData.Splits();
        var data = TrainingData.From(config.Data, train, test) with
        {
            Synthetic = RunTestData.Images(12, 9, "proxy"), SyntheticDescription = "12 test proxies",
        };
        var inputs = new List<(float[], int[], int[]?)>();
        using var model = new RunTestModel(backend, config.Seed, RunTestData.Classes, RunTestData.Size);
        using var trainer = new Trainer(config, model, data, _ => new InputRecorder(inputs),
            RunDirectory.Create(Path.Combine(_root, name)));
        trainer.Run(RunEnvironment.Capture("test", backend, deterministic: false, tf32: false));
        return inputs;
    }

    /// <summary>The tests' cross-entropy objective, recording each step's inputs.</summary>
    private sealed class InputRecorder(List<(float[], int[], int[]?)> inputs) : ITrainingObjective
    {
        private readonly RunTestObjective _inner = new();
        public string Name => _inner.Name;
        public object Settings => _inner.Settings;

        public StepStats Step(ImageClassifier model, TrainingBatch batch)
        {
            inputs.Add((batch.X.ToArray(), batch.Labels.ToArray<int>(), batch.HostLabels));
            return _inner.Step(model, batch);
        }

        public void Dispose() => _inner.Dispose();
    }
}
