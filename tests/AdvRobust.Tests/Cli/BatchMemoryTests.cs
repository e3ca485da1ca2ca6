using System.Text.Json;
using AdvRobust.Core.Nn;
using AdvRobust.Core.Nn.Models;
using AdvRobust.Cpu;

namespace AdvRobust.Tests.Cli;

/// <summary>
/// The memory guard (issue 11 §3): an attack step on the small CNN takes about 1.5 MiB per 28×28 image, so a large
/// --batch-size used to grow without bound. The batch is now checked against free memory before it starts and split
/// into chunks that fit, with a note; random draws are keyed by sample index, so the results are the same.
/// </summary>
[NonParallelizable] // sets BatchMemory.AvailableOverride and swaps Console.Error
public class BatchMemoryTests
{
    private string _dir = null!, _data = null!, _model = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Directory.CreateTempSubdirectory("advrobust-memory-").FullName;
        _data = CliFixtures.IdxFolder(Path.Combine(_dir, "data"), trainImages: 40, testImages: 20);
        _model = CliFixtures.SmallCnn(Path.Combine(_dir, "model.safetensors"));
    }

    [TearDown]
    public void TearDown()
    {
        BatchMemory.AvailableOverride = null;
        Directory.Delete(_dir, recursive: true);
    }

    private static ImageClassifier SmallCnn() =>
        ModelZoo.Create("small-cnn", CpuBackend.Instance, 10, [1, 28, 28], [0.286f], [0.353f], 7);

    /// <summary>Free memory that fits exactly <paramref name="images"/> images of the small CNN's attack step.</summary>
    private static long RoomFor(int images)
    {
        using var model = SmallCnn();
        return (long)Math.Ceiling(BatchMemory.PerImageBytes(model) * images / BatchMemory.Share);
    }

    [Test]
    public void PerImageBytes_SmallCnn_IsAboutFourFifthsOfAMebibyte()
    {
        // conv 32@28², conv 64@28² (+ pools, their gradients) dominate: measured 0.79 MiB since each conv + bias +
        // ReLU is one op keeping only its output (1.5 MiB when the conv output and the biased sum were kept too).
        using var model = SmallCnn();
        Assert.That(BatchMemory.PerImageBytes(model), Is.InRange(512L << 10, 1L << 20));
    }

    [Test]
    public void Fit_RequestThatFits_IsKeptAndOneThatDoesNot_IsSplitWithTheFigures()
    {
        using var model = SmallCnn();
        BatchMemory.AvailableOverride = RoomFor(7);
        var fits = BatchMemory.Fit(model, 7);
        Assert.That((fits.Batch, fits.Note), Is.EqualTo((7, (string?)null)));

        var split = BatchMemory.Fit(model, 3000);
        Assert.That(split.Batch, Is.EqualTo(7));
        Assert.That(split.Note, Does.Contain("--batch-size 3000 needs about").And.Contain("per image")
            .And.Contain("running batches of 7"));
        BatchMemory.AvailableOverride = 1;
        Assert.That(BatchMemory.Fit(model, 5).Batch, Is.EqualTo(1), "at least one image per batch");
        Assert.That(() => BatchMemory.Fit(model, 0), Throws.ArgumentException.With.Message.Contain("at least 1"));
    }

    [TestCase("pgd")]
    [TestCase("apgd-ce")]
    [TestCase("square")]
    public void Eval_BatchTooLargeForMemory_IsSplitAndGivesTheSameResults(string attack)
    {
        string[] Args(string json) => ["eval", "--model", _model, "--arch", "small-cnn", "--data", _data, "--eps",
            "0.3", "--steps", "3", "--attack", attack, "--batch-size", "20", "--json", json];
        var whole = CliFixtures.Run(Args(Path.Combine(_dir, "whole.json")));
        BatchMemory.AvailableOverride = RoomFor(6);
        var split = CliFixtures.Run(Args(Path.Combine(_dir, "split.json")));

        Assert.That(whole.Code, Is.Zero, whole.Error);
        Assert.That(whole.Error, Does.Not.Contain("note:"));
        Assert.That(split.Code, Is.Zero, split.Error);
        Assert.That(split.Error, Does.Contain("--batch-size 20 needs about").And.Contain("running batches of 6"));
        using var a = JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir, "whole.json")));
        using var b = JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir, "split.json")));
        Assert.That(b.RootElement.GetProperty("BatchSize").GetInt32(), Is.EqualTo(6));
        Assert.That(Results(b.RootElement), Is.EqualTo(Results(a.RootElement)));
    }

    /// <summary>Everything an evaluation measured, without timings and batch size.</summary>
    private static string Results(JsonElement root) => string.Join("|",
        root.GetProperty("CleanAccuracy").GetDouble(), root.GetProperty("RobustAccuracy").GetDouble(),
        string.Join(";", root.GetProperty("Attacks").EnumerateArray().Select(x =>
            $"{x.GetProperty("Attacked").GetInt32()},{x.GetProperty("Fooled").GetInt32()}," +
            $"{x.GetProperty("MaxPerturbation").GetDouble():R}")));

    [Test]
    public void Certify_BatchTooLargeForMemory_IsSplitWithANote()
    {
        string[] Args(string output) => ["certify", "--model", _model, "--arch", "small-cnn", "--data", _data,
            "--sigma", "0.25", "--n0", "10", "--n", "40", "--batch", "50", "--samples", "3", "--out", output];
        string whole = Path.Combine(_dir, "whole.jsonl"), split = Path.Combine(_dir, "split.jsonl");
        Assert.That(CliFixtures.Run(Args(whole)).Code, Is.Zero);
        BatchMemory.AvailableOverride = RoomFor(7);
        var run = CliFixtures.Run(Args(split));

        Assert.That(run.Code, Is.Zero, run.Error);
        Assert.That(run.Error, Does.Contain("--batch 50 needs about").And.Contain("running batches of 7"));
        Assert.That(Points(split), Is.EqualTo(Points(whole)));
    }

    /// <summary>Each certified point's index, prediction, radius and counts (not its time).</summary>
    private static string[] Points(string jsonl) => File.ReadAllLines(jsonl).Skip(1).Select(line =>
    {
        using var doc = JsonDocument.Parse(line);
        var r = doc.RootElement;
        return string.Join(",", r.EnumerateObject().Where(p => p.Name != "seconds").Select(p => $"{p.Name}={p.Value}"));
    }).ToArray();

    /// <summary>A training batch cannot be split without changing the run: one that does not fit is refused, with
    /// the figures and the largest that fits, before the run folder is made.</summary>
    [Test]
    public void Train_BatchTooLargeForMemory_IsRefusedWithTheFiguresAndNoRunFolder()
    {
        string config = Path.Combine(_dir, "tiny.json"), run = Path.Combine(_dir, "run");
        File.WriteAllText(config, $$"""
        {
          "epochs": 1, "batchSize": 16,
          "data": { "name": "{{_data}}", "evalSize": 8, "evalSplit": "holdout" },
          "model": { "arch": "small-cnn" },
          "objective": { "kind": "pgd-at", "settings": { "eps": 0.1, "steps": 1, "stepSize": 0.1 } },
          "optimizer": { "lr": 0.01 },
          "evaluation": { "eps": 0.1, "steps": 1, "stepSize": 0.1, "batchSize": 16 }
        }
        """);
        BatchMemory.AvailableOverride = RoomFor(10);

        var result = CliFixtures.Run("train", "--config", config, "--out", run);

        Assert.That(result.Code, Is.EqualTo(2), result.Error);
        Assert.That(result.Error, Does.Contain("batchSize 16: a pgd-at step on 16 images needs about")
            .And.Contain("--set batchSize=10 or less"));
        Assert.That(Directory.Exists(run), Is.False);
        Assert.That(TrainingMemoryPasses(), Is.EqualTo((3, 2, 1)));
    }

    private static (int, int, int) TrainingMemoryPasses() =>
        (AdvRobust.Research.Training.TrainingMemory.Passes("tla"),
            AdvRobust.Research.Training.TrainingMemory.Passes("trades"),
            AdvRobust.Research.Training.TrainingMemory.Passes("pgd-at"));
}
