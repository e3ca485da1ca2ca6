using AdvRobust.Core.Attacks;
using AdvRobust.Core.Nn;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Research.Certification;

/// <summary>
/// What CERTIFY returns for one point: the predicted class (or <see cref="SmoothedClassifier.Abstain"/>), the certified
/// l2 radius σ·Φ⁻¹(p_A) (0 when abstaining), the count n_A of the N estimation draws that gave that class, and p_A,
/// the Clopper–Pearson lower bound on its probability.
/// </summary>
public readonly record struct Certificate(int Predicted, double Radius, int Count, int N, double PLower)
{
    public bool Abstained => Predicted == SmoothedClassifier.Abstain;
}

/// <summary>What PREDICT returns: the class (or abstain), the top two counts of the N draws and the test's p-value.</summary>
public readonly record struct SmoothedPrediction(int Predicted, int TopCount, int RunnerUpCount, double PValue)
{
    public bool Abstained => Predicted == SmoothedClassifier.Abstain;
}

/// <summary>
/// The smoothed classifier g(x) = argmax_c P(f(x + δ) = c), δ ~ N(0, σ²I), of randomized smoothing (Cohen, Rosenfeld
/// &amp; Kolter, ICML 2019, Algorithm 1 and locuslab/smoothing core.py), estimated by Monte Carlo with a base
/// <see cref="Classifier"/> f in eval mode (restored afterwards).
///
/// Sampling: the image is replicated into batches of noisy copies on the device by <see cref="Ops.GaussianNoise"/>,
/// classified, and the argmaxes are counted on the host. Copy j of point i draws its noise from Philox keyed by
/// (seed, stream = i, sample = j): CERTIFY's selection draws are copies 0..N0−1 and its estimation draws copies
/// N0..N0+N−1; PREDICT's are copies 2³¹..2³¹+N−1, so the two never share noise. Results are therefore a pure function
/// of (model, image, seed, point id, N0, N) and do not depend on the batch size up to the float rounding of the forward
/// pass.
/// </summary>
public sealed class SmoothedClassifier
{
    /// <summary>The class returned when the smoothed classifier abstains (Cohen's ABSTAIN).</summary>
    public const int Abstain = -1;

    private const uint PredictFirstCopy = 1u << 31;

    private readonly Classifier _model;

