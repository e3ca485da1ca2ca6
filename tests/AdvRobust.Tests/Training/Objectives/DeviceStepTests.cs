using System.Text.Json;
using AdvRobust.Core.Tensors;
using AdvRobust.Research.Training;
using AdvRobust.Research.Training.Objectives;
using AdvRobust.Tests.Attacks;
using AdvRobust.Tests.Support;
using static AdvRobust.Tests.Training.Objectives.ObjectiveTestData;

namespace AdvRobust.Tests.Training.Objectives;

/// <summary>
/// The device-resident training step on the CPU backend behind <see cref="TrackingBackend"/>, which counts device→host
/// copies (CopyOut) and synchronizations: a step that leaves its statistics on the device makes none (PGD-AT's and
/// TLA's attack included: Pgd.RunOnDevice), and reading them later gives exactly what the host-side step reports. Shape letters: B = 12 rows of 1×4×4, K = 3 classes.
/// </summary>
public class DeviceStepTests
{
    private static ITrainingObjective Create(string kind, AdvRobust.Core.Data.LabeledImages data, string extra = "")
    {
        string attack = kind is "standard" or "gaussian-noise" ? "" : "\"eps\":0.1,\"stepSize\":0.03,\"steps\":3";
        string json = "{" + string.Join(",", new[] { attack, extra }.Where(s => s.Length > 0)) + "}";
        return TrainingObjectives.Create(kind, JsonDocument.Parse(json).RootElement, new ObjectiveContext(data, 11));
    }

    /// <summary>The trainer's kind of batch: the labels also on the host, as the loader has them.</summary>
    private static TrainingBatch HostLabelled(TrainingBatch batch, AdvRobust.Core.Data.LabeledImages data) =>
        batch with { HostLabels = batch.SampleIds.Select(i => data.Labels[(int)i]).ToArray() };

    [TestCase("standard", "")]
    [TestCase("gaussian-noise", "\"sigma\":0.25")]
    [TestCase("pgd-at", "")]
    [TestCase("trades", "")]
    [TestCase("tla", "\"selfPositive\":true,\"poolMultiplier\":2")]
    public void StepOnDevice_NoDeviceToHostCopyNorSync_AndReadsAsTheHostStep(string kind, string extra)
    {
        var data = Separable(new SeededRandom(TestContext.CurrentContext.Test.FullName), 36);
        var backend = new TrackingBackend();
        using var model = new TinyNet(backend, 41);
        using var objective = Create(kind, data, extra);
        var batch = HostLabelled(Batch(backend, data, Range(0, 12), step: 3), data);

        int copiesBefore = backend.CopyOutCalls, syncsBefore = backend.SynchronizeCalls;
        using var pending = ((IDeviceStatsObjective)objective).StepOnDevice(model, batch);
        Assert.That(backend.CopyOutCalls - copiesBefore, Is.Zero, $"{kind}: device→host copies in a step");
        Assert.That(backend.SynchronizeCalls - syncsBefore, Is.Zero, $"{kind}: synchronizations in a step");
        var deviceStats = pending.Read();

        // The same step on a fresh copy of the model, with its statistics read at once: the same numbers.
        using var twin = new TinyNet(backend, 41);
        var hostStats = objective.Step(twin, batch);
        Assert.That(deviceStats.Loss, Is.EqualTo(hostStats.Loss));
        Assert.That(deviceStats.Components, Is.EqualTo(hostStats.Components));
        Assert.That((deviceStats.Correct, deviceStats.Count), Is.EqualTo((hostStats.Correct, hostStats.Count)));
        Dispose(batch);
    }

    [Test]
    public void Tla_RowsWithoutNegative_StepStillMakesNoDeviceToHostCopy()
    {
        // Class 1 has 2 of 32 images, so most 4-image pools hold only class 0: V < B, the gather path of TLA.
        int[] labels = Enumerable.Range(0, 32).Select(i => i < 2 ? 1 : 0).ToArray();
        var data = Separable(new SeededRandom(TestContext.CurrentContext.Test.FullName), labels, classes: 2);
        var backend = new TrackingBackend();
        using var model = new TinyNet(backend, 6, classes: 2);
        var objective = (TlaObjective)Create("tla", data, "\"selfPositive\":true");
        for (long step = 0; step < 20; step++)
        {
            var batch = HostLabelled(Batch(backend, data, [0, 1, 2, 3], step), data);
            using (var inputs = objective.Prepare(model, batch, labels[..4]))
                if (inputs.Rows.Length != 2)
                {
                    Dispose(batch);
                    continue;
                }
            int before = backend.CopyOutCalls;
            using var pending = ((IDeviceStatsObjective)objective).StepOnDevice(model, batch);
            Assert.That(backend.CopyOutCalls - before, Is.Zero);
            Assert.That(double.IsFinite(pending.Read().Loss), Is.True);
            Dispose(batch);
            return;
        }
        Assert.Fail("no pool without class 1 in 20 steps");
    }
}
