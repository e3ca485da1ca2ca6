using System.Text.Json;
using AdvRobust.Core;
using AdvRobust.Core.Checkpoints;
using AdvRobust.Core.Data;
using AdvRobust.Core.Diagnostics;
using AdvRobust.Core.Optim;
using AdvRobust.Cuda;
using AdvRobust.Cuda.Interop;
using AdvRobust.Research.Training;
using AdvRobust.Research.Training.Objectives;
using AdvRobust.Tests.Budgets;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Training;

/// <summary>
/// The whole training step as CUDA graphs on the emulator (<see cref="TrainStepGraph"/>): for every objective, a run
/// with graphs on equals the run with graphs off bit for bit (metrics, weights, batch-norm statistics, momentum
/// buffers), through captures, replays, a second shape (the epoch's short last batch) and two epochs; and a replayed
/// step launches nothing from the host but its two graphs (step, update) after its non-blocking uploads, with no
/// synchronization and no device→host copy.
/// </summary>
[Category("Gpu")]
[Category("Emulator")]
public class TrainerGraphTests : EmulatorGraphFixture
{
    private string _root = null!;

    [SetUp]
    public void SetUp() => _root = Directory.CreateTempSubdirectory("advrobust-traingraph-").FullName;

    [TearDown]
    public void TearDown()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    // 48 images in batches of 10: per epoch 4 full batches (one graph) and a short one of 8 (its own graph), 2 epochs.
    [TestCase("standard", "{}", false)]
    [TestCase("pgd-at", "{\"eps\":0.1,\"stepSize\":0.05,\"steps\":3}", false)]
    [TestCase("pgd-at", "{\"eps\":0.1,\"stepSize\":0.05,\"steps\":3,\"attackInTrainMode\":true}", true)]
    [TestCase("gaussian-noise", "{\"sigma\":0.25}", false)]
    [TestCase("trades", "{\"eps\":0.1,\"stepSize\":0.05,\"steps\":2}", false)]
    [TestCase("tla", "{\"eps\":0.1,\"stepSize\":0.05,\"steps\":2}", false)]
    public void Train_GraphsOn_EqualsGraphsOffBitForBit(string kind, string settings, bool synthetic)
    {
        var off = Run(kind, settings, synthetic, graphs: false);
        var on = Run(kind, settings, synthetic, graphs: true);
        Assert.That(RunTrainerTests.MetricsWithoutTiming(on.Dir), Is.EqualTo(RunTrainerTests.MetricsWithoutTiming(off.Dir)));
        RunTrainerTests.AssertSameState(off.State, on.State);
        Assert.That(on.Reports, Is.EqualTo(off.Reports), "per-step progress (step, loss, accuracy)");
        Assert.That(off.GraphLaunches, Is.Zero, "graphs off");
        // 10 steps: per shape one eager and one captured call, the rest replayed: step graph 6, update graph 8.
        Assert.That(on.GraphLaunches, Is.GreaterThanOrEqualTo(6 + 8), "replays of the step and the update graphs");
    }

