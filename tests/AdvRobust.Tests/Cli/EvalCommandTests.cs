using System.Text.Json;
using AdvRobust.Core.Checkpoints;
using AdvRobust.Core.Nn.Models;
using AdvRobust.Cpu;

namespace AdvRobust.Tests.Cli;

/// <summary>`advrobust eval` end to end on a small random model and real Fashion-MNIST test images.</summary>
public class EvalCommandTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp()
    {
        if (!File.Exists("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"))
            Assert.Ignore("Fashion-MNIST is not installed: apt-get install dataset-fashion-mnist");
        _dir = Directory.CreateTempSubdirectory("advrobust-eval-").FullName;
    }

    [TearDown]
    public void TearDown()
    {
        if (_dir is not null && Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private string SaveRandomSmallCnn()
    {
        string path = Path.Combine(_dir, "model.safetensors");
        using var model = ModelZoo.Create("small-cnn", CpuBackend.Instance, 10, [1, 28, 28], [0.286f], [0.353f], 7);
        Checkpoint.Save(path, model);
        return path;
    }

    [Test]
    public void Eval_PgdOnSmallCnn_WritesJsonWithRobustNotAboveClean()
    {
        string model = SaveRandomSmallCnn(), json = Path.Combine(_dir, "result.json");
        int code = AdvRobust.Cli.Program.Main(["eval", "--model", model, "--arch", "small-cnn", "--data", "fashion-mnist",
            "--samples", "24", "--batch-size", "16", "--attack", "pgd", "--eps", "0.1", "--steps", "2", "--json", json]);
        Assert.That(code, Is.Zero);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var root = doc.RootElement;
        Assert.That(root.GetProperty("Samples").GetInt32(), Is.EqualTo(24));
        Assert.That(root.GetProperty("RobustAccuracy").GetDouble(),
            Is.LessThanOrEqualTo(root.GetProperty("CleanAccuracy").GetDouble()));
        Assert.That(root.GetProperty("Attacks").GetArrayLength(), Is.EqualTo(1));
        ProvenanceTests.AssertStamped(root, model, "eval --model");
    }

    [Test]
    public void Eval_SquareWithL2Norm_RunsTheL2Square()
    {
        // Square used to be l-inf only; --norm l2 now reaches the l2 branch. A large eps lets the random model's few
        // clean-correct points fall within a few queries, so the 5000-query budget is not spent.
        string model = SaveRandomSmallCnn(), json = Path.Combine(_dir, "result.json");
        int code = AdvRobust.Cli.Program.Main(["eval", "--model", model, "--arch", "small-cnn", "--data",
            "fashion-mnist", "--samples", "8", "--attack", "square", "--norm", "l2", "--eps", "4", "--json", json]);
        Assert.That(code, Is.Zero);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var attack = doc.RootElement.GetProperty("Attacks")[0];
        Assert.That(attack.GetProperty("Name").GetString(), Is.EqualTo("square"));
        Assert.That(attack.GetProperty("Attacked").GetInt32(), Is.GreaterThan(0), "some clean-correct points attacked");
        Assert.That(attack.GetProperty("Norm").GetString(), Is.EqualTo("L2"));
        Assert.That(attack.GetProperty("Settings").GetProperty("Norm").GetString(), Is.EqualTo("L2"));
        Assert.That(attack.GetProperty("MaxPerturbation").GetDouble(), Is.LessThanOrEqualTo(4 * (1 + 1e-5)));
    }

    [Test]
    public void Eval_FabT_RunsWithStepsRestartsAndNormFromTheCommandLine()
    {
        string model = SaveRandomSmallCnn(), json = Path.Combine(_dir, "result.json");
        int code = AdvRobust.Cli.Program.Main(["eval", "--model", model, "--arch", "small-cnn", "--data", "fashion-mnist",
            "--samples", "8", "--attack", "fab-t", "--norm", "l2", "--eps", "0.5", "--steps", "2", "--seed", "3",
            "--json", json]);
        Assert.That(code, Is.Zero);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var attack = doc.RootElement.GetProperty("Attacks")[0];
        Assert.That(attack.GetProperty("Name").GetString(), Is.EqualTo("fab-t"));
        Assert.That(attack.GetProperty("Norm").GetString(), Is.EqualTo("L2"));
        var settings = attack.GetProperty("Settings");
        Assert.That(settings.GetProperty("Steps").GetInt32(), Is.EqualTo(2));
        Assert.That(settings.GetProperty("Restarts").GetInt32(), Is.EqualTo(1));
        Assert.That(settings.GetProperty("TargetClasses").GetInt32(), Is.EqualTo(9));
        Assert.That(settings.GetProperty("Seed").GetUInt64(), Is.EqualTo(3UL));
    }

    [Test]
    public void Eval_MissingCheckpoint_ExitsWithFileSystemCode() =>
        Assert.That(AdvRobust.Cli.Program.Main(["eval", "--model", Path.Combine(_dir, "none.safetensors"), "--arch",
            "small-cnn", "--data", "fashion-mnist", "--eps", "0.1"]), Is.EqualTo(4));

    [Test]
    public void Eval_UnknownAttack_ExitsWithInvalidInputCode() =>
        Assert.That(AdvRobust.Cli.Program.Main(["eval", "--model", SaveRandomSmallCnn(), "--arch", "small-cnn", "--data",
            "fashion-mnist", "--samples", "4", "--eps", "0.1", "--attack", "deepfool"]), Is.EqualTo(2));
}
