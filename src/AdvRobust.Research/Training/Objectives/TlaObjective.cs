using AdvRobust.Core.Attacks;
using AdvRobust.Core.Autograd;
using AdvRobust.Core.Data;
using AdvRobust.Core.Nn.Models;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Research.Training.Objectives;

/// <summary>
/// Triplet Loss Adversarial training (Mao et al. 2019; papers.md §1.2–1.5, recipe §1.8). Per step:
/// <list type="number">
/// <item>Anchors x' = PGD on the cross-entropy, batch norm in eval mode (the <see cref="Pgd"/> of evaluation).</item>
/// <item>Negative pool: P = poolMultiplier·B distinct clean training images drawn per step, embedded in eval mode
/// without gradients, as are the anchors. Each anchor's negative is the pool image of another class with the smallest
/// angular distance 1 − |cos| (the largest |cos|), from the fused <see cref="Ops.MineTriplets"/> (BatchHard: the
/// nearest other-class row; same-class rows are excluded outright, not zeroed as in the reference code).</item>
/// <item>Positives: a different random clean training image of the sample's class ("A1_Ap_B"), and with
/// selfPositive also the sample's own clean image ("A_Ap_B").</item>
/// <item>Train-mode forward passes with gradients, one per branch so each has its own batch statistics: anchors,
/// positives (one pass per term), negatives.</item>
/// </list>
/// loss = mean_i CE(f(x'_i), y_i) + λ1 · Σ_terms [ mean_i max(D(a_i, p_i) − D(a_i, n_i) + α, 0)
/// + λ2 · mean(a² + p² + n²) ], with a, p, n the penultimate embeddings, D = 1 − |cos| and the norm term averaged over
/// rows and features of the unnormalised embeddings (the reference code's form). Rows whose pool holds no image of
/// another class (possible only with tiny pools) are left out of the triplet terms. Components: "ce", "triplet" (the
/// hinge means summed over terms), "norm" (likewise), so loss = ce + λ1·(triplet + λ2·norm); with two terms also
/// "triplet.random", "norm.random", "triplet.self", "norm.self". The reported accuracy is on the anchors.
/// </summary>
public sealed class TlaObjective : IDeviceStatsObjective
{
    private static readonly MiningParams HardestNegative = new(MiningKind.BatchHard, DistanceKind.Angular);
    private readonly TlaSampler _sampler;

