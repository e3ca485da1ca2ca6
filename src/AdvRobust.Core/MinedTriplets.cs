using AdvRobust.Core.Tensors;

namespace AdvRobust.Core;

/// <summary>
/// The result of triplet mining for N anchors: pool indices (Int32, -1 where an anchor has no positive or no
/// negative in the pool) and the distances to them (Float32, 0 where the index is -1).
/// </summary>
public sealed class MinedTriplets : IDisposable
{
    public MinedTriplets(IBackend backend, int n)
    {
        PositiveIndex = Tensor.Empty(backend, DType.Int32, n);
        PositiveDistance = Tensor.Empty(backend, DType.Float32, n);
        NegativeIndex = Tensor.Empty(backend, DType.Int32, n);
        NegativeDistance = Tensor.Empty(backend, DType.Float32, n);
    }

    public Tensor PositiveIndex { get; }
    public Tensor PositiveDistance { get; }
    public Tensor NegativeIndex { get; }
    public Tensor NegativeDistance { get; }
    public int Count => PositiveIndex.Shape[0];

    public void Dispose()
    {
        PositiveIndex.Dispose();
        PositiveDistance.Dispose();
        NegativeIndex.Dispose();
        NegativeDistance.Dispose();
    }
}
