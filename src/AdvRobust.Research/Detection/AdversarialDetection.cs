using System.Diagnostics;
using AdvRobust.Core.Attacks;
using AdvRobust.Core.Data;
using AdvRobust.Core.Nn;
using AdvRobust.Core.Tensors;
using AdvRobust.Distributed;

namespace AdvRobust.Research.Detection;

/// <summary>An attack under the name detection reports it by (e.g. "cw" for PGD on the CW margin loss).</summary>
public sealed record DetectionAttack(string Name, IAttack Attack);

/// <summary>k neighbours; images per forward pass or attack batch; rows per distance block (see
/// <see cref="KnnDetector"/>).</summary>
public sealed record DetectionSettings(int K = 10, int BatchSize = 256, int BlockRows = 2048);

/// <summary>
/// Metric-based adversarial detection (papers.md §1.6): embed the reference set (normally the training set or a
/// seeded subset of it) with the model, score every clean and every attacked test input by k-NN label disagreement
/// (<see cref="KnnDetector"/>), and measure how well the score separates them (<see cref="Roc"/>). Each attack runs on
/// every test sample, sample i of the test set being global sample i for the attack's random draws, so results do
/// not depend on the batch size. The model runs in eval mode throughout.
/// <para>
/// Over MPI ranks (the world given to <see cref="Run"/>), every rank embeds the whole reference set (a
/// forward pass per reference image; the k-NN needs all of it) and takes its contiguous block of the test points
/// (<see cref="Shards"/>) under their global sample ids: it embeds, attacks and scores only those. The per-sample
/// scores and predictions are then summed over the ranks into whole-test-set arrays (each entry is non-zero on one
/// rank only, so the sum is exact) and every rank measures the same ROC curves as one process would. A rank whose
/// block is empty (fewer test points than ranks) contributes zeros.
/// </para>
/// </summary>
public sealed class AdversarialDetection
{
    public AdversarialDetection(IReadOnlyList<DetectionAttack> attacks, DetectionSettings settings)
    {
        ArgumentNullException.ThrowIfNull(attacks);
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.K < 1) throw new ArgumentException($"k must be positive, got {settings.K}");
        if (settings.BatchSize < 1)
            throw new ArgumentException($"batch size must be positive, got {settings.BatchSize}");
        foreach (var a in attacks)
            if (a.Attack.NeedsTargets) throw new ArgumentException($"{a.Name} needs targets; detection gives none");
        if (attacks.Select(a => a.Name).Distinct().Count() != attacks.Count)
            throw new ArgumentException(
                $"attack names must be distinct: {string.Join(", ", attacks.Select(a => a.Name))}");
        Attacks = attacks;
        Settings = settings;
    }

    public IReadOnlyList<DetectionAttack> Attacks { get; }
    public DetectionSettings Settings { get; }

    public DetectionResult Run(Classifier model, LabeledImages reference, LabeledImages test,
        IProgress<DetectionProgress>? progress = null, ICommunicator? world = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(test);
        if (test.N == 0) throw new ArgumentException("detection needs at least one test image");
        var total = Stopwatch.StartNew();
        var backend = model.Parameters().FirstOrDefault()?.Value.Backend
            ?? throw new ArgumentException("the model has no parameters to tell its backend");
        int batch = Settings.BatchSize;
        var refEmbedded = Embedder.Embed(model, backend, reference, batch,
            Report(progress, "reference", reference.N));
        using var knn = new KnnDetector(backend, refEmbedded.Values, refEmbedded.Dim, reference.Labels, Settings.K,
            Settings.BlockRows);

        world ??= SingleProcess.Instance;
        var (first, count) = Shards.Of(test.N, world);
        var shard = world.Size == 1 ? test : test.Slice(first, count);
        var clean = Embedder.Embed(model, backend, shard, batch, Report(progress, "clean", shard.N));
        var (cleanScores, cleanPredictions) = Merge(knn.Score(clean.Values, clean.Predictions), clean.Predictions,
            first, test.N, world);
        bool[] cleanCorrect = Correct(cleanPredictions, test.Labels);

        var reports = new List<AttackDetection>();
        foreach (var attack in Attacks)
        {
            var watch = Stopwatch.StartNew();
            var adversarial = AttackAll(model, backend, shard, first, attack, progress);
            var (advScores, advPredictions) = Merge(knn.Score(adversarial.Values, adversarial.Predictions),
                adversarial.Predictions, first, test.N, world);
            bool[] advCorrect = Correct(advPredictions, test.Labels);
            Span<double> seconds = [watch.Elapsed.TotalSeconds];
            world.AllReduceMax(seconds); // the slowest rank's
            reports.Add(Measure(attack, test.N, cleanScores, cleanCorrect, advScores, advCorrect, seconds[0]));
        }
        int correct = cleanCorrect.Count(c => c);
        return new DetectionResult(model.GetType().Name, backend.DeviceName, Settings.K, reference.N, test.N, correct,
            (double)correct / test.N, reports, total.Elapsed.TotalSeconds);
    }

    /// <summary>One rank's block of scores and predictions (test points [first, first + block)) into whole-test-set
    /// arrays on every rank: zeros elsewhere, summed over the ranks (exact: one non-zero term per entry).</summary>
    private static (double[] Scores, int[] Predictions) Merge(double[] scores, int[] predictions, int first, int n,
        ICommunicator world)
    {
        if (world.Size == 1) return (scores, predictions);
        var allScores = new double[n];
        var allPredictions = new int[n];
        scores.CopyTo(allScores, first);
        predictions.CopyTo(allPredictions, first);
        world.AllReduceSum<double>(allScores);
        world.AllReduceSum<int>(allPredictions);
        return (allScores, allPredictions);
    }

    /// <summary>
    /// A seeded reference subset: the first <paramref name="count"/> indices of the shuffling loader's epoch-0
    /// permutation for <paramref name="seed"/> (Philox, <see cref="ShuffleLoader.EpochOrder"/>), in index order. The
    /// subsets for one seed are nested: the 1,000-sample subset is inside the 2,000-sample one.
    /// </summary>
    public static LabeledImages SeededSubset(LabeledImages data, int count, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (count < 1 || count > data.N)
            throw new ArgumentException($"{data.Source}: a subset of {count} from {data.N} images is not possible");
        if (count == data.N) return data;
        int[] chosen = ShuffleLoader.EpochOrder(data.N, seed, 0)[..count];
        Array.Sort(chosen);
        return data.Subset(chosen);
    }

    /// <summary>Both ROC framings of one attack (see <see cref="AttackDetection"/>).</summary>
    internal static AttackDetection Measure(DetectionAttack attack, int n, double[] cleanScores, bool[] cleanCorrect,
        double[] advScores, bool[] advCorrect, double seconds)
    {
        var negatives = new List<double>();
        var positives = new List<double>();
        for (int i = 0; i < n; i++)
        {
            if (!cleanCorrect[i]) continue;
            negatives.Add(cleanScores[i]);
            if (!advCorrect[i]) positives.Add(advScores[i]);
        }
        var misclassified = advCorrect.Select(c => !c).ToArray();
        int wrong = misclassified.Count(w => w);
        var cleanVsAdv = negatives.Count > 0 && positives.Count > 0 ? Roc.FromGroups(negatives, positives) : null;
        var wrongVsRight = wrong > 0 && wrong < n ? Roc.Compute(advScores, misclassified) : null;
        var a = attack.Attack;
        return new AttackDetection(attack.Name, a.Norm, a.Eps, a.Settings, n, negatives.Count, positives.Count, wrong,
            (double)(n - wrong) / n, cleanVsAdv, wrongVsRight, seconds);
    }

    /// <summary>Attacks every sample of <paramref name="test"/> (global ids from <paramref name="first"/>) in batches
    /// and embeds the adversarial examples.</summary>
    private Embedded AttackAll(Classifier model, IBackend backend, LabeledImages test, int first,
        DetectionAttack attack, IProgress<DetectionProgress>? progress)
    {
        if (test.N == 0) return new Embedded([], model.EmbeddingDim, []);
        var parts = new List<Embedded>();
        for (int start = 0; start < test.N; start += Settings.BatchSize)
        {
            int rows = Math.Min(Settings.BatchSize, test.N - start);
            using var x = Embedder.Batch(backend, test, start, rows);
            using var labels = Tensor.FromArray(backend, test.Labels.AsSpan(start, rows).ToArray(), rows);
            using var result = attack.Attack.Run(model, x, labels, SampleIds.Range((uint)(first + start), rows));
            parts.Add(Embedder.Embed(model, result.Adversarial));
            progress?.Report(new DetectionProgress(attack.Name, start + rows, test.N));
        }
        return new Embedded(parts.SelectMany(p => p.Values).ToArray(), parts[0].Dim,
            parts.SelectMany(p => p.Predictions).ToArray());
    }

    private static bool[] Correct(int[] predictions, int[] labels) =>
        predictions.Select((p, i) => p == labels[i]).ToArray();

    private static IProgress<int>? Report(IProgress<DetectionProgress>? progress, string stage, int total) =>
        progress is null ? null : new Forward(done => progress.Report(new DetectionProgress(stage, done, total)));

    /// <summary>Reports on the calling thread (Progress&lt;T&gt; would post to the thread pool).</summary>
    private sealed class Forward(Action<int> report) : IProgress<int>
    {
        public void Report(int value) => report(value);
    }
}
