using System.Security.Cryptography;
using System.Text.Json.Nodes;
using AdvRobust.Core.Serialization;
using AdvRobust.Research.Training;

namespace AdvRobust.Tests.Training;

/// <summary>
/// The trainer on a tiny model and synthetic data (3 epochs of 6 steps, milliseconds each): determinism, exact
/// resume after an interruption at an epoch boundary, before an evaluation and mid-epoch, NaN handling, and what the
/// run folder holds.
/// </summary>
public class RunTrainerTests
{
    private string _root = null!;

    [SetUp]
    public void SetUp() => _root = Directory.CreateTempSubdirectory("advrobust-run-").FullName;

    [TearDown]
    public void TearDown()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    private string Dir(string name) => Path.Combine(_root, name);

    /// <summary>metrics.jsonl with the wall-clock fields removed.</summary>
    internal static List<string> MetricsWithoutTiming(string dir)
    {
        var lines = new List<string>();
        foreach (string line in File.ReadAllLines(Path.Combine(dir, "metrics.jsonl")))
        {
            var obj = JsonNode.Parse(line)!.AsObject();
            foreach (string field in EpochMetrics.TimingFields)
            {
                Assert.That(obj.ContainsKey(field), $"metrics line lacks '{field}'");
                obj.Remove(field);
            }
            lines.Add(obj.ToJsonString());
        }
        return lines;
    }

    internal static void AssertSameState(Dictionary<string, float[]> expected, Dictionary<string, float[]> actual)
    {
        Assert.That(actual.Keys, Is.EquivalentTo(expected.Keys));
        foreach (var (name, values) in expected)
            Assert.That(actual[name], Is.EqualTo(values), $"tensor '{name}' differs (bitwise comparison)");
    }

    [Test]
    public void Train_SameSeedTwice_IdenticalMetricsAndWeights()
    {
        var config = RunTestData.Config();
        var a = RunTestData.Run(config, Dir("a"));
        var b = RunTestData.Run(config, Dir("b"));
        Assert.That(MetricsWithoutTiming(Dir("b")), Is.EqualTo(MetricsWithoutTiming(Dir("a"))));
        AssertSameState(a.State, b.State);
        Assert.That(File.ReadAllBytes(Path.Combine(Dir("b"), "best.safetensors")),
            Is.EqualTo(File.ReadAllBytes(Path.Combine(Dir("a"), "best.safetensors"))));
    }

    [Test]
    public void Train_DifferentSeed_DifferentRun()
    {
        var a = RunTestData.Run(RunTestData.Config(), Dir("a"));
        var b = RunTestData.Run(RunTestData.Config("seed=8"), Dir("b"));
        Assert.That(b.State["fc.weight"], Is.Not.EqualTo(a.State["fc.weight"]));
    }

    /// <summary>Cancellation points: after epoch 1 was evaluated and checkpointed (an epoch boundary, like a run killed
    /// there), after the last step of epoch 2 but before its evaluation, and in the middle of epoch 2.</summary>
    [TestCase("after-epoch-1", 6, 1, 0)]
    [TestCase("before-eval-2", 12, 1, 6)]
    [TestCase("mid-epoch-2", 9, 1, 3)]
    public void Train_InterruptedAndResumed_MatchesUninterruptedRun(string name, int stopAtStep, int expectEpoch,
        int expectBatches)
    {
        var config = RunTestData.Config();
        var whole = RunTestData.Run(config, Dir("whole"));

        string dir = Dir(name);
        var stopped = RunTestData.Run(config, dir, onProgress: (p, cts) =>
        {
            // Epoch boundary: cancel during epoch 1's evaluation, which runs to its end, so the trainer stops before
            // the first step of epoch 2. Otherwise: cancel right after a given step.
            bool cancel = name == "after-epoch-1"
                ? p.Evaluation is not null && p.Epoch == 1
                : p.Evaluation is null && p.Step == stopAtStep;
            if (cancel) cts.Cancel();
        });
        Assert.That(stopped.Result.Status, Is.EqualTo(TrainStatus.Cancelled));
        Assert.That(stopped.Result.Steps, Is.EqualTo(stopAtStep));
        var saved = ResumeState.Load(Path.Combine(dir, "resume.safetensors"),
            new RunTestModel(Support.Backends.Cpu, 0, RunTestData.Classes, RunTestData.Size));
        Assert.That((saved.Epoch, saved.BatchesDone, saved.Step),
            Is.EqualTo((expectEpoch, expectBatches, (long)stopAtStep)));
        Assert.That(RunDirectory.Open(dir).ReadManifest().Status, Is.EqualTo("cancelled"));

        var resumed = RunTestData.Run(config, dir, resume: true);
        Assert.That(resumed.Result.Status, Is.EqualTo(TrainStatus.Completed));
        Assert.That(MetricsWithoutTiming(dir), Is.EqualTo(MetricsWithoutTiming(Dir("whole"))));
        AssertSameState(whole.State, resumed.State);
        Assert.That(resumed.Result with { LastEpoch = null }, Is.EqualTo(whole.Result with { LastEpoch = null }));
        var manifest = RunDirectory.Open(dir).ReadManifest();
        Assert.That(manifest.Status, Is.EqualTo("completed"));
        Assert.That(manifest.Resumptions, Has.Count.EqualTo(1));
        Assert.That(manifest.Resumptions[0].FromStep, Is.EqualTo(stopAtStep));
    }