    public SmoothedClassifier(Classifier model, float sigma, int batchSize = 1000, ulong seed = 0)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (!(sigma > 0 && float.IsFinite(sigma))) throw new ArgumentException($"sigma must be finite and > 0, got {sigma}");
        if (batchSize < 1) throw new ArgumentException($"batch size must be >= 1, got {batchSize}");
        if (model.Classes < 2) throw new ArgumentException($"a smoothed classifier needs >= 2 classes, got {model.Classes}");
        _model = model;
        Sigma = sigma;
        BatchSize = batchSize;
        Seed = seed;
    }

    public float Sigma { get; }
    public int BatchSize { get; }
    public ulong Seed { get; }

    /// <summary>
    /// CERTIFY(f, σ, x, N0, N, α): ĉ = the most frequent class of N0 draws (lowest index on a tie); n_A = how many of
    /// N fresh draws give ĉ; p_A = ClopperPearsonLower(n_A, N, α). Abstain when p_A &lt; ½, else return ĉ with radius
    /// σ·Φ⁻¹(p_A). With probability at least 1 − α over the draws, g is then constant on the l2 ball of that radius.
    /// </summary>
    /// <param name="x">1×C×H×W on the model's backend.</param>
    /// <param name="pointId">The point's global index (the test index): the Philox stream of its draws.</param>
    /// <param name="progress">Hears the number of draws done so far, out of N0 + N, after every batch.</param>
    /// <param name="cancellation">Checked before every batch; when set, throws
    /// <see cref="OperationCanceledException"/> (the point's draws so far are discarded).</param>
    public Certificate Certify(Tensor x, uint pointId, int n0, int n, double alpha, IProgress<int>? progress = null,
        CancellationToken cancellation = default)
    {
        if (n0 < 1 || n < 1 || (long)n0 + n > PredictFirstCopy)
            throw new ArgumentException($"certify needs N0 >= 1, N >= 1 and N0 + N <= 2^31, got N0={n0}, N={n}");
        CheckAlpha(alpha);
        int[] selection = SampleCounts(x, pointId, 0, n0, progress, 0, cancellation);
        int top = Argmax(selection);
        int[] estimation = SampleCounts(x, pointId, (uint)n0, n, progress, n0, cancellation);
        int count = estimation[top];
        double pLower = BinomialStatistics.ClopperPearsonLower(count, n, alpha);
        // Cohen's core.py abstains on pA < 0.5; at exactly ½ it certifies radius 0.
        return pLower < 0.5
            ? new Certificate(Abstain, 0, count, n, pLower)
            : new Certificate(top, Sigma * StandardNormal.InverseCdf(pLower), count, n, pLower);
    }

    /// <summary>
    /// PREDICT(f, σ, x, N, α): the top two classes of N draws with counts n₁ ≥ n₂; return the top one unless the
    /// two-sided binomial test of n₁ out of n₁ + n₂ against ½ has p-value &gt; α (then abstain). The probability of
    /// returning a class other than g(x) is at most α.
    /// </summary>
    public SmoothedPrediction Predict(Tensor x, uint pointId, int n, double alpha, IProgress<int>? progress = null)
    {
        if (n < 1) throw new ArgumentException($"predict needs N >= 1, got N={n}");
        CheckAlpha(alpha);
        int[] counts = SampleCounts(x, pointId, PredictFirstCopy, n, progress, 0);
        int top = Argmax(counts);
        int second = -1;
        for (int c = 0; c < counts.Length; c++)
            if (c != top && (second < 0 || counts[c] > counts[second])) second = c;
        int topCount = counts[top], secondCount = counts[second];
        double pValue = BinomialStatistics.BinomialTestHalf(topCount, topCount + secondCount);
        return new SmoothedPrediction(pValue > alpha ? Abstain : top, topCount, secondCount, pValue);
    }

    /// <summary>
    /// How many of the noisy copies firstCopy..firstCopy+count−1 of x the base classifier puts in each class, in
    /// batches of at most <see cref="BatchSize"/>. <paramref name="progress"/> hears offset + copies done.
    /// </summary>
    public int[] SampleCounts(Tensor x, uint pointId, uint firstCopy, int count, IProgress<int>? progress = null,
        int progressOffset = 0, CancellationToken cancellation = default)
    {
        CheckImage(x);
        if (count < 0 || (long)firstCopy + count > 1L << 32)
            throw new ArgumentException($"copies {firstCopy}..{(long)firstCopy + count - 1} pass 2^32");
        var counts = new int[_model.Classes];
        using var mode = new ModelMode(_model, keepTrainingMode: false);
        var dims = x.Shape.Dims.ToArray();
        Tensor? full = null;
        try
        {
            for (int done = 0; done < count;)
            {
                cancellation.ThrowIfCancellationRequested();
                int rows = Math.Min(BatchSize, count - done);
                dims[0] = rows;
                full ??= Tensor.Empty(x.Backend, DType.Float32, dims);
                using var tail = rows == full.Shape[0] ? null : Tensor.Empty(x.Backend, DType.Float32, dims);
                var noisy = tail ?? full;
                Ops.GaussianNoise(x, noisy, Sigma, Seed, pointId, firstCopy + (uint)done);
                float[] logits = Predictions.Logits(_model, noisy, out int classes);
                foreach (int c in Predictions.Argmax(logits, classes)) counts[c]++;
                done += rows;
                progress?.Report(progressOffset + done);
            }
        }
        finally
        {
            full?.Dispose();
        }
        return counts;
    }

    private void CheckImage(Tensor x)
    {
        var want = _model.InputShape;
        var s = x.Shape;
        if (x.DType != DType.Float32 || s.Rank != want.Length + 1 || s[0] != 1 || !s.Dims[1..].SequenceEqual(want))
            throw new ArgumentException(
                $"the smoothed classifier takes one 1×{string.Join("×", want)} Float32 image, got {x}");
    }

    private static void CheckAlpha(double alpha)
    {
        if (!(alpha > 0 && alpha < 1)) throw new ArgumentException($"alpha must be in (0, 1), got {alpha}");
    }

    /// <summary>The most frequent class; the lowest index wins a tie (numpy's argmax, as in Cohen's code).</summary>
    private static int Argmax(int[] counts)
    {
        int best = 0;
        for (int c = 1; c < counts.Length; c++) if (counts[c] > counts[best]) best = c;
        return best;
    }
}
