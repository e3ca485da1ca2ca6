namespace AdvRobust.Research.Detection;

/// <summary>
/// A receiver operating characteristic: one operating point per distinct score, flagging "score ≥ threshold" as
/// positive. Point 0 is (0, 0) with threshold +∞ (flag nothing); the last point is (1, 1). Scores that tie move
/// FPR and TPR together, so a tie is a diagonal segment, which is what makes the trapezoid area equal to the
/// Mann–Whitney probability P(score⁺ &gt; score⁻) + ½·P(score⁺ = score⁻).
/// </summary>
public sealed record RocCurve(
    double[] Fpr,
    double[] Tpr,
    double[] Thresholds,
    double Auc,
    int Positives,
    int Negatives)
{
    /// <summary>TPR at 5% FPR (see <see cref="TprAtFpr"/>), the usual single-number summary for detectors.</summary>
    public double TprAt5PercentFpr => TprAtFpr(0.05);

    /// <summary>
    /// The best TPR among the operating points whose FPR is at most <paramref name="maxFpr"/>. No interpolation:
    /// with few distinct scores (a k-NN score takes only k + 1 values) an interpolated point would be a randomized
    /// detector, not a threshold one could actually deploy.
    /// </summary>
    public double TprAtFpr(double maxFpr)
    {
        double best = 0;
        for (int i = 0; i < Fpr.Length; i++)
            if (Fpr[i] <= maxFpr + 1e-12) best = Math.Max(best, Tpr[i]);
        return best;
    }
}

/// <summary>Exact ROC curves and AUC from scores (higher = more likely positive).</summary>
public static class Roc
{
    /// <summary>
    /// The ROC of <paramref name="scores"/> against <paramref name="isPositive"/>. AUC is the trapezoid area, computed
    /// from integer counts: Σ ΔFP·(TP_i + TP_{i−1}) / (2·P·N), which equals the Mann–Whitney U / (P·N) with
    /// ties counted ½. Needs at least one positive and one negative, and finite scores.
    /// </summary>
    public static RocCurve Compute(IReadOnlyList<double> scores, IReadOnlyList<bool> isPositive)
    {
        ArgumentNullException.ThrowIfNull(scores);
        ArgumentNullException.ThrowIfNull(isPositive);
        if (scores.Count != isPositive.Count)
            throw new ArgumentException($"ROC: {scores.Count} scores but {isPositive.Count} labels");
        int positives = 0;
        for (int i = 0; i < scores.Count; i++)
        {
            if (!double.IsFinite(scores[i])) throw new ArgumentException($"ROC: score {i} is {scores[i]}, not finite");
            if (isPositive[i]) positives++;
        }
        int negatives = scores.Count - positives;
        if (positives == 0 || negatives == 0)
            throw new ArgumentException(
                $"ROC needs both classes; got {positives} positives and {negatives} negatives");

        var order = Enumerable.Range(0, scores.Count).OrderByDescending(i => scores[i]).ToArray();
        var fpr = new List<double> { 0 };
        var tpr = new List<double> { 0 };
        var thresholds = new List<double> { double.PositiveInfinity };
        long tp = 0, fp = 0, twiceArea = 0;
        for (int start = 0; start < order.Length;)
        {
            double threshold = scores[order[start]];
            long tpBefore = tp, fpBefore = fp;
            int end = start;
            for (; end < order.Length && scores[order[end]] == threshold; end++)
                if (isPositive[order[end]]) tp++;
                else fp++;
            twiceArea += (fp - fpBefore) * (tp + tpBefore);
            fpr.Add((double)fp / negatives);
            tpr.Add((double)tp / positives);
            thresholds.Add(threshold);
            start = end;
        }
        double auc = twiceArea / (2.0 * positives * negatives);
        return new RocCurve(fpr.ToArray(), tpr.ToArray(), thresholds.ToArray(), auc, positives, negatives);
    }

    /// <summary>
    /// Convenience for the common case of two score sets: <paramref name="negatives"/> (e.g. clean inputs) against
    /// <paramref name="positives"/> (e.g. adversarial ones).
    /// </summary>
    public static RocCurve FromGroups(IReadOnlyList<double> negatives, IReadOnlyList<double> positives)
    {
        var scores = negatives.Concat(positives).ToArray();
        var flags = Enumerable.Repeat(false, negatives.Count).Concat(Enumerable.Repeat(true, positives.Count))
            .ToArray();
        return Compute(scores, flags);
    }
}
