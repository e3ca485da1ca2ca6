using System.Text.Json;
using AdvRobust.Core.Data;
using AdvRobust.Research.Training;
using AdvRobust.Research.Training.Objectives;

namespace AdvRobust.Tests.Training;

/// <summary>Config files and --set overrides: typed by the schema, every error naming its key.</summary>
public class RunConfigTests
{
    private const string Minimal = """{ "epochs": 2, "optimizer": { "lr": 0.05 } }""";

    private static TrainConfig Parse(string json, params string[] overrides) =>
        TrainConfig.Parse(json, "cfg.json", overrides);

    [Test]
    public void Parse_MinimalFile_TakesDefaultsForTheRest()
    {
        var c = Parse(Minimal);
        Assert.That((c.Epochs, c.Optimizer.Lr, c.BatchSize, c.Data.Name, c.Model.Arch, c.Objective.Kind),
            Is.EqualTo((2, 0.05f, 128, "fashion-mnist", "small-cnn", "standard")));
        Assert.That(c.Optimizer.Schedule.Kind, Is.EqualTo("constant"));
    }

    [Test]
    public void Parse_CommentsAnywhere_Ignored()
    {
        var c = Parse("""
        {
          "_comment": "top", // a line comment
          "optimizer": { "_why": "papers.md §2.2", "lr": 0.2, "schedule": { "_": 1, "kind": "cosine" } },
          "objective": { "kind": "trades", "settings": { "_source": "x", "beta": 6 } },
        }
        """);
        Assert.That(c.Optimizer.Lr, Is.EqualTo(0.2f));
        Assert.That(JsonSerializer.Serialize(c.Objective.Settings), Is.EqualTo("""{"beta":6}"""));
    }

    [Test]
    public void Set_TypedValues_AppliedInOrder()
    {
        var c = Parse(Minimal,
            "optimizer.lr=0.5", "optimizer.lr=0.01", "optimizer.nesterov=true", "optimizer.schedule.kind=step",
            "optimizer.schedule.milestones=30,40", "data.trainSize=512", "data.trainSize=null", "data.dir=/tmp/x y",
            "seed=18446744073709551615", "model.mean=[0.5]", "model.std=0.25", "objective.kind=pgd-at",
            "objective.settings.eps=0.1", "objective.settings.norm=linf", "objective.settings.inner.steps=[1,2]");
        Assert.That(c.Optimizer.Lr, Is.EqualTo(0.01f));
        Assert.That(c.Optimizer.Nesterov, Is.True);
        Assert.That(c.Optimizer.Schedule.Milestones, Is.EqualTo(new[] { 30, 40 }));
        Assert.That(c.Data.TrainSize, Is.Null);
        Assert.That(c.Data.Dir, Is.EqualTo("/tmp/x y"));
        Assert.That(c.Seed, Is.EqualTo(ulong.MaxValue));
        Assert.That((c.Model.Mean, c.Model.Std), Is.EqualTo((new[] { 0.5f }, new[] { 0.25f })));
        Assert.That(JsonSerializer.Serialize(c.Objective.Settings),
            Is.EqualTo("""{"eps":0.1,"norm":"linf","inner":{"steps":[1,2]}}"""));
    }

    [TestCase("optimizer.lrr=1", "'optimizer.lrr'", "lr, momentum")]
    [TestCase("optimiser.lr=1", "'optimiser'", "optimizer")]
    [TestCase("epochs.count=1", "'epochs' is a value", "")]
    [TestCase("lr", "key.path=value", "")]
    public void Set_UnknownKeyOrSyntax_ErrorNamesIt(string assignment, string names, string lists)
    {
        var e = Assert.Throws<ArgumentException>(() => Parse(Minimal, assignment))!;
        Assert.That(e.Message, Does.Contain(names).And.Contain(lists));
    }

