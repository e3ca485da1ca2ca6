using AdvRobust.Research.Detection;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Detection;

public class RocTests
{
    [Test]
    public void Compute_SeparatedScores_AucOneAndFullTprAtLowFpr()
    {
        var roc = Roc.FromGroups(negatives: [0.1, 0.2, 0.3], positives: [0.7, 0.9]);
        Assert.That(roc.Auc, Is.EqualTo(1.0));
        Assert.That(roc.TprAt5PercentFpr, Is.EqualTo(1.0));
        Assert.That((roc.Positives, roc.Negatives), Is.EqualTo((2, 3)));
    }

    [Test]
    public void Compute_ReversedScores_AucZero() =>
        Assert.That(Roc.FromGroups(negatives: [0.8, 0.9], positives: [0.1, 0.2]).Auc, Is.EqualTo(0.0));

    [Test]
    public void Compute_AllScoresTied_OneDiagonalSegmentAndAucHalf()
    {
        var roc = Roc.FromGroups(negatives: [0.5, 0.5, 0.5], positives: [0.5]);
        Assert.That(roc.Auc, Is.EqualTo(0.5));
        Assert.That(roc.Fpr, Is.EqualTo(new[] { 0.0, 1.0 }));
        Assert.That(roc.Tpr, Is.EqualTo(new[] { 0.0, 1.0 }));
        Assert.That(roc.TprAt5PercentFpr, Is.Zero, "no threshold flags anything without flagging every negative");
    }

    /// <summary>
    /// negatives 0.1 0.4 0.4 0.8, positives 0.4 0.6 0.9. Pairs won by the positive: 0.4 beats 0.1 and ties both 0.4s
    /// (1 + 2·½), 0.6 beats three, 0.9 beats four: U = 9 of 12, AUC 0.75. Thresholds 0.9, 0.8, 0.6, 0.4, 0.1 give
    /// (FP, TP) = (0,1), (1,1), (1,2), (3,3), (4,3).
    /// </summary>
    [Test]
    public void Compute_HandComputedCaseWithTies_PointsAndAucMatch()
    {
        var roc = Roc.FromGroups(negatives: [0.1, 0.4, 0.4, 0.8], positives: [0.4, 0.6, 0.9]);
        Assert.That(roc.Auc, Is.EqualTo(0.75).Within(1e-15));
        Assert.That(roc.Fpr, Is.EqualTo(new[] { 0, 0, 0.25, 0.25, 0.75, 1 }));
        Assert.That(roc.Tpr, Is.EqualTo(new[] { 0, 1 / 3.0, 1 / 3.0, 2 / 3.0, 1, 1 }).Within(1e-15));
        Assert.That(roc.Thresholds, Is.EqualTo(new[] { double.PositiveInfinity, 0.9, 0.8, 0.6, 0.4, 0.1 }));
        Assert.That(roc.TprAtFpr(0.05), Is.EqualTo(1 / 3.0).Within(1e-15));
        Assert.That(roc.TprAtFpr(0.25), Is.EqualTo(2 / 3.0).Within(1e-15));
    }

    [Test]
    public void Compute_RandomScoresWithTies_EqualsMannWhitneyU()
    {
        var rng = new SeededRandom(nameof(Compute_RandomScoresWithTies_EqualsMannWhitneyU));
        for (int trial = 0; trial < 20; trial++)
        {
            int n = rng.Next(2, 60);
            // One decimal place: many ties, the case the ½ rule is about.
            double[] scores = rng.Uniform(n, 0f, 1f).Select(s => Math.Round(s, 1)).ToArray();
            bool[] positive = rng.Labels(n, 2).Select(l => l == 1).ToArray();
            positive[0] = true;
            positive[1] = false;
            double u = 0;
            int p = positive.Count(b => b), q = n - p;
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++)
                    if (positive[i] && !positive[j])
                        u += scores[i] > scores[j] ? 1 : scores[i] == scores[j] ? 0.5 : 0;
            var roc = Roc.Compute(scores, positive);
            Assert.That(roc.Auc, Is.EqualTo(u / ((double)p * q)).Within(1e-12), $"trial {trial} (seed {rng.Seed})");
            Assert.That(roc.Fpr, Is.Ordered, "FPR never decreases");
            Assert.That(roc.Tpr, Is.Ordered, "TPR never decreases");
            Assert.That((roc.Fpr[^1], roc.Tpr[^1]), Is.EqualTo((1.0, 1.0)));
        }
    }

    [Test]
    public void Compute_OneClassOnly_ThrowsNamingTheCounts()
    {
        var e = Assert.Throws<ArgumentException>(() => Roc.Compute([0.1, 0.2], [true, true]));
        Assert.That(e!.Message, Does.Contain("2 positives and 0 negatives"));
    }

    [Test]
    public void Compute_NaNScoreOrLengthMismatch_Throws()
    {
        Assert.That(() => Roc.Compute([0.1, double.NaN], [true, false]),
            Throws.ArgumentException.With.Message.Contain("score 1"));
        Assert.That(() => Roc.Compute([0.1, 0.2], [true]), Throws.ArgumentException.With.Message.Contain("2 scores"));
    }
}
