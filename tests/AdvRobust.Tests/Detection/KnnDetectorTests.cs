using AdvRobust.Research.Detection;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Detection;

/// <summary>Shape letters: M reference rows, N queries, D features, K classes.</summary>
public class KnnDetectorTests
{
    [Test]
    public void Nearest_RandomEmbeddingsAcrossBlocks_MatchesBruteForce()
    {
        var rng = new SeededRandom(nameof(Nearest_RandomEmbeddingsAcrossBlocks_MatchesBruteForce));
        const int m = 53, n = 17, d = 8, k = 5;
        float[] reference = rng.Normal(m * d), queries = rng.Normal(n * d);
        // 7-row blocks: several query and reference blocks, the last of each partial.
        using var knn = new KnnDetector(Backends.Cpu, reference, d, rng.Labels(m, 3), k, blockRows: 7);
        int[] nearest = knn.Nearest(queries);
        for (int i = 0; i < n; i++)
        {
            int[] expected = Enumerable.Range(0, m)
                .OrderBy(j => (float)Angular(queries.AsSpan(i * d, d), reference.AsSpan(j * d, d))).ThenBy(j => j)
                .Take(k).ToArray();
            Assert.That(nearest[(i * k)..((i + 1) * k)], Is.EqualTo(expected), $"query {i} (seed {rng.Seed})");
        }
    }

    [Test]
    public void Nearest_EqualDistancesAndOppositeDirections_LowestIndexWinsAndSignIsIgnored()
    {
        // Rows 1, 3 and 5 lie along the query's direction (3 and 5 flipped: 1 − |cos| ignores the sign), so they are
        // at distance 0; rows 0, 2 and 4 are orthogonal, all at distance 1, and the fourth place goes to the lowest
        // of them, row 0, although rows 2 and 4 arrive in later 2-row blocks.
        float[] reference = [0, 1, 2, 0, 0, 1, -1, 0, 0, 3, -4, 0];
        using var knn = new KnnDetector(Backends.Cpu, reference, 2, [0, 1, 0, 1, 0, 1], k: 4, blockRows: 2);
        Assert.That(knn.Nearest([5, 0]), Is.EqualTo(new[] { 1, 3, 5, 0 }));
    }

    [Test]
    public void Score_HandBuiltClusters_CountsDisagreeingNeighbours()
    {
        // Class 0 near the x axis, class 1 near the y axis.
        float[] reference = [1, 0.1f, 1, -0.1f, 1, 0.2f, 0.1f, 1, -0.1f, 1, 0.2f, 1];
        using var knn = new KnnDetector(Backends.Cpu, reference, 2, [0, 0, 0, 1, 1, 1], k: 3);
        double[] scores = knn.Score([1, 0, 1, 0, 0, 1, 1, 1], [0, 1, 1, 0]);
        Assert.That(scores[0], Is.EqualTo(0.0), "on the x axis, predicted 0: all neighbours agree");
        Assert.That(scores[1], Is.EqualTo(1.0), "on the x axis, predicted 1: all neighbours disagree");
        Assert.That(scores[2], Is.EqualTo(0.0), "on the y axis, predicted 1");
        // At 45°, predicted 0: (1, 0.2) and (0.2, 1) are nearest (equal distances), then (1, 0.1) and (0.1, 1) tie
        // and the lower index, class 0's (1, 0.1), wins: neighbours of classes 0, 1, 0, so one of three disagrees.
        Assert.That(scores[3], Is.EqualTo(1 / 3.0).Within(1e-12));
        Assert.That(knn.Nearest([1, 1]), Is.EqualTo(new[] { 2, 5, 0 }));
    }

    [Test]
    public void Score_AdversarialEmbeddingsPlantedNearAnotherClass_AucNearOne()
    {
        var rng = new SeededRandom(nameof(Score_AdversarialEmbeddingsPlantedNearAnotherClass_AucNearOne));
        var (centres, reference, labels) = Clusters(rng, classes: 5, perClass: 40, d: 16, noise: 0.3f);
        using var knn = new KnnDetector(Backends.Cpu, reference, 16, labels, k: 7, blockRows: 64);
        int[] y = rng.Labels(100, 5);
        // Clean: near their own class and predicted as it. Adversarial: predicted as y (the label the attack keeps
        // for the model's output) but embedded near class y + 1, as when an attack moves the features and not the
        // decision, so their neighbours disagree.
        double[] clean = knn.Score(Near(rng, centres, y, 0.3f), y);
        double[] adversarial = knn.Score(Near(rng, centres, y.Select(c => (c + 1) % 5).ToArray(), 0.3f), y);
        Assert.That(Roc.FromGroups(clean, adversarial).Auc, Is.GreaterThan(0.99));
    }

