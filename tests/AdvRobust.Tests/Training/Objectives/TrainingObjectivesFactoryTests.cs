using System.Text.Json;
using AdvRobust.Core;
using AdvRobust.Research.Training;
using AdvRobust.Research.Training.Objectives;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Training.Objectives;

// TrainingObjectives.Create: kinds, JSON settings with defaults, and the errors for bad input.
public class TrainingObjectivesFactoryTests
{
    private static readonly ObjectiveContext Context =
        new(ObjectiveTestData.Separable(new SeededRandom(nameof(TrainingObjectivesFactoryTests)), 12), 1);

    private static ITrainingObjective Create(string kind, string? json) =>
        TrainingObjectives.Create(kind, json is null ? null : JsonDocument.Parse(json).RootElement, Context);

    [Test]
    public void Create_EveryKind_NoSettingsGivesThePaperDefaults()
    {
        Assert.That(TrainingObjectives.Kinds, Is.EqualTo(new[] { "standard", "pgd-at", "trades", "tla", "gaussian-noise" }));
        foreach (string kind in TrainingObjectives.Kinds)
        {
            using var objective = Create(kind, null);
            Assert.That(objective.Name, Is.EqualTo(kind));
        }
        Assert.That(((TradesObjective)Create("trades", "{}")).Config, Is.EqualTo(new TradesSettings()));
        var tla = ((TlaObjective)Create("tla", null)).Config;
        Assert.That((tla.Margin, tla.TripletWeight, tla.NormWeight, tla.PoolMultiplier, tla.SelfPositive),
            Is.EqualTo((0.05f, 0.5f, 1e-4f, 1, false)));
        Assert.That(new TradesSettings().Beta, Is.EqualTo(6f));
    }

    [Test]
    public void Create_PartialSettings_SetsThoseKeysAndKeepsDefaults()
    {
        var pgd = (PgdAtObjective)Create("pgd-at", "{\"eps\":0.1,\"steps\":10,\"stepSize\":0.01,\"norm\":\"l2\"}");
        Assert.That(pgd.Config,
            Is.EqualTo(new PgdAtSettings { Eps = 0.1f, Steps = 10, StepSize = 0.01f, Norm = PgdNorm.L2 }));
        var tla = (TlaObjective)Create("tla", "{\"selfPositive\":true,\"poolMultiplier\":5}");
        Assert.That(tla.Config, Is.EqualTo(TlaSettings.Mnist with { SelfPositive = true, PoolMultiplier = 5 }));
    }

    [Test]
    public void Settings_RoundTripThroughJson()
    {
        foreach (object settings in new object[] { TlaSettings.Cifar10, PgdAtSettings.Port, TradesSettings.Mnist })
        {
            string json = TrainingObjectives.ToJson(settings);
            Assert.That(json, Does.Contain("\"stepSize\"").And.Contain("\"norm\":\"linf\""));
            string kind = settings switch { TlaSettings => "tla", PgdAtSettings => "pgd-at", _ => "trades" };
            using var objective = Create(kind, json);
            Assert.That(objective.Settings, Is.EqualTo(settings));
        }
    }

    [Test]
    public void Create_UnknownKind_ThrowsListingTheKinds()
    {
        var e = Assert.Throws<ArgumentException>(() => Create("madry", null));
        Assert.That(e!.Message, Does.Contain("'madry'").And.Contain("standard, pgd-at, trades, tla"));
    }

    [Test]
    public void Create_UnknownKey_ThrowsNamingItAndTheValidKeys()
    {
        var e = Assert.Throws<ArgumentException>(() => Create("trades", "{\"beta\":1,\"epsilon\":0.1}"));
        Assert.That(e!.Message, Does.Contain("'epsilon'").And.Contain("beta, norm, eps, stepSize, steps"));
        e = Assert.Throws<ArgumentException>(() => Create("pgd-at", "{\"Eps\":0.1}"));
        Assert.That(e!.Message, Does.Contain("'Eps'"), "keys are camelCase and case-sensitive");
    }

    [TestCase("pgd-at", "{\"eps\":\"big\"}", "'eps'")]
    [TestCase("pgd-at", "{\"steps\":2.5}", "'steps'")]
    [TestCase("pgd-at", "{\"norm\":\"l1\"}", "'norm'")]
    [TestCase("pgd-at", "{\"norm\":0}", "'norm'")]
    [TestCase("pgd-at", "{\"eps\":8}", "'eps'")]
    [TestCase("pgd-at", "{\"steps\":-1}", "'steps'")]
    [TestCase("standard", "{\"labelSmoothing\":1}", "'labelSmoothing'")]
    [TestCase("trades", "{\"beta\":-1}", "'beta'")]
    [TestCase("tla", "{\"poolMultiplier\":0}", "'poolMultiplier'")]
    [TestCase("tla", "{\"margin\":-0.1}", "'margin'")]
    [TestCase("tla", "[1, 2]", "JSON object")]
    public void Create_BadValue_ThrowsNamingTheKey(string kind, string json, string expected)
    {
        var e = Assert.Throws<ArgumentException>(() => Create(kind, json));
        Assert.That(e!.Message, Does.Contain(expected).And.Contain(kind));
    }
}
