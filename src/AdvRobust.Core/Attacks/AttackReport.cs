namespace AdvRobust.Core.Attacks;

/// <summary>
/// One attack of an evaluation: its name, norm, eps and exact settings; how many points it was run on and how many
/// it fooled (judged by the model's prediction at the returned point); the accuracy after it (see
/// <see cref="EvaluationResult"/>); wall time; the largest perturbation norm it returned (checked ≤ eps).
/// </summary>
public sealed record AttackReport(
    string Name,
    PgdNorm Norm,
    float Eps,
    object Settings,
    int Attacked,
    int Fooled,
    int RobustAfter,
    double Accuracy,
    double Seconds,
    float MaxPerturbation);
