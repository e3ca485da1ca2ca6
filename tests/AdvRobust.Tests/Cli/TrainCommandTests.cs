using System.Text.Json;
using AdvRobust.Cli.Commands;
using AdvRobust.Research.Training;
using AdvRobust.Tests.Data;
using AdvRobust.Tests.Training;

namespace AdvRobust.Tests.Cli;

/// <summary>
/// `advrobust train` end to end, in seconds: one epoch of the small CNN on a synthetic Fashion-MNIST-layout IDX
/// folder (32 training and 8 test 28×28 images; two steps of 16) with a 1-step PGD evaluation, then
/// `advrobust eval` on the best checkpoint it wrote, with the real PGD-AT objective (one attack step).
/// </summary>
[NonParallelizable]
public class TrainCommandTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Directory.CreateTempSubdirectory("advrobust-train-").FullName;
    }

    [TearDown]
    public void TearDown()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    /// <summary>An IDX folder like Fashion-MNIST's: label k brightens row band k of a noisy image.</summary>
    internal static string WriteData(string dir)
    {
        string data = Directory.CreateDirectory(Path.Combine(dir, "data")).FullName;
        foreach (var (split, n) in new[] { ("train", 32), ("t10k", 8) })
        {
            byte[] labels = Enumerable.Range(0, n).Select(i => (byte)(i % 10)).ToArray();
            File.WriteAllBytes(Path.Combine(data, $"{split}-labels-idx1-ubyte"), IdxBytes.Labels(labels));
            File.WriteAllBytes(Path.Combine(data, $"{split}-images-idx3-ubyte"), IdxBytes.Images(n, 28, 28,
                p => (byte)((p % 784 / 28 / 3 == labels[p / 784] ? 200 : 40) + p * 13 % 50)));
        }
        return data;
    }

    private string WriteConfig() => WriteConfig(_dir);

    /// <summary>tiny.json in <paramref name="dir"/>, on a data folder written beside it.</summary>
    internal static string WriteConfig(string dir)
    {
        string path = Path.Combine(dir, "tiny.json");
        File.WriteAllText(path, $$"""
        {
          "_comment": "one quick epoch",
          "epochs": 1,
          "batchSize": 16,
          "data": { "name": "{{WriteData(dir)}}", "evalSize": 8, "evalSplit": "test" },
          "model": { "arch": "small-cnn" },
          "objective": { "kind": "pgd-at", "settings": { "eps": 0.1, "steps": 1, "stepSize": 0.1 } },
          "optimizer": { "lr": 0.01 },
          "evaluation": { "eps": 0.1, "steps": 1, "stepSize": 0.1, "batchSize": 8 }
        }
        """);
        return path;
    }

    [Test]
    public void Train_OneEpochOnIdxFolder_WritesRunFolderThatEvalLoads()
    {
        string run = Path.Combine(_dir, "run");
        int code = AdvRobust.Cli.Program.Main(["train", "--config", WriteConfig(), "--set", "seed=3",
            "--set", "optimizer.momentum=0.5", "--out", run, "--device", "cpu"]);
        Assert.That(code, Is.Zero);
        foreach (string f in new[]
                 { "manifest.json", "metrics.jsonl", "last.safetensors", "best.safetensors", "resume.safetensors" })
            Assert.That(File.Exists(Path.Combine(run, f)), f);
        var manifest = RunDirectory.Open(run).ReadManifest();
        Assert.That(manifest.Status, Is.EqualTo("completed"));
        Assert.That(manifest.Seed, Is.EqualTo(3UL));
        Assert.That(manifest.Config.Optimizer.Momentum, Is.EqualTo(0.5f));
        Assert.That(manifest.Config.Objective.Kind, Is.EqualTo("pgd-at"));
        Assert.That(manifest.Environment.CommandLine,
            Does.StartWith("advrobust train --config ").And.Contain("--set seed=3"));
        Assert.That((manifest.Shape.TrainImages, manifest.Shape.EvalImages), Is.EqualTo((32, 8)));
        var lines = new MetricsLog(Path.Combine(run, "metrics.jsonl")).Read();
        Assert.That(lines, Has.Count.EqualTo(1));
        Assert.That(lines[0].Step, Is.EqualTo(2));

        int eval = AdvRobust.Cli.Program.Main(["eval", "--model", Path.Combine(run, "best.safetensors"), "--arch",
            "small-cnn", "--data", Path.Combine(_dir, "data"), "--samples", "8", "--attack", "pgd", "--eps", "0.1",
            "--steps", "1"]);
        Assert.That(eval, Is.Zero);
    }

    [Test]
    public void Train_ResumeOfCompletedRun_ExitsCleanly()
    {
        string run = Path.Combine(_dir, "run");
        Assert.That(AdvRobust.Cli.Program.Main(["train", "--config", WriteConfig(), "--out", run]), Is.Zero);
        byte[] manifest = File.ReadAllBytes(Path.Combine(run, "manifest.json"));
        Assert.That(AdvRobust.Cli.Program.Main(["train", "--resume", run]), Is.Zero);
        Assert.That(File.ReadAllBytes(Path.Combine(run, "manifest.json")), Is.EqualTo(manifest), "manifest changed");
        Assert.That(RunDirectory.Open(run).ReadManifest().Resumptions, Is.Empty);
    }

    /// <summary>A run killed before its first checkpoint (simulated: manifest "running", no resume state, no
    /// checkpoints): starting it again is refused with exit 4 pointing at --resume, which restarts it from step 0.
    /// </summary>
    [Test]
    public void Train_RunKilledBeforeFirstCheckpoint_ResumeRestartsItFromStep0()
    {
        string run = Path.Combine(_dir, "run"), config = WriteConfig();
        Assert.That(AdvRobust.Cli.Program.Main(["train", "--config", config, "--out", run]), Is.Zero);
        byte[] weights = File.ReadAllBytes(Path.Combine(run, "last.safetensors"));
        foreach (string f in new[] { "resume.safetensors", "last.safetensors", "best.safetensors", "metrics.jsonl" })
            File.Delete(Path.Combine(run, f));
        var dir = RunDirectory.Open(run);
        dir.WriteManifest(dir.ReadManifest() with { Status = "running", EndTime = null });

        var error = new StringWriter();
        var saved = Console.Error;
        Console.SetError(error);
        try
        {
            Assert.That(AdvRobust.Cli.Program.Main(["train", "--config", config, "--out", run]), Is.EqualTo(4));
        }
        finally
        {
            Console.SetError(saved);
        }
        Assert.That(error.ToString(), Does.Contain($"--resume {run} restarts it from step 0"));
        Assert.That(AdvRobust.Cli.Program.Main(["train", "--resume", run]), Is.Zero);
        Assert.That(File.ReadAllBytes(Path.Combine(run, "last.safetensors")), Is.EqualTo(weights));
        var manifest = RunDirectory.Open(run).ReadManifest();
        Assert.That(manifest.Status, Is.EqualTo("completed"));
        Assert.That(manifest.Resumptions.Single().FromStep, Is.Zero);
    }

    [TestCase("--set", "optimizer.lrr=1")]
    [TestCase("--set", "epochs=many")]
    [TestCase("--device", "tpu")]
    public void Train_BadOverride_ExitsWithInvalidInputCode(string option, string value) =>
        Assert.That(AdvRobust.Cli.Program.Main(["train", "--config", WriteConfig(), option, value, "--out",
            Path.Combine(_dir, "bad")]), Is.EqualTo(2));

    [Test]
    public void Train_ResumeCombinedWithConfig_ExitsWithInvalidInputCode() =>
        Assert.That(AdvRobust.Cli.Program.Main(["train", "--resume", _dir, "--config", WriteConfig()]), Is.EqualTo(2));

    [Test]
    public void Train_MissingConfigFile_ExitsWithFileSystemCode() =>
        Assert.That(AdvRobust.Cli.Program.Main(["train", "--config", Path.Combine(_dir, "none.json")]), Is.EqualTo(4));
}
