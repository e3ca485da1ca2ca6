using System.Text.Json;
using AdvRobust.Core.Nn;

namespace AdvRobust.Tests.Cli;

/// <summary>
/// Requests that used to succeed with wrong or empty results, or fail with raw messages (issue 11 §3, §4): each is
/// now refused with exit code 2 and a message naming the option or file and the fault, or carried out with a note
/// saying what was changed. Every fixture is generated: an IDX folder of 60 training and 20 test images and random
/// small-CNN checkpoints, some with a NaN or an infinity written over one weight.
/// </summary>
[NonParallelizable] // swaps Console.Error and BatchMemory.AvailableOverride
public class RequestValidationTests
{
    private string _dir = null!, _data = null!, _model = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Directory.CreateTempSubdirectory("advrobust-requests-").FullName;
        _data = CliFixtures.IdxFolder(Path.Combine(_dir, "data"), trainImages: 60, testImages: 20);
        _model = CliFixtures.SmallCnn(PathOf("model.safetensors"));
    }

    [TearDown]
    public void TearDown()
    {
        BatchMemory.AvailableOverride = null;
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private string PathOf(string name) => Path.Combine(_dir, name);

    private string[] Command(string command, string model) => command switch
    {
        "eval" => ["eval", "--model", model, "--arch", "small-cnn", "--data", _data, "--eps", "0.1", "--steps", "1"],
        "detect" => ["detect", "--model", model, "--arch", "small-cnn", "--data", _data, "--steps", "1", "--attacks",
            "fgsm", "--k", "3"],
        "certify" => ["certify", "--model", model, "--arch", "small-cnn", "--data", _data, "--sigma", "0.25", "--n0",
            "4", "--n", "8", "--batch", "4", "--samples", "2"],
        _ => throw new ArgumentException(command),
    };

    /// <summary><paramref name="args"/> with <paramref name="option"/> set to <paramref name="value"/> (replaced
    /// where the base command already gives it: an option given twice is a parse error).</summary>
    private static string[] With(string[] args, string option, string value)
    {
        int i = Array.IndexOf(args, option);
        if (i < 0) return [.. args, option, value];
        var copy = (string[])args.Clone();
        copy[i + 1] = value;
        return copy;
    }

    private static void AssertRefused((int Code, string Error) run, params string[] parts)
    {
        Assert.That(run.Code, Is.EqualTo(2), run.Error);
        foreach (string part in parts) Assert.That(run.Error, Does.Contain(part));
        Assert.That(run.Error, Does.Not.Contain("   at "), "no stack trace");
    }

    [TestCase("eval", float.NaN, "NaN")]
    [TestCase("detect", float.NaN, "NaN")]
    [TestCase("certify", float.NaN, "NaN")]
    [TestCase("eval", float.PositiveInfinity, "+Infinity")]
    public void NonFiniteWeight_IsRefusedNamingFileTensorAndIndex(string command, float value, string shown)
    {
        string bad = CliFixtures.SmallCnn(PathOf("bad.safetensors"), ("fc2.weight", 7, value));
        AssertRefused(CliFixtures.Run(Command(command, bad)), bad, "'fc2.weight'", $"{shown} at index 7 ([0, 7])");
    }

    [TestCase("NaN", "0.353", "'normalize.mean'", "must be finite")]
    [TestCase("0.286", "0", "'normalize.std'", "a std must be > 0")]
    [TestCase("0.286", "abc", "'normalize.std'", "is not a number")]
    public void BadNormalizationMetadata_IsRefusedNamingFileAndKey(string mean, string std, string key, string fault)
    {
        string bad = CliFixtures.SmallCnn(PathOf("bad.safetensors"), mean: mean, std: std);
        AssertRefused(CliFixtures.Run(Command("eval", bad)), bad, key, fault);
    }

    /// <summary>PORT's teacher goes through the same loader; the refused run leaves no run folder behind.</summary>
    [Test]
    public void NonFiniteTeacher_IsRefusedAndLeavesNoRunFolder()
    {
        string teacher = CliFixtures.SmallCnn(PathOf("teacher.safetensors"), ("conv1.weight", 3, float.NaN));
        string proxy = PathOf("proxy.npz"), run = PathOf("run");
        Assert.That(CliFixtures.Run("proxy", "generate", "--kind", "noise", "--count", "32", "--data", _data, "--out",
            proxy).Code, Is.Zero);

        var result = CliFixtures.Run("proxy", "train", "--config", TinyConfig(), "--out", run, "--device", "cpu",
            "--synthetic", proxy, "--teacher", teacher, "--teacher-arch", "small-cnn");

        AssertRefused(result, teacher, "'conv1.weight'", "NaN at index 3");
        Assert.That(Directory.Exists(run), Is.False, "no empty run folder is left behind");
    }

    [Test]
    public void Train_DataThatFailsToLoad_LeavesNoRunFolder()
    {
        string run = PathOf("run");
        var result = CliFixtures.Run("train", "--config", TinyConfig(), "--out", run, "--set",
            "data.name=" + PathOf("nowhere"));
        Assert.That(result.Code, Is.Not.Zero);
        Assert.That(Directory.Exists(run), Is.False, result.Error);
    }

    private string TinyConfig()
    {
        string config = PathOf("tiny.json");
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
        return config;
    }

    [TestCase("eval", "--samples", "0")]
    [TestCase("eval", "--samples", "-3")]
    [TestCase("eval", "--batch-size", "0")]
    [TestCase("detect", "--samples", "0")]
    [TestCase("detect", "--reference-samples", "0")]
    [TestCase("detect", "--k", "0")]
    [TestCase("certify", "--samples", "0")]
    [TestCase("certify", "--n", "0")]
    [TestCase("certify", "--n0", "-1")]
    public void ZeroOrNegativeCount_IsRefusedNamingTheOption(string command, string option, string value) =>
        // A negative value is refused by the parser (exit 2, "must be >= 0"), zero by the command's own check.
        AssertRefused(CliFixtures.Run(With(Command(command, _model), option, value)),
            value.StartsWith('-') ? $"{option}: must be >= 0, got {value}" : $"{option} must be at least 1, got {value}");

    [TestCase("eval")]
    [TestCase("certify")]
    public void EmptyTestSet_IsRefused(string command)
    {
        _data = CliFixtures.IdxFolder(Path.Combine(_dir, "empty"), trainImages: 10, testImages: 0);
        AssertRefused(CliFixtures.Run(Command(command, _model)), "empty");
    }

    [Test]
    public void Eval_MoreSamplesThanTheSet_RunsAllWithANote()
    {
        string json = PathOf("r.json");
        var run = CliFixtures.Run([.. Command("eval", _model), "--samples", "50", "--json", json]);
        Assert.That(run.Code, Is.Zero, run.Error);
        Assert.That(run.Error, Does.Contain("note: --samples 50 is more than the 20 test images; using all 20"));
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        Assert.That(doc.RootElement.GetProperty("Samples").GetInt32(), Is.EqualTo(20));
    }

    [Test]
    public void Detect_MoreReferenceSamplesThanTheSet_RunsAllWithANote()
    {
        var run = CliFixtures.Run([.. Command("detect", _model), "--samples", "6", "--reference-samples", "100000"]);
        Assert.That(run.Code, Is.Zero, run.Error);
        Assert.That(run.Error, Does.Contain("--reference-samples 100000 is more than the 60 training images"));
    }

    [TestCase("eval", "--eps", "2", "", "in [0, 1]")]
    [TestCase("eval", "--eps", "-0.1", "", "in [0, 1]")]
    [TestCase("eval", "--eps", "29", "l2", "in [0, 28]")]
    [TestCase("detect", "--eps", "1.5", "", "in (0, 1]")]
    [TestCase("detect", "--eps-l2", "30", "", "in (0, 28]")]
    public void EpsOutsideItsNormsRange_IsRefused(string command, string option, string value, string norm,
        string range)
    {
        string[] args = With(Command(command, _model), option, value);
        if (norm != "") args = With(args, "--norm", norm);
        // A negative value is refused by the parser already ("must be >= 0"); the range check names the rest.
        AssertRefused(CliFixtures.Run(args), option, value.StartsWith('-') ? "must be >= 0" : range, $"got {value}");
    }

    [Test]
    public void ModelPathThatIsAFolder_IsRefusedSayingSo() =>
        AssertRefused(CliFixtures.Run(Command("eval", _dir)), $"--model '{_dir}' is a folder, not a checkpoint file");

    [Test]
    public void UnwritableOrMisplacedOutputs_AreRefusedBeforeAnyWork()
    {
        AssertRefused(CliFixtures.Run([.. Command("eval", _model), "--json", "/proc/advrobust-test.json"]),
            "--json '/proc/advrobust-test.json'", "cannot write in '/proc'");
        AssertRefused(CliFixtures.Run([.. Command("eval", _model), "--json", _dir]), $"'{_dir}' is a folder");
        AssertRefused(CliFixtures.Run([.. Command("certify", _model), "--out", _dir]),
            $"--out '{_dir}' is a folder", "certify.jsonl");
        string underAFile = Path.Combine(_model, "roc");
        AssertRefused(CliFixtures.Run([.. Command("detect", _model), "--out", underAFile]),
            $"'{_model}' is a file");
        string fresh = PathOf("fresh");
        AssertRefused(CliFixtures.Run(With([.. Command("detect", _model), "--out", fresh], "--eps", "5")), "--eps");
        Assert.That(Directory.Exists(fresh), Is.False, "a refused request creates no --out folder");
    }

    [TestCase("0.1", "at least two budgets")]
    [TestCase("0,2", "above 1")]
    public void ProxyRank_BadBudgets_AreRefused(string eps, string fault)
    {
        string proxy = PathOf("p.npz");
        Assert.That(CliFixtures.Run("proxy", "generate", "--kind", "mixup", "--count", "40", "--data", _data, "--out",
            proxy).Code, Is.Zero);
        AssertRefused(CliFixtures.Run("proxy", "rank", "--data", _data, proxy, "--eps", eps), "--eps", fault);
    }

    [Test]
    public void ProxyRank_UnknownArch_ListsTinyAmongTheNames()
    {
        string proxy = PathOf("p.npz");
        Assert.That(CliFixtures.Run("proxy", "generate", "--kind", "mixup", "--count", "40", "--data", _data, "--out",
            proxy).Code, Is.Zero);
        AssertRefused(CliFixtures.Run("proxy", "rank", "--data", _data, proxy, "--arch", "huge"), "'huge'",
            "known: tiny, small-cnn");
    }

    [Test]
    public void DemoAndProxyGenerate_OutputOfTheWrongKind_AreRefusedBeforeLoadingData()
    {
        AssertRefused(CliFixtures.Run("demo", "--quick", "--data", _data, "--out", _model),
            $"--out '{_model}' is a file; give a folder");
        AssertRefused(CliFixtures.Run("proxy", "generate", "--kind", "noise", "--count", "4", "--data", _data,
            "--out", _dir), $"--out '{_dir}' is a folder", "proxy.npz");
    }
}
