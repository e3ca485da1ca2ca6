using System.Diagnostics;
using AdvRobust.Core.Data;
using AdvRobust.Core.Nn;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Core.Attacks;

/// <summary>
/// AutoAttack-style robust evaluation (Croce &amp; Hein 2020, autoattack.py run_standard_evaluation): clean accuracy,
/// then each attack in order on the points still robust (or, individually, on every clean-correct point), judging
/// each returned example by the model's prediction there and checking it lies in the eps-ball and [0, 1]. The model
/// runs in eval mode (restored afterwards). Sample i of the data set is global sample i for every attack's random
/// draws, so the robust flags do not depend on the batch size.
/// </summary>
public sealed class RobustEvaluation
{
    private readonly IReadOnlyList<IAttack> _attacks;

    public RobustEvaluation(IReadOnlyList<IAttack> attacks, int batchSize = 256, bool individual = false)
    {
        if (attacks.Count == 0) throw new ArgumentException("an evaluation needs at least one attack");
        if (batchSize < 1) throw new ArgumentException($"batch size {batchSize}");
        foreach (var a in attacks)
            if (a.NeedsTargets) throw new ArgumentException($"{a.Name} needs targets; an evaluation gives none");
        _attacks = attacks;
        BatchSize = batchSize;
        Individual = individual;
    }

    public int BatchSize { get; }
    public bool Individual { get; }
    public IReadOnlyList<IAttack> Attacks => _attacks;

    /// <summary>
    /// AutoAttack's standard suite in its order, with 100-step attacks: APGD-CE (1 restart), APGD-T (9 target
    /// classes), FAB-T (9 target classes, 1 restart) and Square (5000 queries, p_init 0.8, 1 restart), all in the same
    /// norm, for Linf and L2 alike.
    /// </summary>
    public static RobustEvaluation Standard(PgdNorm norm, float eps, ulong seed = 0, int batchSize = 256)
    {
        var attacks = new List<IAttack>
        {
            new Apgd(new ApgdSettings(norm, eps, Loss: AttackLossKind.CrossEntropy, Seed: seed)),
            new Apgd(new ApgdSettings(norm, eps, Loss: AttackLossKind.TargetedDlr, Seed: seed)),
            new Fab(new FabSettings(norm, eps, Seed: seed)),
        };
        attacks.Add(new Square(new SquareSettings(eps, Seed: seed, Norm: norm)));
        return new RobustEvaluation(attacks, batchSize);
    }

    /// <summary>
    /// Evaluates <paramref name="model"/> on <paramref name="data"/>; <paramref name="progress"/> hears after every
    /// batch, <paramref name="attackProgress"/> after every step or query inside a batch (for a progress bar).
    /// </summary>
    public EvaluationResult Run(Classifier model, LabeledImages data, IProgress<EvaluationProgress>? progress = null,
        IProgress<AttackProgress>? attackProgress = null) => Run(model, data, 0, data.N, progress, attackProgress);