    [TestCase("epochs=abc", "'epochs' must be an integer")]
    [TestCase("epochs=2.5", "'epochs' must be an integer")]
    [TestCase("optimizer.lr=fast", "'optimizer.lr' must be a number")]
    [TestCase("augmentation.flip=yes", "'augmentation.flip' must be true or false")]
    [TestCase("seed=-1", "'seed' must be a non-negative integer")]
    [TestCase("optimizer.schedule.milestones=a,b", "'optimizer.schedule.milestones' must be an array of integers")]
    [TestCase("epochs=null", "cannot be null")]
    [TestCase("objective.settings=3", "'objective.settings' must be a JSON object")]
    public void Set_BadValue_ErrorNamesKeyAndType(string assignment, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => Parse(Minimal, assignment))!;
        Assert.That(e.Message, Does.Contain(message));
    }

    [TestCase("""{ "optimiser": { "lr": 1 } }""", "unknown key 'optimiser'")]
    [TestCase("""{ "data": { "evalSize": 10, "split": "test" } }""", "unknown key 'data.split'")]
    [TestCase("""{ "batchSize": "128" }""", "'batchSize' must be an integer, got \"128\"")]
    [TestCase("""{ "model": { "arch": null } }""", "'model.arch' must be a string, got null")]
    [TestCase("""{ "optimizer": { "schedule": { "milestones": [1, "x"] } } }""", "'optimizer.schedule.milestones'")]
    public void Parse_BadFile_ErrorNamesFileAndKey(string json, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => Parse(json))!;
        Assert.That(e.Message, Does.StartWith("cfg.json: ").And.Contain(message));
    }

    [Test]
    public void Parse_NotJsonOrNotObject_InvalidData()
    {
        Assert.Throws<InvalidDataException>(() => Parse("{ epochs: 1 "));
        Assert.Throws<InvalidDataException>(() => Parse("[1, 2]"));
    }

    [Test]
    public void Validate_OutOfRangeValues_ListsEveryProblemWithItsKey()
    {
        var e = Assert.Throws<ArgumentException>(() => Parse(Minimal, "epochs=0", "optimizer.lr=-1",
            "data.evalSplit=val", "optimizer.schedule.milestones=[5,3]", "device=tpu", "evaluation.norm=l1"))!;
        foreach (string key in new[] { "'epochs'", "'optimizer.lr'", "'data.evalSplit'",
                     "'optimizer.schedule.milestones'", "'device'", "'evaluation.norm'" })
            Assert.That(e.Message, Does.Contain(key));
    }

    [Test]
    public void ToJson_RoundTrip_SameConfig()
    {
        var c = Parse(RunTestData.ConfigJson, "objective.settings.beta=6");
        var again = Parse(c.ToJson());
        Assert.That(again.ToJson(), Is.EqualTo(c.ToJson()));
        Assert.That(c.ToJson(), Does.Not.Contain("enabled"), "computed properties are not config keys");
    }

    [Test]
    public void Load_MissingFile_NamesIt() =>
        Assert.That(Assert.Throws<FileNotFoundException>(() => TrainConfig.Load("/nonexistent/run.json"))!.Message,
            Does.Contain("/nonexistent/run.json"));

    [Test]
    public void Schedule_StepWithWarmup_MilestonesAtAbsoluteEpochs()
    {
        var c = Parse(Minimal, "epochs=4", "optimizer.lr=1", "optimizer.schedule.kind=step",
            "optimizer.schedule.milestones=2,3", "optimizer.schedule.warmupEpochs=1");
        var lr = Trainer.Schedule(c, batchesPerEpoch: 10);
        Assert.That(new[] { lr.At(0), lr.At(9), lr.At(10), lr.At(19), lr.At(20), lr.At(29), lr.At(30), lr.At(39) },
            Is.EqualTo(new[] { 0.1f, 1f, 1f, 1f, 0.1f, 0.1f, 0.01f, 0.01f }).Within(1e-6f));
    }

    [Test]
    public void Schedule_CosineWithWarmup_EndsAtEtaMinWithTheRun()
    {
        var c = Parse(Minimal, "epochs=3", "optimizer.lr=0.1", "optimizer.schedule.kind=cosine",
            "optimizer.schedule.etaMin=0.001", "optimizer.schedule.warmupEpochs=0.5");
        var lr = Trainer.Schedule(c, batchesPerEpoch: 10);
        Assert.That(lr.At(0), Is.EqualTo(0.02f).Within(1e-7f)); // warm-up 5 iterations: 0.1·1/5
        Assert.That(lr.At(5), Is.EqualTo(0.1f).Within(1e-7f));
        Assert.That(lr.At(29), Is.GreaterThan(0.001f).And.LessThan(0.0015f));
        Assert.That(lr.At(30), Is.EqualTo(0.001f).Within(1e-9f));
    }

    [Test]
    public void Presets_EveryShippedConfig_ParsesAndDocumentsItsSources()
    {
        string dir = Path.Combine(AppContext.BaseDirectory, "configs");
        string[] files = Directory.GetFiles(dir, "*.json");
        Assert.That(files.Select(Path.GetFileName), Is.SupersetOf(new[]
        {
            "fashion-mnist-standard.json", "fashion-mnist-pgd-at.json", "fashion-mnist-trades.json",
            "fashion-mnist-tla.json", "cifar10-resnet18-pgd-at.json", "cifar10-resnet18-tla.json",
        }));
        foreach (string file in files)
        {
            var c = TrainConfig.Load(file);
            Assert.That(File.ReadAllText(file), Does.Contain("\"_comment\""), $"{file} documents no sources");
            Assert.That(c.Objective.Kind, Is.AnyOf("standard", "pgd-at", "trades", "tla", "gaussian-noise"), file);
            // The objective factory accepts the preset's settings (it rejects unknown keys and bad values).
            var images = new LabeledImages(4, 1, 4, 4, new float[64], [0, 1, 0, 1], 2, "presets test");
            using (var objective = TrainingObjectives.Create(c.Objective.Kind, c.Objective.Settings,
                       new ObjectiveContext(images, c.Seed)))
                Assert.That(objective.Name, Is.EqualTo(c.Objective.Kind), file);
            if (Path.GetFileName(file).StartsWith("cifar10", StringComparison.Ordinal))
            {
                Assert.That((c.Data.Name, c.Model.Arch, c.Evaluation.Eps),
                    Is.EqualTo(("cifar10", "resnet18", 8f / 255)), file);
                Assert.That((c.Optimizer.Lr, c.Optimizer.Momentum, c.Optimizer.WeightDecay),
                    Is.EqualTo((0.1f, 0.9f, 5e-4f)), file);
            }
            else
            {
                Assert.That((c.Data.Name, c.Model.Arch, c.Evaluation.Eps),
                    Is.EqualTo(("fashion-mnist", "small-cnn", 0.1f)), file);
            }
        }
    }
}
