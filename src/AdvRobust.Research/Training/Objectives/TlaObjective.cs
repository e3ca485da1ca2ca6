using AdvRobust.Core.Attacks;
using AdvRobust.Core.Autograd;
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
public sealed class TlaObjective : ITrainingObjective
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

    public StepStats Step(ImageClassifier model, TrainingBatch batch)
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
        ulong key = StepRandom.StepKey(batch.Seed, batch.Step);
        var result = new TlaBatch
        {
            Pool = _sampler.Pool(c.PoolMultiplier * labels.Length, key),
            PositiveIndices = _sampler.Positives(labels, batch.SampleIds, key),
        };
        try
        {
            result.Adversarial = ObjectiveSteps.PgdAdversarial(model, batch, c.Norm, c.Eps, c.StepSize, c.Steps,
                c.RandomStart, trainMode: false);
            result.NegativeSlots = Mine(model, result.Adversarial, batch.Labels, result.Pool, labels.Length);
            result.Rows = Enumerable.Range(0, labels.Length).Where(i => result.NegativeSlots[i] >= 0).ToArray();
            result.Positives = ObjectiveSteps.Images(backend, data, result.PositiveIndices);
            if (result.Rows.Length > 0)
                result.Negatives = ObjectiveSteps.Images(backend, data,
                    result.Rows.Select(i => result.Pool[result.NegativeSlots[i]]).ToArray());
            if (result.Rows.Length > 0 && result.Rows.Length < labels.Length)
                result.RowSelection = OneHotRows(backend, result.Rows, labels.Length);
            model.Train();
            return result;
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    /// <summary>Per anchor, the pool slot of its hardest other-class image (−1 if none), all in eval mode.</summary>
    private int[] Mine(ImageClassifier model, Tensor adversarial, Tensor labels, int[] pool, int chunk)
    {
        var data = _sampler.Data;
        var backend = adversarial.Backend;
        using var mode = new ModelMode(model, keepTrainingMode: false);
        using var anchors = ObjectiveSteps.Embed(model, adversarial);
        int d = anchors.Shape[1];
        // The pool is embedded B images at a time, so a pool of 10·B costs no more memory than a batch.
        var host = new float[(long)pool.Length * d];
        for (int start = 0; start < pool.Length; start += chunk)
        {
            using var images = ObjectiveSteps.Images(backend, data, pool[start..Math.Min(start + chunk, pool.Length)]);
            using var embedded = ObjectiveSteps.Embed(model, images);
            embedded.ToArray().CopyTo(host, (long)start * d);
        }
        using var poolEmbeddings = Tensor.FromArray(backend, host, pool.Length, d);
        using var poolLabels = Tensor.FromArray(backend, pool.Select(i => data.Labels[i]).ToArray(), pool.Length);
        using var mined = Ops.MineTriplets(HardestNegative, anchors, labels, poolEmbeddings, poolLabels);
        return mined.NegativeIndex.ToArray<int>();
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
        Variable Select(Variable rows) =>
            inputs.RowSelection is null ? rows : F.MatMul(tape, tape.Constant(inputs.RowSelection), rows);
        Variable SumOfSquares(Variable v) => F.Sum(tape, F.Unary(tape, UnaryOp.Square, v));
        Variable Sum(Variable? total, Variable v) => total is null ? v : F.Add(tape, total, v);
    }

    /// <summary>V×B: row k is one-hot at batch row rows[k] (a gather as a GEMM, so gradients flow back).</summary>
    private static Tensor OneHotRows(IBackend backend, int[] rows, int b)
    {
        var host = new float[rows.Length * b];
        for (int k = 0; k < rows.Length; k++) host[k * b + rows[k]] = 1f;
        return Tensor.FromArray(backend, host, rows.Length, b);
    }

    public void Dispose()
    {
    }
}