    public TlaObjective(TlaSettings settings, ObjectiveContext context)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(context.TrainSet);
        settings.Validate();
        Config = settings;
        _sampler = new TlaSampler(context.TrainSet);
    }

    public TlaSettings Config { get; }
    public string Name => "tla";
    public object Settings => Config;

    public StepStats Step(ImageClassifier model, TrainingBatch batch) =>
        ObjectiveSteps.ReadNow(((IDeviceStatsObjective)this).StepOnDevice(model, batch));

    PendingStats IDeviceStatsObjective.StepOnDevice(ImageClassifier model, TrainingBatch batch)
    {
        int[] labels = ObjectiveSteps.Check(Name, model, batch);
        using var inputs = Prepare(model, batch, labels);
        return ObjectiveSteps.Train(model, batch, labels, tape => Forward(tape, model, inputs, batch));
    }

    /// <summary>Anchors, positives, pool and mined negatives of this step. Leaves the model in train mode.</summary>
    internal TlaBatch Prepare(ImageClassifier model, TrainingBatch batch, int[] labels)
    {
        var c = Config;
        var data = _sampler.Data;
        var backend = batch.X.Backend;
        int[] shape = model.InputShape;
        if (data.C != shape[0] || data.H != shape[1] || data.W != shape[2])
            throw new ArgumentException(
                $"tla: the training set {data} does not match the model's input {string.Join("×", shape)}");
        var draws = Draw(batch, labels);
        var uploads = batch.Device?.Uploads;
        var result = new TlaBatch
        {
            Pool = draws.Pool, PositiveIndices = draws.Positives, Rows = draws.Rows, OwnsUploads = uploads is null,
        };
        try
        {
            result.Adversarial = ObjectiveSteps.PgdAdversarial(model, batch, c.Norm, c.Eps, c.StepSize, c.Steps,
                c.RandomStart, trainMode: false);
            int[] poolLabels = result.Pool.Select(i => data.Labels[i]).ToArray();
            int p = result.Pool.Length, b = labels.Length, v = result.Rows.Length;
            // The pool's images go up once and stay on the device: the mining embeds them, the negatives are
            // gathered from them by the mined slots, which never come to the host. A graphed step finds them (and
            // the positives, the pool labels, the row index) uploaded by its Prepare, before the step.
            using var ownPool = uploads is null ? ObjectiveSteps.Images(backend, data, result.Pool) : null;
            var poolImages = ownPool ?? uploads!.Get(PoolName, [p, data.C, data.H, data.W]);
            using var ownPoolLabels = uploads is null ? Tensor.FromArray(backend, poolLabels, p) : null;
            result.NegativeIndex = Mine(model, result.Adversarial, batch.Labels, poolImages,
                ownPoolLabels ?? uploads!.Get(PoolLabelsName, p), b);
            result.Positives = uploads is null
                ? ObjectiveSteps.Images(backend, data, result.PositiveIndices)
                : uploads.Get(PositivesName, [b, data.C, data.H, data.W]);
            if (v > 0 && v < b)
                result.RowIndex = uploads is null ? Tensor.FromArray(backend, result.Rows, v) : uploads.Get(RowsName, v);
            if (v > 0)
                result.Negatives = Negatives(poolImages, result.NegativeIndex, result.RowIndex);
            model.Train();
            return result;
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    private const string PoolName = "tla.pool", PoolLabelsName = "tla.pool-labels", PositivesName = "tla.positives",
        RowsName = "tla.rows";

    /// <summary>The host draws of a step: pool and positive indices, and the rows that have a negative.</summary>
    private (int[] Pool, int[] Positives, int[] Rows) Draw(TrainingBatch batch, int[] labels)
    {
        ulong key = StepRandom.StepKey(batch.Seed, batch.Step);
        // the whole step's pool, also on a data-parallel rank (keyed by the step: every rank draws the same one)
        int[] pool = _sampler.Pool(Config.PoolMultiplier * (batch.GlobalRows ?? labels.Length), key);
        int[] poolLabels = pool.Select(i => _sampler.Data.Labels[i]).ToArray();
        return (pool, _sampler.Positives(labels, batch.SampleIds, key), RowsWithNegative(labels, poolLabels));
    }

    /// <summary>The graphed step's host half (<see cref="TrainStepGraph"/>): the draws, and their images, labels and
    /// row index uploaded before the step.</summary>
    void IDeviceStatsObjective.Prepare(ImageClassifier model, TrainingBatch batch)
    {
        var data = _sampler.Data;
        int[] labels = ObjectiveSteps.Check(Name, model, batch);
        var (pool, positives, rows) = Draw(batch, labels);
        var uploads = batch.Device!.Uploads;
        uploads.Put(PoolName, Pixels(data, pool), pool.Length, data.C, data.H, data.W);
        uploads.Put(PoolLabelsName, pool.Select(i => data.Labels[i]).ToArray(), pool.Length);
        uploads.Put(PositivesName, Pixels(data, positives), positives.Length, data.C, data.H, data.W);
        if (rows.Length > 0 && rows.Length < labels.Length) uploads.Put(RowsName, rows, rows.Length);
        _rowsDrawn = rows.Length;
    }

    /// <summary>The captured work depends on how many rows have a negative (V, from the pool's labels).</summary>
    object? IDeviceStatsObjective.GraphKey(TrainingBatch batch) => _rowsDrawn;

    private int _rowsDrawn;  // V of the step last prepared (its graph key); the draws themselves are keyed, not state

    private static float[] Pixels(LabeledImages data, int[] indices)
    {
        int size = data.SampleSize;
        var host = new float[(long)indices.Length * size];
        for (int k = 0; k < indices.Length; k++) data.Image(indices[k]).CopyTo(host.AsSpan(k * size, size));
        return host;
    }

    /// <summary>
    /// The batch rows whose pool holds an image of another class, from the labels alone (what the mining's −1 means):
    /// every row when the pool has two classes or more, else the rows not of the pool's one class.
    /// </summary>
    private static int[] RowsWithNegative(int[] labels, int[] poolLabels)
    {
        bool mixed = poolLabels.Any(l => l != poolLabels[0]);
        return Enumerable.Range(0, labels.Length).Where(i => mixed || labels[i] != poolLabels[0]).ToArray();
    }

    /// <summary>Per anchor, the pool slot of its hardest other-class image (−1 if none), all in eval mode, as an
    /// Int32 [B] tensor on the device. The pool (P×C×H×W, on the device) is embedded B images at a time, so a pool of
    /// 10·B costs no more activation memory than a batch; each chunk's embeddings are copied into their rows of the
    /// P×D pool embeddings on the device.</summary>
    private static Tensor Mine(ImageClassifier model, Tensor adversarial, Tensor labels, Tensor poolImages,
        Tensor poolLabels, int chunk)
    {
        var backend = adversarial.Backend;
        int p = poolImages.Shape[0];
        using var mode = new ModelMode(model, keepTrainingMode: false);
        using var anchors = ObjectiveSteps.Embed(model, adversarial);
        int d = anchors.Shape[1];
        using var poolEmbeddings = Tensor.Empty(backend, DType.Float32, p, d);
        for (int start = 0; start < p; start += chunk)
        {
            int count = Math.Min(chunk, p - start);
            using var images = Tensor.Empty(backend, DType.Float32, [count, .. poolImages.Shape.Dims.ToArray()[1..]]);
            Ops.CopyRows(poolImages, start, images, 0, count);
            using var embedded = ObjectiveSteps.Embed(model, images);
            Ops.CopyRows(embedded, 0, poolEmbeddings, start, count);
        }
        using var mined = Ops.MineTriplets(HardestNegative, anchors, labels, poolEmbeddings, poolLabels);
        var negative = Tensor.Empty(backend, DType.Int32, anchors.Shape[0]);
        Ops.Copy(mined.NegativeIndex, negative);
        return negative;
    }

    /// <summary>The V mined negative images: the pool images at the mined slots, then (when V &lt; B) the rows that
    /// have one. Two device gathers, no host.</summary>
    private static Tensor Negatives(Tensor poolImages, Tensor negativeIndex, Tensor? rowIndex)
    {
        var backend = poolImages.Backend;
        int p = poolImages.Shape[0], b = negativeIndex.Shape[0], size = (int)poolImages.Shape.PerSample;
        int[] image = poolImages.Shape.Dims.ToArray()[1..];
        var all = Tensor.Empty(backend, DType.Float32, [b, .. image]);
        Ops.GatherRows(poolImages.View(p, size), negativeIndex, all.View(b, size));
        if (rowIndex is null) return all;
        using (all)
        {
            int v = rowIndex.Shape[0];
            var selected = Tensor.Empty(backend, DType.Float32, [v, .. image]);
            Ops.GatherRows(all.View(b, size), rowIndex, selected.View(v, size));
            return selected;
        }
    }

    /// <summary>The loss on the fixed inputs of a step (model already in train mode).</summary>
    internal LossTerms Forward(Tape tape, ImageClassifier model, TlaBatch inputs, TrainingBatch batch)
    {
        var c = Config;
        var anchor = model.Forward(tape, tape.Constant(inputs.Adversarial));
        var ce = F.Mean(tape, F.CrossEntropy(tape, anchor.Logits, batch.Labels, c.LabelSmoothing));
        if (inputs.Negatives is null)
        {
            var zero = tape.Empty(1);
            Ops.Fill(zero, 0f);
            return new LossTerms(ce, anchor.Logits, [("ce", ce), ("triplet", tape.Constant(zero)),
                ("norm", tape.Constant(zero))]);
        }

        var terms = new List<(string Name, Variable Positive)> { ("random", Embed(inputs.Positives)) };
        if (c.SelfPositive) terms.Add(("self", Embed(batch.X)));
        var n = model.Forward(tape, tape.Constant(inputs.Negatives)).Embedding;
        var a = Select(anchor.Embedding);
        var sumSquares = F.Add(tape, SumOfSquares(a), SumOfSquares(n));
        float perElement = 1f / (n.Shape[0] * (float)n.Shape[1]);

        var parts = new List<(string Name, Variable Value)>();
        Variable? triplet = null, norm = null, weighted = null;
        foreach (var (name, positive) in terms)
        {
            var p = Select(positive);
            var hinge = F.Mean(tape, F.TripletLoss(tape, DistanceKind.Angular, c.Margin, a, p, n));
            var termNorm = F.Scale(tape, F.Add(tape, sumSquares, SumOfSquares(p)), perElement);
            var term = F.Add(tape, hinge, F.Scale(tape, termNorm, c.NormWeight));
            triplet = Sum(triplet, hinge);
            norm = Sum(norm, termNorm);
            weighted = Sum(weighted, term);
            if (terms.Count > 1) parts.AddRange([("triplet." + name, hinge), ("norm." + name, termNorm)]);
        }
        var loss = F.Add(tape, ce, F.Scale(tape, weighted!, c.TripletWeight));
        return new LossTerms(loss, anchor.Logits, [("ce", ce), ("triplet", triplet!), ("norm", norm!), .. parts]);

        Variable Embed(Tensor images) => model.Forward(tape, tape.Constant(images)).Embedding;
        Variable Select(Variable rows) => inputs.RowIndex is null ? rows : F.GatherRows(tape, rows, inputs.RowIndex);
        Variable SumOfSquares(Variable v) => F.Sum(tape, F.Unary(tape, UnaryOp.Square, v));
        Variable Sum(Variable? total, Variable v) => total is null ? v : F.Add(tape, total, v);
    }

    public void Dispose()
    {
    }
}
