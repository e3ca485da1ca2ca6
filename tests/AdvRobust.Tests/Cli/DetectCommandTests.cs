using System.Text.Json;
using AdvRobust.Core.Checkpoints;
using AdvRobust.Core.Nn.Models;
using AdvRobust.Core.Tensors;
using AdvRobust.Cpu;
using AdvRobust.Report;
using AdvRobust.Research.Detection;
using AdvRobust.Tests.Attacks;
using AdvRobust.Tests.Data;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Cli;

/// <summary>
/// `advrobust detect` end to end with every attack: a random small CNN on a folder of random 28×28 IDX images
/// labelled with the model's own predictions (every 4th test label changed), so that some inputs are classified
/// correctly and the attacks have something to flip, whatever a random network predicts on real images.
/// </summary>
public class DetectCommandTests
{
    private string _dir = null!;
    private string _model = null!;
    private string _data = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Directory.CreateTempSubdirectory("advrobust-detect-").FullName;
        _model = Path.Combine(_dir, "model.safetensors");
        using var model = ModelZoo.Create("small-cnn", CpuBackend.Instance, 10, [1, 28, 28], [0.286f], [0.353f], 11);
        Checkpoint.Save(_model, model);
        _data = Directory.CreateDirectory(Path.Combine(_dir, "data")).FullName;
        var rng = new SeededRandom(TestContext.CurrentContext.Test.Name);
        WriteSplit(model, rng, "train", 24, flipEvery: 0);
        WriteSplit(model, rng, "t10k", 8, flipEvery: 4);
    }

    private void WriteSplit(ImageClassifier model, SeededRandom rng, string split, int n, int flipEvery)
    {
        byte[] pixels = rng.Uniform(n * 784, 0f, 256f).Select(v => (byte)Math.Min(v, 255f)).ToArray();
        using var x = Tensor.FromArray(CpuBackend.Instance, pixels.Select(p => p / 255f).ToArray(), n, 1, 28, 28);
        int[] y = AttackData.Predict(model, x);
        if (flipEvery > 0) for (int i = 0; i < n; i += flipEvery) y[i] = (y[i] + 1) % 10;
        File.WriteAllBytes(Path.Combine(_data, $"{split}-images-idx3-ubyte"), IdxBytes.Images(n, 28, 28, i => pixels[i]));
        File.WriteAllBytes(Path.Combine(_data, $"{split}-labels-idx1-ubyte"),
            IdxBytes.Labels(y.Select(v => (byte)v).ToArray()));
    }

    [TearDown]
    public void TearDown()
    {
        if (_dir is not null && Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static int Detect(params string[] args) => AdvRobust.Cli.Program.Main(["detect", .. args]);

    [Test]
    public void Detect_AllAttacksOnSmallCnn_WritesJsonDetectionFileAndRocPngs()
    {
        string json = Path.Combine(_dir, "d.json"), run = Path.Combine(_dir, "run");
        int code = Detect("--model", _model, "--arch", "small-cnn", "--data", _data,
            "--reference-samples", "20", "--k", "3", "--steps", "1", "--batch-size", "8",
            "--eps", "0.2", "--json", json, "--out", run);
        Assert.That(code, Is.Zero);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var root = doc.RootElement;
        Assert.That((root.GetProperty("K").GetInt32(), root.GetProperty("ReferenceSamples").GetInt32(),
            root.GetProperty("TestSamples").GetInt32()), Is.EqualTo((3, 20, 8)));
        var attacks = root.GetProperty("Attacks").EnumerateArray().ToArray();
        Assert.That(attacks.Select(a => a.GetProperty("Name").GetString()),
            Is.EqualTo(new[] { "fgsm", "pgd-linf", "pgd-l2", "cw", "apgd-ce" }));
        var cw = attacks[3].GetProperty("Settings");
        Assert.That((cw.GetProperty("Loss").GetString(), cw.GetProperty("Eps").GetSingle(), cw.GetProperty("Steps").GetInt32()),
            Is.EqualTo(("CW", 0.2f, 1)));
        Assert.That(attacks[2].GetProperty("Eps").GetSingle(), Is.EqualTo(1.0f), "pgd-l2 runs at --eps-l2");
        Assert.That(root.GetProperty("CleanCorrect").GetInt32(), Is.EqualTo(6), "labels are the predictions but 2");
        Assert.That(attacks.Count(a => a.GetProperty("CleanVsAdversarial").ValueKind == JsonValueKind.Object),
            Is.GreaterThan(0), "some attack fools the model, so there is a ROC to draw");
        Assert.That(File.ReadAllText(Path.Combine(run, RunReader.DetectionFile)), Is.EqualTo(File.ReadAllText(json)));
        ProvenanceTests.AssertStamped(root, _model, "detect --model");
        Assert.That(DetectionResult.FromJson(File.ReadAllText(json), json).Attacks.Count(), Is.EqualTo(5),
            "the stamped file still reads back as a detection result");
        ReportTests.AssertPng(Path.Combine(run, ReportWriter.CleanVsAdversarialPng), Charts.Width, Charts.Height);
        ReportTests.AssertPng(Path.Combine(run, ReportWriter.MisclassifiedVsCorrectPng), Charts.Width, Charts.Height);
    }

    [Test]
    public void Detect_UnknownAttack_ExitsWithInvalidInputCode() =>
        Assert.That(Detect("--model", _model, "--arch", "small-cnn", "--data", _data,
            "--attacks", "fgsm,deepfool"), Is.EqualTo(2));

    [Test]
    public void Detect_KLargerThanReference_ExitsWithInvalidInputCode() =>
        Assert.That(Detect("--model", _model, "--arch", "small-cnn", "--data", _data,
            "--samples", "4", "--reference-samples", "5", "--k", "6"), Is.EqualTo(2));

    [Test]
    public void Detect_MissingCheckpoint_ExitsWithFileSystemCode() =>
        Assert.That(Detect("--model", Path.Combine(_dir, "none.safetensors"), "--arch", "small-cnn", "--data", _data),
            Is.EqualTo(4));
}