    [Test]
    public void Score_AdversarialDrawnLikeClean_AucNearHalf()
    {
        var rng = new SeededRandom(nameof(Score_AdversarialDrawnLikeClean_AucNearHalf));
        // Heavy noise so scores spread over [0, 1] rather than all being 0.
        var (centres, reference, labels) = Clusters(rng, classes: 4, perClass: 50, d: 8, noise: 1.2f);
        using var knn = new KnnDetector(Backends.Cpu, reference, 8, labels, k: 9, blockRows: 64);
        int[] yClean = rng.Labels(400, 4), yAdv = rng.Labels(400, 4);
        double[] clean = knn.Score(Near(rng, centres, yClean, 1.2f), yClean);
        double[] adversarial = knn.Score(Near(rng, centres, yAdv, 1.2f), yAdv);
        Assert.That(clean.Distinct().Count(), Is.GreaterThan(3), "scores should not be degenerate");
        Assert.That(Roc.FromGroups(clean, adversarial).Auc, Is.EqualTo(0.5).Within(0.07));
    }

    [Test]
    public void Constructor_BadArguments_ThrowWithWhatIsWrong()
    {
        Assert.That(() => new KnnDetector(Backends.Cpu, [1, 2, 3], 2, [0], 1),
            Throws.ArgumentException.With.Message.Contain("not a whole number of rows"));
        Assert.That(() => new KnnDetector(Backends.Cpu, [1, 2, 3, 4], 2, [0, 1], 3),
            Throws.ArgumentException.With.Message.Contain("k must be in [1, 2]"));
        Assert.That(() => new KnnDetector(Backends.Cpu, [1, float.NaN], 2, [0], 1),
            Throws.ArgumentException.With.Message.Contain("row 0"));
        using var knn = new KnnDetector(Backends.Cpu, [1, 2, 3, 4], 2, [0, 1], 1);
        Assert.That(() => knn.Score([1, 2], [0, 1]), Throws.ArgumentException.With.Message.Contain("2 predictions"));
    }

    private static double Angular(ReadOnlySpan<float> u, ReadOnlySpan<float> v)
    {
        double dot = 0, uu = 0, vv = 0;
        for (int i = 0; i < u.Length; i++)
        {
            dot += (double)u[i] * v[i];
            uu += (double)u[i] * u[i];
            vv += (double)v[i] * v[i];
        }
        return 1 - Math.Abs(dot / (Math.Max(Math.Sqrt(uu), 1e-8) * Math.Max(Math.Sqrt(vv), 1e-8)));
    }

    /// <summary>K random unit centres in D dimensions and perClass reference points around each.</summary>
    private static (float[][] Centres, float[] Reference, int[] Labels) Clusters(SeededRandom rng, int classes,
        int perClass, int d, float noise)
    {
        var centres = Enumerable.Range(0, classes).Select(_ =>
        {
            float[] c = rng.Normal(d);
            float norm = MathF.Sqrt(c.Sum(v => v * v));
            return c.Select(v => v / norm).ToArray();
        }).ToArray();
        int[] labels = Enumerable.Range(0, classes * perClass).Select(i => i / perClass).ToArray();
        return (centres, Near(rng, centres, labels, noise), labels);
    }

    /// <summary>One point per class index: its centre plus Gaussian noise of std noise/√D per feature.</summary>
    private static float[] Near(SeededRandom rng, float[][] centres, int[] classes, float noise)
    {
        int d = centres[0].Length;
        var points = new float[classes.Length * d];
        for (int i = 0; i < classes.Length; i++)
        {
            float[] e = rng.Normal(d, noise / MathF.Sqrt(d));
            for (int j = 0; j < d; j++) points[i * d + j] = centres[classes[i]][j] + e[j];
        }
        return points;
    }
}
