namespace AdvRobust.Research.Training.Objectives;

/// <summary>
/// Settings of <see cref="TlaObjective"/> (papers.md §1.2–1.5). The defaults are the MNIST column of the authors'
/// configs: PGD l-inf ε = 0.3, 40 steps of 0.01; label smoothing 0.1; margin α = 0.05, λ1 = 0.5, λ2 = 1e-4; a
/// negative pool of P = 1 × B images; one triplet term (the random same-class positive). <see cref="Cifar10"/> is the
/// CIFAR-10 column: ε = 8/255, 7 steps of 2/255; no smoothing; α = 0.03, λ1 = 2, λ2 = 1e-3; P = 10 × B; both terms.
/// For Fashion-MNIST, §1.8 suggests the MNIST values with P = B to 5B and both terms.
/// </summary>
public sealed record TlaSettings
{
    public PgdNorm Norm { get; init; } = PgdNorm.Linf;
    public float Eps { get; init; } = 0.3f;
    public float StepSize { get; init; } = 0.01f;
    public int Steps { get; init; } = 40;
    public bool RandomStart { get; init; } = true;

    /// <summary>ε of label smoothing in the cross-entropy on the adversarial anchors.</summary>
    public float LabelSmoothing { get; init; } = 0.1f;

    /// <summary>α in the hinge max(D(a, p) − D(a, n) + α, 0), D the angular distance 1 − |cos|.</summary>
    public float Margin { get; init; } = 0.05f;

    /// <summary>λ1, the weight of each triplet term (its hinge mean plus its norm regulariser).</summary>
    public float TripletWeight { get; init; } = 0.5f;

    /// <summary>λ2, the weight of the embedding-norm regulariser mean(a² + p² + n²) inside each term.</summary>
    public float NormWeight { get; init; } = 1e-4f;

    /// <summary>The negative pool holds PoolMultiplier × B clean training images (the code's mul_num).</summary>
    public int PoolMultiplier { get; init; } = 1;

    /// <summary>Adds the second term, whose positive is the sample's own clean image (the code's "A_Ap_B").</summary>
    public bool SelfPositive { get; init; }

    public static TlaSettings Mnist => new();

    public static TlaSettings Cifar10 => new()
    {
        Eps = 8f / 255, StepSize = 2f / 255, Steps = 7, LabelSmoothing = 0f, Margin = 0.03f, TripletWeight = 2f,
        NormWeight = 1e-3f, PoolMultiplier = 10, SelfPositive = true,
    };

    internal void Validate()
    {
        SettingsCheck.Attack("tla", Norm, Eps, StepSize, Steps);
        SettingsCheck.LabelSmoothing("tla", LabelSmoothing);
        SettingsCheck.NonNegative("tla", "margin", Margin);
        SettingsCheck.NonNegative("tla", "tripletWeight", TripletWeight);
        SettingsCheck.NonNegative("tla", "normWeight", NormWeight);
        SettingsCheck.Require(PoolMultiplier >= 1, "tla", "poolMultiplier", "must be >= 1", PoolMultiplier);
    }
}