    /// <summary>
    /// Evaluates only samples [<paramref name="start"/>, start + <paramref name="count"/>) of <paramref name="data"/>,
    /// each under its global index (one rank's shard of a distributed evaluation). The result's counts and flags cover
    /// the shard alone (<see cref="EvaluationResult.Robust"/> still has <c>data.N</c> entries, false outside it), and
    /// since every draw is keyed by the global index, the shards' counts add up to a whole run's.
    /// </summary>
    public EvaluationResult Run(Classifier model, LabeledImages data, int start, int count,
        IProgress<EvaluationProgress>? progress = null, IProgress<AttackProgress>? attackProgress = null)
    {
        if (start < 0 || count < 0 || start > data.N - count)
            throw new ArgumentOutOfRangeException(nameof(count), $"samples {start}..{start + count} of {data.N}");
        var total = Stopwatch.StartNew();
        var backend = model.Parameters().FirstOrDefault()?.Value.Backend
            ?? throw new ArgumentException("the model has no parameters to tell its backend");
        bool wasTraining = model.Training;
        model.Eval();
        try
        {
            int n = data.N, stages = _attacks.Count + 1;
            var all = Enumerable.Range(start, count).ToArray();
            var clean = new bool[n];
            foreach (var (rows, done) in Batches(all))
            {
                using var x = Images(backend, data, rows);
                int[] pred = Objective.Argmax(Objective.Logits(model, x, out int k), k);
                for (int i = 0; i < rows.Length; i++) clean[rows[i]] = pred[i] == data.Labels[rows[i]];
                progress?.Report(new EvaluationProgress("clean", 1, stages, done, count, clean.Count(c => c)));
            }
            double cleanSeconds = total.Elapsed.TotalSeconds;
            var robust = (bool[])clean.Clone();
            var reports = new List<AttackReport>();
            for (int a = 0; a < _attacks.Count; a++)
            {
                var attack = _attacks[a];
                var watch = Stopwatch.StartNew();
                int[] targets = Rows.Where(Individual ? clean : robust);
                var fooled = new bool[n];
                float maxPerturbation = 0f;
                foreach (var (rows, done) in Batches(targets))
                {
                    maxPerturbation = MathF.Max(maxPerturbation,
                        AttackBatch(model, backend, data, attack, rows, fooled, attackProgress));
                    for (int i = 0; i < n; i++) if (fooled[i] && !Individual) robust[i] = false;
                    progress?.Report(new EvaluationProgress(attack.Name, a + 2, stages, done, targets.Length,
                        robust.Count(r => r)));
                }
                int fooledCount = fooled.Count(f => f);
                if (Individual) for (int i = 0; i < n; i++) robust[i] &= !fooled[i];
                int after = Individual ? clean.Count(c => c) - fooledCount : robust.Count(r => r);
                reports.Add(new AttackReport(attack.Name, attack.Norm, attack.Eps, attack.Settings, targets.Length,
                    fooledCount, after, Fraction(after, n), watch.Elapsed.TotalSeconds, maxPerturbation));
            }
            int cleanCount = clean.Count(c => c), robustCount = robust.Count(r => r);
            string mode = Individual ? "individual" : "sequential";
            return new EvaluationResult(model.GetType().Name, backend.DeviceName, mode,
                n, BatchSize, cleanCount, Fraction(cleanCount, n), robustCount, Fraction(robustCount, n), reports,
                cleanSeconds, total.Elapsed.TotalSeconds, robust);
        }
        finally
        {
            if (wasTraining) model.Train();
        }
    }

    /// <summary>Runs one attack on some samples, marks the fooled ones, returns the largest perturbation.</summary>
    private static float AttackBatch(Classifier model, IBackend backend, LabeledImages data, IAttack attack, int[] rows,
        bool[] fooled, IProgress<AttackProgress>? progress)
    {
        using var x = Images(backend, data, rows);
        int[] y = Rows.Pick(data.Labels, rows);
        using var labels = Tensor.FromArray(backend, y, rows.Length);
        var ids = rows.Select(r => (uint)r).ToArray();
        using var result = attack.Run(model, x, labels, ids, null, progress);
        int[] pred = Objective.Argmax(Objective.Logits(model, result.Adversarial, out int k), k);
        float[] adv = result.Adversarial.ToArray(), clean = x.ToArray();
        int d = data.SampleSize;
        float maxNorm = 0f;
        for (int i = 0; i < rows.Length; i++)
        {
            double norm = 0;
            for (int e = i * d; e < (i + 1) * d; e++)
            {
                if (!(adv[e] >= 0f && adv[e] <= 1f))
                    throw new InvalidOperationException(
                        $"{attack.Name} returned pixel {adv[e]} outside [0, 1] for sample {rows[i]}");
                double diff = Math.Abs((double)adv[e] - clean[e]);
                norm = attack.Norm == PgdNorm.Linf ? Math.Max(norm, diff) : norm + diff * diff;
            }
            if (attack.Norm == PgdNorm.L2) norm = Math.Sqrt(norm);
            if (norm > attack.Eps * (1 + 1e-5) + 1e-6)
                throw new InvalidOperationException(
                    $"{attack.Name} returned a perturbation of {attack.Norm} norm {norm:G6} > eps {attack.Eps} " +
                    $"for sample {rows[i]}");
            maxNorm = MathF.Max(maxNorm, (float)norm);
            if (pred[i] != y[i]) fooled[rows[i]] = true;
        }
        return maxNorm;
    }

    private IEnumerable<(int[] Rows, int Done)> Batches(int[] samples)
    {
        for (int start = 0; start < samples.Length; start += BatchSize)
        {
            int count = Math.Min(BatchSize, samples.Length - start);
            yield return (samples[start..(start + count)], start + count);
        }
    }

    private static Tensor Images(IBackend backend, LabeledImages data, int[] rows)
    {
        int d = data.SampleSize;
        var pixels = new float[(long)rows.Length * d];
        for (int i = 0; i < rows.Length; i++) data.Image(rows[i]).CopyTo(pixels.AsSpan(i * d, d));
        return Tensor.FromArray(backend, pixels, rows.Length, data.C, data.H, data.W);
    }

    private static double Fraction(int count, int n) => n == 0 ? 0 : (double)count / n;
}