    [Test]
    public void Train_KilledAfterACheckpoint_ResumeDropsLaterMetricsAndMatches()
    {
        // A run killed hard after its last metrics line but before its next checkpoint leaves lines the resume state
        // does not cover. Simulated by rolling a finished run's resume file back to the one written after epoch 2 of
        // 3 (checkpointEvery 2), and its manifest back to "running" as the kill leaves it: resuming must drop line 3
        // and compute it again.
        var config = RunTestData.Config("checkpointEvery=2", "epochs=3");
        var whole = RunTestData.Run(config, Dir("whole"));
        string dir = Dir("killed");
        byte[]? atEpoch2 = null;
        RunTestData.Run(config, dir, onProgress: (p, _) =>
        {
            if (p.Epoch == 3 && p.Batch == 1) atEpoch2 = File.ReadAllBytes(Path.Combine(dir, "resume.safetensors"));
        });
        File.WriteAllBytes(Path.Combine(dir, "resume.safetensors"), atEpoch2!);
        var run = RunDirectory.Open(dir);
        run.WriteManifest(run.ReadManifest() with { Status = "running", EndTime = null });
        Assert.That(File.ReadAllLines(Path.Combine(dir, "metrics.jsonl")), Has.Length.EqualTo(3));
        var resumed = RunTestData.Run(config, dir, resume: true);
        Assert.That(MetricsWithoutTiming(dir), Is.EqualTo(MetricsWithoutTiming(Dir("whole"))));
        AssertSameState(whole.State, resumed.State);
    }

    [Test]
    public void Train_NanLossAtStep8_StopsNamingEpochAndStepAndKeepsLastGoodCheckpoint()
    {
        string dir = Dir("nan");
        var config = RunTestData.Config();
        var files = new Dictionary<string, byte[]>();
        var error = Assert.Throws<TrainingDivergedException>(() => RunTestData.Run(config, dir,
            objective: _ => new RunTestObjective(new RunTestObjectiveSettings(0f, NanAtStep: 8)),
            onProgress: (p, _) =>
            {
                if (p.Epoch == 2 && p.Batch == 1)
                    foreach (string f in new[] { "resume.safetensors", "last.safetensors", "best.safetensors" })
                        files[f] = File.ReadAllBytes(Path.Combine(dir, f));
            }))!;
        Assert.That(error.Message, Does.Contain("epoch 2").And.Contain("step 8").And.Contain("NaN"));
        Assert.That((error.Epoch, error.Step), Is.EqualTo((2, 8L)));
        Assert.That(files, Has.Count.EqualTo(3));
        foreach (var (f, bytes) in files)
            Assert.That(File.ReadAllBytes(Path.Combine(dir, f)), Is.EqualTo(bytes), $"{f} was overwritten");
        Assert.That(File.ReadAllLines(Path.Combine(dir, "metrics.jsonl")), Has.Length.EqualTo(1));
        Assert.That(RunDirectory.Open(dir).ReadManifest().Status, Is.EqualTo("diverged"));
        var state = ResumeState.Load(Path.Combine(dir, "resume.safetensors"),
            new RunTestModel(Support.Backends.Cpu, 0, RunTestData.Classes, RunTestData.Size));
        Assert.That((state.Epoch, state.Step), Is.EqualTo((1, 6L)));
    }

