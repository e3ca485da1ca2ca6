using AdvRobust.Core.Data;
using AdvRobust.Report;
using AdvRobust.Research.Training.Presets;

namespace AdvRobust.Tests.Cli;

/// <summary>
/// `advrobust demo --quick` on the real Fashion-MNIST (skipped where Debian's dataset-fashion-mnist is not installed):
/// both recipes train, are evaluated and detected against, and the report is written. The quick schedule's numbers
/// mean nothing; what is checked is that every stage ran and wrote what it should.
/// </summary>
[NonParallelizable]
public class DemoCommandTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("advrobust-demo-").FullName;

    [TearDown]
    public void TearDown()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Test]
    public void Demo_Quick_TrainsBothRecipesEvaluatesDetectsAndReports()
    {
        if (!File.Exists(Path.Combine(FashionMnist.SystemFolder, "train-images-idx3-ubyte.gz")))
            Assert.Ignore($"Fashion-MNIST is not installed in {FashionMnist.SystemFolder} (apt-get install dataset-fashion-mnist)");
        string output = Path.Combine(_dir, "demo");
        int code = AdvRobust.Cli.Program.Main(["demo", "--quick", "--out", output]);
        Assert.That(code, Is.Zero);
        foreach (string recipe in new[] { "pgd-at", "tla" })
        {
            var run = RunReader.Load(Path.Combine(output, recipe));
            Assert.That(run.Epochs, Has.Count.EqualTo(1), recipe);
            Assert.That(run.Manifest?.Config?.GetProperty("objective").GetProperty("kind").GetString(), Is.EqualTo(recipe));
            Assert.That(run.Evaluation, Is.Not.Null, recipe);
            Assert.That(run.Evaluation!.Attacks.Select(a => a.Name), Is.EqualTo(new[] { "pgd-linf", "apgd-ce" }));
            Assert.That(run.Evaluation.RobustAccuracy, Is.LessThanOrEqualTo(run.Evaluation.CleanAccuracy));
            Assert.That(run.Detection!.Attacks.Select(a => a.Name),
                Is.EqualTo(new[] { "fgsm", "pgd-linf", "pgd-l2", "cw", "apgd-ce" }));
            Assert.That(File.Exists(Path.Combine(output, recipe, "best.safetensors")), recipe);
        }
        string report = File.ReadAllText(Path.Combine(output, "report.md"));
        Assert.That(report, Does.Contain("## pgd-at").And.Contain("## tla").And.Contain("Final robust evaluation"));
        Assert.That(File.Exists(Path.Combine(output, "accuracy.png")) && File.Exists(Path.Combine(output, "roc-tla.png")));
    }

    [Test]
    public void Demo_MissingDataSet_SaysHowToGetIt()
    {
        var error = new StringWriter();
        var saved = Console.Error;
        Console.SetError(error);
        int code;
        try
        {
            code = AdvRobust.Cli.Program.Main(["demo", "--quick", "--data", Path.Combine(_dir, "nowhere"),
                "--out", Path.Combine(_dir, "out")]);
        }
        finally
        {
            Console.SetError(saved);
        }
        Assert.That(code, Is.Not.Zero);
        Assert.That(error.ToString(), Does.Contain("dataset-fashion-mnist"));
    }

    [Test]
    public void Demo_NonEmptyOutputFolder_IsRefusedBeforeAnyWork()
    {
        File.WriteAllText(Path.Combine(_dir, "keep.txt"), "precious");
        int code = AdvRobust.Cli.Program.Main(["demo", "--quick", "--out", _dir]);
        Assert.That(code, Is.EqualTo(4));
        Assert.That(File.ReadAllText(Path.Combine(_dir, "keep.txt")), Is.EqualTo("precious"));
    }

    [Test]
    public void Short_BothRecipesSeeTheSame32000ImagesOnceWithACosineLearningRate()
    {
        foreach (string recipe in new[] { "pgd-at", "tla" })
        {
            var config = DemoSchedule.Short.Config(recipe, seed: 0, device: "cpu");
            Assert.That(config.Data.TrainSize, Is.EqualTo(32_000), recipe);
            Assert.That(config.Epochs, Is.EqualTo(1), recipe);
            Assert.That(config.BatchSize, Is.EqualTo(50), recipe);
            Assert.That(config.Optimizer.Lr, Is.EqualTo(0.05f), recipe);
            Assert.That(config.Optimizer.Schedule.Kind, Is.EqualTo("cosine"), recipe);
            Assert.That(config.Optimizer.Schedule.EtaMin, Is.EqualTo(0f), recipe);
        }
        // The smoke schedule keeps a constant rate: its handful of steps would otherwise end near 0.
        Assert.That(DemoSchedule.Quick.Config("tla", seed: 0, device: "cpu").Optimizer.Schedule.Kind,
            Is.EqualTo("constant"));
    }

    [Test]
    public void Compressed_KeepsThePresetAndScalesItsMilestones()
    {
        var config = DemoSchedule.Compressed(5).Config("pgd-at", seed: 3, device: "cpu");
        Assert.That(config.Epochs, Is.EqualTo(5));
        // 83/133 and 108/133 of 5 epochs are 3.12 and 4.06.
        Assert.That(config.Optimizer.Schedule.Kind, Is.EqualTo("step"));
        Assert.That(config.Optimizer.Schedule.Milestones, Is.EqualTo(new[] { 3, 4 }));
        Assert.That(config.Optimizer.Lr, Is.EqualTo(0.01f));
        Assert.That(config.BatchSize, Is.EqualTo(100));
        Assert.That(config.Data.TrainSize, Is.Null);
        Assert.That(config.Seed, Is.EqualTo(3UL));

        var tla = DemoSchedule.Compressed(20).Config("tla", seed: 0, device: "cpu");
        Assert.That(tla.Optimizer.Schedule.Milestones, Is.EqualTo(new[] { 12, 16 })); // 12.48, 16.24
        Assert.That(tla.BatchSize, Is.EqualTo(50));
    }

    [TestCase("--quick", "--epochs", "3")]
    [TestCase("--full", "--epochs", "3")]
    [TestCase("--epochs", "0")]
    public void Demo_ConflictingOrBadSchedule_IsRefusedBeforeAnyWork(params string[] schedule)
    {
        string output = Path.Combine(_dir, "out");
        var error = new StringWriter();
        var saved = Console.Error;
        Console.SetError(error);
        int code;
        try
        {
            code = AdvRobust.Cli.Program.Main(["demo", "--out", output, .. schedule]);
        }
        finally
        {
            Console.SetError(saved);
        }
        Assert.That(code, Is.Not.Zero);
        Assert.That(error.ToString(), Does.Contain("--epochs"));
        Assert.That(Directory.Exists(output), Is.False);
    }
}
