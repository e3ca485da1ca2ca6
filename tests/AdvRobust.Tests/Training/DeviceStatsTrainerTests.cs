using System.Text.Json;
using AdvRobust.Core;
using AdvRobust.Core.Checkpoints;
using AdvRobust.Research.Training;
using AdvRobust.Research.Training.Objectives;

namespace AdvRobust.Tests.Training;

/// <summary>
/// The trainer with built-in objectives, whose steps leave their statistics on the device: reading them every k
/// steps instead of after each changes nothing in the metrics or the weights (the host sums them in step order), with
/// and without PORT's synthetic rows mixed in on the device, and a run cancelled between two reads still resumes
/// exactly.
/// </summary>
public class DeviceStatsTrainerTests
{
    private string _root = null!;

    [SetUp]
    public void SetUp() => _root = Directory.CreateTempSubdirectory("advrobust-devstats-").FullName;

    [TearDown]
    public void TearDown()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    private string Dir(string name) => Path.Combine(_root, name);

    [TestCase("standard", false)]
    [TestCase("standard", true)]
    [TestCase("trades", true)]
    public void Train_StatsReadEveryFewSteps_SameMetricsAndWeightsAsEveryStep(string kind, bool synthetic)
    {
        var every = Run(kind, synthetic, Dir("every"), statsEvery: 1);
        var batched = Run(kind, synthetic, Dir("batched"), statsEvery: 4);
        Assert.That(RunTrainerTests.MetricsWithoutTiming(Dir("batched")),
            Is.EqualTo(RunTrainerTests.MetricsWithoutTiming(Dir("every"))));
        RunTrainerTests.AssertSameState(every.State, batched.State);
        Assert.That(batched.Reports, Is.EqualTo(every.Reports), "per-step progress (step, loss, accuracy)");
    }

    [Test]
    public void Train_CancelledBetweenReads_ResumesToTheSameRun()
    {
        var whole = Run("standard", true, Dir("whole"), statsEvery: 4);
        var stopped = Run("standard", true, Dir("stopped"), statsEvery: 4, cancelAfterStep: 2);
        Assert.That(stopped.Result.Status, Is.EqualTo(TrainStatus.Cancelled));
        var resumed = Run("standard", true, Dir("stopped"), statsEvery: 4, resume: true);
        Assert.That(RunTrainerTests.MetricsWithoutTiming(Dir("stopped")),
            Is.EqualTo(RunTrainerTests.MetricsWithoutTiming(Dir("whole"))));
        RunTrainerTests.AssertSameState(whole.State, resumed.State);
    }

    [Test]
    public void Config_StatsEvery_SetsTheReadIntervalAndMustBePositive()
    {
        var config = RunTestData.Config("statsEvery=5");
        var (train, test) = RunTestData.Splits();
        using var model = new RunTestModel(Support.Backends.Cpu, config.Seed, RunTestData.Classes, RunTestData.Size);
        using var trainer = new Trainer(config, model, TrainingData.From(config.Data, train, test),
            _ => new RunTestObjective(), RunDirectory.Create(Dir("config")));
        Assert.That(trainer.StatsEvery, Is.EqualTo(5));
        var e = Assert.Throws<ArgumentException>(() => RunTestData.Config("statsEvery=0"))!;
        Assert.That(e.Message, Does.Contain("statsEvery"));
    }

    private static (TrainResult Result, Dictionary<string, float[]> State, List<(long, double, double)> Reports) Run(
        string kind, bool synthetic, string dir, int statsEvery, long cancelAfterStep = -1, bool resume = false)
    {
        var config = synthetic
            ? RunTestData.Config("data.synthetic.path=proxy.npz", "data.synthetic.batchSize=4")
            : RunTestData.Config();
        var (train, test) = RunTestData.Splits();
        var data = TrainingData.From(config.Data, train, test);
        if (synthetic)
            data = data with { Synthetic = RunTestData.Images(12, 9, "proxy"), SyntheticDescription = "12 test proxies" };
        using var model = new RunTestModel(Support.Backends.Cpu, config.Seed, RunTestData.Classes, RunTestData.Size);
        var run = resume ? RunDirectory.Open(dir) : RunDirectory.Create(dir);
        string settings = kind == "trades" ? "{\"eps\":0.1,\"stepSize\":0.05,\"steps\":2}" : "{}";
        using var trainer = new Trainer(config, model, data,
            c => TrainingObjectives.Create(kind, JsonDocument.Parse(settings).RootElement, c), run)
        {
            StatsEvery = statsEvery,
        };
        using var cts = new CancellationTokenSource();
        var reports = new List<(long, double, double)>();
        var progress = new SyncProgress<TrainProgress>(p =>
        {
            if (p.Evaluation is not null) return;
            reports.Add((p.Step, p.Loss, p.Accuracy));
            if (p.Step == cancelAfterStep) cts.Cancel();
        });
        var env = RunEnvironment.Capture("test", Support.Backends.Cpu, deterministic: false, tf32: false);
        var result = trainer.Run(env, progress, cts.Token);
        var state = Checkpoint.State(model).ToDictionary(s => s.Name, s => s.Tensor.ToArray());
        return (result, state, reports);
    }
}
