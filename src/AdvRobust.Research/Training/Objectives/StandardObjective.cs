using AdvRobust.Core.Autograd;
using AdvRobust.Core.Nn.Models;

namespace AdvRobust.Research.Training.Objectives;

/// <summary>Settings of <see cref="StandardObjective"/> (JSON: {"labelSmoothing": 0.1}).</summary>
public sealed record StandardSettings
{
    /// <summary>ε in targets (1 − ε)·onehot(y) + ε/K. Default 0 (plain cross-entropy).</summary>
    public float LabelSmoothing { get; init; }

    internal void Validate() => SettingsCheck.LabelSmoothing("standard", LabelSmoothing);
}

/// <summary>Standard (non-robust) training: the mean cross-entropy of the clean batch. Components: "ce".</summary>
public sealed class StandardObjective : IDeviceStatsObjective
{
    public StandardObjective(StandardSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        Config = settings;
    }

    public StandardSettings Config { get; }
    public string Name => "standard";
    public object Settings => Config;

    public StepStats Step(ImageClassifier model, TrainingBatch batch) =>
        ObjectiveSteps.ReadNow(((IDeviceStatsObjective)this).StepOnDevice(model, batch));

    PendingStats IDeviceStatsObjective.StepOnDevice(ImageClassifier model, TrainingBatch batch)
    {
        int[] labels = ObjectiveSteps.Check(Name, model, batch);
        return ObjectiveSteps.Train(model, batch, labels, tape => Forward(tape, model, batch));
    }

    /// <summary>The loss of a step (model already in train mode), for the step and the gradient tests.</summary>
    internal LossTerms Forward(Tape tape, ImageClassifier model, TrainingBatch batch) =>
        ObjectiveSteps.CrossEntropy(tape, model, batch.X, batch.Labels, Config.LabelSmoothing);

    public void Dispose()
    {
    }
}
