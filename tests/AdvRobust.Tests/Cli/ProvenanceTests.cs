using System.Security.Cryptography;
using System.Text.Json;
using AdvRobust.Cli.Commands;
using AdvRobust.Cpu;
using AdvRobust.Report;

namespace AdvRobust.Tests.Cli;

/// <summary>The "Provenance" object that eval, detect, proxy rank and the demo write into their result files.</summary>
public class ProvenanceTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("advrobust-provenance-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    /// <summary>
    /// A result file's provenance names the running build's commit, the command, the checkpoint by its real SHA-256
    /// and size, at least one data source, and the machine.
    /// </summary>
    internal static void AssertStamped(JsonElement root, string checkpoint, string commandPart)
    {
        var p = root.GetProperty(Provenance.Field);
        Assert.That(root.EnumerateObject().First().Name, Is.EqualTo(Provenance.Field), "provenance comes first");
        Assert.That(p.GetProperty("GitCommit").GetString(), Does.Match("^([0-9a-f]{40}|unknown)$"));
        var file = p.GetProperty("Checkpoint");
        byte[] bytes = File.ReadAllBytes(checkpoint);
        Assert.That(file.GetProperty("Sha256").GetString(), Is.EqualTo(Convert.ToHexStringLower(SHA256.HashData(bytes))));
        Assert.That(file.GetProperty("Bytes").GetInt64(), Is.EqualTo(bytes.LongLength));
        Assert.That(file.GetProperty("Path").GetString(), Is.EqualTo(Path.GetFullPath(checkpoint)));
        Assert.That(p.GetProperty("Data").GetArrayLength(), Is.GreaterThan(0));
        var environment = p.GetProperty("Environment");
        Assert.That(environment.GetProperty("CommandLine").GetString(), Does.StartWith("advrobust " + commandPart));
        Assert.That(environment.GetProperty("Backend").GetString(), Is.EqualTo("cpu"));
        Assert.That(environment.GetProperty("DotNet").GetString(), Does.StartWith(".NET"));
        Assert.That(DateTimeOffset.Parse(p.GetProperty("Time").GetString()!), Is.GreaterThan(DateTimeOffset.Now.AddHours(-1)));
    }

    [Test]
    public void Attach_PutsProvenanceFirstAndKeepsEveryField()
    {
        string checkpoint = Path.Combine(_dir, "m.bin");
        File.WriteAllBytes(checkpoint, [1, 2, 3]);
        var record = Provenance.Capture("advrobust eval --model m.bin", CpuBackend.Instance, false, checkpoint,
            "somewhere (3 images)");
        const string result = """{"Samples": 3, "CleanAccuracy": 0.5, "RobustAccuracy": "NaN", "Attacks": [], "Provenance": 1}""";
        using var doc = JsonDocument.Parse(Provenance.Attach(result, record));
        var root = doc.RootElement;
        Assert.That(root.EnumerateObject().Select(p => p.Name),
            Is.EqualTo(new[] { "Provenance", "Samples", "CleanAccuracy", "RobustAccuracy", "Attacks" }),
            "an old provenance is replaced, not duplicated");
        Assert.That(root.GetProperty("RobustAccuracy").GetString(), Is.EqualTo("NaN"));
        AssertStamped(root, checkpoint, "eval --model");
        // SHA-256 of the bytes 01 02 03.
        Assert.That(root.GetProperty("Provenance").GetProperty("Checkpoint").GetProperty("Sha256").GetString(),
            Is.EqualTo("039058c6f2c0cb492c533b0a4d14ef77cc0f78abccced5287d84a1a2011cfb81"));
    }

    [Test]
    public void Attach_StampedEvaluationStillReadsAsOne()
    {
        string path = Path.Combine(_dir, RunReader.EvaluationFile);
        var record = Provenance.Capture("advrobust demo", CpuBackend.Instance, false, null);
        File.WriteAllText(path, Provenance.Attach("""
            {"Samples": 10, "CleanAccuracy": 0.8, "RobustAccuracy": 0.6,
             "Attacks": [{"Name": "pgd-linf", "Norm": "Linf", "Eps": 0.1, "Accuracy": 0.6}]}
            """, record));
        var evaluation = RunReader.ReadEvaluation(path);
        Assert.That((evaluation.Samples, evaluation.CleanAccuracy, evaluation.RobustAccuracy), Is.EqualTo((10, 0.8, 0.6)));
        Assert.That(evaluation.Attacks.Single().Name, Is.EqualTo("pgd-linf"));
    }

    [Test]
    public void Attach_ANonObject_IsRefused() =>
        Assert.Throws<InvalidOperationException>(() =>
            Provenance.Attach("[1, 2]", Provenance.Capture("advrobust x", CpuBackend.Instance, false, null)));

    [TestCase("plain", "plain")]
    [TestCase("a b", "'a b'")]
    [TestCase("it's", "'it'\\''s'")]
    [TestCase("", "''")]
    [TestCase("--set=epochs=2", "--set=epochs=2")]
    public void Quote_QuotesOnlyWhatAShellWouldSplit(string token, string expected) =>
        Assert.That(Provenance.Quote(token), Is.EqualTo(expected));
}
