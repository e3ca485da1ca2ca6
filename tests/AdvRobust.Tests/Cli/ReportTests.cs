using System.Buffers.Binary;
using System.Text.Json;
using AdvRobust.Core;
using AdvRobust.Core.Attacks;
using AdvRobust.Research.Detection;
using AdvRobust.Report;

namespace AdvRobust.Tests.Cli;

/// <summary>The run-directory reader, report.md and the ScottPlot charts, on hand-written runs in a temp folder.</summary>
public class ReportTests
{
    internal const string Manifest = """
        {"config":{"arch":"small-cnn","recipe":"tla","epochs":2,"batch_size":50,"attack":{"eps":0.1}},
         "seed":1,"commit":"0123456789abcdef","device":"cpu (2 cores)","backend":"cpu","unknownField":[1]}
        """;

    internal const string Metrics = """
        {"epoch":1,"step":235,"lr":0.01,"trainLoss":0.71,"components":{"ce":0.6,"triplet":0.1},"trainAccuracy":0.74,"cleanAccuracy":0.80,"pgdAccuracy":0.55,"epochSeconds":12.5,"imagesPerSecond":490}

        {"epoch":2,"trainLoss":"NaN","cleanAccuracy":0.84,"pgdAccuracy":0.52,"epochSeconds":12.5,"imagesPerSecond":510,"extra":{"x":1}}
        """;

    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("advrobust-report-").FullName;

    [TearDown]
    public void TearDown()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    internal static string WriteRun(string root, string name, string? manifest, string? metrics,
        DetectionResult? detection = null)
    {
        string dir = Path.Combine(root, name);
        Directory.CreateDirectory(dir);
        if (manifest is not null) File.WriteAllText(Path.Combine(dir, RunReader.ManifestFile), manifest);
        if (metrics is not null) File.WriteAllText(Path.Combine(dir, RunReader.MetricsFile), metrics);
        if (detection is not null) File.WriteAllText(Path.Combine(dir, RunReader.DetectionFile), detection.ToJson());
        return dir;
    }

    internal static DetectionResult Detection()
    {
        var attack = new DetectionAttack("pgd-linf", new Pgd(new PgdSettings(PgdNorm.Linf, 0.1f, 0.01f, 10)));
        var a = AdversarialDetection.Measure(attack, 6, [0.1, 0.2, 0.3, 0.4, 0.2, 0.1], [true, true, true, true, true, false],
            [0.9, 0.1, 0.8, 0.7, 0.3, 0.5], [false, true, false, true, true, false], seconds: 1);
        return new DetectionResult("SmallCnn", "cpu", 5, 100, 6, 5, 5 / 6.0, [a], 2);
    }

