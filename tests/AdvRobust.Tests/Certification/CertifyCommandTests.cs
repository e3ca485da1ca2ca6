using System.Text.Json;
using AdvRobust.Core.Checkpoints;
using AdvRobust.Core.Nn.Models;
using AdvRobust.Cpu;
using AdvRobust.Tests.Data;

namespace AdvRobust.Tests.Certification;

/// <summary>
/// `advrobust certify` end to end on a small random CNN and a synthetic 6-image Fashion-MNIST-format test split (IDX
/// files in a temp folder), with N0 = 10 and N = 60 draws: the JSONL file, resuming, the settings check, a torn last
/// line, and the curve CSV.
/// </summary>
public class CertifyCommandTests
{
    private string _dir = null!;
    private string _model = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Directory.CreateTempSubdirectory("advrobust-certify-").FullName;
        var data = Path.Combine(_dir, "data");
        Directory.CreateDirectory(data);
        File.WriteAllBytes(Path.Combine(data, "t10k-images-idx3-ubyte"), IdxBytes.Images(6, 28, 28));
        File.WriteAllBytes(Path.Combine(data, "t10k-labels-idx1-ubyte"), IdxBytes.Labels(3, 1, 4, 1, 5, 9));
        _model = Path.Combine(_dir, "model.safetensors");
        using var model = ModelZoo.Create("small-cnn", CpuBackend.Instance, 10, [1, 28, 28], [0.286f], [0.353f], 7);
        Checkpoint.Save(_model, model);
    }

    [TearDown]
    public void TearDown()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    /// <summary>Runs certify on test points 0, 2, 4, … with σ = 0.25 (batch 16 unless <paramref name="extra"/> says).</summary>
    private int Certify(string output, params string[] extra) => AdvRobust.Cli.Program.Main(
    [
        "certify", "--model", _model, "--arch", "small-cnn", "--data", Path.Combine(_dir, "data"), "--sigma", "0.25",
        "--n0", "10", "--n", "60", "--skip", "2", "--out", output, .. extra,
        .. extra.Contains("--batch") ? Array.Empty<string>() : ["--batch", "16"],
    ]);

    [Test]
    public void Certify_RunThenResume_SkipsDonePointsAndWritesWhatAFreshRunWrites()
    {
        string resumed = Path.Combine(_dir, "resumed.jsonl"), fresh = Path.Combine(_dir, "fresh.jsonl");
        Assert.That(Certify(resumed, "--samples", "2"), Is.Zero);
        string[] first = File.ReadAllLines(resumed);
        Assert.That(Certify(resumed, "--samples", "3"), Is.Zero);
        string[] second = File.ReadAllLines(resumed);
        Assert.That(Certify(fresh, "--samples", "3", "--batch", "7"), Is.Zero);

        Assert.That(first, Has.Length.EqualTo(3), "a header and test points 0 and 2");
        Assert.That(second[..3], Is.EqualTo(first), "a resumed run leaves the existing lines alone");
        Assert.That(second, Has.Length.EqualTo(4), "and appends point 4 only");
        var lines = second[1..].Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.That(lines.Select(l => l.GetProperty("index").GetInt32()), Is.EqualTo(new[] { 0, 2, 4 }));
        Assert.That(lines.Select(l => l.GetProperty("label").GetInt32()), Is.EqualTo(new[] { 3, 4, 5 }));
        foreach (var l in lines)
        {
            int predicted = l.GetProperty("predicted").GetInt32();
            Assert.That(l.GetProperty("correct").GetBoolean(), Is.EqualTo(predicted == l.GetProperty("label").GetInt32()));
            double radius = l.GetProperty("radius").GetDouble();
            Assert.That(predicted < 0 ? radius == 0 : radius >= 0, Is.True, $"radius {radius} for prediction {predicted}");
            Assert.That(l.GetProperty("seconds").GetDouble(), Is.GreaterThan(0));
        }
        Assert.That(WithoutSeconds(File.ReadAllLines(fresh)[1..]), Is.EqualTo(WithoutSeconds(second[1..])),
            "every draw is keyed by (seed, test index), so the batch size and resuming change nothing");
        using var header = JsonDocument.Parse(second[0]);
        Assert.That(header.RootElement.GetProperty("kind").GetString(), Is.EqualTo("advrobust-certify"));
        Assert.That(header.RootElement.GetProperty("settings").GetProperty("sigma").GetDouble(), Is.EqualTo(0.25));
        Assert.That(header.RootElement.GetProperty("gitCommit").GetString(), Does.Match("^([0-9a-f]{40}|unknown)$"));
        Assert.That(header.RootElement.GetProperty("commandLine").GetString(), Does.StartWith("advrobust certify "));
    }

    [Test]
    public void Certify_ResumeWithAnotherSigma_ExitsWithInvalidInputAndLeavesTheFile()
    {
        string output = Path.Combine(_dir, "run.jsonl");
        Assert.That(Certify(output, "--samples", "1"), Is.Zero);
        string before = File.ReadAllText(output);
        var args = new List<string> { "certify", "--model", _model, "--arch", "small-cnn", "--data",
            Path.Combine(_dir, "data"), "--sigma", "0.5", "--n0", "10", "--n", "60", "--skip", "2", "--out", output };
        Assert.That(AdvRobust.Cli.Program.Main([.. args]), Is.EqualTo(2));
        Assert.That(File.ReadAllText(output), Is.EqualTo(before));
    }

    [Test]
    public void Certify_TornLastLine_IsDroppedAndThatPointCertifiedAgain()
    {
        string output = Path.Combine(_dir, "torn.jsonl");
        Assert.That(Certify(output, "--samples", "2"), Is.Zero);
        string[] complete = File.ReadAllLines(output);
        File.WriteAllText(output, string.Join("\n", complete[..2]) + "\n" + complete[2][..20]);  // killed mid-write
        Assert.That(Certify(output, "--samples", "2"), Is.Zero);
        Assert.That(WithoutSeconds(File.ReadAllLines(output)), Is.EqualTo(WithoutSeconds(complete)));
    }

    [Test]
    public void Certify_CurveAndPlotOptions_WriteTheAccuracyStepCurveAsCsvAndPng()
    {
        string csv = Path.Combine(_dir, "curve.csv"), png = Path.Combine(_dir, "curve.png");
        Assert.That(Certify(Path.Combine(_dir, "c.jsonl"), "--samples", "3", "--curve", csv, "--plot", png,
            "--radii", "0,0.1"), Is.Zero);
        byte[] image = File.ReadAllBytes(png);
        Assert.That(image[..8], Is.EqualTo(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }), "PNG signature");
        Assert.That(image.Length, Is.GreaterThan(5000));
        string[] rows = File.ReadAllLines(csv);
        Assert.That(rows[0], Is.EqualTo("radius,certified_accuracy"));
        Assert.That(rows[1], Does.StartWith("0,"), "the curve starts at radius 0");
        var accuracy = rows[1..].Select(r => double.Parse(r.Split(',')[1], System.Globalization.CultureInfo.InvariantCulture));
        Assert.That(accuracy, Is.Ordered.Descending);
        Assert.That(accuracy, Is.All.InRange(0.0, 1.0));
    }

    [Test]
    public void Certify_BadRadii_ExitsWithInvalidInput() =>
        Assert.That(Certify(Path.Combine(_dir, "r.jsonl"), "--radii", "0,-1"), Is.EqualTo(2));

    /// <summary>The lines with their "seconds" field removed (the only field that depends on the run).</summary>
    private static string[] WithoutSeconds(string[] lines) => lines.Select(line =>
    {
        using var doc = JsonDocument.Parse(line);
        return string.Join(",", doc.RootElement.EnumerateObject().Where(p => p.Name is not ("seconds" or "batch"))
            .Select(p => $"{p.Name}={p.Value.GetRawText()}"));
    }).ToArray();
}
