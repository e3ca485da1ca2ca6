using System.Text.Json;
using System.Text.Json.Serialization;

namespace AdvRobust.Core.Attacks;

/// <summary>
/// What a <see cref="RobustEvaluation"/> measured. Accuracies are fractions of <see cref="Samples"/>. Mode
/// "sequential" (AutoAttack's standard evaluation): each attack runs only on the points still robust, and an attack's
/// <see cref="AttackReport.Accuracy"/> is the robust accuracy after it and every attack before it. Mode "individual":
/// each attack runs on every clean-correct point and its accuracy is its own. <see cref="RobustAccuracy"/> is the
/// worst case: clean-correct and not fooled by any attack. <see cref="Robust"/> holds that flag per sample.
/// </summary>
public sealed record EvaluationResult(
    string Model,
    string Device,
    string Mode,
    int Samples,
    int BatchSize,
    int CleanCorrect,
    double CleanAccuracy,
    int RobustCorrect,
    double RobustAccuracy,
    IReadOnlyList<AttackReport> Attacks,
    double CleanSeconds,
    double TotalSeconds,
    bool[] Robust)
{
    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>The result as JSON, with each attack's exact settings (including its seed) and the counts.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);
}