    /// <summary>A PNG: the 8-byte signature, then IHDR with the width and height (big-endian) at bytes 16 and 20.</summary>
    internal static void AssertPng(string path, int width, int height)
    {
        Assert.That(File.Exists(path), Is.True, path);
        byte[] png = File.ReadAllBytes(path);
        Assert.That(png[..8], Is.EqualTo(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }), path);
        Assert.That(BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)), Is.EqualTo(width), path);
        Assert.That(BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)), Is.EqualTo(height), path);
        Assert.That(png.Length, Is.GreaterThan(5000), $"{path}: too small to hold a drawn chart");
    }

    [Test]
    public void Load_TrainerFiles_ReadsKnownFieldsAndToleratesOthers()
    {
        var run = RunReader.Load(WriteRun(_dir, "tla", Manifest, Metrics));
        Assert.That(run.Name, Is.EqualTo("tla"));
        Assert.That(run.Manifest!.Seed, Is.EqualTo("1"));
        Assert.That(run.Manifest.Commit, Is.EqualTo("0123456789abcdef"));
        Assert.That(run.Epochs, Has.Count.EqualTo(2), "the blank line is skipped");
        var first = run.Epochs[0];
        Assert.That((first.Step, first.Lr, first.TrainAccuracy), Is.EqualTo(((long?)235, (double?)0.01, (double?)0.74)));
        Assert.That(first.Components["triplet"], Is.EqualTo(0.1));
        Assert.That(run.Epochs[1].Step, Is.Null);
        Assert.That(run.Epochs[1].TrainLoss, Is.NaN, "a diverged loss written as \"NaN\" is read");
        Assert.That(run.BestPgd!.Epoch, Is.EqualTo(1));
        Assert.That(run.BestClean, Is.EqualTo(0.84));
        Assert.That(run.Seconds, Is.EqualTo(25.0));
        Assert.That(run.ImagesPerSecond, Is.EqualTo(500.0));
        Assert.That(run.Detection, Is.Null);
    }

    [Test]
    public void ReadMetrics_InvalidJsonOnLine3_ErrorNamesFileAndLine()
    {
        string dir = WriteRun(_dir, "bad", null, "{\"epoch\":1}\n{\"epoch\":2}\n{\"epoch\":3,\n");
        var e = Assert.Throws<InvalidDataException>(() => RunReader.Load(dir));
        Assert.That(e!.Message, Does.Contain($"{RunReader.MetricsFile} line 3"));
    }

    [Test]
    public void ReadMetrics_TornLastLineOfAKilledRun_Skipped()
    {
        string dir = WriteRun(_dir, "killed", null, "{\"epoch\":1}\n{\"epoch\":2}\n{\"epoch\":3,\"st");
        Assert.That(RunReader.Load(dir).Epochs.Select(e => e.Epoch), Is.EqualTo(new[] { 1, 2 }));
    }

    [Test]
    public void ReadMetrics_WrongFieldTypeOrNoEpoch_ErrorNamesLineAndField()
    {
        string dir = WriteRun(_dir, "bad", null, "{\"epoch\":1,\"pgdAccuracy\":\"high\"}\n");
        Assert.That(() => RunReader.Load(dir), Throws.InstanceOf<InvalidDataException>()
            .With.Message.Contain("line 1").And.Message.Contain("'pgdAccuracy'"));
        File.WriteAllText(Path.Combine(dir, RunReader.MetricsFile), "{\"epoch\":1}\n{\"lr\":0.1}\n");
        Assert.That(() => RunReader.Load(dir), Throws.InstanceOf<InvalidDataException>()
            .With.Message.Contain("line 2").And.Message.Contain("'epoch'"));
    }

    [Test]
    public void ReadManifest_InvalidJson_ErrorNamesFileAndLine()
    {
        string dir = WriteRun(_dir, "bad", "{\n  \"seed\": 1,\n  \"commit\": \n}", null);
        Assert.That(() => RunReader.Load(dir), Throws.InstanceOf<InvalidDataException>()
            .With.Message.Contain($"{RunReader.ManifestFile} line 4"));
    }

    [Test]
    public void Load_FolderWithoutRunFiles_SaysWhichFilesItLooksFor()
    {
        string dir = Directory.CreateDirectory(Path.Combine(_dir, "empty")).FullName;
        Assert.That(() => RunReader.Load(dir), Throws.InstanceOf<InvalidDataException>()
            .With.Message.Contain(RunReader.MetricsFile));
    }

    [Test]
    public void Essentials_ConfigKeys_MatchedAcrossNamingStylesAndOneLevelDeep()
    {
        using var doc = JsonDocument.Parse("""{"batch-size":50,"arch":"wrn","attack":{"Eps":0.03,"inner":{"lr":1}},"x":2}""");
        var found = MarkdownReport.Essentials(doc.RootElement);
        Assert.That(found, Is.EqualTo(new[] { ("arch", "wrn"), ("batch-size", "50"), ("attack.Eps", "0.03") }));
    }

    [Test]
    public void Write_TwoRunsOneWithDetection_WritesMarkdownAndPngCharts()
    {
        var runs = ReportWriter.Load([
            WriteRun(_dir, "tla", Manifest, Metrics, Detection()),
            WriteRun(Path.Combine(_dir, "other"), "tla", null, "{\"epoch\":1,\"trainLoss\":0.9,\"cleanAccuracy\":0.7}"),
        ]);
        Assert.That(runs.Select(r => r.Name), Is.EqualTo(new[] { "tla", "tla-2" }), "colliding names made unique");
        string outDir = Path.Combine(_dir, "out");
        var files = ReportWriter.Write(runs, outDir);
        Assert.That(files.Select(Path.GetFileName), Is.EquivalentTo(new[]
            { "report.md", "loss.png", "accuracy.png", "roc-tla.png", "roc-misclassified-tla.png" }));
        foreach (string png in files.Where(f => f.EndsWith(".png", StringComparison.Ordinal)))
            AssertPng(png, Charts.Width, Charts.Height);
        string md = File.ReadAllText(Path.Combine(outDir, "report.md"));
        Assert.That(md, Does.Contain("| tla | 2 | 84.00% | 52.00% | 84.00% | 55.00% (1) | 25.0 s | 500 | cpu (2 cores) | 0123456789 |"));
        Assert.That(md, Does.Contain("| tla-2 | 1 | 70.00% | — |"));
        Assert.That(md, Does.Contain("| recipe | tla |").And.Contain("| attack.eps | 0.1 |"));
        var attack = runs[0].Detection!.Attacks[0];
        Assert.That(md, Does.Contain($"| pgd-linf | Linf | 0.1 | 50.00% | {attack.CleanVsAdversarial!.Auc:F4} |"));
        Assert.That(md, Does.Contain("![ROC clean vs adversarial](roc-tla.png)"));
    }
}
