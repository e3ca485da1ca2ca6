using AdvRobust.Core.Tensors;

namespace AdvRobust.Research.Detection;

/// <summary>
/// k-nearest-neighbour disagreement in embedding space (papers.md §1.6, the TLA paper's detector): for an input with
/// embedding e and predicted class p, score = |{j ∈ kNN(e) : label_j ≠ p}| / k, the neighbours being the k
/// reference (training) embeddings nearest to e under TLA's angular distance 1 − |cos|. Higher = more suspicious: an input the
/// model labels p but that sits among other classes' training points is likely adversarial or misclassified.
/// Shape letters: M reference rows, N query rows, D embedding dimension.
/// <para>
/// Distances come from <see cref="Ops.PairwiseDistance(DistanceKind, Tensor, Tensor, Tensor)"/> on the backend, one
/// block of at most <c>blockRows</c> queries × <c>blockRows</c> references at a time, so memory stays bounded
/// (blockRows² floats) whatever M and N are. The top-k selection runs on the host over each block; references are
/// scanned in index order and a neighbour displaces another only when strictly nearer, so among equal distances
/// the lowest reference index wins (deterministic, and the same on CPU and GPU up to the distances' rounding).
/// An all-zero embedding (every ReLU feature dead) is at distance 1 from everything (the cosine's norm floor), so
/// its neighbours are simply the k first references and its score carries no information.
/// </para>
/// </summary>
public sealed class KnnDetector : IDisposable
{
    private readonly IBackend _backend;
    private readonly List<Tensor> _referenceBlocks = [];
    private readonly int[] _labels;

    /// <param name="backend">Where the distances are computed.</param>
    /// <param name="embeddings">M×D reference embeddings, row-major.</param>
    /// <param name="dim">D.</param>
    /// <param name="labels">M reference labels (the true classes of the reference images).</param>
    /// <param name="k">Neighbours per query, 1 ≤ k ≤ M.</param>
    /// <param name="blockRows">Rows per block of the distance computation (memory: blockRows² floats).</param>
    public KnnDetector(IBackend backend, float[] embeddings, int dim, int[] labels, int k, int blockRows = 2048)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(labels);
        int m = Rows(embeddings, dim, "reference embeddings");
        if (labels.Length != m) throw new ArgumentException($"{m} reference embeddings but {labels.Length} labels");
        if (k < 1 || k > m) throw new ArgumentException($"k must be in [1, {m}] (the reference count), got {k}");
        if (blockRows < 1) throw new ArgumentException($"blockRows must be positive, got {blockRows}");
        (_backend, _labels, K, Dim, Count, BlockRows) = (backend, (int[])labels.Clone(), k, dim, m, blockRows);
        try
        {
            for (int start = 0; start < m; start += blockRows)
            {
                int rows = Math.Min(blockRows, m - start);
                _referenceBlocks.Add(Tensor.FromArray<float>(backend, embeddings.AsSpan(start * dim, rows * dim),
                    rows, dim));
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public int K { get; }
    public int Dim { get; }

    /// <summary>M, the number of reference embeddings.</summary>
    public int Count { get; }

    public int BlockRows { get; }

    /// <summary>The reference label of reference row <paramref name="index"/>.</summary>
    public int Label(int index) => _labels[index];

    /// <summary>
    /// The k nearest reference rows of each query (N×k, row-major), nearest first, ties to the lower index.
    /// </summary>
    public int[] Nearest(float[] queries)
    {
        int n = Rows(queries, Dim, "query embeddings");
        var index = new int[n * K];
        var distance = new float[n * K];
        Array.Fill(index, -1);
        Array.Fill(distance, float.PositiveInfinity);
        for (int q0 = 0; q0 < n; q0 += BlockRows)
        {
            int qRows = Math.Min(BlockRows, n - q0);
            using var query = Tensor.FromArray<float>(_backend, queries.AsSpan(q0 * Dim, qRows * Dim), qRows, Dim);
            int r0 = 0;
            foreach (var reference in _referenceBlocks)
            {
                int rRows = reference.Shape[0];
                using var block = Ops.PairwiseDistance(DistanceKind.Angular, query, reference);
                float[] d = block.ToArray();
                int offset = r0;
                Parallel.For(0, qRows, i => Insert(d.AsSpan(i * rRows, rRows), offset,
                    distance.AsSpan((q0 + i) * K, K), index.AsSpan((q0 + i) * K, K)));
                r0 += rRows;
            }
        }
        return index;
    }

    /// <summary>
    /// Disagreement scores in [0, 1], one per query: the fraction of its k nearest reference rows whose label differs
    /// from <paramref name="predictions"/>[i] (the model's predicted class for query i).
    /// </summary>
    public double[] Score(float[] queries, int[] predictions)
    {
        ArgumentNullException.ThrowIfNull(predictions);
        int n = Rows(queries, Dim, "query embeddings");
        if (predictions.Length != n)
            throw new ArgumentException($"{n} query embeddings but {predictions.Length} predictions");
        int[] nearest = Nearest(queries);
        var scores = new double[n];
        for (int i = 0; i < n; i++)
        {
            int disagree = 0;
            for (int j = 0; j < K; j++)
                if (_labels[nearest[i * K + j]] != predictions[i]) disagree++;
            scores[i] = (double)disagree / K;
        }
        return scores;
    }

    public void Dispose()
    {
        foreach (var t in _referenceBlocks) t.Dispose();
        _referenceBlocks.Clear();
    }

    /// <summary>
    /// Offers one block's distances (reference rows offset, offset + 1, ...) to a query's sorted k-best list. Rows
    /// arrive in increasing index order, so "strictly nearer" keeps the lowest index among equal distances.
    /// </summary>
    private static void Insert(ReadOnlySpan<float> distances, int offset, Span<float> bestDistance, Span<int> bestIndex)
    {
        int k = bestIndex.Length;
        for (int j = 0; j < distances.Length; j++)
        {
            float d = distances[j];
            if (float.IsNaN(d))
                throw new InvalidOperationException($"the angular distance to reference row {offset + j} is NaN");
            if (bestIndex[k - 1] >= 0 && !(d < bestDistance[k - 1])) continue;
            int at = k - 1;
            while (at > 0 && (bestIndex[at - 1] < 0 || d < bestDistance[at - 1]))
            {
                bestDistance[at] = bestDistance[at - 1];
                bestIndex[at] = bestIndex[at - 1];
                at--;
            }
            bestDistance[at] = d;
            bestIndex[at] = offset + j;
        }
    }

    private static int Rows(float[] values, int dim, string what)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (dim < 1) throw new ArgumentException($"{what}: dimension must be positive, got {dim}");
        if (values.Length % dim != 0)
            throw new ArgumentException($"{what}: {values.Length} values are not a whole number of rows of {dim}");
        for (int i = 0; i < values.Length; i++)
            if (!float.IsFinite(values[i]))
                throw new ArgumentException($"{what}: value {i} (row {i / dim}) is {values[i]}, not finite");
        return values.Length / dim;
    }
}
