using AdvRobust.Core.Attacks;
using AdvRobust.Core.Data;
using AdvRobust.Core.Nn;

namespace AdvRobust.Distributed;

/// <summary>
/// A <see cref="RobustEvaluation"/> split over the ranks: each rank evaluates its block of the test points
/// (<see cref="Shards"/>) under their global indices, then the per-sample flags and per-attack counts are summed over
/// the ranks, so every rank holds the whole result. Since every random draw is keyed by the global sample index, the
/// flags and counts are those of one process evaluating everything; only the wall times differ (each is the slowest
/// rank's).
/// </summary>
public static class ShardedEvaluation
{
    public static EvaluationResult Run(RobustEvaluation evaluation, Classifier model, LabeledImages data,
        ICommunicator world, IProgress<EvaluationProgress>? progress = null,
        IProgress<AttackProgress>? attackProgress = null)
    {
        if (world.Size == 1) return evaluation.Run(model, data, progress, attackProgress);
        var (start, count) = Shards.Of(data.N, world);
        var mine = evaluation.Run(model, data, start, count, progress, attackProgress);
        return Merge(mine, world);
    }

    /// <summary>Sums one shard's result over the ranks (every rank calls this with its own shard's result).</summary>
    public static EvaluationResult Merge(EvaluationResult mine, ICommunicator world)
    {
        int n = mine.Samples, a = mine.Attacks.Count;
        // [robust flags × n, clean correct, robust correct, then per attack: attacked, fooled, robust after]
        var counts = new int[n + 2 + 3 * a];
        for (int i = 0; i < n; i++) counts[i] = mine.Robust[i] ? 1 : 0;
        counts[n] = mine.CleanCorrect;
        counts[n + 1] = mine.RobustCorrect;
        for (int k = 0; k < a; k++)
        {
            var r = mine.Attacks[k];
            (counts[n + 2 + 3 * k], counts[n + 3 + 3 * k], counts[n + 4 + 3 * k]) = (r.Attacked, r.Fooled, r.RobustAfter);
        }
        world.AllReduceSum<int>(counts);
        // [clean seconds, total seconds, per attack: seconds, largest perturbation]
        var maxima = new double[2 + 2 * a];
        (maxima[0], maxima[1]) = (mine.CleanSeconds, mine.TotalSeconds);
        for (int k = 0; k < a; k++)
            (maxima[2 + 2 * k], maxima[3 + 2 * k]) = (mine.Attacks[k].Seconds, mine.Attacks[k].MaxPerturbation);
        world.AllReduceMax<double>(maxima);

        var robust = new bool[n];
        for (int i = 0; i < n; i++)
            robust[i] = counts[i] switch
            {
                0 => false,
                1 => true,
                _ => throw new InvalidOperationException($"sample {i} was evaluated by {counts[i]} ranks"),
            };
        var reports = new AttackReport[a];
        for (int k = 0; k < a; k++)
        {
            var r = mine.Attacks[k];
            int after = counts[n + 4 + 3 * k];
            reports[k] = r with
            {
                Attacked = counts[n + 2 + 3 * k], Fooled = counts[n + 3 + 3 * k], RobustAfter = after,
                Accuracy = Fraction(after, n), Seconds = maxima[2 + 2 * k], MaxPerturbation = (float)maxima[3 + 2 * k],
            };
        }
        int clean = counts[n], correct = counts[n + 1];
        return mine with
        {
            CleanCorrect = clean, CleanAccuracy = Fraction(clean, n), RobustCorrect = correct,
            RobustAccuracy = Fraction(correct, n), Attacks = reports, CleanSeconds = maxima[0],
            TotalSeconds = maxima[1], Robust = robust,
        };
    }

    private static double Fraction(int count, int n) => n == 0 ? 0 : (double)count / n;
}