    [Test]
    public void Train_ThreeEpochs_MetricsLinesHoldEveryFieldConsistently()
    {
        string dir = Dir("metrics");
        var result = RunTestData.Run(RunTestData.Config(), dir).Result;
        var lines = new MetricsLog(Path.Combine(dir, "metrics.jsonl")).Read();
        Assert.That(lines.Select(l => l.Epoch), Is.EqualTo(new[] { 1, 2, 3 }));
        Assert.That(lines.Select(l => l.Step), Is.EqualTo(new[] { 6L, 12L, 18L }));
        // lr 0.1 after a 3-iteration warm-up (0.5 epoch), halved once 2 epochs are done: each epoch's last step.
        Assert.That(lines.Select(l => l.Lr), Is.EqualTo(new[] { 0.1, 0.1, 0.05 }).Within(1e-7));
        foreach (var m in lines)
        {
            Assert.That(m.TrainComponents.Keys, Is.EqualTo(new[] { "ce", "const" }));
            Assert.That(m.TrainComponents["ce"], Is.EqualTo(m.TrainLoss).Within(1e-12));
            Assert.That(m.TrainComponents["const"], Is.EqualTo(1.0).Within(1e-12));
            Assert.That(m.TrainImages, Is.EqualTo(48));
            Assert.That(m.EvalImages, Is.EqualTo(16));
            Assert.That(m.TrainAccuracy, Is.InRange(0.0, 1.0));
            Assert.That(m.PgdAccuracy, Is.LessThanOrEqualTo(m.CleanAccuracy));
            Assert.That(m.EpochSeconds, Is.GreaterThanOrEqualTo(m.TrainSeconds));
            Assert.That(m.ImagesPerSecond, Is.GreaterThan(0));
        }
        var best = lines.Where(l => l.Best).Last();
        Assert.That(best.PgdAccuracy, Is.EqualTo(lines.Max(l => l.PgdAccuracy)));
        Assert.That((result.BestEpoch, result.BestPgdAccuracy), Is.EqualTo((best.Epoch, best.PgdAccuracy)));
        var meta = SafeTensors.Read(Path.Combine(dir, "best.safetensors")).Metadata;
        Assert.That(meta["epoch"], Is.EqualTo(best.Epoch.ToString()));
        Assert.That(meta["normalize.mean"], Is.EqualTo("0.5"));
        Assert.That(meta["normalize.std"], Is.EqualTo("0.25"));
        Assert.That(lines[^1].TrainLoss, Is.LessThan(lines[0].TrainLoss), "three epochs should lower the loss");
    }

    [Test]
    public void Train_NewRun_ManifestHoldsConfigEnvironmentObjectiveAndShape()
    {
        string dir = Dir("manifest");
        var config = RunTestData.Config("optimizer.lr=0.05");
        RunTestData.Run(config, dir, objective: _ => new RunTestObjective(new RunTestObjectiveSettings(0.1f, -1)));
        var manifest = RunDirectory.Open(dir).ReadManifest();
        Assert.That(manifest.Format, Is.EqualTo(RunManifest.CurrentFormat));
        Assert.That(manifest.Status, Is.EqualTo("completed"));
        Assert.That(manifest.EndTime, Is.GreaterThanOrEqualTo(manifest.StartTime));
        Assert.That(manifest.Seed, Is.EqualTo(7UL));
        Assert.That(manifest.Config.ToJson(), Is.EqualTo(config.ToJson()));
        Assert.That(manifest.Config.Optimizer.Lr, Is.EqualTo(0.05f));
        Assert.That(manifest.GitCommit, Does.Match("^([0-9a-f]{40}|unknown)$"));
        Assert.That(manifest.Environment.Backend, Is.EqualTo("cpu"));
        Assert.That(manifest.Environment.CommandLine, Is.EqualTo("test"));
        Assert.That(manifest.Environment.DotNet, Does.Contain(".NET"));
        Assert.That(manifest.Environment.Os, Is.Not.Empty);
        Assert.That(manifest.Objective.Name, Is.EqualTo("test-ce"));
        Assert.That(manifest.Objective.Settings.GetProperty("labelSmoothing").GetSingle(), Is.EqualTo(0.1f));
        Assert.That(manifest.Shape.TrainImages, Is.EqualTo(48));
        Assert.That(manifest.Shape.EvalImages, Is.EqualTo(16));
        Assert.That(manifest.Shape.BatchesPerEpoch, Is.EqualTo(6));
        Assert.That(manifest.Shape.TotalSteps, Is.EqualTo(18));
        Assert.That(manifest.Shape.Parameters, Is.EqualTo(4 * 9 + 4 + 4 + 64 * 4 + 4));
        Assert.That(manifest.Resumptions, Is.Empty);
    }

    [Test]
    public void RunDirectory_CreateOverExistingRun_RefusedWithHint()
    {
        string dir = Dir("twice");
        RunTestData.Run(RunTestData.Config("epochs=1"), dir);
        var e = Assert.Throws<IOException>(() => RunDirectory.Create(dir))!;
        Assert.That(e.Message, Does.Contain("--resume"));
    }

