using System.Text.Json;
using AdvRobust.Research.Detection;

namespace AdvRobust.Report;

/// <summary>
/// One line of a run's metrics.jsonl (one per epoch). Only <see cref="Epoch"/> is required; every other field is
/// null (or empty) when the trainer did not write it, and fields this reader does not know are ignored.
/// </summary>
public sealed record EpochMetrics(
    int Epoch,
    long? Step,
    double? Lr,
    double? TrainLoss,
    IReadOnlyDictionary<string, double> Components,
    double? TrainAccuracy,
    double? CleanAccuracy,
    double? PgdAccuracy,
    double? EpochSeconds,
    double? ImagesPerSecond);

/// <summary>
/// What report uses from a run's manifest.json: the "config" object (kept whole, shown in part), "seed", "gitCommit"
/// (or "commit"), and "device" and "backend" (under "environment", as the trainer writes them, or at the top). Every field is optional; scalars are kept as their JSON text so a seed written as a string
/// or a number reads the same.
/// </summary>
public sealed record ManifestSummary(JsonElement? Config, string? Seed, string? Commit, string? Device, string? Backend);

/// <summary>One attack of a run's final robust evaluation (evaluation.json): accuracy after it, sequentially.</summary>
public sealed record EvaluatedAttack(string Name, string Norm, double Eps, double Accuracy);

/// <summary>
/// What report uses from evaluation.json (an <c>EvaluationResult</c>, as `advrobust eval --json` and the demo write
/// it): test samples, clean and worst-case robust accuracy, and the accuracy after each attack.
/// </summary>
public sealed record FinalEvaluation(int Samples, double CleanAccuracy, double RobustAccuracy,
    IReadOnlyList<EvaluatedAttack> Attacks);

/// <summary>A run directory as read: its name, path, and whichever of its four files it holds.</summary>
public sealed record RunData(
    string Name,
    string Directory,
    ManifestSummary? Manifest,
    IReadOnlyList<EpochMetrics> Epochs,
    DetectionResult? Detection,
    FinalEvaluation? Evaluation = null)
{
    public EpochMetrics? Final => Epochs.Count > 0 ? Epochs[^1] : null;

    /// <summary>The epoch with the highest PGD accuracy (the first on a tie), as training keeps the best robust
    /// checkpoint; null when no epoch has a PGD accuracy.</summary>
    public EpochMetrics? BestPgd => Epochs.Where(e => e.PgdAccuracy is not null)
        .Aggregate((EpochMetrics?)null, (best, e) => best is null || e.PgdAccuracy > best.PgdAccuracy ? e : best);

    public double? BestClean => Max(e => e.CleanAccuracy);

    /// <summary>Total training time: the sum of the epochs' seconds (null when none says).</summary>
    public double? Seconds => Epochs.Any(e => e.EpochSeconds is not null) ? Epochs.Sum(e => e.EpochSeconds ?? 0) : null;

    /// <summary>Mean throughput over the epochs that report it.</summary>
    public double? ImagesPerSecond
    {
        get
        {
            var values = Epochs.Where(e => e.ImagesPerSecond is not null).Select(e => e.ImagesPerSecond!.Value)
                .ToArray();
            return values.Length > 0 ? values.Average() : null;
        }
    }

    private double? Max(Func<EpochMetrics, double?> field)
    {
        var values = Epochs.Select(field).Where(v => v is not null).Select(v => v!.Value).ToArray();
        return values.Length > 0 ? values.Max() : null;
    }
}