    [TestCase("standard", "{}")]
    [TestCase("pgd-at", "{\"eps\":0.1,\"stepSize\":0.05,\"steps\":3}")]
    [TestCase("gaussian-noise", "{\"sigma\":0.25}")]
    [TestCase("trades", "{\"eps\":0.1,\"stepSize\":0.05,\"steps\":2}")]
    [TestCase("tla", "{\"eps\":0.1,\"stepSize\":0.05,\"steps\":2}")]
    public void ReplayedStep_LaunchesOnlyItsGraphs(string kind, string settings)
    {
        var config = RunTestData.Config("batchSize=8");
        var (train, _) = RunTestData.Splits();
        using var model = new RunTestModel(Gpu, config.Seed, RunTestData.Classes, RunTestData.Size);
        var sgd = new Sgd(model, 0.1f, momentum: 0.9f, weightDecay: 5e-4f);
        using var objective = (IDeviceStatsObjective)TrainingObjectives.Create(kind,
            JsonDocument.Parse(settings).RootElement, new ObjectiveContext(train, config.Seed));
        bool before = Gpu.Graphs.Enabled;
        Gpu.Graphs.Enabled = true;
        try
        {
            using var graphed = new TrainStepGraph(model, sgd, objective, config, train, report: null);
            model.Train();
            var counts = new List<EmulatorCount>();
            for (int step = 0; step < 5; step++)
            {
                var batch = Batch(train, step);
                string region = $"train-graph-{kind}-{Guid.NewGuid():N}";
                PendingStats stats;
                using (EmulatorCounters.Region(region))
                {
                    stats = graphed.Step(batch, null, epoch: 0, index: step, step: step, slot: 0);
                    graphed.Update();
                }
                counts.Add(EmulatorCounters.Read(region));
                Assert.That(double.IsFinite(stats.Read().Loss), $"step {step}: loss");
            }
            var budget = StepBudgets.ReplayedTrainStep(kind);
            for (int step = 2; step < 5; step++)
            {
                var c = counts[step];
                string what = $"{kind}, replayed step {step}";
                Assert.That(c.GraphLaunches, Is.EqualTo(2), $"{what}: graph launches (step, update)");
                Assert.That(c.HostKernelLaunches, Is.Zero, $"{what}: kernels launched by the host");
                budget.AssertWithin(new StepCounts(c.GraphLaunches + c.HostKernelLaunches, c.Syncs,
                    c.DeviceToHostCopies, c.DeviceToHostBytes, c.HostToDeviceCopies, c.HostToDeviceBytes,
                    c.Allocations), what);
                Assert.That(c.HostToDeviceCopies, Is.EqualTo(StepBudgets.ReplayedTrainStepUploads(kind)), $"{what}: uploads");
            }
            TestContext.Out.WriteLine($"{kind}: replayed step {counts[4]}");
        }
        finally
        {
            Gpu.Graphs.Enabled = before;
        }
    }

    /// <summary>Batch <paramref name="index"/> of 8 consecutive training images, in a shuffled order.</summary>
    private static ImageBatch Batch(LabeledImages train, int index)
    {
        int[] ids = Enumerable.Range(0, 8).Select(i => (index * 8 + (i * 5) % 8) % train.N).ToArray();
        var x = ids.SelectMany(i => train.Image(i).ToArray()).ToArray();
        return new ImageBatch(x, ids.Select(i => train.Labels[i]).ToArray(), ids);
    }

    private (string Dir, Dictionary<string, float[]> State, List<(long, double, double)> Reports, long GraphLaunches)
        Run(string kind, string settings, bool synthetic, bool graphs)
    {
        string dir = Path.Combine(_root, graphs ? "on" : "off");
        var overrides = new List<string> { "epochs=2", "batchSize=10" };
        if (synthetic) overrides.AddRange(["data.synthetic.path=proxy.npz", "data.synthetic.batchSize=2"]);
        var config = RunTestData.Config([.. overrides]);
        var (train, test) = RunTestData.Splits();
        var data = TrainingData.From(config.Data, train, test);
        if (synthetic)
            data = data with { Synthetic = RunTestData.Images(12, 9, "proxy"), SyntheticDescription = "12 test proxies" };
        using var model = new RunTestModel(Gpu, config.Seed, RunTestData.Classes, RunTestData.Size);
        bool before = Gpu.Graphs.Enabled;
        Gpu.Graphs.Enabled = graphs;
        try
        {
            using var trainer = new Trainer(config, model, data,
                c => TrainingObjectives.Create(kind, JsonDocument.Parse(settings).RootElement, c),
                RunDirectory.Create(dir));
            var reports = new List<(long, double, double)>();
            var progress = new SyncProgress<TrainProgress>(p =>
            {
                if (p.Evaluation is null) reports.Add((p.Step, p.Loss, p.Accuracy));
            });
            long launches = EmulatorCounters.Total.GraphLaunches;
            trainer.Run(RunEnvironment.Capture("test", Gpu, deterministic: true, tf32: false), progress);
            launches = EmulatorCounters.Total.GraphLaunches - launches;
            var state = Checkpoint.State(model).ToDictionary(s => s.Name, s => s.Tensor.ToArray());
            foreach (var p in model.Parameters()) state["momentum:" + p.Name] = p.Momentum!.ToArray();
            return (dir, state, reports, launches);
        }
        finally
        {
            Gpu.Graphs.Enabled = before;
        }
    }
}