    [Test]
    public void Resume_WithAnotherConfig_Refused()
    {
        string dir = Dir("other");
        RunTestData.Run(RunTestData.Config("epochs=1"), dir);
        var e = Assert.Throws<ArgumentException>(
            () => RunTestData.Run(RunTestData.Config("epochs=2"), dir, resume: true))!;
        Assert.That(e.Message, Does.Contain("another config"));
    }

    [Test]
    public void Resume_CompletedRun_DoesNothingAndKeepsWeights()
    {
        string dir = Dir("done");
        var config = RunTestData.Config("epochs=1");
        var first = RunTestData.Run(config, dir);
        string hash = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(Path.Combine(dir, "last.safetensors"))));
        var again = RunTestData.Run(config, dir, resume: true);
        Assert.That(again.Result.Status, Is.EqualTo(TrainStatus.Completed));
        Assert.That(again.Result.Steps, Is.EqualTo(first.Result.Steps));
        AssertSameState(first.State, again.State);
        Assert.That(Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(Path.Combine(dir, "last.safetensors")))),
            Is.EqualTo(hash));
    }

    [Test]
    public void Trainer_BatchLargerThanDataWithDropLast_RejectedWithReason()
    {
        var e = Assert.Throws<ArgumentException>(
            () => RunTestData.Run(RunTestData.Config("batchSize=64"), Dir("big")))!;
        Assert.That(e.Message, Does.Contain("batchSize 64").And.Contain("dropLast"));
    }

    /// <summary>PORT mixing: every step is 8 real images then 4 synthetic ones (12 synthetic images: 3 steps per
    /// epoch), synthetic ids offset past the real set; a run interrupted mid-epoch and resumed still matches.</summary>
    [Test]
    public void Train_WithSyntheticSet_MixesEveryBatchAndResumesExactly()
    {
        var config = RunTestData.Config("data.synthetic.path=proxy.npz", "data.synthetic.batchSize=4");
        var proxy = RunTestData.Images(12, 9, "proxy");
        TrainingData Mix(TrainingData d) => d with { Synthetic = proxy, SyntheticDescription = "12 test proxies" };
        var batches = new List<uint[]>();
        var whole = RunTestData.Run(config, Dir("whole"), withData: Mix,
            objective: _ => new RecordingObjective(batches));
        Assert.That(whole.Result.Steps, Is.EqualTo(3 * 3));
        Assert.That(batches, Has.Count.EqualTo(9));
        foreach (var ids in batches)
        {
            Assert.That(ids, Has.Length.EqualTo(12));
            Assert.That(ids[..8], Has.All.LessThan(48u), "the real rows come first");
            Assert.That(ids[8..], Has.All.InRange(48u, 59u), "synthetic ids are 48 + their index in the proxy set");
        }
        // Each epoch visits 12 distinct synthetic images (a permutation), and the next epoch reorders them.
        Assert.That(batches.Take(3).SelectMany(b => b[8..]).Distinct().Count(), Is.EqualTo(12));
        Assert.That(batches.Skip(3).Take(3).SelectMany(b => b[8..]), Is.Not.EqualTo(batches.Take(3).SelectMany(b => b[8..])));
        Assert.That(RunDirectory.Open(Dir("whole")).ReadManifest().Shape.Synthetic, Is.EqualTo("12 test proxies"));

        string dir = Dir("resumed");
        RunTestData.Run(config, dir, withData: Mix, onProgress: (p, cts) =>
        {
            if (p.Evaluation is null && p.Step == 4) cts.Cancel();
        });
        var resumed = RunTestData.Run(config, dir, resume: true, withData: Mix);
        Assert.That(MetricsWithoutTiming(dir), Is.EqualTo(MetricsWithoutTiming(Dir("whole"))));
        AssertSameState(whole.State, resumed.State);
    }

    /// <summary>The tests' cross-entropy objective, recording each step's sample ids.</summary>
    private sealed class RecordingObjective(List<uint[]> batches) : ITrainingObjective
    {
        private readonly RunTestObjective _inner = new();
        public string Name => _inner.Name;
        public object Settings => _inner.Settings;

        public StepStats Step(AdvRobust.Core.Nn.Models.ImageClassifier model, TrainingBatch batch)
        {
            batches.Add(batch.SampleIds);
            return _inner.Step(model, batch);
        }

        public void Dispose() => _inner.Dispose();
    }
}
