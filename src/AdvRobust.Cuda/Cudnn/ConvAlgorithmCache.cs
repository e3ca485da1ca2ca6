using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Cuda.Interop;

namespace AdvRobust.Cuda;

/// <summary>The three convolution passes; each has its own algorithm family in cuDNN.</summary>
public enum ConvPass { Forward, BackwardData, BackwardFilter }

/// <summary>
/// What picks a convolution algorithm: shapes, stride and padding, whether TF32 tensor cores are allowed, whether
/// only deterministic algorithms are acceptable, and the pass. x N×C×H×W, w K×C×R×S.
/// </summary>
public readonly record struct ConvAlgorithmKey(Shape X, Shape W, ConvParams Params, bool Tf32, bool Deterministic,
    ConvPass Pass);

/// <summary>
/// A chosen algorithm: its enum value in the pass's cuDNN enum, the math type to run it under, the workspace it needs,
/// and the time cudnnFind measured for it (milliseconds, for diagnostics).
/// </summary>
public readonly record struct ConvAlgorithm(int Algo, cudnnMathType_t MathType, long WorkspaceBytes, float FindMs);

/// <summary>
/// Per-shape algorithm choices, made once by cudnnFind*AlgorithmEx (which times every algorithm on the real buffers)
/// and reused for every later call with the same key. Not thread-safe: the owner serializes access.
/// </summary>
public sealed class ConvAlgorithmCache
{
    private readonly Dictionary<ConvAlgorithmKey, ConvAlgorithm> _chosen = new();

    public int Count => _chosen.Count;

    public IReadOnlyDictionary<ConvAlgorithmKey, ConvAlgorithm> Snapshot() =>
        new Dictionary<ConvAlgorithmKey, ConvAlgorithm>(_chosen);

    public bool TryGet(ConvAlgorithmKey key, out ConvAlgorithm algorithm) => _chosen.TryGetValue(key, out algorithm);

    public void Add(ConvAlgorithmKey key, ConvAlgorithm algorithm) => _chosen[key] = algorithm;

    public void Clear() => _chosen.Clear();

    /// <summary>
    /// The first (fastest) result cudnnFind returned that succeeded and, when asked, is deterministic. With TF32 off
    /// the search ran under CUDNN_FMA_MATH and the algorithm runs under it too, whatever math type the result reports;
    /// with TF32 on it runs under the math type cuDNN timed it with.
    /// </summary>
    public static ConvAlgorithm Pick(ReadOnlySpan<(int Algo, cudnnStatus_t Status, float Ms, long Memory,
        cudnnDeterminism_t Determinism, cudnnMathType_t Math)> results, bool tf32, bool deterministic, string what)
    {
        foreach (var r in results)
        {
            if (r.Status != cudnnStatus_t.CUDNN_STATUS_SUCCESS || r.Algo < 0) continue;
            if (deterministic && r.Determinism != cudnnDeterminism_t.CUDNN_DETERMINISTIC) continue;
            return new ConvAlgorithm(r.Algo, tf32 ? r.Math : cudnnMathType_t.CUDNN_FMA_MATH, r.Memory, r.Ms);
        }
        var tried = string.Join(", ", results.ToArray().Select(r => $"algo {r.Algo}: {r.Status}, {r.Determinism}"));
        throw new NotSupportedException(
            $"cuDNN found no usable {(deterministic ? "deterministic " : "")}algorithm for {what} (tried {tried})");
    }
}
