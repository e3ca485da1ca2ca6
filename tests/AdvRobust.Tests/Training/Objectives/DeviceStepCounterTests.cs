using System.Text.Json;
using AdvRobust.Core;
using AdvRobust.Cuda;
using AdvRobust.Research.Training;
using AdvRobust.Research.Training.Objectives;
using AdvRobust.Tests.Attacks;
using AdvRobust.Tests.Support;
using static AdvRobust.Tests.Training.Objectives.ObjectiveTestData;

namespace AdvRobust.Tests.Training.Objectives;

/// <summary>
/// One training step of each objective on the CUDA backend under the emulator, counted with
/// <see cref="EmulatorCounters"/>: the step makes no device→host copy and no synchronization (PGD-AT's and TLA's
/// attack is PGD's device-only single run, Pgd.RunOnDevice). The uploads inside a step (TRADES' start noise, TLA's pool, positives and labels) go through the pinned upload ring and
/// do not wait.
/// </summary>
[TestFixture, Category("Gpu")]
public class DeviceStepCounterTests
{
    private IBackend _gpu = null!;

    [SetUp]
    public void SetUp()
    {
        _gpu = Backends.CudaOrIgnore();
        if (Environment.GetEnvironmentVariable("ADVROBUST_CUDA") != "emulator")
            Assert.Ignore("the counters come from the CUDA emulator (ADVROBUST_CUDA=emulator)");
    }

    [TestCase("standard", "")]
    [TestCase("gaussian-noise", "\"sigma\":0.25")]
    [TestCase("pgd-at", "\"eps\":0.1,\"stepSize\":0.03,\"steps\":3")]
    [TestCase("trades", "\"eps\":0.1,\"stepSize\":0.03,\"steps\":3")]
    [TestCase("tla", "\"eps\":0.1,\"stepSize\":0.03,\"steps\":3,\"selfPositive\":true,\"poolMultiplier\":2")]
    public void Step_OnTheEmulator_NoSyncNorDeviceToHostCopy(string kind, string settings)
    {
        var data = Separable(new SeededRandom(TestContext.CurrentContext.Test.FullName), 36);
        using var model = new TinyNet(_gpu, 41);
        using var objective = TrainingObjectives.Create(kind, JsonDocument.Parse("{" + settings + "}").RootElement,
            new ObjectiveContext(data, 11));
        var batch = Batch(_gpu, data, Range(0, 12), step: 3);
        batch = batch with { HostLabels = batch.SampleIds.Select(i => data.Labels[(int)i]).ToArray() };
        string region = $"train-step-{kind}-{Guid.NewGuid():N}";
        using (EmulatorCounters.Region(region))
        using (((IDeviceStatsObjective)objective).StepOnDevice(model, batch))
        {
        }
        var step = EmulatorCounters.Read(region);
        TestContext.Out.WriteLine($"{kind} step: {step}");
        Assert.That((step.DeviceToHostCopies, step.DeviceToHostBytes), Is.EqualTo((0L, 0L)),
            "device→host copies and bytes");
        Assert.That(step.Syncs, Is.Zero, "synchronizations");
        Dispose(batch);
    }
}
