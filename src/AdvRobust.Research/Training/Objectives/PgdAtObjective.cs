using AdvRobust.Core.Attacks;
using AdvRobust.Core.Autograd;
using AdvRobust.Core.Nn.Models;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Research.Training.Objectives;

/// <summary>
/// Settings of <see cref="PgdAtObjective"/> (JSON e.g. {"eps": 0.1, "steps": 10, "stepSize": 0.01}). The defaults
/// are Madry et al.'s MNIST run (papers.md §4.2): l-inf ε = 0.3, 40 steps of 0.01, random start, attack in eval mode.
/// Presets: <see cref="Mnist"/>, <see cref="Cifar10"/> (Madry's CIFAR-10: 8/255, 7 steps of 2/255) and
/// <see cref="Port"/> (Sehwag et al.'s PORT trainer, §2.2: 8/255, 10 steps of 2/255, attacking in train mode).
/// For Fashion-MNIST the published runs use ε = 0.1 (§4.1).
/// </summary>
public sealed record PgdAtSettings
{
    public PgdNorm Norm { get; init; } = PgdNorm.Linf;

    /// <summary>Radius of the threat model in [0, 1] pixel space.</summary>
    public float Eps { get; init; } = 0.3f;

    /// <summary>PGD step size α (l-inf: α·sign(g); l2: α·g/‖g‖).</summary>
    public float StepSize { get; init; } = 0.01f;

    public int Steps { get; init; } = 40;

    /// <summary>Start from a uniform draw in the ε-ball (keyed by seed, step and sample id) rather than x.</summary>
    public bool RandomStart { get; init; } = true;

    /// <summary>Attack with batch norm in train mode (batch statistics), as PORT does; eval mode by default.</summary>
    public bool AttackInTrainMode { get; init; }

    /// <summary>ε of label smoothing in the training cross-entropy; 0 in Madry et al.</summary>
    public float LabelSmoothing { get; init; }

    public static PgdAtSettings Mnist => new();
    public static PgdAtSettings Cifar10 => new() { Eps = 8f / 255, StepSize = 2f / 255, Steps = 7 };
    public static PgdAtSettings Port => Cifar10 with { Steps = 10, AttackInTrainMode = true };

    internal void Validate()
    {
        SettingsCheck.Attack("pgd-at", Norm, Eps, StepSize, Steps);
        SettingsCheck.LabelSmoothing("pgd-at", LabelSmoothing);
    }
}

/// <summary>
/// Madry et al.'s adversarial training: PGD on the cross-entropy with the existing <see cref="Pgd"/> attack (the same
/// code that evaluates robustness; each sample keeps its highest-loss iterate), then the mean cross-entropy of the
/// adversarial batch in train mode. Components: "ce"; the reported accuracy is on the adversarial batch.
/// </summary>
public sealed class PgdAtObjective : IDeviceStatsObjective
{
    public PgdAtObjective(PgdAtSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        Config = settings;
    }

    public PgdAtSettings Config { get; }
    public string Name => "pgd-at";
    public object Settings => Config;

    public StepStats Step(ImageClassifier model, TrainingBatch batch) =>
        ObjectiveSteps.ReadNow(((IDeviceStatsObjective)this).StepOnDevice(model, batch));

    PendingStats IDeviceStatsObjective.StepOnDevice(ImageClassifier model, TrainingBatch batch)
    {
        int[] labels = ObjectiveSteps.Check(Name, model, batch);
        using var adversarial = Attack(model, batch);
        return ObjectiveSteps.Train(model, batch, labels, tape => Forward(tape, model, adversarial, batch));
    }

    /// <summary>The adversarial batch of this step (owned by the caller). Leaves the model in train mode.</summary>
    internal Tensor Attack(ImageClassifier model, TrainingBatch batch)
    {
        var c = Config;
        var adversarial = ObjectiveSteps.PgdAdversarial(model, batch, c.Norm, c.Eps, c.StepSize, c.Steps,
            c.RandomStart, c.AttackInTrainMode);
        model.Train();
        return adversarial;
    }

    /// <summary>The loss on a given adversarial batch (model already in train mode).</summary>
    internal LossTerms Forward(Tape tape, ImageClassifier model, Tensor adversarial, TrainingBatch batch) =>
        ObjectiveSteps.CrossEntropy(tape, model, adversarial, batch.Labels, Config.LabelSmoothing);

    public void Dispose()
    {
    }
}
