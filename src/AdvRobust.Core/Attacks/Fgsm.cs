using AdvRobust.Core.Nn;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Core.Attacks;

/// <summary>
/// FGSM settings (Goodfellow et al. 2015). Linf: x' = clip(x + eps·sign(∇x L), 0, 1); L2 (the fast gradient
/// method): x' = clip(x + eps·∇x L/‖∇x L‖₂, 0, 1). Targeted: L = −CE(z, t), so the step descends the target's loss.
/// </summary>
public sealed record FgsmSettings(
    float Eps,
    PgdNorm Norm = PgdNorm.Linf,
    AttackLossKind Loss = AttackLossKind.CrossEntropy,
    bool Targeted = false,
    bool KeepTrainingMode = false);

/// <summary>One gradient step of length eps from the clean point (no randomness), by Ops.PgdStep.</summary>
public sealed class Fgsm : IAttack
{
    public Fgsm(FgsmSettings settings)
    {
        if (!(settings.Eps >= 0 && float.IsFinite(settings.Eps))) throw new ArgumentException($"eps {settings.Eps}");
        if (settings.Loss is AttackLossKind.Dlr or AttackLossKind.TargetedDlr)
            throw new ArgumentException("FGSM takes the CE or CW loss");
        Config = settings;
    }

    public FgsmSettings Config { get; }
    public string Name => Config.Targeted ? "fgsm-targeted" : "fgsm";
    public PgdNorm Norm => Config.Norm;
    public float Eps => Config.Eps;
    public bool NeedsTargets => Config.Targeted;
    public object Settings => Config;

    public AttackResult Run(Classifier model, Tensor x, Tensor labels, uint[] sampleIds, Tensor? targets = null,
        IProgress<AttackProgress>? progress = null)
    {
        AttackChecks.Validate(this, x, labels, sampleIds, targets);
        using var mode = new ModelMode(model, Config.KeepTrainingMode);
        var objective = new Objective(model, Config.Loss, labels, Config.Targeted ? targets : null);
        var adv = Rows.CopyOf(x);
        try
        {
            using var grad = Rows.Like(x);
            objective.Pass(x, grad);
            Ops.PgdStep(Config.Norm, adv, x, grad, new PgdParams(Alpha: Config.Eps, Eps: Config.Eps));
            // The end of the attack: one read of the per-sample loss and success.
            var (loss, success) = objective.Measure(adv, objective.Targets);
            progress?.Report(new AttackProgress(Name, 1, 1));
            return new AttackResult(adv, success, loss);
        }
        catch
        {
            adv.Dispose();
            throw;
        }
    }
}
