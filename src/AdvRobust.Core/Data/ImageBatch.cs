namespace AdvRobust.Core.Data;

/// <summary>
/// One mini-batch from a <see cref="ShuffleLoader"/>: <see cref="X"/> is B×C×H×W pixels (row-major), <see cref="Y"/>
/// the B labels and <see cref="Indices"/> the B positions of these samples in the data set (their global sample
/// indices, which is what the engine keys per-sample randomness by). Deconstructs as <c>var (x, y, indices)</c>.
/// </summary>
public sealed record ImageBatch(float[] X, int[] Y, int[] Indices)
{
    /// <summary>B, the number of samples in the batch (the last batch of an epoch may be short).</summary>
    public int Count => Y.Length;
}
