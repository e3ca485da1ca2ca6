using AdvRobust.Core.Autograd;
using AdvRobust.Research.Certification;
using AdvRobust.Core.Nn.Models;

namespace AdvRobust.Research.Training.Objectives;

/// <summary>Settings of <see cref="GaussianNoiseObjective"/> (JSON: {"sigma": 0.25}).</summary>
public sealed record GaussianNoiseSettings
{
    /// <summary>σ of the noise, in [0,1] pixel units: train at the σ you will certify at (Cohen et al. 2019 use
    /// 0.12, 0.25, 0.5 and 1.0 on CIFAR-10; papers.md §2.5).</summary>
    public float Sigma { get; init; } = 0.25f;

    public float LabelSmoothing { get; init; }

    internal void Validate()
    {
        if (!(float.IsFinite(Sigma) && Sigma >= 0))
            throw new ArgumentException($"gaussian-noise: sigma must be a finite number >= 0, got {Sigma}");
        SettingsCheck.LabelSmoothing("gaussian-noise", LabelSmoothing);
    }
}

/// <summary>
/// Gaussian noise augmentation, the training half of randomized smoothing: the mean cross-entropy of x + σ·N(0, I)
/// (not clamped, as in Cohen et al.'s train.py). The noise comes from the device's Philox kernel keyed by (seed,
/// epoch, sample id) (<see cref="GaussianAugmentation"/>), so a resumed run draws the same noise. Components: "ce".
/// </summary>
public sealed class GaussianNoiseObjective : IDeviceStatsObjective
{
    public GaussianNoiseObjective(GaussianNoiseSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        Config = settings;
    }

    public GaussianNoiseSettings Config { get; }
    public string Name => "gaussian-noise";
    public object Settings => Config;

    public StepStats Step(ImageClassifier model, TrainingBatch batch) =>
        ObjectiveSteps.ReadNow(((IDeviceStatsObjective)this).StepOnDevice(model, batch));

    PendingStats IDeviceStatsObjective.StepOnDevice(ImageClassifier model, TrainingBatch batch)
    {
        int[] labels = ObjectiveSteps.Check(Name, model, batch);
        using var noisy = GaussianAugmentation.Noisy(batch, Config.Sigma);
        return ObjectiveSteps.Train(model, batch, labels, tape => Forward(tape, model, noisy, batch));
    }

    private LossTerms Forward(Tape tape, ImageClassifier model, Tensor noisy, TrainingBatch batch) =>
        ObjectiveSteps.CrossEntropy(tape, model, noisy, batch.Labels, Config.LabelSmoothing);

    public void Dispose()
    {
    }
}
